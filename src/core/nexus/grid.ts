/** Pure helpers of the 2D grid plot (amesh): row segments of a flat slice, linear axes from positions. */
import type { ElementType } from './dtypes.js';

/** Segments of flat points [start, stop) on a grid with `fast` columns: row, first column, count, offset in points. */
export function* gridSegments(
  start: number,
  stop: number,
  fast: number,
): Generator<{ row: number; column: number; count: number; offset: number }> {
  for (let p = start; p < stop;) {
    const row = Math.floor(p / fast);
    const column = p - row * fast;
    const count = Math.min(stop - p, fast - column);
    yield { row, column, count, offset: p - start };
    p += count;
  }
}

/** Reads element i of little-endian raw bytes as a JS number (64-bit integers lose precision past 2^53, fine for positions). */
export function elementReader(type: ElementType): (view: DataView, i: number) => number {
  const s = type.size;
  switch (`${type.kind}${s}`) {
    case 'float4':
      return (v, i) => v.getFloat32(i * 4, true);
    case 'float8':
      return (v, i) => v.getFloat64(i * 8, true);
    case 'int1':
      return (v, i) => v.getInt8(i);
    case 'int2':
      return (v, i) => v.getInt16(i * 2, true);
    case 'int4':
      return (v, i) => v.getInt32(i * 4, true);
    case 'int8':
      return (v, i) => Number(v.getBigInt64(i * 8, true));
    case 'uint1':
      return (v, i) => v.getUint8(i);
    case 'uint2':
      return (v, i) => v.getUint16(i * 2, true);
    case 'uint4':
      return (v, i) => v.getUint32(i * 4, true);
    default:
      return (v, i) => Number(v.getBigUint64(i * 8, true));
  }
}

/**
 * Accumulates one positioner's values per grid column (fast axis) or row (slow axis) and returns
 * the linear axis: means over the other dimension, then the least-squares line through them
 * (NaN points ignored; a single finite point gives a constant axis). Memory: one sum per axis point.
 */
export class GridAxisAccumulator {
  private readonly sums: Float64Array;
  private readonly counts: Float64Array;
  private readonly read: (view: DataView, i: number) => number;

  constructor(
    type: ElementType,
    private readonly dimension: 'fast' | 'slow',
    private readonly grid: { fast: number; slow: number },
  ) {
    const n = dimension === 'fast' ? grid.fast : grid.slow;
    this.sums = new Float64Array(n);
    this.counts = new Float64Array(n);
    this.read = elementReader(type);
  }

  add(start: number, bytes: Uint8Array, points: number): void {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < points; i += 1) {
      const p = start + i;
      if (p >= this.grid.fast * this.grid.slow) break;
      const k = this.dimension === 'fast' ? p % this.grid.fast : Math.floor(p / this.grid.fast);
      const value = this.read(view, i);
      if (Number.isNaN(value)) continue;
      this.sums[k]! += value;
      this.counts[k]! += 1;
    }
  }

  values(): Float64Array {
    const n = this.sums.length;
    const means = Array.from(this.sums, (s, k) => (this.counts[k]! > 0 ? s / this.counts[k]! : Number.NaN));
    const xs: number[] = [];
    const ys: number[] = [];
    means.forEach((m, k) => {
      if (Number.isFinite(m)) {
        xs.push(k);
        ys.push(m);
      }
    });
    const out = new Float64Array(n);
    if (xs.length === 0) return out.fill(Number.NaN);
    const xm = xs.reduce((a, b) => a + b, 0) / xs.length;
    const ym = ys.reduce((a, b) => a + b, 0) / ys.length;
    let sxy = 0;
    let sxx = 0;
    for (let j = 0; j < xs.length; j += 1) {
      sxy += (xs[j]! - xm) * (ys[j]! - ym);
      sxx += (xs[j]! - xm) ** 2;
    }
    const slope = sxx > 0 ? sxy / sxx : 0;
    for (let k = 0; k < n; k += 1) out[k] = slope * k + (ym - slope * xm);
    return out;
  }
}
