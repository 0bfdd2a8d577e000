/** The closed set of EventBridge detail-types of the archive, each with its schema file in events/schemas. */
export const DetailType = {
  RunStart: 'RunStart',
  EventDescriptor: 'EventDescriptor',
  StreamResource: 'StreamResource',
  StreamDatum: 'StreamDatum',
  RunStop: 'RunStop',
  RunArchived: 'Run Archived',
  RunFailed: 'Run Failed',
  DatasetOpened: 'Dataset Opened',
  DatasetMetadataUpdated: 'Dataset Metadata Updated',
  DatasetClosed: 'Dataset Closed',
} as const;
export type DetailType = (typeof DetailType)[keyof typeof DetailType];

/** Event sources: who may put which detail-type on the bus. */
export const EventSource = {
  Bridge: 'beamline-archive.bridge',
  ScanWriter: 'beamline-archive.scan-writer',
  Datasets: 'beamline-archive.datasets',
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
  [DetailType.DatasetOpened]: 'dataset-opened',
  [DetailType.DatasetMetadataUpdated]: 'dataset-metadata-updated',
  [DetailType.DatasetClosed]: 'dataset-closed',
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
