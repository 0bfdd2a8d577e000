/**
 * The point-shape fix-up of the scan layout (nexus/scan-layouts.ts applies it to every layout):
 * channels whose point shape changes between chunks (free dimensions: each StreamDatum carries its
 * chunk's `point_shape`) are laid out at the largest shape of their chunks, and their real shapes
 * are kept in a `point_shape` dataset beside them (writers/variable-shape.ts). Channels whose
 * points all have the resource's shape are left exactly as before. The scan writer pads every point
 * as it writes (src/core/archive/point-shapes.ts).
 */
import type { StreamDatum, StreamResource } from '../contract/generated-types.js';
import { InvalidInputError } from '../errors.js';
import type { NexusPlan } from './layout-input.js';
import type { PlanChannel, PlanNode } from './plan.js';
import type { StorageOptions } from './writers/channel-writer.js';
import { largestShape, sameShape, variableShapeLayout } from './writers/variable-shape.js';

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
  resources: readonly StreamResource[],
  datumsByChannel: ReadonlyMap<string, readonly StreamDatum[]>,
  runUid?: string,
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
  resource: Pick<StreamResource, 'parameters'>,
  datums: readonly StreamDatum[],
  shapes: readonly (readonly number[])[],
  largest: readonly number[],
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
    `stream ${context.stream}: its points have shapes ${distinct.slice(0, 4).join(', ')}${distinct.length > 4 ? ', …' : ''}; padded to their largest ` +
      `[${largest.join(', ')}] they would take ${gb(padded)} for ${gb(published)} published (more than ${gb(MAX_PADDING_BYTES)} of padding): ` +
      'not written. The staged chunks are kept; such a stream needs a layout of its own (one dataset per shape)',
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
export function withPointShapeDatasets(
  plan: NexusPlan,
  varying: ReadonlyMap<string, number[]>,
  storage: StorageOptions,
): { plan: NexusPlan; pointShapeOf: Map<string, string> } {
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

/** varyingPointShapes channel by channel: a channel it refuses (padding beyond the bound) is set aside with the reason. */
export function varyingPointShapesRefusing(
  resources: readonly StreamResource[],
  datumsByChannel: ReadonlyMap<string, readonly StreamDatum[]>,
  runUid: string,
): { varying: Map<string, number[]>; refused: Record<string, string> } {
  const varying = new Map<string, number[]>();
  const refused: Record<string, string> = {};
  for (const resource of resources) {
    try {
      for (const [channel, shape] of varyingPointShapes([resource], datumsByChannel, runUid)) varying.set(channel, shape);
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      refused[resource.data_key] = error.message;
    }
  }
  return { varying, refused };
}
