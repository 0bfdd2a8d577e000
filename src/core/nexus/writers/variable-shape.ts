/**
 * Channels whose points change shape mid-stream (blissdata streams with a free dimension, `-1` in
 * their shape; the bridge cuts a chunk wherever the shape changes and each StreamDatum carries its
 * chunk's point shape). As blisswriter 3 does, the dataset takes the largest size of every
 * dimension over all points and shorter points are padded at the end of each dimension with a fill
 * value (NaN for floats, 0 for integers). Unlike blisswriter, the real shape of every point is kept
 * next to the data (`point_shape` [points, rank]), so padding can be told apart from data (a padded
 * 0 from a measured 0). Nothing here does I/O: the scan writer pads each staged chunk as it writes
 * it (src/core/archive/point-shapes.ts). docs/nexus-layout.md, "Point shapes that change".
 */
import { InvalidInputError } from '../../errors.js';
import type { ElementType } from '../dtypes.js';
import type { PlanChannel } from '../plan.js';
import { channelDataset, type StorageOptions } from './channel-writer.js';

/** Name of the dataset beside `data` that holds the real shape of every point. */
export const POINT_SHAPE_DATASET = 'point_shape';

/** Element type of `point_shape`: sizes as numpy gives them (int64). */
export const POINT_SHAPE_TYPE: ElementType = { numpy: '<i8', kind: 'int', size: 8 };

/** What padding holds, as blisswriter 3 pads: NaN for floats, 0 for integers (and false for booleans, 0 bytes). */
export function fillValueOf(type: Pick<ElementType, 'kind'>): number {
  return type.kind === 'float' ? Number.NaN : 0;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The largest size of every dimension over `shapes` (all of one rank); throws on a rank mismatch. */
export function largestShape(shapes: Iterable<readonly number[]>, context: { runUid?: string; stream?: string } = {}): number[] {
  let largest: number[] | undefined;
  for (const shape of shapes) {
    if (!largest) {
      largest = [...shape];
      continue;
    }
    if (shape.length !== largest.length) {
      throw new InvalidInputError(`point shapes of different ranks: [${largest.join(', ')}] and [${shape.join(', ')}]`, context);
    }
    for (let i = 0; i < shape.length; i++) largest[i] = Math.max(largest[i]!, shape[i]!);
  }
  if (!largest) throw new InvalidInputError('no point shape', context);
  return largest;
}

const product = (shape: readonly number[]) => shape.reduce((n, d) => n * d, 1);

/**
 * `count` points of shape `from` (C order, as staged) laid out as points of shape `to` (every
 * dimension at least as large): each point's values at the start of every dimension, the rest
 * `fillValueOf(type)`. Returns a new buffer of count × prod(to) elements.
 */
export function padPoints(bytes: Uint8Array, count: number, from: readonly number[], to: readonly number[], type: ElementType): Uint8Array {
  if (from.length !== to.length || from.some((d, i) => d > to[i]!)) {
    throw new InvalidInputError(`points of shape [${from.join(', ')}] do not fit in [${to.join(', ')}]`);
  }
  const size = type.size;
  const srcPoint = product(from) * size;
  const dstPoint = product(to) * size;
  if (bytes.byteLength !== count * srcPoint) {
    throw new InvalidInputError(`${bytes.byteLength} bytes are not ${count} points of ${type.numpy} [${from.join(', ')}]`);
  }
  const out = new Uint8Array(count * dstPoint);
  const fill = fillValueOf(type);
  if (fill !== 0) {
    if (size === 4) new Float32Array(out.buffer).fill(fill);
    else new Float64Array(out.buffer).fill(fill);
  }
  const rank = from.length;
  if (srcPoint === 0) return out;
  if (rank === 0) {
    out.set(bytes);
    return out;
  }
  // Copy the innermost rows (contiguous in both layouts): one per index of the leading dimensions.
  const inner = from[rank - 1]! * size;
  const lead = from.slice(0, -1);
  const rows = product(lead);
  const strides = lead.map((_, k) => product(to.slice(k + 1)) * size);
  const index = lead.map(() => 0);
  for (let p = 0; p < count; p++) {
    index.fill(0);
    let dst = p * dstPoint;
    for (let r = 0, src = p * srcPoint; r < rows; r++, src += inner) {
      out.set(bytes.subarray(src, src + inner), dst);
      // Next index of the leading dimensions (last fastest), moving `dst` by the padded strides.
      for (let k = lead.length - 1; k >= 0; k--) {
        index[k]!++;
        dst += strides[k]!;
        if (index[k]! < lead[k]!) break;
        dst -= strides[k]! * index[k]!;
        index[k] = 0;
      }
    }
  }
  return out;
}

/** `count` rows of `shape` as int64 little-endian: the `point_shape` values of a chunk. */
export function pointShapeRows(shape: readonly number[], count: number): Uint8Array {
  const rows = new BigInt64Array(count * shape.length);
  for (let p = 0; p < count; p++) for (let i = 0; i < shape.length; i++) rows[p * shape.length + i] = BigInt(shape[i]!);
  return new Uint8Array(rows.buffer);
}

/**
 * The layout of a channel whose points vary in shape, from the dataset its channel writer laid out
 * at the largest shape: the same dataset with attributes saying what the padding is, and the
 * `point_shape` dataset [points, rank] beside it (its `channel` is `<channel>#point_shape`: not a
 * BLISS channel, never plotted nor listed in the run's channel paths).
 */
export function variableShapeLayout(dataset: PlanChannel, storage: StorageOptions): { dataset: PlanChannel; pointShapes: PlanChannel } {
  const group = dataset.path.slice(0, dataset.path.lastIndexOf('/'));
  const leaf = dataset.path.slice(dataset.path.lastIndexOf('/') + 1);
  const points = dataset.shape[0] ?? 0;
  const rank = dataset.pointShape.length;
  const pointShapes = channelDataset(
    {
      group,
      channel: `${dataset.channel}#${POINT_SHAPE_DATASET}`,
      resourceUid: dataset.resourceUid,
      type: POINT_SHAPE_TYPE,
      pointShape: [rank],
      points,
      storage,
    },
    POINT_SHAPE_DATASET,
    { long_name: `shape of each point of ${leaf} (without padding)` },
    undefined,
  );
  return {
    dataset: {
      ...dataset,
      attrs: {
        ...dataset.attrs,
        fill_value: fillValueOf(dataset.type),
        padding: `points smaller than [${dataset.pointShape.join(', ')}] are padded at the end of each dimension with fill_value; ${POINT_SHAPE_DATASET} holds the shape of each point`,
      },
    },
    pointShapes,
  };
}
