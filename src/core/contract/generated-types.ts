/* eslint-disable */
// Generated from events/schemas by scripts/generate-contract.ts. Do not edit by hand.

// bridge-heartbeat.schema.json
/**
 * The edge bridge is alive: sent every N seconds with how far behind it is. A missing heartbeat raises an alarm.
 */
export interface BridgeHeartbeatEvent {
  version?: string;
  id?: string;
  /**
   * The sending bridge: beamline-archive.bridge.<beamline>, one source (and one IAM credential) per beamline (docs/access.md, "The edge").
   */
  source: string;
  'detail-type': 'Bridge Heartbeat';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: BridgeHeartbeat;
}
export interface BridgeHeartbeat {
  beamline: string;
  /**
   * Host and process of the bridge (host:pid).
   */
  bridge_id: string;
  /**
   * Software version of the bridge (package.json).
   */
  version?: string;
  sent_at: string;
  interval_seconds: number;
  uptime_seconds: number;
  healthy: boolean;
  /**
   * Why the bridge is not healthy.
   */
  reason?: string;
  lag: BridgeLag;
}
export interface BridgeLag {
  /**
   * Scans being followed now.
   */
  active_scans: number;
  /**
   * The scan history has been read to its end.
   */
  caught_up: boolean;
  /**
   * Chunk bytes read from Redis and not yet staged.
   */
  buffered_bytes: number;
  /**
   * Points read from Redis and not yet acknowledged (staged, and their StreamDatum accepted by the bus), all scans.
   */
  unacknowledged_points?: number;
  /**
   * Age of the oldest point read and not yet acknowledged (0 when none).
   */
  oldest_unacknowledged_seconds?: number;
  /**
   * Age of the oldest scan being followed.
   */
  oldest_scan_seconds?: number;
  /**
   * Time since the bridge was last seen caught up with the history (at a heartbeat; 0 when caught up).
   */
  behind_seconds?: number;
  redis_reconnects?: number;
}

// dataset-closed.schema.json
/**
 * A dataset was closed: its master file is published and it takes no more scans or edits.
 */
export interface DatasetClosedEvent {
  version?: string;
  id?: string;
  source: 'beamline-archive.datasets';
  'detail-type': 'Dataset Closed';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: DatasetClosed;
}
export interface DatasetClosed {
  dataset: DatasetRef;
  techniques: string[];
  start_date: string;
  end_date: string;
  missing: MissingFields;
  master_file: MasterFileRef;
  scans: number;
  version: number;
}
/**
 * The dataset folder in the data policy: archive/<proposal>/<beamline>/<session>/<collection>/<collection>_<dataset>/
 */
export interface DatasetRef {
  /**
   * <proposal>/<beamline>/<session>/<collection>/<dataset>
   */
  id: string;
  proposal: string;
  beamline: string;
  session: string;
  collection: string;
  dataset: string;
}
export interface MissingFields {
  mandatory: string[];
  techniques: {
    [k: string]: string[] | undefined;
  };
}
export interface MasterFileRef {
  bucket: string;
  key: string;
  bytes: number;
  sha256: string;
}

// dataset-metadata-updated.schema.json
/**
 * Techniques were added to an open dataset or ICAT fields written.
 */
export interface DatasetMetadataUpdatedEvent {
  version?: string;
  id?: string;
  source: 'beamline-archive.datasets';
  'detail-type': 'Dataset Metadata Updated';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: DatasetMetadataUpdated;
}
export interface DatasetMetadataUpdated {
  dataset: DatasetRef;
  /**
   * all techniques of the dataset after the change
   */
  techniques: string[];
  added_techniques?: string[];
  changed: IcatChanges;
  updated_at: string;
  version: number;
}
/**
 * the fields written by this change
 */
export interface IcatChanges {
  [k: string]: string | undefined;
}

// dataset-opened.schema.json
/**
 * A dataset was opened: by the first scan the bridge saw for it, or explicitly (API, CLI).
 */
export interface DatasetOpenedEvent {
  version?: string;
  id?: string;
  source: 'beamline-archive.datasets';
  'detail-type': 'Dataset Opened';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: DatasetOpened;
}
export interface DatasetOpened {
  dataset: DatasetRef;
  origin: 'bridge' | 'api';
  /**
   * the scan that opened it (origin bridge)
   */
  run_uid?: string;
  techniques: string[];
  metadata: IcatMetadata;
  start_date: string;
  version: number;
}
/**
 * ICAT fields (names from hdf5_cfg.xml), values as strings
 */
export interface IcatMetadata {
  [k: string]: string | undefined;
}

// event-descriptor.schema.json
/**
 * Describes a group of channels of a run.
 */
export interface EventDescriptorEvent {
  version?: string;
  id?: string;
  /**
   * The sending bridge: beamline-archive.bridge.<beamline>, one source (and one IAM credential) per beamline (docs/access.md, "The edge").
   */
  source: string;
  'detail-type': 'EventDescriptor';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: EventDescriptor;
}
/**
 * Bluesky event-model 1.24 EventDescriptor: one per group of BLISS channels.
 */
export interface EventDescriptor {
  uid: string;
  run_start: string;
  time: number;
  name: string;
  data_keys: {
    [k: string]: DataKey | undefined;
  };
  object_keys?: {
    [k: string]: string[] | undefined;
  };
  hints?: {};
  /**
   * This interface was referenced by `EventDescriptor`'s JSON-Schema definition
   * via the `patternProperty` "^([^./]+)$".
   */
  [k: string]: unknown | undefined;
}
export interface DataKey {
  dtype: 'string' | 'number' | 'array' | 'boolean' | 'integer';
  /**
   * numpy dtype of one element; |O8 (numpy object) for JSON channels, whose points are JSON texts.
   */
  dtype_numpy: string;
  shape: (number | null)[];
  source: string;
  external: string;
  units?: string | null;
  object_name?: string;
  bliss_role?: 'positioner' | 'counter' | 'timer' | 'spectrum' | 'image' | 'other';
  [k: string]: unknown | undefined;
}

// export-completed.schema.json
/**
 * Every file of an export is published at its final key and recorded with its provenance.
 */
export interface ExportCompletedEvent {
  version?: string;
  id?: string;
  source: 'beamline-archive.exports';
  'detail-type': 'Export Completed';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: ExportCompleted;
}
export interface ExportCompleted {
  /**
   * Derived from the request id: exp-<first 24 hex digits of sha256(request_id)>.
   */
  export_id: string;
  /**
   * Chosen by the client; the same request id always names the same export (idempotency).
   */
  request_id: string;
  /**
   * nxstxm, nexus or csv; any other value is refused by the export service with a reason (Export Failed), not by the schema.
   */
  format: string;
  /**
   * @minItems 1
   * @maxItems 100
   */
  runs: [string, ...string[]];
  /**
   * @minItems 1
   */
  files: [ExportedFile, ...ExportedFile[]];
  /**
   * Entity reference of the export's provenance record.
   */
  provenance: string;
  completed_at: string;
}
export interface ExportedFile {
  bucket: string;
  key: string;
  bytes: number;
  sha256: string;
}

// export-failed.schema.json
/**
 * An export cannot be built; nothing was published at a final key.
 */
export interface ExportFailedEvent {
  version?: string;
  id?: string;
  source: 'beamline-archive.exports';
  'detail-type': 'Export Failed';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: ExportFailed;
}
export interface ExportFailed {
  /**
   * Derived from the request id: exp-<first 24 hex digits of sha256(request_id)>.
   */
  export_id: string;
  /**
   * Chosen by the client; the same request id always names the same export (idempotency).
   */
  request_id: string;
  format?: string;
  runs?: string[];
  reason: string;
  errors: ExportError[];
  /**
   * Partial files kept for diagnosis under <final key>.err.
   */
  error_files?: ExportErrorFile[];
  failed_at: string;
}
export interface ExportError {
  message: string;
  run_uid?: string;
  stream?: string;
  index?: number;
  key?: string;
}
export interface ExportErrorFile {
  bucket: string;
  key: string;
  bytes: number;
}

// export-requested.schema.json
/**
 * A client asks for an export of archived runs in a format (API or any client on the bus).
 */
export interface ExportRequestedEvent {
  version?: string;
  id?: string;
  source: 'beamline-archive.export-api' | 'beamline-archive.export-client';
  'detail-type': 'Export Requested';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: ExportRequested;
}
export interface ExportRequested {
  /**
   * Chosen by the client; the same request id always names the same export (idempotency).
   */
  request_id: string;
  /**
   * @minItems 1
   * @maxItems 100
   */
  runs: [string, ...string[]];
  /**
   * nxstxm, nexus or csv; any other value is refused by the export service with a reason (Export Failed), not by the schema.
   */
  format: string;
  /**
   * Format options passed to the builder (JSON object, at most 4 KB).
   */
  options?: {};
  /**
   * Who asked (IAM principal for API requests).
   */
  requester?: string;
}

// rearchive-requested.schema.json
/**
 * An operator asks for an ARCHIVED run's scan file to be written again (e.g. by a new writer version). The scan-writer replaces the final object only if it is still the version the run record describes (S3 If-Match); the bucket keeps the old version and the run record keeps the reason (docs/adr).
 */
export interface RearchiveRequestedEvent {
  version?: string;
  id?: string;
  source: 'beamline-archive.operator';
  'detail-type': 'Rearchive Requested';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: RearchiveRequested;
}
export interface RearchiveRequested {
  /**
   * The run to write again (it must be ARCHIVED).
   */
  run_uid: string;
  /**
   * Why: recorded with the run (e.g. 'writer 0.4 fixes the plot axes').
   */
  reason: string;
  /**
   * Who asked (a person or a tool), recorded with the run.
   */
  requested_by: string;
}

// run-archived.schema.json
/**
 * The scan file of a run is published at its final key.
 */
export interface RunArchivedEvent {
  version?: string;
  id?: string;
  source: 'beamline-archive.scan-writer';
  'detail-type': 'Run Archived';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: RunArchived;
}
export interface RunArchived {
  run_uid: string;
  scan_id?: number;
  data_policy?: DataPolicy;
  file: ArchivedFile;
  points: {
    [k: string]: number | undefined;
  };
  archived_at: string;
  /**
   * Channels published for the run that the scan file does not hold, each with the reason (the file lists them in <entry>/notes/refused_channels); every other channel is in the file.
   *
   * @maxItems 1000
   */
  refused_channels?: RefusedChannel[];
}
/**
 * Where the run belongs in the facility data policy; every value is sanitised again before it is used in an object key.
 */
export interface DataPolicy {
  proposal: string;
  beamline: string;
  session: string;
  collection: string;
  dataset: string;
}
export interface ArchivedFile {
  bucket: string;
  key: string;
  bytes: number;
  sha256: string;
}
export interface RefusedChannel {
  channel: string;
  reason: string;
}

// run-failed.schema.json
/**
 * A run could not be archived; the reason says why. Stage: who gave up (the bridge, the scan-writer, or the run-recorder on a run document no retry can fix).
 */
export interface RunFailedEvent {
  version?: string;
  id?: string;
  source: ('beamline-archive.scan-writer' | 'beamline-archive.run-recorder') | string;
  'detail-type': 'Run Failed';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: RunFailed;
}
export interface RunFailed {
  run_uid: string;
  stage: 'bridge' | 'scan-writer' | 'run-recorder';
  reason: string;
  scan_key?: string;
  errors: RunError[];
}
export interface RunError {
  stream?: string;
  index?: number;
  message: string;
}

// run-stalled.schema.json
/**
 * A run is not terminal (ARCHIVED or FAILED) after the watchdog's time: it is marked STALLED with what is missing.
 */
export interface RunStalledEvent {
  version?: string;
  id?: string;
  source: 'beamline-archive.run-watchdog';
  'detail-type': 'Run Stalled';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: RunStalled;
}
export interface RunStalled {
  run_uid: string;
  /**
   * When the watchdog marked the run STALLED.
   */
  stalled_at: string;
  /**
   * What the wait is counted from: the RunStop's end time when there is one, else the run's start.
   */
  since: string;
  waited_seconds: number;
  /**
   * Whether the RunStop is recorded (without it the bridge never finished the run).
   */
  run_stop: boolean;
  scan_key?: string;
  data_policy?: {
    [k: string]: string | undefined;
  };
  reason: string;
  /**
   * @maxItems 100
   */
  missing: MissingPart[];
}
export interface MissingPart {
  kind: 'RunStart' | 'RunStop' | 'EventDescriptor' | 'StreamResource' | 'StreamDatum' | 'chunks' | 'scan-file';
  message: string;
  stream?: string;
  expected?: number;
  recorded?: number;
  ranges?: [number, number][];
}

// run-start.schema.json
/**
 * Bluesky event-model 1.24 RunStart, plus the origin of the run (exactly one of `bliss`: a BLISS scan, or `bluesky`: a Bluesky RunEngine run), its data policy and ICAT snapshot. Extra top-level keys (no '.' or '/') carry the producer's metadata (a Bluesky start document's md keys).
 */
export type RunStart = (
  | {
      bliss: {};
    }
  | {
      bluesky: {};
    }
) & {
  uid: string;
  time: number;
  scan_id: number;
  plan_name: string;
  sample?: string;
  project?: string;
  data_session?: string;
  data_policy: DataPolicy;
  bliss?: BlissRunInfo;
  bluesky?: BlueskyRunInfo;
  icat: IcatSnapshot;
  /**
   * This interface was referenced by `undefined`'s JSON-Schema definition
   * via the `patternProperty` "^([^./]+)$".
   */
  [k: string]: unknown | undefined;
};

/**
 * A BLISS scan (or Bluesky run) has started.
 */
export interface RunStartEvent {
  version?: string;
  id?: string;
  /**
   * The sending bridge: beamline-archive.bridge.<beamline>, one source (and one IAM credential) per beamline (docs/access.md, "The edge").
   */
  source: string;
  'detail-type': 'RunStart';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: RunStart;
}
export interface BlissRunInfo {
  scan_key: string;
  identity: BlissIdentity;
  title: string;
  type?: string;
  npoints?: number;
  count_time?: number;
  start_time?: string;
  /**
   * scan_info as published at PREPARED (absent when too large for an event; see RunStop.bliss.scan_info_ref)
   */
  scan_info?: {};
}
export interface BlissIdentity {
  name: string;
  number: number;
  data_policy?: string;
  session?: string;
  proposal?: string;
  collection?: string;
  dataset?: string;
  path?: string;
  [k: string]: unknown | undefined;
}
/**
 * A run published by a Bluesky RunEngine through the project's Redis document stream (docs/bluesky.md).
 */
export interface BlueskyRunInfo {
  /**
   * md title, else plan name, motors and number of points
   */
  title: string;
  /**
   * Redis stream the documents were read from
   */
  stream: string;
  /**
   * Redis stream id of the start document
   */
  start_entry: string;
  /**
   * the start document's hints (dimensions)
   */
  hints?: {
    [k: string]: unknown | undefined;
  };
  /**
   * the whole start document as the RunEngine emitted it (absent when larger than 64 KiB; see start_ref)
   */
  start?: {
    [k: string]: unknown | undefined;
  };
  start_ref?: BlueskyDocumentRef;
}
/**
 * staged copy of the start document when it is too large to travel inline
 */
export interface BlueskyDocumentRef {
  bucket: string;
  key: string;
  bytes?: number;
  sha256?: string;
}
/**
 * ICAT metadata of the dataset (dataset_metadata_snapshot), values as strings.
 */
export interface IcatSnapshot {
  [k: string]: string | undefined;
}

// run-stop.schema.json
/**
 * A run has ended and all its data is staged.
 */
export interface RunStopEvent {
  version?: string;
  id?: string;
  /**
   * The sending bridge: beamline-archive.bridge.<beamline>, one source (and one IAM credential) per beamline (docs/access.md, "The edge").
   */
  source: string;
  'detail-type': 'RunStop';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: RunStop;
}
/**
 * Bluesky event-model 1.24 RunStop. Emitted only after every chunk is staged and every earlier document was accepted.
 */
export interface RunStop {
  uid: string;
  run_start: string;
  time: number;
  exit_status: 'success' | 'abort' | 'fail';
  reason?: string;
  num_events: {
    [k: string]: number | undefined;
  };
  bliss: BlissRunEnd;
  /**
   * This interface was referenced by `RunStop`'s JSON-Schema definition
   * via the `patternProperty` "^([^./]+)$".
   */
  [k: string]: unknown | undefined;
}
export interface BlissRunEnd {
  end_reason?: string;
  end_time?: string;
  /**
   * Points sealed per channel
   */
  points: {
    [k: string]: number | undefined;
  };
  /**
   * How many documents of each kind the bridge sent for this run before the stop
   */
  documents: {
    descriptor: number;
    stream_resource: number;
    stream_datum: number;
  };
  scan_info_ref?: ObjectRef;
  /**
   * Index ranges [start, stop) of a channel that were no longer in Redis when the bridge read it (trimmed): not staged, never invented
   */
  gaps?: BlissGap[];
}
export interface ObjectRef {
  bucket: string;
  key: string;
  bytes?: number;
  sha256?: string;
}
export interface BlissGap {
  stream: string;
  start: number;
  stop: number;
}

// stream-datum.schema.json
/**
 * One staged chunk of a channel, or one uploaded Lima file.
 */
export interface StreamDatumEvent {
  version?: string;
  id?: string;
  /**
   * The sending bridge: beamline-archive.bridge.<beamline>, one source (and one IAM credential) per beamline (docs/access.md, "The edge").
   */
  source: string;
  'detail-type': 'StreamDatum';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: StreamDatum;
}
/**
 * Bluesky event-model 1.24 StreamDatum: one staged chunk (points [indices.start, indices.stop) of one channel), or one Lima file holding frames [indices.start, indices.stop) (chunk is then the uploaded file and lima says where the frames are in it).
 */
export interface StreamDatum {
  uid: string;
  stream_resource: string;
  descriptor: string;
  indices: {
    start: number;
    stop: number;
  };
  seq_nums: {
    start: number;
    stop: number;
  };
  chunk: ChunkRef;
  lima?: LimaFileRef;
  /**
   * Channels with a free dimension (-1 in the stream's shape): the shape of every point of this chunk (the bridge cuts a chunk where the shape changes). Absent: the points have the StreamResource's point_shape.
   */
  point_shape?: number[];
  [k: string]: unknown | undefined;
}
export interface ChunkRef {
  bucket: string;
  key: string;
  bytes: number;
  sha256: string;
}
/**
 * Lima files: the frames [indices.start, indices.stop) are frames [frame_offset, frame_offset + stop - start) of the resource's data_path in the file chunk.key.
 */
export interface LimaFileRef {
  file_number: number;
  frame_offset: number;
  /**
   * The file on the beamline disk it was uploaded from.
   */
  source_path: string;
}

// stream-resource.schema.json
/**
 * A channel's staged chunk store in S3, or the folder of its uploaded Lima detector files.
 */
export interface StreamResourceEvent {
  version?: string;
  id?: string;
  /**
   * The sending bridge: beamline-archive.bridge.<beamline>, one source (and one IAM credential) per beamline (docs/access.md, "The edge").
   */
  source: string;
  'detail-type': 'StreamResource';
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail: StreamResource;
}
/**
 * Bluesky event-model 1.24 StreamResource: the staged chunks of one channel in S3 (mimetype application/x-beamline-archive-chunks), or the Lima HDF5 files of a 2D detector uploaded as they are, next to the scan file (mimetype application/x-hdf5-lima; uri is their folder).
 */
export interface StreamResource {
  uid: string;
  run_start: string;
  data_key: string;
  mimetype:
    'application/x-beamline-archive-chunks' | 'application/x-hdf5-lima' | 'application/x-beamline-archive-ndjson';
  uri: string;
  parameters: ChunkParameters;
  [k: string]: unknown | undefined;
}
/**
 * dtype and point (frame) shape; for Lima files also where the frames are inside each file.
 */
export interface ChunkParameters {
  /**
   * numpy dtype of one element; |O8 (numpy object) for JSON channels (mimetype application/x-beamline-archive-ndjson: NDJSON chunks, one JSON value per line, each point one JSON text).
   */
  dtype_numpy: string;
  point_shape: number[];
  /**
   * Lima files: HDF5 path of the frames dataset inside each file.
   */
  data_path?: string;
  /**
   * Lima files: frames per file (the last file of an acquisition can hold fewer).
   */
  frames_per_file?: number;
  /**
   * Lima files: frames per acquisition (0: one acquisition).
   */
  frames_per_acquisition?: number;
  /**
   * Lima files: Lima's saving format (HDF5, HDF5BS …).
   */
  file_format?: string;
  /**
   * Lima files: the file path pattern on the beamline (printf, one %d: the file number).
   */
  source_file_path?: string;
}
