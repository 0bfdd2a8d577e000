/**
 * A channel's data as the scan file writer takes it: its staged chunks fetched in order (bounded
 * concurrency), each checked against its StreamDatum (bucket, folder, size, sha256), padded when its
 * points are smaller than the dataset's, with the points trimmed in Redis written as fill values.
 */
import { createHash } from 'node:crypto';
import type { StreamDatum, StreamResource } from '../contract/generated-types.js';
import type { PlanChannel } from '../nexus/layout.js';
import { fillBytes, pointBytes } from '../nexus/dtypes.js';
import { datumPointShape } from '../nexus/point-shapes.js';
import { stagingChannelPrefix } from '../object-keys.js';
import type { ObjectStore } from '../ports.js';
import { fetchInOrder } from './bounded-fetch.js';
import { ChunkCoverageError } from './errors.js';
import { paddedSlices } from './point-shapes.js';
import type { ChannelSlice } from './ports.js';
import { getStagedObject } from './staged-objects.js';

/**
 * Fetches the staged chunks of one channel with bounded concurrency (in order), checking bucket,
 * size and sha256 against the StreamDatum; chunks whose points are smaller than the dataset's
 * (free dimensions) are padded. Every chunk's key is checked before any GET is sent.
 */
export async function* readSlices(
  channel: PlanChannel,
  datums: readonly StreamDatum[],
  resource: StreamResource | undefined,
  store: ObjectStore,
  beamline: string,
  runUid: string,
  gaps: readonly (readonly [number, number])[],
  fetch: { concurrency: number; maxBytes: number },
): AsyncGenerator<ChannelSlice> {
  const folder = stagingChannelPrefix(beamline, runUid, channel.channel);
  for (const d of datums) {
    const { start, stop } = d.indices;
    const context = { runUid, stream: channel.channel, indexRange: [start, stop] as [number, number], key: d.chunk.key };
    if (d.chunk.bucket !== store.bucket) {
      throw new ChunkCoverageError(
        `chunk ${d.uid} is in bucket ${d.chunk.bucket}, not the archive bucket ${store.bucket}`,
        [{ stream: channel.channel, index: start, message: `chunk in foreign bucket ${d.chunk.bucket}` }],
        context,
      );
    }
    // A StreamDatum may only point into its own run's staging folder for this channel (under its
    // run's beamline): never at a published file, another run's or another beamline's data.
    if (!d.chunk.key.startsWith(folder) || d.chunk.key.slice(folder.length).includes('/')) {
      const message = `chunk ${d.uid} points at ${d.chunk.key}, outside ${folder}`;
      throw new ChunkCoverageError(message, [{ stream: channel.channel, index: start, message }], context);
    }
  }
  const fetched = fetchInOrder(
    datums,
    async (d) => ({
      d,
      bytes: await getStagedObject(store, d.chunk.key, `points [${d.indices.start}, ${d.indices.stop}) of ${channel.channel}`, {
        runUid,
        stream: channel.channel,
        indexRange: [d.indices.start, d.indices.stop],
        key: d.chunk.key,
      }),
    }),
    { ...fetch, bytesOf: (d) => d.chunk.bytes },
  );
  // Points trimmed in Redis (gaps) are written in their place among the staged chunks: the writer takes points in order.
  const ordered = [...gaps].sort((a, b) => a[0] - b[0]);
  let nextGap = 0;
  for await (const { d, bytes } of fetched) {
    for (; nextGap < ordered.length && ordered[nextGap]![0] < d.indices.start; nextGap += 1) {
      yield* fillSlices(channel, [[ordered[nextGap]![0], Math.min(ordered[nextGap]![1], d.indices.start)]]);
    }
    const shape = resource ? datumPointShape(d, resource) : channel.pointShape;
    const rowBytes = pointBytes(channel.type, shape);
    const { start, stop } = d.indices;
    const problem =
      bytes.byteLength !== d.chunk.bytes || bytes.byteLength !== (stop - start) * rowBytes
        ? `has ${bytes.byteLength} bytes, its StreamDatum says ${d.chunk.bytes} and ${stop - start} points need ${(stop - start) * rowBytes}`
        : sha256Hex(bytes) !== d.chunk.sha256
          ? `does not match the sha256 of its StreamDatum (${d.chunk.sha256})`
          : undefined;
    if (problem) {
      const message = `staged chunk s3://${store.bucket}/${d.chunk.key} (points [${start}, ${stop}) of ${channel.channel}) ${problem}`;
      throw new ChunkCoverageError(message, [{ stream: channel.channel, index: start, message }], {
        runUid,
        stream: channel.channel,
        indexRange: [start, stop],
        key: d.chunk.key,
      });
    }
    yield* paddedSlices(channel, start, stop, bytes, shape);
  }
  yield* fillSlices(channel, ordered.slice(nextGap));
}

/**
 * Points trimmed in Redis before the bridge read them: written as the fill value (NaN for floats,
 * the dataset's `_FillValue` for integers) so that no reader takes them for readings of 0; at most
 * `sliceRows` points per slice.
 */
export function* fillSlices(
  channel: Pick<PlanChannel, 'type' | 'pointShape' | 'shape' | 'sliceRows'>,
  gaps: readonly (readonly [number, number])[],
): Generator<ChannelSlice> {
  const points = channel.shape[0] ?? 0;
  let block: Uint8Array | undefined;
  for (const [gapStart, gapStop] of gaps) {
    for (let start = Math.max(0, gapStart); start < Math.min(gapStop, points); start += channel.sliceRows) {
      const stop = Math.min(gapStop, points, start + channel.sliceRows);
      block ??= fillBytes(channel.type, channel.pointShape, channel.sliceRows);
      yield { start, stop, bytes: block.subarray(0, (stop - start) * pointBytes(channel.type, channel.pointShape)) };
    }
  }
}

export async function* fromSync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
