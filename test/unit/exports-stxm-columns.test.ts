// NXstxm's columns read in slices (src/core/exports/stxm-columns.ts): columns bigger than a slice,
// read the way the tree writer reads them (rows of the dataset, a slice at a time), give the values
// of the points the entry's ranges name, in order, across slice and range boundaries; and no read of
// the archived column ever asks for more than one slice, whatever the column's size.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NdArray } from '../../src/core/analysis/ndarray.js';
import { readRows, rowBytesOf, rowsPerSlice, sliceRanges, SLICE_BYTES } from '../../src/core/exports/column-source.js';
import { ExportError } from '../../src/core/exports/errors.js';
import { isColumnSource, type ColumnSource } from '../../src/core/exports/model.js';
import {
  concatColumns,
  gatherPoints,
  rangesOfPoints,
  repeatFirst,
  subRanges,
  sumPoints,
  takeRanges,
} from '../../src/core/exports/stxm-columns.js';

/** A float64 column of `points` rows (`width` values each, 0: scalars), value = row × 1000 + k; every read is recorded. */
function countingColumn(points: number, width = 0): { source: ColumnSource; reads: [number, number][] } {
  const reads: [number, number][] = [];
  const w = Math.max(width, 1);
  const source: ColumnSource = {
    dtype: '<f8',
    shape: width === 0 ? [points] : [points, width],
    rows(start, stop) {
      reads.push([start, stop]);
      const values = new Float64Array((stop - start) * w);
      for (let r = start; r < stop; r += 1) for (let k = 0; k < w; k += 1) values[(r - start) * w + k] = r * 1000 + k;
      return { dtype: '<f8', shape: width === 0 ? [stop - start] : [stop - start, width], bytes: new Uint8Array(values.buffer) };
    },
  };
  return { source, reads };
}

/** What the tree writer does with a dataset: its rows a slice at a time, here joined to compare. */
function written(data: NdArray | ColumnSource): { shape: number[]; values: Float64Array; slices: number } {
  if (!isColumnSource(data)) return { shape: [...data.shape], values: new Float64Array(data.bytes.slice().buffer), slices: 0 };
  const out = new Uint8Array((data.shape[0] ?? 0) * rowBytesOf(data));
  let at = 0;
  let slices = 0;
  for (const [start, stop] of sliceRanges(data.shape[0] ?? 0, rowsPerSlice(data))) {
    const slice = readRows(data, start, stop);
    out.set(slice.bytes, at);
    at += slice.bytes.byteLength;
    slices += 1;
  }
  return { shape: [...data.shape], values: new Float64Array(out.buffer), slices };
}

const pointsOf = (ranges: readonly (readonly [number, number])[]) =>
  ranges.flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i));
const largestRead = (reads: [number, number][], rowBytes: number) => Math.max(...reads.map(([a, b]) => (b - a) * rowBytes));

describe('point ranges', () => {
  it('joins consecutive points, cuts positions out of ranges, takes the first points', () => {
    assert.deepEqual(rangesOfPoints([3, 4, 5, 9, 0, 0]), [
      [3, 6],
      [9, 10],
      [0, 1],
      [0, 1],
    ]);
    assert.deepEqual(
      [
        ...subRanges(
          [
            [10, 20],
            [40, 45],
          ],
          8,
          13,
        ),
      ],
      [
        [18, 20],
        [40, 43],
      ],
    );
    assert.deepEqual(
      takeRanges(
        [
          [10, 20],
          [40, 45],
        ],
        12,
      ),
      [
        [10, 20],
        [40, 42],
      ],
    );
  });
});

describe('gatherPoints', () => {
  it('reads the points of a column bigger than a slice onto the grid, in order, one bounded slice at a time', () => {
    const { source, reads } = countingColumn(1_200_000);
    const ranges = [
      [100, 700_100],
      [800_000, 1_100_000],
    ] as const;
    const grid = gatherPoints(source, ranges, [4, 250_000]);
    assert.ok(isColumnSource(grid), 'a source, not an array');
    const out = written(grid);
    assert.deepEqual(out.shape, [4, 250_000]);
    assert.ok(out.slices > 1, 'the writer needed several slices');
    assert.deepEqual(
      out.values,
      Float64Array.from(pointsOf(ranges), (p) => p * 1000),
    );
    assert.ok(largestRead(reads, 8) <= SLICE_BYTES, `largest read ${largestRead(reads, 8)} bytes`);
  });

  it("keeps each point's values (an MCA spectrum per point) and gives one point as an array", () => {
    const { source } = countingColumn(10, 3);
    const out = written(
      gatherPoints(source, [
        [7, 9],
        [2, 3],
      ]),
    );
    assert.deepEqual(out.shape, [3, 3]);
    assert.deepEqual([...out.values], [7000, 7001, 7002, 8000, 8001, 8002, 2000, 2001, 2002]);
    const one = gatherPoints(source, [[4, 5]], []);
    assert.ok(!isColumnSource(one));
    assert.deepEqual(
      { shape: one.shape, values: [...new Float64Array(one.bytes.slice().buffer)] },
      { shape: [3], values: [4000, 4001, 4002] },
    );
  });

  it('refuses points outside the column and a grid the points cannot fill', () => {
    const { source } = countingColumn(5);
    assert.throws(
      () => written(gatherPoints(source, [[3, 6]])),
      (e: unknown) => e instanceof ExportError && /point 5 is outside an array of 5 points/.test((e as Error).message),
    );
    assert.throws(
      () => gatherPoints(source, [[0, 5]], [2, 2]),
      (e: unknown) => e instanceof ExportError && /5 points cannot fill a grid of shape \[2,2\]/.test((e as Error).message),
    );
  });
});

describe('sumPoints', () => {
  it("sums each point of a detector bigger than a slice (padding outside each point's own shape left out), bounded reads", () => {
    const width = 16;
    const points = 40_000; // 5.1 MB of float64
    const { source, reads } = countingColumn(points, width);
    const ranges = [
      [0, 15_000],
      [20_000, 35_000],
    ] as const;
    const plain = written(sumPoints(source, ranges, [2, 15_000]));
    assert.deepEqual(plain.shape, [2, 15_000]);
    assert.deepEqual(
      plain.values,
      Float64Array.from(pointsOf(ranges), (p) => width * p * 1000 + (width * (width - 1)) / 2),
    );
    assert.ok(largestRead(reads, width * 8) <= SLICE_BYTES, `largest read ${largestRead(reads, width * 8)} bytes`);
    // A padded key: point p really has (p % 16) + 1 values.
    const real = (p: number) => (p % width) + 1;
    const shapes: NdArray = {
      dtype: '<i8',
      shape: [points, 1],
      bytes: new Uint8Array(BigInt64Array.from({ length: points }, (_, p) => BigInt(real(p))).buffer),
    };
    const padded = written(sumPoints(source, ranges, [2, 15_000], shapes));
    assert.deepEqual(
      padded.values,
      Float64Array.from(pointsOf(ranges), (p) => real(p) * p * 1000 + (real(p) * (real(p) - 1)) / 2),
    );
  });
});

describe('concatColumns and repeatFirst', () => {
  it('reads runs one after the other across the boundary, and refuses columns of another dtype or point shape', () => {
    const a = countingColumn(300_000);
    const b = countingColumn(500_000);
    const joined = concatColumns([a.source, b.source]);
    const out = written(joined);
    assert.deepEqual(out.shape, [800_000]);
    assert.deepEqual(
      out.values,
      Float64Array.from({ length: 800_000 }, (_, i) => (i < 300_000 ? i : i - 300_000) * 1000),
    );
    assert.ok(largestRead([...a.reads, ...b.reads], 8) <= SLICE_BYTES);
    const other: NdArray = { dtype: '<f4', shape: [2], bytes: new Uint8Array(8) };
    assert.throws(
      () => concatColumns([a.source, other]),
      (e: unknown) => e instanceof ExportError && /cannot concatenate <f4 \[2\] to <f8 \[300000\]/.test((e as Error).message),
    );
  });

  it('repeats a baseline start reading on every point of the grid', () => {
    const baseline: NdArray = { dtype: '<f8', shape: [2], bytes: new Uint8Array(new Float64Array([700.5, 701]).buffer) };
    const out = written(repeatFirst(baseline, [3, 2]));
    assert.deepEqual({ shape: out.shape, values: [...out.values] }, { shape: [3, 2], values: [700.5, 700.5, 700.5, 700.5, 700.5, 700.5] });
  });
});
