/** Ports of the archive use cases (run-recorder, scan-writer). Adapters: src/adapters/dynamodb-run-catalogue.ts, src/adapters/h5wasm-scan-file-writer.ts. */
import type { ArchivedFile, RunFailed, RunStart, RunStop } from '../contract/generated-types.js';
import type { NexusPlan, PlanChannel } from '../nexus/layout.js';

export const RunState = {
  Recording: 'RECORDING',
  Archived: 'ARCHIVED',
  Failed: 'FAILED',
} as const;
export type RunState = (typeof RunState)[keyof typeof RunState];

/** One run document as the catalogue holds it. */
export interface StoredDocument {
  detailType: string;
  uid: string;
  body: unknown;
}

export interface RunRecord {
  runUid: string;
  state?: RunState | undefined;
  file?: ArchivedFile | undefined;
  points?: Record<string, number> | undefined;
  /** Point ranges [start, stop) per channel that are missing from the archived file (trimmed in Redis). */
  gaps?: Record<string, [number, number][]> | undefined;
  /** Why the run is FAILED: the stage that gave up and the errors (stream, index, message). */
  failure?: Pick<RunFailed, 'stage' | 'reason' | 'errors'> | undefined;
  /** HDF5 dataset path of every channel in the archived scan file (absent for runs archived before it was recorded). */
  channelPaths?: Record<string, string> | undefined;
}

export interface ArchivedRun {
  runUid: string;
  file: ArchivedFile;
  points: Record<string, number>;
  archivedAt: string;
  /** Point ranges [start, stop) per channel that were trimmed in Redis before the bridge read them. */
  gaps?: Record<string, [number, number][]>;
  /** HDF5 dataset path of every channel in the scan file (`/1.1/instrument/diode1/data`): what the export loader reads. */
  channelPaths?: Record<string, string>;
}

/** The run catalogue (one DynamoDB table). Every method is idempotent: at-least-once delivery is normal. */
export interface RunCatalogue {
  /** Stores a document once; a second delivery of the same uid leaves the first. */
  putDocument(runUid: string, detailType: string, docUid: string, body: unknown): Promise<'stored' | 'duplicate'>;
  /** Run record fields of RunStart; state RECORDING unless the run already has a state. */
  runStarted(start: RunStart): Promise<void>;
  /** Run record fields of RunStop (end time and reason, sealed points); the state is left alone. */
  runStopped(stop: RunStop): Promise<void>;
  /** State FAILED with the errors, unless the run is ARCHIVED (never downgraded). */
  runFailed(failure: RunFailed): Promise<'failed' | 'already-archived'>;
  runArchived(run: ArchivedRun): Promise<void>;
  getRun(runUid: string): Promise<RunRecord | undefined>;
  listDocuments(runUid: string): Promise<StoredDocument[]>;
  /** Claims a final key for a run; throws FileKeyConflictError when another run holds it. */
  claimFile(file: Pick<ArchivedFile, 'bucket' | 'key'> & Partial<ArchivedFile>, runUid: string): Promise<void>;
}

/** One slice of a channel: the raw little-endian C-order bytes of points [start, stop). */
export interface ChannelSlice {
  start: number;
  stop: number;
  bytes: Uint8Array;
}

/** A scan file written to local disk, ready to upload. */
export interface LocalFile {
  path: string;
  bytes: number;
  sha256: string;
  dispose(): Promise<void>;
}

/**
 * A scan file on local disk. No sha256: the upload hashes the bytes it sends (ObjectStore.uploadFile),
 * which saves a whole extra pass over a file of up to several GB (bench/writer-throughput.ts).
 */
export type WrittenScanFile = Omit<LocalFile, 'sha256'>;

/** Writes a NeXus plan to a local HDF5 file, filling each channel from its slices (one at a time). */
export interface ScanFileWriter {
  /** Version of the HDF5 library that writes the file (root attribute HDF5_Version). */
  readonly hdf5Version: string;
  write(plan: NexusPlan, slices: (channel: PlanChannel) => AsyncIterable<ChannelSlice>): Promise<WrittenScanFile>;
}

/** Indexes a written scan file (src/core/file-index/model.ts): the JSON bytes stored next to it as `<file>.index.json`. */
export interface ScanFileIndexer {
  index(path: string, file: { bytes: number; sha256: string }): Promise<Uint8Array>;
}
