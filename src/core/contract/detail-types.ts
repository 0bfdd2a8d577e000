/** The closed set of EventBridge detail-types of the archive, each with its schema file in events/schemas. */
export const DetailType = {
  RunStart: 'RunStart',
  EventDescriptor: 'EventDescriptor',
  StreamResource: 'StreamResource',
  StreamDatum: 'StreamDatum',
  RunStop: 'RunStop',
  RunArchived: 'Run Archived',
  RunFailed: 'Run Failed',
  RunStalled: 'Run Stalled',
  BridgeHeartbeat: 'Bridge Heartbeat',
  DatasetOpened: 'Dataset Opened',
  DatasetMetadataUpdated: 'Dataset Metadata Updated',
  DatasetClosed: 'Dataset Closed',
  ExportRequested: 'Export Requested',
  ExportCompleted: 'Export Completed',
  ExportFailed: 'Export Failed',
  /** An operator's explicit request to write an ARCHIVED run's file again (docs/adr, scan-writer). */
  RearchiveRequested: 'Rearchive Requested',
} as const;
export type DetailType = (typeof DetailType)[keyof typeof DetailType];

/** Event sources: who may put which detail-type on the bus. */
export const EventSource = {
  Bridge: 'beamline-archive.bridge',
  ScanWriter: 'beamline-archive.scan-writer',
  /** The run-recorder: Run Failed for a run document no retry can record. */
  RunRecorder: 'beamline-archive.run-recorder',
  /** The scheduled watchdog: Run Stalled. */
  RunWatchdog: 'beamline-archive.run-watchdog',
  Datasets: 'beamline-archive.datasets',
  /** The export API puts Export Requested on the bus for the requests it accepted. */
  ExportApi: 'beamline-archive.export-api',
  /** Any other client asking for an export directly on the bus (scripts, workflows). */
  ExportClient: 'beamline-archive.export-client',
  /** The export worker: Export Completed / Export Failed. */
  Exports: 'beamline-archive.exports',
  /** Operators (CLI, scripts): Rearchive Requested. */
  Operator: 'beamline-archive.operator',
} as const;
export type EventSource = (typeof EventSource)[keyof typeof EventSource];

/** Schema file (events/schemas/<slug>.schema.json) and sample (events/samples/<slug>.json) per detail-type. */
export const schemaSlugs = {
  [DetailType.RunStart]: 'run-start',
  [DetailType.EventDescriptor]: 'event-descriptor',
  [DetailType.StreamResource]: 'stream-resource',
  [DetailType.StreamDatum]: 'stream-datum',
  [DetailType.RunStop]: 'run-stop',
  [DetailType.RunArchived]: 'run-archived',
  [DetailType.RunFailed]: 'run-failed',
  [DetailType.RunStalled]: 'run-stalled',
  [DetailType.BridgeHeartbeat]: 'bridge-heartbeat',
  [DetailType.DatasetOpened]: 'dataset-opened',
  [DetailType.DatasetMetadataUpdated]: 'dataset-metadata-updated',
  [DetailType.DatasetClosed]: 'dataset-closed',
  [DetailType.ExportRequested]: 'export-requested',
  [DetailType.ExportCompleted]: 'export-completed',
  [DetailType.ExportFailed]: 'export-failed',
  [DetailType.RearchiveRequested]: 'rearchive-requested',
} as const satisfies Record<DetailType, string>;

/** The run documents of the Bluesky event model, in the order a run emits them. */
export const runDocumentTypes = [
  DetailType.RunStart,
  DetailType.EventDescriptor,
  DetailType.StreamResource,
  DetailType.StreamDatum,
  DetailType.RunStop,
] as const;
export type RunDocumentType = (typeof runDocumentTypes)[number];
