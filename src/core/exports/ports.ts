/**
 * Ports of the export service (src/core/exports/export-service.ts). Adapters:
 * src/adapters/dynamodb-export-catalogue.ts (records), src/adapters/h5wasm-archived-channel-reader.ts
 * (archived channels), src/adapters/h5wasm-tree-writer.ts (HDF5 trees), src/adapters/s3-download-links.ts
 * (download links).
 */
import type { ExportedFile, ExportError, ExportErrorFile } from '../contract/generated-types.js';
import type { RunEngine } from '../archive/ports.js';
import type { ColumnSource, Hdf5Tree } from './model.js';

export const ExportState = {
  Requested: 'REQUESTED',
  Building: 'BUILDING',
  Completed: 'COMPLETED',
  Failed: 'FAILED',
} as const;
export type ExportState = (typeof ExportState)[keyof typeof ExportState];

/** Where a request came from: the HTTP API, or an Export Requested event of any client on the bus. */
export const ExportOrigin = {
  Api: 'api',
  Bus: 'bus',
} as const;
export type ExportOrigin = (typeof ExportOrigin)[keyof typeof ExportOrigin];

/** What a build is doing right now (GET /exports/{id} shows it; the CLI prints it). */
export interface ExportProgress {
  /** `loading`, `building`, `writing`, `publishing`. */
  step: string;
  done: number;
  total: number;
  /** What is being worked on (`run 01M8…`, `primary.csv`). */
  detail?: string;
  at: string;
}

/** One published file of an export: where, how big, its sha256, and its name inside the export. */
export interface ExportFileRecord extends ExportedFile {
  name: string;
  contentType: string;
}

/** The catalogue record of an export (pk `EXPORT#<id>`). */
export interface ExportRecord {
  exportId: string;
  requestId: string;
  /** As requested (a FAILED record may carry an unknown format: that is its reason). */
  format: string;
  runs: string[];
  options: Record<string, unknown>;
  requester?: string | undefined;
  origin: ExportOrigin;
  /** sha256 of the request's content (runs, format, options): the same request id with another content is a conflict. */
  fingerprint: string;
  state: ExportState;
  requestedAt: string;
  updatedAt: string;
  /** Builds started (a redelivery after a crash is one more). */
  attempts: number;
  /** While BUILDING: another worker may take the build over after this time (the first one died). */
  leaseUntil?: string | undefined;
  progress?: ExportProgress | undefined;
  files?: ExportFileRecord[] | undefined;
  /** Entity reference of the provenance record (`export:<id>`). */
  provenance?: string | undefined;
  notes?: string[] | undefined;
  completedAt?: string | undefined;
  reason?: string | undefined;
  errors?: ExportError[] | undefined;
  /** Partial files of a failed build, kept under `<final key>.err`. */
  errorFiles?: ExportErrorFile[] | undefined;
  failedAt?: string | undefined;
  /** Export Completed / Export Failed was put on the bus (a redelivery re-announces until it is). */
  announced?: boolean | undefined;
  /** Which engine built (or is building) the export, and where: the function, or the task it was handed to. */
  engine?: RunEngine | undefined;
  /** Why the export-worker handed the build to the task engine (sizes against its limits), and when. */
  handOver?: { reason: string; at: string } | undefined;
}

export type NewExportRecord = Pick<
  ExportRecord,
  'exportId' | 'requestId' | 'format' | 'runs' | 'options' | 'requester' | 'origin' | 'fingerprint' | 'requestedAt'
>;

/** The export records. Every method is idempotent or conditional: at-least-once delivery is normal. */
export interface ExportCatalogue {
  /** Creates the record (state REQUESTED) unless one exists for the id; returns the stored record either way. */
  create(record: NewExportRecord): Promise<{ created: boolean; record: ExportRecord }>;
  get(exportId: string): Promise<ExportRecord | undefined>;
  /**
   * REQUESTED → BUILDING (attempts + 1, lease until `leaseUntil`), or takes over a BUILDING record
   * whose lease ran out. undefined when the record is in any other state (a build is running, or it is done).
   */
  claim(exportId: string, now: string, leaseUntil: string): Promise<ExportRecord | undefined>;
  progress(exportId: string, progress: ExportProgress): Promise<void>;
  /**
   * A BUILDING record handed to the task engine: which task, why, and a lease as long as the task
   * may run (a redelivered request leaves it alone). false when the record is no longer BUILDING
   * (the task finished first).
   */
  handedOver(exportId: string, handOver: { engine: RunEngine; reason: string; at: string; leaseUntil: string }): Promise<boolean>;
  /** BUILDING → COMPLETED with the files, the provenance reference and the engine that built it. */
  completed(
    exportId: string,
    result: { files: ExportFileRecord[]; provenance: string; notes: string[]; completedAt: string; engine?: RunEngine | undefined },
  ): Promise<void>;
  /** → FAILED with the reason, unless COMPLETED (never downgraded). */
  failed(
    exportId: string,
    failure: { reason: string; errors: ExportError[]; errorFiles: ExportErrorFile[]; failedAt: string },
  ): Promise<'failed' | 'already-completed'>;
  /** Export Completed / Failed is on the bus. */
  announced(exportId: string): Promise<void>;
}

/** One archived scan file opened for reading (from local disk). */
export interface ArchivedScanFile {
  /**
   * The dataset at `path` as a column read on demand (its numpy dtype, shape `[points, ...point
   * shape]`, rows by slices); throws naming the path when it is missing or not a numeric array.
   */
  column(path: string): ColumnSource;
  /** Releases the file. */
  close(): Promise<void>;
}

/** Opens an archived scan file on local disk (an h5wasm adapter). `context` goes into its errors. */
export interface ArchivedChannelReader {
  open(localPath: string, context: { runUid: string; key: string }): Promise<ArchivedScanFile>;
}

/** A file of an export on local disk. */
export interface ExportLocalFile {
  path: string;
  bytes: number;
}

/**
 * Local scratch space of one build: writes the product's files (HDF5 trees through h5wasm, text as
 * UTF-8) and removes them all at the end.
 */
export interface ExportWorkspace {
  writeTree(name: string, tree: Hdf5Tree): Promise<ExportLocalFile>;
  /** Writes text pieces as UTF-8, one after the other, as they are made (a table of any size). */
  writeText(name: string, chunks: Iterable<string>): Promise<ExportLocalFile>;
  /** A local path for an input of the build (a run's scan file, downloaded there); removed with the workspace. */
  inputPath(name: string): string;
  /** What is on disk under `name` after a failed write (the partial file), if anything. */
  partial(name: string): Promise<ExportLocalFile | undefined>;
  dispose(): Promise<void>;
}

/** Short-lived links to download published files. */
export interface DownloadLinks {
  linkTo(key: string, expiresInSeconds: number): Promise<string>;
}
