/**
 * Capacity before building an export (issue 17 item 7, docs/exports.md "Exports at any size"): from
 * the sizes of the runs' scan files and of the data they hold, estimate what a build needs — local
 * disk (the scan files downloaded + the export's files), memory, time — and choose where it runs:
 *
 * - here (the export-worker function, or the task running it): it fits with the margin;
 * - `task`: it does not fit the function but fits the task engine (the same container the big
 *   scans use, functions/archive-task/main.ts, job kind `export`);
 * - `none`: it fits nothing: FAILED at once with the sizes, before anything is downloaded.
 *
 * Every build (CSV, NeXus, NXstxm) holds one slice at a time (column-source.ts, stxm-columns.ts), so
 * its memory is a constant whatever the size of the runs (bench/export-memory.ts). The
 * rates and limits are configuration (the scan writer's CAPACITY_* and TASK_* variables plus
 * EXPORT_MEMORY_MB / TASK_MEMORY_MB): tests set small limits to drive the task path with small runs.
 */
import { formatBytes, type CapacityRates } from '../archive/capacity.js';
import { InvalidInputError } from '../errors.js';
import { ExportFormat } from './model.js';

export interface ExportCapacityConfig {
  /** Download of the scan files (fetch), writes to local disk, upload of the export's files. */
  rates: CapacityRates;
  /** Safety factor on disk, memory and time: 0.3 means the estimate × 1.3 must fit. */
  margin: number;
  /** At most this much of the function's temp folder is used, whatever is free (tests set it small). */
  lambdaMaxBytes?: number | undefined;
  /** The task engine's limits; absent when no task engine is configured. */
  task?: { maxBytes: number; maxSeconds: number; memoryBytes: number } | undefined;
}

/** Where the decision is taken, and what is available there now. */
export interface ExportHere {
  kind: 'lambda' | 'task';
  freeBytes: number;
  remainingMs: number;
  memoryBytes: number;
}

/** What one run brings to an export: its scan file and the bytes of the channels in it. */
export interface ExportInputSize {
  fileBytes: number;
  /** Bytes of the channel data as read (uncompressed), from the descriptors' dtypes and shapes and the points recorded. */
  dataBytes: number;
}

export interface ExportEstimate {
  /** The scan files, downloaded. */
  inputBytes: number;
  /** The export's files (upper bound). */
  outputBytes: number;
  /** Local disk needed: inputs + outputs. */
  tempBytes: number;
  /** Memory the build needs beyond its runtime. */
  memoryBytes: number;
  seconds: number;
}

/** Memory a streamed build holds whatever the input's size: slices, HDF5 caches, the runtime (measured: bench/export-memory.ts). */
export const STREAMED_BUILD_BYTES = 512 * 1024 * 1024;
/** Characters of text per byte of data a CSV table takes at most (a float64: 8 bytes, up to 24 characters and a comma). */
const CSV_CHARS_PER_BYTE = 3.2;

export function estimateExport(
  format: string,
  inputs: readonly ExportInputSize[],
  config: Pick<ExportCapacityConfig, 'rates'>,
): ExportEstimate {
  const inputBytes = inputs.reduce((n, r) => n + r.fileBytes, 0);
  const dataBytes = inputs.reduce((n, r) => n + r.dataBytes, 0);
  const outputBytes =
    format === ExportFormat.Csv ? Math.ceil(dataBytes * CSV_CHARS_PER_BYTE) : format === ExportFormat.Nxstxm ? 2 * dataBytes : dataBytes;
  const memoryBytes = STREAMED_BUILD_BYTES;
  const { fetchBytesPerSecond, writeBytesPerSecond, uploadBytesPerSecond } = config.rates;
  const seconds = inputBytes / fetchBytesPerSecond + outputBytes / writeBytesPerSecond + outputBytes / uploadBytesPerSecond;
  return { inputBytes, outputBytes, tempBytes: inputBytes + outputBytes, memoryBytes, seconds };
}

export type ExportEngineChoice = { engine: 'here' | 'task' | 'none'; reason: string };

/** Where a build of this estimate can run, decided from `here`. */
export function chooseExportEngine(estimate: ExportEstimate, here: ExportHere, config: ExportCapacityConfig): ExportEngineChoice {
  const factor = 1 + config.margin;
  const need = { bytes: estimate.tempBytes * factor, memory: estimate.memoryBytes * factor, seconds: estimate.seconds * factor };
  const sizes = `the export needs ~${formatBytes(estimate.tempBytes)} of temp space (scan files ${formatBytes(estimate.inputBytes)} + export ${formatBytes(estimate.outputBytes)}), ~${formatBytes(estimate.memoryBytes)} of memory and ~${Math.ceil(estimate.seconds)} s (× ${factor} margin)`;
  const hereBytes =
    here.kind === 'lambda' && config.lambdaMaxBytes !== undefined ? Math.min(here.freeBytes, config.lambdaMaxBytes) : here.freeBytes;
  const hereText = `${here.kind === 'lambda' ? 'the function' : 'the task'} has ${formatBytes(hereBytes)} of temp space, ${formatBytes(here.memoryBytes)} of memory and ${Math.floor(here.remainingMs / 1000)} s`;
  if (need.bytes <= hereBytes && need.memory <= here.memoryBytes && need.seconds <= here.remainingMs / 1000)
    return { engine: 'here', reason: `${sizes}; ${hereText}` };
  if (here.kind === 'lambda' && config.task) {
    const { maxBytes, maxSeconds, memoryBytes } = config.task;
    const taskText = `the task engine takes up to ${formatBytes(maxBytes)}, ${formatBytes(memoryBytes)} of memory and ${maxSeconds} s`;
    if (need.bytes <= maxBytes && need.memory <= memoryBytes && need.seconds <= maxSeconds)
      return { engine: 'task', reason: `${sizes}; ${hereText}; ${taskText}` };
    return { engine: 'none', reason: `${sizes}: more than any engine takes (${hereText}; ${taskText}); request fewer runs per export` };
  }
  return {
    engine: 'none',
    reason: `${sizes}: more than ${hereText}${here.kind === 'lambda' ? '; no task engine is configured' : ''}; request fewer runs per export`,
  };
}

/** An export that fits no engine: FAILED before anything is downloaded, with the sizes. */
export class ExportCapacityError extends InvalidInputError {
  override name = 'ExportCapacityError';
}
