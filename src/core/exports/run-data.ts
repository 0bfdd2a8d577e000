/** Checks and look-ups on the export model shared by the builders. */
import { checkArray } from '../analysis/ndarray.js';
import { ExportRequestError } from './errors.js';
import type { ExportColumn, ExportFormat, ExportRun, ExportStream } from './model.js';

/** Bytes, dtype and shape of a column agree, or a request error naming run, stream and key. */
export function checkColumn(run: ExportRun, stream: ExportStream, column: ExportColumn, format: ExportFormat): void {
  try {
    checkArray(column.array, `key ${column.dataKey}`);
  } catch (error) {
    throw new ExportRequestError(`run ${run.uid}, stream ${stream.name}: ${(error as Error).message}`,
      { runUid: run.uid, stream: stream.name, key: column.dataKey, format }, { cause: error });
  }
}

export function findStream(run: ExportRun, name: string): ExportStream | undefined {
  return run.streams.find((s) => s.name === name);
}

export function findColumn(stream: ExportStream | undefined, dataKey: string): ExportColumn | undefined {
  return stream?.columns.find((c) => c.dataKey === dataKey);
}

/** ISO 8601 text of an event-model time (seconds since the epoch), or undefined. */
export function isoTime(seconds: unknown): string | undefined {
  return typeof seconds === 'number' && Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : undefined;
}

/** The title of a run: its `title`, else `scan_title`, else plan name and scan id. */
export function runTitle(run: ExportRun): string {
  const { start } = run;
  for (const key of ['title', 'scan_title'] as const) {
    if (typeof start[key] === 'string' && start[key] !== '') return start[key];
  }
  const plan = typeof start.plan_name === 'string' ? start.plan_name : 'run';
  return start.scan_id !== undefined ? `${plan} ${String(start.scan_id)}` : plan;
}

/** A NeXus-friendly name (letters, digits, underscore; starting with a letter) for a data key. */
export function nexusName(key: string): string {
  const cleaned = key.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z]/.test(cleaned) ? cleaned : `k_${cleaned}`;
}
