/**
 * Writing channels whose point shape changes between chunks: each staged chunk padded to the
 * dataset's (largest) point shape as it is written, and the `point_shape` rows of its chunks. The
 * layout side (which channels vary, their largest shape, the `point_shape` datasets) is part of
 * the scan layout: src/core/nexus/point-shapes.ts.
 */
import type { StreamDatum, StreamResource } from '../contract/generated-types.js';
import type { PlanChannel } from '../nexus/layout.js';
import { datumPointShape } from '../nexus/point-shapes.js';
import { padPoints, pointShapeRows, sameShape } from '../nexus/writers/variable-shape.js';
import type { ChannelSlice } from './ports.js';

// The layout half moved to the scan layout; re-exported for the readers of staged chunks that import it from here.
export {
  datumPointShape,
  MAX_PADDING_BYTES,
  resourcesAtLargestShape,
  varyingPointShapes,
  withPointShapeDatasets,
} from '../nexus/point-shapes.js';

/**
 * One staged chunk of points [start, stop) of shape `shape`, as write slices of the dataset:
 * unchanged when the chunk has the dataset's point shape, else padded in pieces of at most
 * `sliceRows` points (memory: the chunk and one padded piece).
 */
export function* paddedSlices(
  dataset: PlanChannel,
  start: number,
  stop: number,
  bytes: Uint8Array,
  shape: readonly number[],
): Generator<ChannelSlice> {
  if (sameShape(shape, dataset.pointShape)) {
    yield { start, stop, bytes };
    return;
  }
  const pointBytes = shape.reduce((n, d) => n * d, dataset.type.size);
  for (let s = start; s < stop;) {
    const e = Math.min(stop, s + dataset.sliceRows);
    yield {
      start: s,
      stop: e,
      bytes: padPoints(bytes.subarray((s - start) * pointBytes, (e - start) * pointBytes), e - s, shape, dataset.pointShape, dataset.type),
    };
    s = e;
  }
}

/** The `point_shape` rows of a channel's chunks, one datum at a time, in pieces of at most `sliceRows` points. */
export function* pointShapeSlices(
  dataset: PlanChannel,
  datums: readonly StreamDatum[],
  resource: Pick<StreamResource, 'parameters'>,
): Generator<ChannelSlice> {
  for (const d of datums) {
    const shape = datumPointShape(d, resource);
    for (let s = d.indices.start; s < d.indices.stop;) {
      const e = Math.min(d.indices.stop, s + dataset.sliceRows);
      yield { start: s, stop: e, bytes: pointShapeRows(shape, e - s) };
      s = e;
    }
  }
}
