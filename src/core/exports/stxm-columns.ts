/**
 * The columns of an NXstxm export, read and written in slices (issue 17 item 7): an entry's points
 * are a few ranges of the primary stream (stxm-plan.ts `PlannedEntry.ranges`), and every per-point
 * dataset of the entry (the detector's readings, the positioners', the NXdata grid and its sums, the
 * ring current) is a `ColumnSource` over the run's columns that reads only the rows it is asked for,
 * a bounded slice at a time (column-source.ts `SLICE_BYTES`). The tree writer fills such a dataset
 * slice by slice, so an NXstxm build holds slices, never a column. One row of a source is one point,
 * or one outer index of the NXdata grid (one energy's image of a stack: `y × x` sums, 8 bytes each).
 */
import { DTYPES, elementCount, getElement, itemSize, type NdArray } from '../analysis/ndarray.js';
import { readRows, rowBytesOf, rowsPerSlice, sliceRanges } from './column-source.js';
import { ExportError } from './errors.js';
import { float64Array } from './hdf5-tree.js';
import { isColumnSource, type ColumnData, type ColumnSource } from './model.js';

/** Primary point ranges [start, stop), in the order their points are taken. */
export type PointRanges = readonly (readonly [number, number])[];

/** How many points the ranges hold. */
export function rangesCount(ranges: PointRanges): number {
  return ranges.reduce((n, [start, stop]) => n + stop - start, 0);
}

/** The primary ranges of positions [from, to) of the points the ranges list, in order. */
export function* subRanges(ranges: PointRanges, from: number, to: number): Generator<[number, number]> {
  let offset = 0;
  for (const [start, stop] of ranges) {
    const n = stop - start;
    const lo = Math.max(from, offset);
    const hi = Math.min(to, offset + n);
    if (lo < hi) yield [start + lo - offset, start + hi - offset];
    offset += n;
    if (offset >= to) return;
  }
}

/** The first `count` points of the ranges, as ranges. */
export function takeRanges(ranges: PointRanges, count: number): [number, number][] {
  return [...subRanges(ranges, 0, count)];
}

/** Consecutive points joined into ranges (`[3, 4, 5, 9]` → `[[3, 6], [9, 10]]`). */
export function rangesOfPoints(points: readonly number[]): [number, number][] {
  const ranges: [number, number][] = [];
  for (const p of points) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] === p) last[1] = p + 1;
    else ranges.push([p, p + 1]);
  }
  return ranges;
}

/** The column's rows in the ranges, read a bounded slice at a time. */
function* slicesOf(column: ColumnData, ranges: Iterable<readonly [number, number]>): Generator<{ start: number; slice: NdArray }> {
  const per = rowsPerSlice(column);
  const points = column.shape[0] ?? 0;
  for (const [start, stop] of ranges) {
    if (start < 0 || stop > points)
      throw new ExportError(`point ${stop > points ? stop - 1 : start} is outside an array of ${points} points`, {
        index: stop > points ? stop - 1 : start,
      });
    for (const [a, b] of sliceRanges(stop - start, per)) yield { start: start + a, slice: readRows(column, start + a, start + b) };
  }
}

/** The bytes of positions [from, to) of the points the ranges list (C order, point shape kept). */
function readPositions(column: ColumnData, ranges: PointRanges, from: number, to: number): Uint8Array {
  const bytes = new Uint8Array((to - from) * rowBytesOf(column));
  let at = 0;
  for (const { slice } of slicesOf(column, subRanges(ranges, from, to))) {
    bytes.set(slice.bytes, at);
    at += slice.bytes.byteLength;
  }
  return bytes;
}

/**
 * The points of `column` that the ranges list, on the grid `shape` (C order; `[count]` for one
 * value per point): a source read slice by slice, or, for a single point (`shape` `[]`), the array.
 */
export function gatherPoints(
  column: ColumnData,
  ranges: PointRanges,
  shape: readonly number[] = [rangesCount(ranges)],
): NdArray | ColumnSource {
  const count = rangesCount(ranges);
  if (elementCount(shape) !== count) throw new ExportError(`${count} points cannot fill a grid of shape ${JSON.stringify(shape)}`, {});
  const pointShape = column.shape.slice(1);
  if (shape.length === 0) return { dtype: column.dtype, shape: [...pointShape], bytes: readPositions(column, ranges, 0, count) };
  const inner = elementCount(shape.slice(1));
  return {
    dtype: column.dtype,
    shape: [...shape, ...pointShape],
    rows: (start, stop) => ({
      dtype: column.dtype,
      shape: [stop - start, ...shape.slice(1), ...pointShape],
      bytes: readPositions(column, ranges, start * inner, stop * inner),
    }),
  };
}

/** Small point lists (an axis, a first value) read into memory: `[...shape, ...point shape]`. */
export function pointsArray(column: ColumnData, points: readonly number[], shape: readonly number[] = [points.length]): NdArray {
  const pointShape = column.shape.slice(1);
  if (elementCount(shape) !== points.length)
    throw new ExportError(`${points.length} points cannot fill a grid of shape ${JSON.stringify(shape)}`, {});
  return { dtype: column.dtype, shape: [...shape, ...pointShape], bytes: readPositions(column, rangesOfPoints(points), 0, points.length) };
}

/** One reading (the column's first row, a baseline start value) on every point of `shape`. */
export function repeatFirst(column: ColumnData, shape: readonly number[]): NdArray | ColumnSource {
  const one = readRows(column, 0, 1).bytes.slice();
  const pointShape = column.shape.slice(1);
  const fill = (n: number) => {
    const bytes = new Uint8Array(one.byteLength * n);
    for (let i = 0; i < n; i += 1) bytes.set(one, i * one.byteLength);
    return bytes;
  };
  if (shape.length === 0) return { dtype: column.dtype, shape: [...pointShape], bytes: one };
  const inner = elementCount(shape.slice(1));
  return {
    dtype: column.dtype,
    shape: [...shape, ...pointShape],
    rows: (start, stop) => ({
      dtype: column.dtype,
      shape: [stop - start, ...shape.slice(1), ...pointShape],
      bytes: fill((stop - start) * inner),
    }),
  };
}

const VIEWS = {
  f8: Float64Array,
  f4: Float32Array,
  i4: Int32Array,
  i2: Int16Array,
  i1: Int8Array,
  u4: Uint32Array,
  u2: Uint16Array,
  u1: Uint8Array,
  b1: Uint8Array,
} as const;

/**
 * The elements of an array as numbers, by index: a typed view over its bytes (copied once when they
 * are not aligned), built once per slice instead of a DataView per element; 64-bit integers as
 * `getElement` reads them.
 */
function numbersOf(array: NdArray): (index: number) => number {
  const { kind, size } = DTYPES[array.dtype];
  const View = VIEWS[`${kind}${size}` as keyof typeof VIEWS];
  if (!View) return (index) => Number(getElement(array, index));
  const { bytes } = array;
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const view = new View(aligned.buffer as ArrayBuffer, aligned.byteOffset, aligned.byteLength / size);
  return kind === 'b' ? (index) => (view[index] !== 0 ? 1 : 0) : (index) => view[index]!;
}

/** Floating-point arrays as they are; integer or boolean ones converted to float64 (NX_FLOAT fields). */
export function asFloat(array: NdArray): NdArray {
  if (array.dtype === '<f8' || array.dtype === '<f4') return array;
  const n = elementCount(array.shape);
  const at = numbersOf(array);
  return float64Array(
    Array.from({ length: n }, (_, i) => at(i)),
    [...array.shape],
  );
}

/** `asFloat` of an array, or of each slice of a source. */
export function asFloatData(data: NdArray | ColumnSource): NdArray | ColumnSource {
  if (!isColumnSource(data)) return asFloat(data);
  if (data.dtype === '<f8' || data.dtype === '<f4') return data;
  return { dtype: '<f8', shape: data.shape, rows: (start, stop) => asFloat(data.rows(start, stop)) };
}

/** C-order offsets, in an array of shape `outer`, of the elements of its leading sub-block of shape `inner`. */
function* offsetsWithin(inner: readonly number[], outer: readonly number[]): Generator<number> {
  if (inner.some((n) => n <= 0)) return;
  const strides = outer.map((_, d) => outer.slice(d + 1).reduce((a, b) => a * b, 1));
  const index = inner.map(() => 0);
  for (;;) {
    yield index.reduce((o, i, d) => o + i * strides[d]!, 0);
    let d = inner.length - 1;
    while (d >= 0 && ++index[d]! >= inner[d]!) index[d--] = 0;
    if (d < 0) return;
  }
}

/**
 * The sum of each point's values (NXstxm: "detectors that provide more than one value per scan
 * point should be summarised to a single value per scan point" in NXdata), as float64, in C order.
 */
export function sumPerPoint(array: NdArray, shape: readonly number[], pointShapes?: NdArray): NdArray {
  const points = elementCount(shape);
  const per = points === 0 ? 0 : elementCount(array.shape) / points;
  const sums = new Array<number>(points).fill(0);
  const padded = array.shape.slice(shape.length);
  const at = numbersOf(array);
  const shapeAt = pointShapes ? numbersOf(pointShapes) : undefined;
  for (let p = 0; p < points; p += 1) {
    let sum = 0;
    if (shapeAt) {
      // A padded key (its points changed shape): only the values inside the point's own shape count,
      // the padding (NaN for floats) is not a reading.
      const real = padded.map((_, d) => shapeAt(p * padded.length + d));
      for (const offset of offsetsWithin(real, padded)) sum += at(p * per + offset);
    } else {
      for (let k = 0; k < per; k += 1) sum += at(p * per + k);
    }
    sums[p] = sum;
  }
  return float64Array(sums, [...shape]);
}

/**
 * `sumPerPoint` of the points the ranges list, on the grid `shape`, read slice by slice (a source;
 * the array for a single point): the detector's values are read a bounded slice at a time whatever
 * the size of one point (an MCA spectrum, an image).
 */
export function sumPoints(
  column: ColumnData,
  ranges: PointRanges,
  shape: readonly number[],
  pointShapes?: ColumnData,
): NdArray | ColumnSource {
  const count = rangesCount(ranges);
  if (elementCount(shape) !== count) throw new ExportError(`${count} points cannot fill a grid of shape ${JSON.stringify(shape)}`, {});
  const sums = (from: number, to: number): Float64Array => {
    const out = new Float64Array(to - from);
    let at = 0;
    for (const { start, slice } of slicesOf(column, subRanges(ranges, from, to))) {
      const n = slice.shape[0] ?? 0;
      const real = pointShapes ? readRows(pointShapes, start, start + n) : undefined;
      out.set(new Float64Array(sumPerPoint(slice, [n], real).bytes.buffer), at);
      at += n;
    }
    return out;
  };
  if (shape.length === 0) return float64Array([...sums(0, count)], []);
  const inner = elementCount(shape.slice(1));
  return {
    dtype: '<f8',
    shape: [...shape],
    rows: (start, stop) => ({
      dtype: '<f8',
      shape: [stop - start, ...shape.slice(1)],
      bytes: new Uint8Array(sums(start * inner, stop * inner).buffer),
    }),
  };
}

/** Columns of several runs one after the other (the runs of a stack): a source read from each in turn. */
export function concatColumns(parts: readonly ColumnData[]): ColumnSource {
  const [first] = parts;
  if (!first) throw new ExportError('nothing to concatenate', {});
  const pointShape = first.shape.slice(1);
  for (const part of parts) {
    if (part.dtype !== first.dtype || JSON.stringify(part.shape.slice(1)) !== JSON.stringify(pointShape)) {
      throw new ExportError(
        `cannot concatenate ${part.dtype} ${JSON.stringify(part.shape)} to ${first.dtype} ${JSON.stringify(first.shape)}`,
        {},
      );
    }
  }
  const offsets: number[] = [];
  const total = parts.reduce((n, part) => {
    offsets.push(n);
    return n + (part.shape[0] ?? 0);
  }, 0);
  const rowBytes = elementCount(pointShape) * itemSize(first.dtype);
  return {
    dtype: first.dtype,
    shape: [total, ...pointShape],
    rows(start, stop) {
      const bytes = new Uint8Array((stop - start) * rowBytes);
      let at = 0;
      parts.forEach((part, i) => {
        const lo = Math.max(start, offsets[i]!);
        const hi = Math.min(stop, offsets[i]! + (part.shape[0] ?? 0));
        if (lo >= hi) return;
        const slice = readRows(part, lo - offsets[i]!, hi - offsets[i]!);
        bytes.set(slice.bytes, at);
        at += slice.bytes.byteLength;
      });
      return { dtype: first.dtype, shape: [stop - start, ...pointShape], bytes };
    },
  };
}
