/**
 * CSV export: one table per (run, stream), named `<run uid>_<stream>.csv`. Header row, then one
 * row per point: `seq_num` (1-based), `time` when the stream recorded event times, then one column
 * per scalar data key in the stream's column order. Numbers are written so that Python's `csv`
 * module + `float()` (or `int()`) reads back the same values (src/core/exports/number-format.ts).
 * Keys whose points are arrays (spectra, images) do not fit a table: they are left out and named
 * in the product's notes (the NeXus export carries them). A key with fewer points than the others
 * (an interrupted scan) gets empty cells after its last point, also noted.
 */
import { safeSegment } from '../object-keys.js';
import { ExportRequestError } from './errors.js';
import { checkColumn } from './run-data.js';
import type { BuildExportOptions, ExportColumn, ExportFile, ExportProduct, ExportRun, ExportStream } from './model.js';
import { formatAt, formatFloat64 } from './number-format.js';
import { missingPointsText } from '../nexus/layout.js';

/** RFC 4180 quoting: only cells holding a comma, quote or line break are quoted. */
export function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function pointsOf(column: ExportColumn): number {
  return column.array.shape[0] ?? 0;
}

/**
 * Characters one table may take (256 Mi: half of what a JavaScript string can hold). A bigger
 * table is refused with the reason instead of crashing the build with a RangeError, which would be
 * retried until the DLQ.
 */
export const MAX_TABLE_CHARS = 256 * 1024 * 1024;

/** The CSV text of one stream of one run, and the keys left out of it. */
export function streamTable(run: ExportRun, stream: ExportStream, maxChars = MAX_TABLE_CHARS): { text: string; leftOut: string[]; short: string[]; lost: string[]; timesNote?: string | undefined } {
  const scalar = stream.columns.filter((c) => c.array.shape.length === 1);
  const leftOut = stream.columns.filter((c) => c.array.shape.length !== 1).map((c) => `${c.dataKey} ${JSON.stringify(c.array.shape.slice(1))}`);
  const points = stream.columns.length > 0 ? Math.max(...stream.columns.map(pointsOf)) : (stream.times?.length ?? 0);
  for (const column of stream.columns) checkColumn(run, stream, column, 'csv');
  const short = scalar.filter((c) => pointsOf(c) < points).map((c) => `${c.dataKey} (${pointsOf(c)} of ${points} points)`);
  const times = stream.times && stream.times.length === points ? stream.times : undefined;
  const timesNote = stream.times && !times ? `${stream.times.length} event times for ${points} points: no time column` : undefined;
  // A data key may itself be called seq_num or time: the built-in column then takes a leading
  // underscore (as many as needed), so every header is unique and DictReader loses no column.
  const keys = new Set(scalar.map((c) => c.dataKey));
  const builtin = (name: string) => { let n = name; while (keys.has(n)) n = `_${n}`; return n; };
  const header = [builtin('seq_num'), ...(times ? [builtin('time')] : []), ...scalar.map((c) => c.dataKey)];
  const views = scalar.map((c) => new DataView(c.array.bytes.buffer, c.array.bytes.byteOffset, c.array.bytes.byteLength));
  // Points lost before archiving read as 0 in the scan file: their cells stay empty, never a made-up 0.
  const lostAt = scalar.map((c) => (c.missing?.length ? (row: number) => c.missing!.some(([start, stop]) => row >= start && row < stop) : undefined));
  const lost = scalar.filter((c) => c.missing?.length).map((c) => `${c.dataKey} ${missingPointsText(c.missing!)}`);
  const lines = [header.map(csvCell).join(',')];
  let chars = lines[0]!.length + 2;
  for (let row = 0; row < points; row += 1) {
    const cells = [String(row + 1)];
    if (times) cells.push(formatFloat64(times[row]!));
    // A key with fewer points (an interrupted scan) has empty cells after its last point: nothing is invented.
    scalar.forEach((c, i) => cells.push(row < pointsOf(c) && !lostAt[i]?.(row) ? formatAt(views[i]!, c.array.dtype, row) : ''));
    const line = cells.join(',');
    chars += line.length + 2;
    if (chars > maxChars) {
      throw new ExportRequestError(
        `run ${run.uid}, stream ${stream.name}: the CSV table of ${points} points × ${header.length} columns passes ${maxChars} characters at point ${row}; request a nexus export for a stream this big`,
        { runUid: run.uid, stream: stream.name, index: row, format: 'csv' },
      );
    }
    lines.push(line);
  }
  return { text: `${lines.join('\r\n')}\r\n`, leftOut, short, lost, timesNote };
}

export function buildCsvExport(runs: readonly ExportRun[], _options: BuildExportOptions): ExportProduct {
  const files: ExportFile[] = [];
  const notes: string[] = [];
  const names = new Set<string>();
  for (const run of runs) {
    if (run.streams.length === 0) notes.push(`run ${run.uid} has no streams: no table`);
    for (const stream of run.streams) {
      // One safe segment whose hash mark (`~`, which exportFileKey would rewrite again, after the
      // extension) is a `-`: the published key and the downloaded file keep `.csv`.
      const name = `${safeSegment(run.uid, 'run uid')}_${safeSegment(stream.name, 'stream name')}`.replace(/~/g, '-') + '.csv';
      if (names.has(name)) {
        throw new ExportRequestError(`two tables would both be named ${name} (run ${run.uid} requested twice, two streams named ${stream.name}, or run and stream names that join alike): request the runs separately`,
          { runUid: run.uid, stream: stream.name, format: 'csv' });
      }
      names.add(name);
      const { text, leftOut, short, lost, timesNote } = streamTable(run, stream);
      if (timesNote) notes.push(`${name}: ${timesNote}`);
      files.push({ name, kind: 'text', contentType: 'text/csv; charset=utf-8', text });
      if (short.length > 0) notes.push(`${name}: keys with fewer points than the table have empty cells after their last point: ${short.join(', ')}`);
      if (lost.length > 0) notes.push(`${name}: points lost before archiving (trimmed in Redis) are empty cells: ${lost.join(', ')}`);
      if (leftOut.length > 0) notes.push(`${name}: array-valued keys left out (one value per cell only): ${leftOut.join(', ')}`);
    }
  }
  return { format: 'csv', files, notes };
}
