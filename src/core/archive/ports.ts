/** Ports of the archive use cases (run-recorder, scan-writer). Adapters: src/adapters/dynamodb-run-catalogue.ts, src/adapters/h5wasm-scan-file-writer.ts. */
import type { ArchivedFile, DataPolicy, RunFailed, RunStalled, RunStart, RunStop } from '../contract/generated-types.js';
import type { NexusPlan, PlanChannel } from '../nexus/layout.js';
import type { ObjectVersion } from '../ports.js';

export const RunState = {
  Recording: 'RECORDING',
  Archived: 'ARCHIVED',
  Failed: 'FAILED',
  /** Not terminal after the watchdog's time (functions/run-watchdog): what is missing is recorded. */
  Stalled: 'STALLED',
} as const;
export type RunState = (typeof RunState)[keyof typeof RunState];

/** The states a run ends in: its staged objects are tagged and may expire (docs/operations.md). */
export const TERMINAL_RUN_STATES: readonly RunState[] = [RunState.Archived, RunState.Failed, RunState.Stalled];

/** A channel the scan file could not hold, and why (listed in the record and, by the scan-writer, in the file). */
export interface RefusedChannel {
  channel: string;
  reason: string;
}

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
  /** Channels the archived file could not hold, with the reason. */
  refusedChannels?: RefusedChannel[] | undefined;
  /** Why the run is STALLED: what the watchdog found missing. */
  stalled?: Pick<RunStalled, 'stalled_at' | 'since' | 'reason' | 'missing' | 'run_stop'> | undefined;
  scanId?: number | undefined;
  title?: string | undefined;
  /** The scan's type (BLISS scan_info type: ascan, loopscan, ct …; Bluesky: the plan's name). */
  planName?: string | undefined;
  scanKey?: string | undefined;
  dataPolicy?: DataPolicy | undefined;
  startTime?: string | undefined;
  endTime?: string | undefined;
  endReason?: string | undefined;
  archivedAt?: string | undefined;
  /** Sealed point count per channel, from RunStop. */
  sealedPoints?: Record<string, number> | undefined;
  /** Which engine wrote (or is writing) the scan file, and where: the Lambda request or the task's ARN. */
  engine?: RunEngine | undefined;
  /** The S3 version of the final object the record describes (ETag, version id): what a re-archive may replace. */
  object?: ObjectVersion | undefined;
  /** Explicit re-archives of the run, oldest first: why, when, by which writer, and the version each replaced. */
  rearchives?: Rearchive[] | undefined;
}

/** One explicit re-archive: the request and the file it replaced (kept as an older version of the object). */
export interface Rearchive {
  reason: string;
  requestedBy: string;
  at: string;
  /** `beamline-archive <version>` that wrote the new file. */
  creator: string;
  previous: ArchivedFile & ObjectVersion & { archivedAt?: string | undefined };
}

/** The engine that writes a scan file (docs/big-scans.md): a Lambda invocation or a task (ECS/Fargate, or a local process). */
export interface RunEngine {
  kind: 'lambda' | 'task';
  /** Where: `<function name>/<request id>` for Lambda, the task ARN for ECS, `local-task/<id>` locally. */
  ref: string;
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
  /** Channels left out of the file, with the reason (ARCHIVED with refused channels). */
  refusedChannels?: RefusedChannel[];
  /** The engine that wrote the file. */
  engine?: RunEngine;
  /** The final object's S3 version (ETag, version id). */
  object?: ObjectVersion;
  /** Set when this archive replaced an earlier one on purpose (appended to the record's re-archives). */
  rearchive?: Rearchive;
}

/** A job for the task engine: the same use cases the functions run, in a container with room to spare. */
export type TaskJob =
  | { kind: 'archive-run'; runUid: string }
  | { kind: 'export'; exportId: string };

/** Starts jobs on the task engine (ECS RunTask on Fargate; locally a child process running the same entry point). */
export interface TaskEngine {
  /** Starts one task for the job; resolves with where it runs (task ARN) once the engine accepted it. */
  start(job: TaskJob): Promise<{ ref: string }>;
}

/** Hand-overs of runs to the task engine, kept on the run record so a redelivered RunStop never starts a second task. */
export interface HandOverStore {
  /** Claims the hand-over of a run; 'taken' when a task was already started (or is being started) for it. */
  claimHandOver(runUid: string, at: Date): Promise<'claimed' | 'taken'>;
  /** Records where the task runs (the run record's `engine`). */
  recordHandOver(runUid: string, engine: RunEngine, reason: string): Promise<void>;
  /** Gives a claim back when the task could not be started (the RunStop is retried). */
  releaseHandOver(runUid: string): Promise<void>;
  /** The task ended (ARCHIVED or FAILED): a later RunStop (a replay, a re-archive) may hand the run over again. */
  endHandOver(runUid: string): Promise<void>;
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

/** One line of a listing of runs by state. */
export interface RunSummary {
  runUid: string;
  state: RunState;
  /** The time the watchdog counts from: the RunStop's end time when recorded, else the start. */
  since: string;
  scanId?: number | undefined;
  title?: string | undefined;
  scanKey?: string | undefined;
  dataPolicy?: DataPolicy | undefined;
  startTime?: string | undefined;
  endTime?: string | undefined;
  /** Whether the RunStop is recorded. */
  stopped: boolean;
  /** When an operator last asked for the run to be archived again (`beamline-archive runs retry`). */
  retriedAt?: string | undefined;
  reason?: string | undefined;
}

/** The runs by state: what the watchdog and the operators' `runs` command need (DynamoDB index gsi4). */
export interface RunStateCatalogue {
  /** Runs in a state, oldest first; `before` keeps those whose `since` is earlier. */
  listRunsByState(state: RunState, options?: { before?: string; limit?: number }): Promise<RunSummary[]>;
  /** STALLED with what is missing, only when the run is still RECORDING (or has no state): 'terminal' otherwise. */
  runStalled(stall: RunStalled): Promise<'stalled' | 'terminal'>;
  /** An operator's retry: a FAILED or STALLED run is RECORDING again from `at` (the watchdog counts from then); 'not-ended' otherwise. */
  runRetried(runUid: string, at: string): Promise<'retried' | 'not-ended'>;
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
