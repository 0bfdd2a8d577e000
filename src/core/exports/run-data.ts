/** Checks and look-ups on the export model shared by the builders. */
import { checkArray } from '../analysis/ndarray.js';
import { ExportRequestError } from './errors.js';
import { isColumnSource, type ColumnData, type ExportColumn, type ExportFormat, type ExportRun, type ExportStream } from './model.js';

/**
 * Bytes, dtype and shape of a column in memory agree, or a request error naming run, stream and key.
 * A column read on demand is checked slice by slice as it is read (column-source.ts `readRows`).
 */
export function checkColumn<A extends ColumnData>(
  run: ExportRun<A>,
  stream: ExportStream<A>,
  column: ExportColumn<A>,
  format: ExportFormat,
): void {
  if (isColumnSource(column.array)) return;
  try {
    checkArray(column.array, `key ${column.dataKey}`);
  } catch (error) {
    throw new ExportRequestError(
      `run ${run.uid}, stream ${stream.name}: ${(error as Error).message}`,
      { runUid: run.uid, stream: stream.name, key: column.dataKey, format },
      { cause: error },
    );
  }
}

export function findStream<A extends ColumnData>(run: ExportRun<A>, name: string): ExportStream<A> | undefined {
  return run.streams.find((s) => s.name === name);
}

export function findColumn<A extends ColumnData>(stream: ExportStream<A> | undefined, dataKey: string): ExportColumn<A> | undefined {
  return stream?.columns.find((c) => c.dataKey === dataKey);
}

/** ISO 8601 text of an event-model time (seconds since the epoch), or undefined. */
export function isoTime(seconds: unknown): string | undefined {
  return typeof seconds === 'number' && Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * A start-document metadata key of a run: the archived RunStart keeps a Bluesky run's md keys at
 * its top level (and the whole original start document under `bluesky.start`), a BLISS scan's
 * scan_info under `bliss.scan_info`; look there in that order.
 */
export function startKey(run: ExportRun<ColumnData>, key: string): unknown {
  return run.start[key] ?? record(record(run.start.bluesky)?.start)?.[key] ?? record(record(run.start.bliss)?.scan_info)?.[key];
}

/** The title of a run: its md `title`, the BLISS or Bluesky title the archive derived, `scan_title`, else plan name and scan id. */
export function runTitle(run: ExportRun<ColumnData>): string {
  const { start } = run;
  const candidates = [startKey(run, 'title'), record(start.bliss)?.title, record(start.bluesky)?.title, startKey(run, 'scan_title')];
  const found = candidates.find((c): c is string => typeof c === 'string' && c !== '');
  if (found) return found;
  const plan = typeof start.plan_name === 'string' ? start.plan_name : 'run';
  return start.scan_id !== undefined ? `${plan} ${String(start.scan_id)}` : plan;
}

/** The beamline of an archived run (its data policy), when it has one. */
export function beamlineOf(run: ExportRun<ColumnData>): string | undefined {
  const beamline = startKey(run, 'beamline_id') ?? record(run.start.data_policy)?.beamline;
  return typeof beamline === 'string' && beamline !== '' ? beamline : undefined;
}

/** A NeXus-friendly name (letters, digits, underscore; starting with a letter) for a data key. */
export function nexusName(key: string): string {
  const cleaned = key.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z]/.test(cleaned) ? cleaned : `k_${cleaned}`;
}
