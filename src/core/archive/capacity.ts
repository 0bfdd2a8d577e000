/**
 * Capacity before writing (docs/big-scans.md): from the plan of a scan file (its datasets'
 * shapes and types, i.e. the staged bytes laid out) estimate the file's size and the time to
 * fetch, write, read back, upload and index it, and choose where it can be written:
 *
 * - `lambda`: it fits the function's free temp space and remaining time with the margin;
 * - `task`: it does not, but fits the task engine's (Fargate, up to 200 GiB ephemeral storage);
 * - `none`: it fits nothing: the run is FAILED at once with the sizes, before a byte is written.
 *
 * The rates are configuration measured on the deployment (bench/big-scan.ts prints them), so the
 * estimate is arithmetic, not a guess hidden in code; tests set small limits to drive the big path
 * with small scans.
 */
import type { NexusPlan } from '../nexus/layout.js';
import { InvalidInputError } from '../errors.js';

/**
 * Bytes per second of each stage, measured (docs/big-scans.md). Write, read-back and index rates are
 * per byte of data before compression (what the writer is given and the check reads back); upload
 * is per byte of the file.
 */
export interface CapacityRates {
  /** Staged chunks read from S3 (bounded concurrency, sha256 checked). */
  fetchBytesPerSecond: number;
  /** HDF5 writes of uncompressed datasets to local disk (h5wasm); exports use it for what they write. */
  writeBytesPerSecond: number;
  /**
   * HDF5 writes of datasets the plan compresses (gzip: deflate in the wasm module, one thread; several
   * times slower than a plain write). Absent: `writeBytesPerSecond`.
   */
  compressedWriteBytesPerSecond?: number | undefined;
  /** Upload of the file to S3 (multipart, hashed while it streams) and the copy to the final key. */
  uploadBytesPerSecond: number;
  /**
   * The read-back check of uncompressed datasets: the file reopened read-only and every dataset hashed
   * (h5wasm-scan-file-verifier.ts). Absent (estimates of other files, e.g. exports, which have no such pass): not counted.
   */
  readBackBytesPerSecond?: number | undefined;
  /** The read-back check of compressed datasets (inflate, then hash). Absent: `readBackBytesPerSecond`. */
  compressedReadBackBytesPerSecond?: number | undefined;
  /** The scan file's index (`<file>.index.json`, h5wasm-file-indexer.ts); absent: not counted. */
  indexBytesPerSecond?: number | undefined;
}

export interface CapacityConfig {
  rates: CapacityRates;
  /** Safety factor on both size and time: 0.25 means the estimate × 1.25 must fit. */
  margin: number;
  /** Bytes of a file beyond its channel data (groups, attributes, chunk indexes, metadata). */
  overheadBytes: number;
  /**
   * Bytes on disk per byte of data of a compressed dataset. Default 1: deflate gains nothing on noise
   * (and HDF5 stores a chunk that would grow as it is), so without a ratio measured on the
   * deployment's data the size is the uncompressed upper bound; set lower, a file estimated to fit
   * may not, and the write then fails on a full disk (never archived: ADR 0012).
   */
  compressionRatio?: number | undefined;
  /** At most this much of the function's temp folder is used, whatever is free (tests set it small). */
  lambdaMaxBytes?: number | undefined;
  /** The task engine's limits; absent when no task engine is configured. */
  task?: { maxBytes: number; maxSeconds: number } | undefined;
}

/** Where the estimate runs, and what is free there now. */
export interface EngineHere {
  kind: 'lambda' | 'task';
  freeBytes: number;
  /** Milliseconds left (a Lambda's remaining time; a task's configured bound). */
  remainingMs: number;
}

export interface FileEstimate {
  /** Bytes of channel data read from staging (what the StreamDatum chunks add up to, laid out). */
  dataBytes: number;
  /** Bytes of data (before compression) of the datasets the plan compresses. */
  compressedDataBytes: number;
  /** The file's bytes: uncompressed datasets + compressed ones × the compression ratio + overhead. */
  fileBytes: number;
  /** Seconds to fetch, write, read back, upload and index it at the configured rates. */
  seconds: number;
  /** The seconds of each pass (their sum is `seconds`). */
  passes: { fetch: number; write: number; readBack: number; upload: number; index: number };
}

export type EngineChoice =
  { engine: 'lambda' | 'task'; estimate: FileEstimate; reason: string } | { engine: 'none'; estimate: FileEstimate; reason: string };

/** Sizes in the units a person reads. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

/**
 * The file a plan will write: every channel, grid and prefix-copy dataset at its full shape, those
 * the plan compresses (the configured gzip) at the configured compression ratio (default 1: the
 * uncompressed upper bound), plus the fixed overhead; the time of each pass at its rate, compressed
 * datasets at the compressed rates.
 */
export function estimateScanFile(
  plan: Pick<NexusPlan, 'nodes'>,
  config: Pick<CapacityConfig, 'rates' | 'overheadBytes' | 'compressionRatio'>,
): FileEstimate {
  let dataBytes = 0;
  let plainBytes = 0;
  let compressedBytes = 0;
  for (const node of plan.nodes) {
    if (node.kind === 'channel') {
      const bytes = node.shape.reduce((a, b) => a * b, 1) * node.type.size;
      dataBytes += bytes;
      if (node.gzip) compressedBytes += bytes;
      else plainBytes += bytes;
    } else if (node.kind === 'grid-signal' || node.kind === 'prefix-copy') {
      plainBytes += node.shape.reduce((a, b) => a * b, 1) * node.type.size;
    }
  }
  const ratio = config.compressionRatio ?? 1;
  const fileBytes = Math.ceil(plainBytes + compressedBytes * ratio) + config.overheadBytes;
  const r = config.rates;
  const readBack = r.readBackBytesPerSecond;
  const compressedReadBack = r.compressedReadBackBytesPerSecond ?? readBack;
  // Every pass the file costs, one after the other: fetch + write overlap only by the fetch window (64 MiB),
  // the read-back (inflating what is compressed), the upload (hashing as it streams) and the index each read the file again.
  const passes = {
    fetch: dataBytes / r.fetchBytesPerSecond,
    write: plainBytes / r.writeBytesPerSecond + compressedBytes / (r.compressedWriteBytesPerSecond ?? r.writeBytesPerSecond),
    readBack: (readBack ? plainBytes / readBack : 0) + (compressedReadBack ? compressedBytes / compressedReadBack : 0),
    upload: fileBytes / r.uploadBytesPerSecond,
    index: r.indexBytesPerSecond ? (plainBytes + compressedBytes + config.overheadBytes) / r.indexBytesPerSecond : 0,
  };
  const seconds = passes.fetch + passes.write + passes.readBack + passes.upload + passes.index;
  return { dataBytes, compressedDataBytes: compressedBytes, fileBytes, seconds, passes };
}

/** Where a file of this estimate can be written, from where the decision is taken. */
export function chooseEngine(estimate: FileEstimate, here: EngineHere, config: CapacityConfig): EngineChoice {
  const factor = 1 + config.margin;
  const needBytes = estimate.fileBytes * factor;
  const needSeconds = estimate.seconds * factor;
  const compressed = estimate.compressedDataBytes > 0 ? ` (${formatBytes(estimate.compressedDataBytes)} of its data compressed)` : '';
  const sizes = `the file needs ~${formatBytes(estimate.fileBytes)}${compressed} and ~${Math.ceil(estimate.seconds)} s (× ${factor} margin: ${formatBytes(needBytes)}, ${Math.ceil(needSeconds)} s)`;
  const hereBytes =
    here.kind === 'lambda' && config.lambdaMaxBytes !== undefined ? Math.min(here.freeBytes, config.lambdaMaxBytes) : here.freeBytes;
  const hereSeconds = here.remainingMs / 1000;
  const fitsHere = needBytes <= hereBytes && needSeconds <= hereSeconds;
  const hereText = `${here.kind === 'lambda' ? 'the function' : 'the task'} has ${formatBytes(hereBytes)} of temp space and ${Math.floor(hereSeconds)} s`;
  if (fitsHere) return { engine: here.kind, estimate, reason: `${sizes}; ${hereText}` };
  if (here.kind === 'lambda' && config.task) {
    const { maxBytes, maxSeconds } = config.task;
    if (needBytes <= maxBytes && needSeconds <= maxSeconds) {
      return {
        engine: 'task',
        estimate,
        reason: `${sizes}; ${hereText}; the task engine takes up to ${formatBytes(maxBytes)} and ${maxSeconds} s`,
      };
    }
    return {
      engine: 'none',
      estimate,
      reason: `${sizes}: more than any engine takes (${hereText}; the task engine up to ${formatBytes(maxBytes)} and ${maxSeconds} s)`,
    };
  }
  const noTask = here.kind === 'lambda' ? '; no task engine is configured' : '';
  return { engine: 'none', estimate, reason: `${sizes}: more than ${hereText}${noTask}` };
}

/** A scan whose file fits no engine: FAILED before anything is written, with the sizes. */
export class CapacityError extends InvalidInputError {
  override name = 'CapacityError';
}
