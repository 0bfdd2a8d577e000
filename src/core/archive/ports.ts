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
  /** The run is (or was last) handed over to the task engine: the claim, its attempt and task, until when it holds. */
  handOver?: HandOver | undefined;
  /** Why the archived file has no `<file>.index.json` (the portal reads it whole); absent when indexed. */
  indexMissing?: string | undefined;
}

/** A hand-over claim on the run record (docs/big-scans.md). */
export interface HandOver {
  claimedAt: string;
  /** After this the claim may be taken again and the watchdog treats the task as gone. */
  expiresAt: string;
  /** 1 for the first hand-over of the run, counting on across retries and re-archives. */
  attempt: number;
  /** The task (ARN, local-task/<id>) once RunTask answered. */
  ref?: string;
  reason?: string;
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
  /** Why no index was written beside the file (it is archived all the same; the portal reads it whole). */
  indexMissing?: string;
}

/** A job for the task engine: the same use cases the functions run, in a container with room to spare. */
export type TaskJob =
  | {
      kind: 'archive-run';
      runUid: string;
      /** The hand-over attempt (RunTask's client token is per attempt: a retry never gets the dead task of the last one). */
      attempt?: number;
      /** An explicit re-archive (docs/adr/0012): the task writes the run again and replaces the final object with If-Match. */
      rearchive?: { reason: string; requestedBy: string };
    }
  | { kind: 'export'; exportId: string };

/** Starts jobs on the task engine (ECS RunTask on Fargate; locally a child process running the same entry point). */
export interface TaskEngine {
  /** Starts one task for the job; resolves with where it runs (task ARN) once the engine accepted it. */
  start(job: TaskJob): Promise<{ ref: string }>;
}

/** Hand-overs of runs to the task engine, kept on the run record so a redelivered RunStop never starts a second task. */
export interface HandOverStore {
  /**
   * Claims the hand-over of a run (a new attempt); 'taken' when a task was already started (or is being
   * started) for it and its claim has not expired. An ARCHIVED run is claimed only for a re-archive.
   */
  claimHandOver(runUid: string, at: Date, options?: { rearchive?: boolean }): Promise<{ attempt: number } | 'taken'>;
  /** Records where the task runs (the run record's `engine`); the claim holds `leaseMs` from now (the task's longest run). */
  recordHandOver(runUid: string, engine: RunEngine, reason: string, leaseMs?: number): Promise<void>;
  /** Gives a claim back when the task could not be started (the RunStop is retried). */
  releaseHandOver(runUid: string): Promise<void>;
  /** The task `ref` ended (ARCHIVED or FAILED): its claim goes, so a later RunStop (a replay, a re-archive) may hand the run over again. */
  endHandOver(runUid: string, ref?: string): Promise<void>;
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
  /**
   * ARCHIVED from the expected state only: a first archive over any state but ARCHIVED, a re-archive
   * over the version it replaced; 'conflict' (nothing changed) when another delivery got there first.
   */
  runArchived(run: ArchivedRun): Promise<'archived' | 'conflict'>;
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
  /** The run's hand-over to the task engine, when one is claimed. */
  handOver?: HandOver | undefined;
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
  /** `file` is what the index says it describes (size, sha256, the final object's ETag): readers check it against the object. */
  index(path: string, file: { bytes: number; sha256: string; etag?: string | undefined }): Promise<Uint8Array>;
}
