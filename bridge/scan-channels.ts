/**
 * The data channels of one BLISS scan (numeric and JSON streams; Lima streams are apart, in
 * bridge/lima-follower.ts): how a stream becomes a channel at PREPARED, how its entries are
 * decoded, bounded (bridge/bounds.ts), cut into chunks on its grid (bridge/staging/chunker.ts) and
 * handed to the staging sink, and how the ranges accepted move its committed index in the
 * checkpoint. The scan's state machine (bridge/scan-follower.ts) drives it.
 */
import { DetailType, EventSource } from '../src/core/contract/detail-types.js';
import { InvalidInputError } from '../src/core/errors.js';
import { stagingChunkKey } from '../src/core/object-keys.js';
import type { ObjectStore, OutgoingEvent } from '../src/core/ports.js';
import { streamDatumOf, streamResourceOf } from '../src/core/event-model/documents.js';
import type { ChannelSpec } from '../src/core/event-model/channels.js';
import { unitsOf } from '../src/core/bliss/run-documents.js';
import { isNumericEncoding, type BlissScan, type StreamModel } from '../src/core/bliss/scan-model.js';
import type { ScanSource, StreamEntry } from '../src/core/bliss/scan-source.js';
import { codecOf, decodeEntry, decodeJsonEntry, hasFreeDimension, type ChannelCodec } from '../src/core/bliss/stream-decoding.js';
import type { Logger } from '../src/adapters/logger.js';
import type { GapRange, ScanCheckpoint, StreamCheckpoint } from './checkpoint/index.js';
import type { BridgeStats } from './bridge-stats.js';
import type { ChunkPool } from './chunk-pool.js';
import { checkGap, checkNumericStream, checkPointShape, checkStreamPoints, type BridgeLimits } from './bounds.js';
import { RunFailure } from './errors.js';
import { Chunker, type Chunk } from './staging/chunker.js';
import { RangeCommits } from './staging/commits.js';
import type { StagingSink } from './staging/sink.js';

interface Completed {
  stop: number;
  datums: number;
  gap?: GapRange;
  /** Free dimensions: the point shape of the chunk (becomes the checkpoint's shape once committed). */
  pointShape?: number[];
}

export interface Channel {
  model: StreamModel;
  /** Numeric channels: how entries decode. JSON channels have none (one NDJSON line per point). */
  codec?: ChannelCodec;
  json: boolean;
  cp: StreamCheckpoint;
  cursor: string;
  /** Index of the next point expected from Redis. */
  expected: number;
  sealedTotal?: number;
  /** Concrete point shape (known at PREPARED, or at the first entry for free dimensions): the shape of the points being read. */
  pointShape?: number[];
  /** A stream with a free dimension (-1 in its shape): its datums carry their chunk's point shape. */
  free?: boolean;
  /** Free dimensions: the StreamResource sent at the first entry; datums wait for it (see `stage`). */
  resourceSent?: Promise<void>;
  /** The checkpoint write holding this stream's grid (chunkPoints, chunkBytes), started when it was fixed; datums wait for it. */
  gridOnDisk?: Promise<void>;
  /** Cuts the stream's points into chunks (created when its grid is fixed, at its first entry). */
  chunker?: Chunker;
  /** Ranges staged and announced (or gaps) beyond `cp.committed`. */
  commits: RangeCommits<Completed>;
  /** When the oldest point read but not committed was read (ms), for the lag. */
  pendingSince?: number;
}

export interface ScanChannelsContext {
  runUid: string;
  /** The bridge's beamline (--beamline): chunks are staged under staging/<beamline>/<run>/, the only staging its role may write. */
  beamline: string;
  source: ScanSource;
  store: ObjectStore;
  logger: Logger;
  stats: BridgeStats;
  /** Where numeric chunk buffers come from and go back to (shared by the bridge's followers). */
  chunks: ChunkPool;
  checkpoint: ScanCheckpoint;
  saveCheckpoint: () => void;
  flushCheckpoint?: () => Promise<void>;
  sink: StagingSink;
  limits: BridgeLimits;
  /** A chunk holds at most this many points and bytes (the grid of a stream is fixed from both at its first entry). */
  chunkPoints: number;
  chunkBytes: number;
  /** A failure that ends the run at the follower's next step. */
  fail: (error: unknown) => void;
}

const commitsOf = (cp: StreamCheckpoint) => new RangeCommits<Completed>(() => cp.committed);

/** Every numeric and JSON channel of one scan, by stream name. */
export class ScanChannels {
  readonly all = new Map<string, Channel>();

  constructor(private readonly ctx: ScanChannelsContext) {}

  /** Sets up the channel of a (non-Lima) data stream at PREPARED, resuming at its committed index; its descriptor entry. */
  async open(model: StreamModel, scan: BlissScan): Promise<ChannelSpec> {
    const streams = this.ctx.checkpoint.streams;
    if (model.encoding.type === 'json') {
      // JSON streams (scan_info-like values, scan sequences' child references): NDJSON chunks.
      const cp = (streams[model.name] ??= { committed: 0, datums: 0, gaps: [] });
      const cursor = await this.ctx.source.cursorForIndex(model.key, cp.committed);
      this.all.set(model.name, { model, json: true, cp, cursor, expected: cp.committed, pointShape: [], commits: commitsOf(cp) });
      const units = unitsOf(scan, model.name, model.info);
      return { name: model.name, streamPk: model.pk, encoding: 'json', ...(units ? { units } : {}) };
    }
    if (!isNumericEncoding(model.encoding)) {
      throw new RunFailure('stream encoding is not supported', [
        { stream: model.name, message: `unknown encoding type ${JSON.stringify(model.encoding.type)}` },
      ]);
    }
    let codec: ChannelCodec;
    try {
      codec = codecOf(model.name, model.encoding);
    } catch (error) {
      throw new RunFailure('stream encoding is not supported', [{ stream: model.name, message: (error as Error).message }]);
    }
    // What the scan file could never hold is refused here, at PREPARED (bridge/bounds.ts); a dtype it
    // cannot hold is carried: the scan writer refuses that channel alone and archives the others.
    const writerRefuses = checkNumericStream(model.name, codec.dtype.str, codec.shape);
    if (writerRefuses && !this.ctx.checkpoint.opened) {
      this.ctx.logger.warn('stream carried, but the scan writer will refuse this channel (the others are archived)', {
        runUid: this.ctx.runUid,
        stream: model.name,
        reason: writerRefuses,
      });
    }
    const cp = (streams[model.name] ??= { committed: 0, datums: 0, gaps: [] });
    const pointShape = hasFreeDimension(codec.shape) ? cp.pointShape : [...codec.shape];
    const cursor = await this.ctx.source.cursorForIndex(model.key, cp.committed);
    const channel: Channel = {
      model,
      codec,
      json: false,
      free: hasFreeDimension(codec.shape),
      cp,
      cursor,
      expected: cp.committed,
      ...(pointShape ? { pointShape } : {}),
      commits: commitsOf(cp),
    };
    this.all.set(model.name, channel);
    const units = unitsOf(scan, model.name, model.info);
    return {
      name: model.name,
      streamPk: model.pk,
      dtype: codec.dtype,
      shape: codec.shape.map((d) => (d === -1 ? null : d)),
      ...(units ? { units } : {}),
    };
  }

  async emitResources(channels: Channel[]): Promise<void> {
    await this.ctx.sink.emit(channels.map((c) => this.resourceEvent(c, c.pointShape!)));
    for (const c of channels) c.cp.resource = true;
    this.ctx.saveCheckpoint();
  }

  resourceEvent(channel: Channel, shape: number[]): OutgoingEvent {
    const name = channel.model.name;
    return {
      detailType: DetailType.StreamResource,
      source: EventSource.Bridge,
      detail: streamResourceOf(
        this.ctx.beamline,
        this.ctx.runUid,
        this.ctx.store.bucket,
        channel.codec ? { name, dtype: channel.codec.dtype, shape } : { name, encoding: 'json' },
      ),
    };
  }

  /** Entries of a channel's stream, in order: decoded, bounded, appended to its chunker (a seal ends the stream). */
  onData(channel: Channel, entries: StreamEntry[]): void {
    const name = channel.model.name;
    const { limits } = this.ctx;
    for (const entry of entries) {
      channel.cursor = entry.id;
      const decoded = channel.codec ? decodeEntry(channel.codec, entry.id, entry.fields) : decodeJsonEntry(name, entry.id, entry.fields);
      if (decoded.kind === 'seal') {
        if (decoded.total < channel.expected) {
          throw new InvalidInputError(`stream ${name}: sealed with ${decoded.total} points, ${channel.expected} received`, {
            stream: name,
            index: decoded.total,
          });
        }
        checkStreamPoints(name, decoded.total, 'its seal', limits, channel.expected);
        if (decoded.total > channel.expected) this.recordGap(channel, decoded.total, `its seal (${decoded.total} points)`);
        channel.sealedTotal = decoded.total;
        channel.chunker?.cut();
        return;
      }
      let { start, count, bytes } = decoded;
      checkPointShape(name, start, decoded.pointShape);
      checkStreamPoints(name, start + count, `the entry at index ${start} (len ${count})`, limits, start);
      const pointBytes = count > 0 ? bytes.length / count : 0;
      if (start < channel.expected) {
        // Resuming inside an entry (or re-reading one): keep only the points not committed yet.
        const skip = channel.expected - start;
        if (skip >= count) continue;
        bytes = bytes.subarray(skip * pointBytes);
        start += skip;
        count -= skip;
      }
      if (!channel.pointShape) {
        channel.pointShape = decoded.pointShape;
        channel.cp.pointShape = decoded.pointShape;
        const sent = this.emitResources([channel]);
        sent.catch((error: unknown) => {
          this.ctx.fail(error);
        });
        channel.resourceSent = sent;
      } else if (channel.free) {
        // A free dimension changed size (blisswriter 3 pads, and so does the scan writer): the chunker
        // ends the chunk with the last point of the old shape, as at a gap.
        channel.pointShape = decoded.pointShape;
      }
      channel.chunker?.shape(decoded.pointShape);
      if (start > channel.expected) this.recordGap(channel, start, `the entry at index ${start}`);
      if (channel.cp.chunkPoints === undefined) {
        channel.cp.chunkPoints = Math.max(
          1,
          Math.min(this.ctx.chunkPoints, pointBytes > 0 ? Math.floor(this.ctx.chunkBytes / pointBytes) : Infinity),
        );
        channel.cp.chunkBytes = this.ctx.chunkBytes;
        // On disk before the stream's first datum is accepted: a restart with other --chunk-points /
        // --chunk-bytes must cut the chunks this bridge announced, not new ones overlapping them.
        channel.gridOnDisk = this.ctx.flushCheckpoint?.().catch(() => undefined);
      }
      const chunker = (channel.chunker ??= this.chunkerOf(channel, start));
      channel.pendingSince ??= Date.now();
      channel.expected = start + count;
      chunker.append(start, count, channel.json ? [bytes] : bytes);
    }
  }

  /** The stream's chunker, on the grid of its checkpoint (free dimensions: also the bytes checkpointed with the grid, whatever --chunk-bytes says now). */
  private chunkerOf(channel: Channel, start: number): Chunker {
    const chunker = new Chunker(
      {
        grid: channel.cp.chunkPoints!,
        json: channel.json,
        allocator: this.ctx.chunks,
        ...(channel.free ? { byteCap: channel.cp.chunkBytes ?? this.ctx.chunkBytes } : {}),
        onChunk: (chunk) => this.stage(channel, chunk),
      },
      start,
    );
    if (channel.free && channel.pointShape) chunker.shape(channel.pointShape);
    return chunker;
  }

  /** Points [expected, upTo) are not in Redis any more: stage what came before, record the gap, never invent data. */
  private recordGap(channel: Channel, upTo: number, what: string): void {
    checkGap(channel.model.name, channel.expected, upTo, what, this.ctx.limits);
    const gap = { start: channel.expected, stop: upTo };
    channel.chunker?.cut();
    this.ctx.stats.gaps++;
    this.ctx.logger.warn('points missing from Redis (trimmed); archiving what exists', {
      runUid: this.ctx.runUid,
      stream: channel.model.name,
      ...gap,
    });
    channel.expected = upTo;
    channel.chunker?.skipTo(upTo);
    this.complete(channel, gap.start, { stop: gap.stop, datums: 0, gap });
  }

  /** Stages a chunk and announces it (in flight); its range is committed once its datum is accepted. */
  private stage(channel: Channel, chunk: Chunk): void {
    const name = channel.model.name;
    const { runUid } = this.ctx;
    const { start, stop, pointShape } = chunk;
    this.ctx.sink.stage({
      key: stagingChunkKey(this.ctx.beamline, runUid, name, start, stop),
      bytes: chunk.bytes,
      points: stop - start,
      ...(channel.json ? { contentType: 'application/x-ndjson' } : {}),
      datum: (stored) => ({
        detailType: DetailType.StreamDatum,
        source: EventSource.Bridge,
        detail: streamDatumOf(runUid, this.ctx.store.bucket, name, start, stop, stored, undefined, pointShape),
      }),
      // No datum accepted before its resource: while the resource is not accepted nothing is
      // committed, so the checkpoint's shape is still the first one when a restart re-sends it.
      gates: () => [channel.resourceSent, channel.gridOnDisk],
      done: () => this.complete(channel, start, { stop, datums: 1, ...(pointShape ? { pointShape } : {}) }),
      fail: (error) => {
        this.ctx.fail(
          error instanceof RunFailure
            ? error
            : new RunFailure(
                'chunk could not be staged or announced',
                [{ stream: name, index: start, message: error instanceof Error ? error.message : String(error) }],
                { cause: error },
              ),
        );
      },
      ...(chunk.release ? { release: chunk.release } : {}),
    });
  }

  /** Records a finished range and moves the channel's committed index over every contiguous one. */
  private complete(channel: Channel, start: number, done: Completed): void {
    const moved = channel.commits.complete(start, done);
    for (const next of moved) {
      if (next.gap) channel.cp.gaps.push(next.gap);
      // Free dimensions: the checkpoint keeps the shape of the last committed chunk (the current shape).
      if (next.pointShape) channel.cp.pointShape = next.pointShape;
      channel.cp.datums += next.datums;
      channel.cp.committed = next.stop;
    }
    if (moved.length === 0) return;
    channel.pendingSince = channel.expected > channel.cp.committed ? Date.now() : undefined;
    this.ctx.saveCheckpoint();
  }
}
