/**
 * CSV export: one table per (run, stream), named `<run uid>_<stream>.csv`. Header row, then one
 * row per point: `seq_num` (1-based), `time` when the stream recorded event times, then one column
 * per scalar data key in the stream's column order. Numbers are written so that Python's `csv`
 * module + `float()` (or `int()`) reads back the same values (src/core/exports/number-format.ts).
 * Keys whose points are arrays (spectra, images) do not fit a table: they are left out and named
 * in the product's notes (the NeXus export carries them). A key with fewer points than the others
 * (an interrupted scan) gets empty cells after its last point, also noted. A table is produced a
 * piece at a time from slices of rows (`streamTable(...).chunks`): written to disk as it is made, it
 * may be of any size, and the build holds only one slice of each column.
 */
import { safeSegment } from '../object-keys.js';
import { ExportRequestError } from './errors.js';
import { checkColumn } from './run-data.js';
import { readRows, sliceRanges, SLICE_BYTES } from './column-source.js';
import type { BuildExportOptions, ColumnData, ExportColumn, ExportFile, ExportProduct, ExportRun, ExportStream } from './model.js';
import { formatAt, formatFloat64 } from './number-format.js';
import { missingPointsText } from '../nexus/layout.js';

/** RFC 4180 quoting: only cells holding a comma, quote or line break are quoted. */
export function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function pointsOf(column: ExportColumn<ColumnData>): number {
  return column.array.shape[0] ?? 0;
}

/** Rows formatted per piece of text: each piece is about this many characters (bounded memory). */
export const CHUNK_CHARS = 1024 * 1024;

/**
 * The CSV table of one stream of one run, as pieces of text written in order (`chunks`, each call a
 * fresh pass over the columns, read a slice of rows at a time), and the keys left out of it.
 */
export function streamTable(
  run: ExportRun<ColumnData>,
  stream: ExportStream<ColumnData>,
  options: { chunkChars?: number; sliceRows?: number } = {},
): { chunks: () => Iterable<string>; leftOut: string[]; short: string[]; lost: string[]; timesNote?: string | undefined } {
  const scalar = stream.columns.filter((c) => c.array.shape.length === 1);
  const leftOut = stream.columns
    .filter((c) => c.array.shape.length !== 1)
    .map((c) => `${c.dataKey} ${JSON.stringify(c.array.shape.slice(1))}`);
  const points = stream.columns.length > 0 ? Math.max(...stream.columns.map(pointsOf)) : (stream.times?.length ?? 0);
  for (const column of stream.columns) checkColumn(run, stream, column, 'csv');
  const short = scalar.filter((c) => pointsOf(c) < points).map((c) => `${c.dataKey} (${pointsOf(c)} of ${points} points)`);
  const times = stream.times && stream.times.length === points ? stream.times : undefined;
  const timesNote = stream.times && !times ? `${stream.times.length} event times for ${points} points: no time column` : undefined;
  // A data key may itself be called seq_num or time: the built-in column then takes a leading
  // underscore (as many as needed), so every header is unique and DictReader loses no column.
  const keys = new Set(scalar.map((c) => c.dataKey));
  const builtin = (name: string) => {
    let n = name;
    while (keys.has(n)) n = `_${n}`;
    return n;
  };
  const header = [builtin('seq_num'), ...(times ? [builtin('time')] : []), ...scalar.map((c) => c.dataKey)];
  // Points lost before archiving read as 0 in the scan file: their cells stay empty, never a made-up 0.
  const lostAt = scalar.map((c) =>
    c.missing?.length ? (row: number) => c.missing!.some(([start, stop]) => row >= start && row < stop) : undefined,
  );
  const lost = scalar.filter((c) => c.missing?.length).map((c) => `${c.dataKey} ${missingPointsText(c.missing!)}`);
  const chunkChars = options.chunkChars ?? CHUNK_CHARS;
  // Rows per slice: every scalar column's slice together stays about SLICE_BYTES.
  const sliceRows = options.sliceRows ?? Math.max(1, Math.floor(SLICE_BYTES / Math.max(8, scalar.length * 8)));
  function* chunks(): Generator<string> {
    let text = `${header.map(csvCell).join(',')}\r\n`;
    for (const [first, end] of sliceRanges(points, sliceRows)) {
      // Each column's rows of this slice (a key with fewer points has fewer, or none).
      const slices = scalar.map((c) => {
        const stop = Math.min(end, pointsOf(c));
        if (stop <= first) return undefined;
        const { bytes } = readRows(c.array, first, stop);
        return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      });
      for (let row = first; row < end; row += 1) {
        const cells = [String(row + 1)];
        if (times) cells.push(formatFloat64(times[row]!));
        // A key with fewer points (an interrupted scan) has empty cells after its last point: nothing is invented.
        scalar.forEach((c, i) =>
          cells.push(row < pointsOf(c) && !lostAt[i]?.(row) ? formatAt(slices[i]!, c.array.dtype, row - first) : ''),
        );
        text += `${cells.join(',')}\r\n`;
        if (text.length >= chunkChars) {
          yield text;
          text = '';
        }
      }
    }
    if (text.length > 0) yield text;
  }
  return { chunks, leftOut, short, lost, timesNote };
}

export function buildCsvExport(runs: readonly ExportRun<ColumnData>[], _options: BuildExportOptions): ExportProduct {
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
        throw new ExportRequestError(
          `two tables would both be named ${name} (run ${run.uid} requested twice, two streams named ${stream.name}, or run and stream names that join alike): request the runs separately`,
          { runUid: run.uid, stream: stream.name, format: 'csv' },
        );
      }
      names.add(name);
      const { chunks, leftOut, short, lost, timesNote } = streamTable(run, stream);
      if (timesNote) notes.push(`${name}: ${timesNote}`);
      files.push({ name, kind: 'text', contentType: 'text/csv; charset=utf-8', chunks });
      if (short.length > 0)
        notes.push(`${name}: keys with fewer points than the table have empty cells after their last point: ${short.join(', ')}`);
      if (lost.length > 0) notes.push(`${name}: points lost before archiving (trimmed in Redis) are empty cells: ${lost.join(', ')}`);
      if (leftOut.length > 0) notes.push(`${name}: array-valued keys left out (one value per cell only): ${leftOut.join(', ')}`);
    }
  }
  return { format: 'csv', files, notes };
}
