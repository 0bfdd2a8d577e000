/**
 * Channels whose point shape changes between chunks (free dimensions: each StreamDatum carries its
 * chunk's `point_shape`). The scan writer lays such a channel out at the largest shape of its
 * chunks, pads every point to it as it writes (one staged chunk, one write slice at a time) and
 * writes the real shapes beside it (src/core/nexus/writers/variable-shape.ts). Channels whose
 * points all have the resource's shape are left exactly as before.
 */
import type { StreamDatum, StreamResource } from '../contract/generated-types.js';
import type { NexusPlan, PlanChannel, PlanNode } from '../nexus/layout.js';
import type { StorageOptions } from '../nexus/writers/channel-writer.js';
import { largestShape, padPoints, pointShapeRows, sameShape, variableShapeLayout } from '../nexus/writers/variable-shape.js';
import type { ChannelSlice } from './ports.js';
import { InvalidInputError } from '../errors.js';

/** Padding a channel to its largest point shape may add at most this much to what was published. */
export const MAX_PADDING_BYTES = 1024 ** 3;

/** The shape of the points of a datum: its own `point_shape` (free dimensions), else its resource's. */
export function datumPointShape(datum: Pick<StreamDatum, 'point_shape'>, resource: Pick<StreamResource, 'parameters'>): readonly number[] {
  return datum.point_shape ?? resource.parameters.point_shape;
}

/**
 * The largest point shape of every channel whose datums do not all have their resource's shape,
 * by channel. Channels of one shape (every channel of fixed shape, and free ones that never
 * changed) are absent: their files stay as they were.
 */
export function varyingPointShapes(
  resources: readonly StreamResource[], datumsByChannel: ReadonlyMap<string, readonly StreamDatum[]>, runUid?: string,
): Map<string, number[]> {
  const varying = new Map<string, number[]>();
  for (const resource of resources) {
    const datums = datumsByChannel.get(resource.data_key) ?? [];
    const shapes = datums.map((d) => datumPointShape(d, resource));
    if (shapes.every((s) => sameShape(s, resource.parameters.point_shape))) continue;
    const context = { ...(runUid ? { runUid } : {}), stream: resource.data_key };
    const largest = largestShape(shapes, context);
    refuseHugePadding(resource, datums, shapes, largest, context);
    varying.set(resource.data_key, largest);
  }
  return varying;
}

/**
 * Points of shapes that share no dimension (a ROI of [1, 100000] then [100000, 1]) would pad into a
 * dataset far larger than the data (40 GB for 800 kB): refused with the sizes, instead of failing
 * on an allocation nobody can act on.
 */
function refuseHugePadding(
  resource: Pick<StreamResource, 'parameters'>, datums: readonly StreamDatum[], shapes: readonly (readonly number[])[], largest: readonly number[],
  context: { runUid?: string; stream: string },
): void {
  const itemsize = Number(/(\d+)$/.exec(resource.parameters.dtype_numpy)?.[1] ?? 1);
  const size = (shape: readonly number[]) => shape.reduce((n, d) => n * d, itemsize);
  let published = 0;
  let padded = 0;
  datums.forEach((d, i) => {
    const points = d.indices.stop - d.indices.start;
    published += points * size(shapes[i]!);
    padded += points * size(largest);
  });
  if (padded - published <= MAX_PADDING_BYTES) return;
  const distinct = [...new Set(shapes.map((s) => `[${s.join(', ')}]`))];
  throw new InvalidInputError(
    `stream ${context.stream}: its points have shapes ${distinct.slice(0, 4).join(', ')}${distinct.length > 4 ? ', …' : ''}; padded to their largest `
    + `[${largest.join(', ')}] they would take ${gb(padded)} for ${gb(published)} published (more than ${gb(MAX_PADDING_BYTES)} of padding): `
    + 'not written. The staged chunks are kept; such a stream needs a layout of its own (one dataset per shape)',
    context,
  );
}

function gb(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The resources the layout is built from: varying channels announced at their largest shape. */
export function resourcesAtLargestShape(resources: readonly StreamResource[], varying: ReadonlyMap<string, number[]>): StreamResource[] {
  return resources.map((r) => {
    const largest = varying.get(r.data_key);
    return largest ? { ...r, parameters: { ...r.parameters, point_shape: largest } } : r;
  });
}

/**
 * The plan with every varying channel's dataset marked as padded and its `point_shape` dataset
 * right after it (in `nodes` and `channels`); `pointShapeOf` maps those datasets' paths to their channel.
 */
export function withPointShapeDatasets(plan: NexusPlan, varying: ReadonlyMap<string, number[]>, storage: StorageOptions): { plan: NexusPlan; pointShapeOf: Map<string, string> } {
  const pointShapeOf = new Map<string, string>();
  if (varying.size === 0) return { plan, pointShapeOf };
  const replaced = new Map<PlanChannel, { dataset: PlanChannel; pointShapes: PlanChannel }>();
  for (const channel of plan.channels) {
    if (!varying.has(channel.channel)) continue;
    const laid = variableShapeLayout(channel, storage);
    replaced.set(channel, laid);
    pointShapeOf.set(laid.pointShapes.path, channel.channel);
  }
  const nodes: PlanNode[] = [];
  for (const node of plan.nodes) {
    const laid = node.kind === 'channel' ? replaced.get(node) : undefined;
    if (laid) nodes.push(laid.dataset, laid.pointShapes);
    else nodes.push(node);
  }
  const channels = plan.channels.flatMap((c) => {
    const laid = replaced.get(c);
    return laid ? [laid.dataset, laid.pointShapes] : [c];
  });
  return { plan: { ...plan, nodes, channels }, pointShapeOf };
}

/**
 * One staged chunk of points [start, stop) of shape `shape`, as write slices of the dataset:
 * unchanged when the chunk has the dataset's point shape, else padded in pieces of at most
 * `sliceRows` points (memory: the chunk and one padded piece).
 */
export function* paddedSlices(dataset: PlanChannel, start: number, stop: number, bytes: Uint8Array, shape: readonly number[]): Generator<ChannelSlice> {
  if (sameShape(shape, dataset.pointShape)) {
    yield { start, stop, bytes };
    return;
  }
  const pointBytes = shape.reduce((n, d) => n * d, dataset.type.size);
  for (let s = start; s < stop;) {
    const e = Math.min(stop, s + dataset.sliceRows);
    yield { start: s, stop: e, bytes: padPoints(bytes.subarray((s - start) * pointBytes, (e - start) * pointBytes), e - s, shape, dataset.pointShape, dataset.type) };
    s = e;
  }
}

/** The `point_shape` rows of a channel's chunks, one datum at a time, in pieces of at most `sliceRows` points. */
export function* pointShapeSlices(dataset: PlanChannel, datums: readonly StreamDatum[], resource: Pick<StreamResource, 'parameters'>): Generator<ChannelSlice> {
  for (const d of datums) {
    const shape = datumPointShape(d, resource);
    for (let s = d.indices.start; s < d.indices.stop;) {
      const e = Math.min(d.indices.stop, s + dataset.sliceRows);
      yield { start: s, stop: e, bytes: pointShapeRows(shape, e - s) };
      s = e;
    }
  }
}
