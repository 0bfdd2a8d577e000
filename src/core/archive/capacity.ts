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

/** Bytes per second of each stage, measured (docs/big-scans.md). */
export interface CapacityRates {
  /** Staged chunks read from S3 (bounded concurrency, sha256 checked). */
  fetchBytesPerSecond: number;
  /** HDF5 writes of the channel datasets to local disk (h5wasm). */
  writeBytesPerSecond: number;
  /** Upload of the file to S3 (multipart, hashed while it streams) and the copy to the final key. */
  uploadBytesPerSecond: number;
  /**
   * The read-back check: the file reopened read-only and every dataset hashed (h5wasm-scan-file-verifier.ts).
   * Absent (estimates of other files, e.g. exports, which have no such pass): not counted.
   */
  readBackBytesPerSecond?: number | undefined;
  /** The scan file's index (`<file>.index.json`, h5wasm-file-indexer.ts); absent: not counted. */
  indexBytesPerSecond?: number | undefined;
}

export interface CapacityConfig {
  rates: CapacityRates;
  /** Safety factor on both size and time: 0.25 means the estimate × 1.25 must fit. */
  margin: number;
  /** Bytes of a file beyond its channel data (groups, attributes, chunk indexes, metadata). */
  overheadBytes: number;
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
  /** Upper bound of the file's bytes (uncompressed data + overhead). */
  fileBytes: number;
  /** Seconds to fetch, write, read back, upload and index it at the configured rates. */
  seconds: number;
}

export type EngineChoice =
  | { engine: 'lambda' | 'task'; estimate: FileEstimate; reason: string }
  | { engine: 'none'; estimate: FileEstimate; reason: string };

/** Sizes in the units a person reads. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

/**
 * The file a plan will write: every channel and grid dataset at its full shape, uncompressed (an
 * upper bound when gzip is on), plus the fixed overhead; the time at the configured rates.
 */
export function estimateScanFile(plan: Pick<NexusPlan, 'nodes'>, config: Pick<CapacityConfig, 'rates' | 'overheadBytes'>): FileEstimate {
  let dataBytes = 0;
  let datasetBytes = 0;
  for (const node of plan.nodes) {
    if (node.kind === 'channel') {
      const bytes = node.shape.reduce((a, b) => a * b, 1) * node.type.size;
      dataBytes += bytes;
      datasetBytes += bytes;
    } else if (node.kind === 'grid-signal') {
      datasetBytes += node.shape[0] * node.shape[1] * node.type.size;
    }
  }
  const fileBytes = datasetBytes + config.overheadBytes;
  const { fetchBytesPerSecond, writeBytesPerSecond, uploadBytesPerSecond, readBackBytesPerSecond, indexBytesPerSecond } = config.rates;
  // Every pass the file costs, one after the other: fetch + write overlap only by the fetch window (64 MiB),
  // the read-back, the upload (hashing as it streams) and the index each read the whole file again.
  const seconds = dataBytes / fetchBytesPerSecond + fileBytes / writeBytesPerSecond + (readBackBytesPerSecond ? fileBytes / readBackBytesPerSecond : 0)
    + fileBytes / uploadBytesPerSecond + (indexBytesPerSecond ? fileBytes / indexBytesPerSecond : 0);
  return { dataBytes, fileBytes, seconds };
}

/** Where a file of this estimate can be written, from where the decision is taken. */
export function chooseEngine(estimate: FileEstimate, here: EngineHere, config: CapacityConfig): EngineChoice {
  const factor = 1 + config.margin;
  const needBytes = estimate.fileBytes * factor;
  const needSeconds = estimate.seconds * factor;
  const sizes = `the file needs ~${formatBytes(estimate.fileBytes)} and ~${Math.ceil(estimate.seconds)} s (× ${factor} margin: ${formatBytes(needBytes)}, ${Math.ceil(needSeconds)} s)`;
  const hereBytes = here.kind === 'lambda' && config.lambdaMaxBytes !== undefined ? Math.min(here.freeBytes, config.lambdaMaxBytes) : here.freeBytes;
  const hereSeconds = here.remainingMs / 1000;
  const fitsHere = needBytes <= hereBytes && needSeconds <= hereSeconds;
  const hereText = `${here.kind === 'lambda' ? 'the function' : 'the task'} has ${formatBytes(hereBytes)} of temp space and ${Math.floor(hereSeconds)} s`;
  if (fitsHere) return { engine: here.kind, estimate, reason: `${sizes}; ${hereText}` };
  if (here.kind === 'lambda' && config.task) {
    const { maxBytes, maxSeconds } = config.task;
    if (needBytes <= maxBytes && needSeconds <= maxSeconds) {
      return { engine: 'task', estimate, reason: `${sizes}; ${hereText}; the task engine takes up to ${formatBytes(maxBytes)} and ${maxSeconds} s` };
    }
    return { engine: 'none', estimate, reason: `${sizes}: more than any engine takes (${hereText}; the task engine up to ${formatBytes(maxBytes)} and ${maxSeconds} s)` };
  }
  const noTask = here.kind === 'lambda' ? '; no task engine is configured' : '';
  return { engine: 'none', estimate, reason: `${sizes}: more than ${hereText}${noTask}` };
}

/** A scan whose file fits no engine: FAILED before anything is written, with the sizes. */
export class CapacityError extends InvalidInputError {
  override name = 'CapacityError';
}
