/**
 * Columns read slice by slice (model.ts `ColumnSource`): the helpers the builders and writers share
 * to walk a column in bounded pieces, whether it is in memory or read from the archived file.
 */
import { elementCount, itemSize, type NdArray } from '../analysis/ndarray.js';
import { ExportError } from './errors.js';
import { isColumnSource, type ColumnData, type ColumnSource, type ExportColumn, type ExportRun, type ExportStream } from './model.js';

/**
 * Bytes of one slice a builder or writer holds at a time (4 MiB): what an export's memory is made
 * of, whatever the size of the file it reads.
 */
export const SLICE_BYTES = 4 * 1024 * 1024;

/** Bytes of one point (row) of a column. */
export function rowBytesOf(data: Pick<ColumnData, 'dtype' | 'shape'>): number {
  return elementCount(data.shape.slice(1)) * itemSize(data.dtype);
}

/** How many rows make a slice of about `sliceBytes` (at least one). */
export function rowsPerSlice(data: Pick<ColumnData, 'dtype' | 'shape'>, sliceBytes = SLICE_BYTES): number {
  return Math.max(1, Math.floor(sliceBytes / Math.max(1, rowBytesOf(data))));
}

/** Rows [start, stop) of a column, as an array (a view of the bytes when the column is in memory). */
export function readRows(data: ColumnData, start: number, stop: number): NdArray {
  const points = data.shape[0] ?? 0;
  if (start < 0 || stop < start || stop > points)
    throw new ExportError(`rows [${start}, ${stop}) are outside a column of ${points} points`, {});
  if (isColumnSource(data)) {
    const slice = data.rows(start, stop);
    const expected = (stop - start) * rowBytesOf(data);
    if (slice.bytes.byteLength !== expected) {
      throw new ExportError(
        `rows [${start}, ${stop}) read as ${slice.bytes.byteLength} bytes, ${data.dtype} ${JSON.stringify([stop - start, ...data.shape.slice(1)])} needs ${expected}`,
        {},
      );
    }
    return slice;
  }
  const rowBytes = rowBytesOf(data);
  return {
    dtype: data.dtype,
    shape: [stop - start, ...data.shape.slice(1)],
    bytes: data.bytes.subarray(start * rowBytes, stop * rowBytes),
  };
}

/** Every [start, stop) slice of a column of `points` rows, `rows` at a time. */
export function* sliceRanges(points: number, rows: number): Generator<[number, number]> {
  for (let start = 0; start < points; start += rows) yield [start, Math.min(points, start + rows)];
}

/** The whole column in memory (tests and small columns: every builder reads slices). */
export function materialize(data: ColumnData): NdArray {
  if (!isColumnSource(data)) return data;
  const points = data.shape[0] ?? 0;
  const bytes = new Uint8Array(points * rowBytesOf(data));
  let at = 0;
  for (const [start, stop] of sliceRanges(points, rowsPerSlice(data))) {
    const slice = readRows(data, start, stop);
    bytes.set(slice.bytes, at);
    at += slice.bytes.byteLength;
  }
  return { dtype: data.dtype, shape: [...data.shape], bytes };
}

/** A run with every column in memory (tests). */
export function materializeRun(run: ExportRun<ColumnData>): ExportRun {
  return {
    ...run,
    streams: run.streams.map((stream): ExportStream => ({
      ...stream,
      columns: stream.columns.map((column): ExportColumn => {
        const { array, pointShapes, ...rest } = column;
        return { ...rest, array: materialize(array), ...(pointShapes ? { pointShapes: materialize(pointShapes) } : {}) };
      }),
    })),
  };
}

/** The numbers 1 … points as int64, computed slice by slice (the `seq_num` of a stream). */
export function sequenceSource(points: number): ColumnSource {
  return {
    dtype: '<i8',
    shape: [points],
    rows(start: number, stop: number): NdArray {
      const values = new BigInt64Array(stop - start);
      for (let i = 0; i < values.length; i += 1) values[i] = BigInt(start + i + 1);
      return { dtype: '<i8', shape: [values.length], bytes: new Uint8Array(values.buffer) };
    },
  };
}
