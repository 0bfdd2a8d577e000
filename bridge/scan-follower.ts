import { DetailType, EventSource } from '../src/core/contract/detail-types.js';
import type { RunError } from '../src/core/contract/generated-types.js';
import { ArchiveError, InvalidInputError } from '../src/core/errors.js';
import { stagingChunkKey, stagingScanInfoKey } from '../src/core/object-keys.js';
import type { EventPublisher, ObjectStore, OutgoingEvent, StoredObject } from '../src/core/ports.js';
import {
  descriptorOf, runFailedOf, runStartOf, runStopOf, streamDatumOf, streamResourceOf, unitsOf, type ChannelSpec,
} from '../src/core/bliss/documents.js';
import { isNumericEncoding, ScanState, type BlissScan, type StreamModel } from '../src/core/bliss/scan-model.js';
import type { HistoryEntry, ScanSource, StreamEntry, StreamReader } from '../src/core/bliss/scan-source.js';
import { codecOf, decodeEntry, decodeJsonEntry, hasFreeDimension, type ChannelCodec } from '../src/core/bliss/stream-decoding.js';
import { isTransientRejection } from '../src/adapters/eventbridge-publisher.js';
import type { Logger } from '../src/adapters/logger.js';
import type { GapRange, ScanCheckpoint, StreamCheckpoint } from './checkpoint-store.js';
import { backoffDelay, type BridgeStats, type MemoryBudget } from './bridge-stats.js';
import type { ChunkPool } from './chunk-pool.js';
import { LimaRunError, LimaStreams, type LimaOptions } from './lima-follower.js'; // lima

export interface FollowerOptions extends Partial<Pick<LimaOptions, 'limaFileWaitMs'>> {
  beamline: string;
  /** A chunk holds at most this many points … */
  chunkPoints: number;
  /** … and at most this many bytes (the grid of a stream is fixed from both at its first entry). */
  chunkBytes: number;
  /** Blocking read timeout (ms). */
  flushIntervalMs: number;
  /** Entries per stream per XREAD, at most … */
  readCount: number;
  /** … and about this many payload bytes per XREAD, all streams (the count adapts to the entries' size). */
  readBytes?: number;
  /** Chunks being uploaded/announced at once per scan (backpressure on the reads). */
  maxInflightChunks: number;
  /** How often an unfinished scan's key is checked for deletion (ms). */
  goneCheckMs?: number;
  /** Backoff of S3 and PutEvents retries: first delay and cap (ms). */
  retryBaseMs?: number;
  retryMaxMs?: number;
}

export interface FollowerDeps {
  source: ScanSource;
  store: ObjectStore;
  publisher: EventPublisher;
  logger: Logger;
  /** This scan's durable progress (mutated by the follower), and how to get it written. */
  checkpoint: ScanCheckpoint;
  saveCheckpoint: () => void;
  /** Resolves once everything changed in the checkpoint before the call is on disk. */
  flushCheckpoint?: () => Promise<void>;
  /** Records an event the bus refused for good (local dead-letter file). */
  deadLetter: (event: OutgoingEvent, reason: string, context: Record<string, unknown>) => Promise<void>;
  stats: BridgeStats;
  budget: MemoryBudget;
  /** Where numeric chunk buffers come from and go back to (shared by the bridge's followers). */
  chunks: ChunkPool;
  now?: () => number;
}

/** First allocation of a numeric channel's chunk buffer (it doubles up to the chunk's size). */
const INITIAL_CHUNK_BYTES = 64 * 1024;
/** Default `readBytes`: what one XREAD of a scan brings at most (about). */
export const DEFAULT_READ_BYTES = 8 * 1024 * 1024;
/** Entries per stream of a read before the data entries' size is known. */
const FIRST_READ_COUNT = 4;

export type FollowerResult = 'stopped' | 'failed' | 'skipped' | 'interrupted';

/** A failure that ends the run with a `Run Failed` event. */
class RunFailure extends ArchiveError {
  override name = 'RunFailure';
  constructor(readonly reason: string, readonly errors: RunError[], options?: ErrorOptions) {
    super(`${reason}: ${errors.map((e) => e.message).join('; ')}`, {}, options);
  }
}

/** The bridge is stopping: leave the work where the checkpoint says, no Run Failed. */
class Interrupted extends Error {
  override name = 'Interrupted';
}

interface Completed {
  stop: number;
  datums: number;
  gap?: GapRange;
  /** Free dimensions: the point shape of the chunk (becomes the checkpoint's shape once committed). */
  pointShape?: number[];
}

interface Channel {
  model: StreamModel;
  /** Numeric channels: how entries decode. JSON channels have none (one NDJSON line per point, see `json`). */
  codec?: ChannelCodec;
  /** A JSON channel: `buffer` holds one line per point (points differ in size). */
  json: boolean;
  cp: StreamCheckpoint;
  cursor: string;
  /** Index of the next point expected from Redis. */
  expected: number;
  sealedTotal?: number;
  /**
   * Concrete point shape (known at PREPARED, or at the first entry for free dimensions). Free
   * dimensions: the shape of the points being buffered; a new shape cuts the chunk there.
   */
  pointShape?: number[];
  /** A stream with a free dimension (-1 in its shape): its datums carry their chunk's point shape. */
  free?: boolean;
  /** Free dimensions: the StreamResource sent at the first entry; datums wait for it (see `stage`). */
  resourceSent?: Promise<void>;
  /** The checkpoint write holding this stream's grid (chunkPoints, chunkBytes), started when it was fixed; datums wait for it. */
  gridOnDisk?: Promise<void>;
  /** JSON channels: one NDJSON line per buffered point. */
  buffer: Buffer[];
  /**
   * Numeric channels: the chunk being filled, allocated at its final size (up to the next grid
   * boundary). Payloads are copied in as they are read: no per-entry Buffer is kept alive (nor the
   * Redis reply it is a slice of), and the chunk goes to S3 without a concatenation.
   */
  chunk?: Buffer;
  bufferStart: number;
  bufferedPoints: number;
  bufferedBytes: number;
  /** Ranges staged and announced (or gaps) beyond `cp.committed`, by start. */
  completed: Map<number, Completed>;
  /** When the oldest point read but not committed was read (ms), for the lag. */
  pendingSince?: number;
}

export interface FollowerStatus {
  scanKey: string;
  runUid: string;
  state: number;
  /** Points read from Redis, all channels. */
  pointsRead: number;
  /** Points staged and announced (committed in the checkpoint), all channels. */
  pointsCommitted: number;
  /** Read but not committed yet. */
  lagPoints: number;
  /** Age of the oldest point read but not committed (s). */
  lagSeconds: number;
  inflightChunks: number;
  gaps: number;
}

/**
 * Follows one BLISS scan from its state and data streams to run documents: RunStart, the
 * descriptor and resources at PREPARED; chunks staged in S3 and their StreamDatum as data comes;
 * RunStop at CLOSED once every chunk is staged and every document accepted.
 *
 * Chunks follow a grid: points [k·n, (k+1)·n) of a stream, n fixed per stream and checkpointed,
 * cut short only by a gap (trimmed entries), the end of the stream or, for free dimensions, a
 * change of point shape and `chunkBytes` of grown points. A restarted follower
 * resumes each stream at its committed index and re-stages the same chunks with the same keys
 * and document uids, so a chunk staged before a kill is overwritten, never doubled.
 * Memory: one chunk (≤ `chunkBytes`, or one point) per channel plus `maxInflightChunks` chunks, and the bridge's budget.
 */
export class ScanFollower {
  private readonly runUid: string;
  private scan?: BlissScan;
  private readonly channels = new Map<string, Channel>();
  private state = -1;
  private closedSeen = false;
  private readonly inflight = new Set<Promise<void>>();
  private failure?: unknown;
  private reader?: StreamReader;
  private stopping = false;
  private stopSignal!: Promise<void>;
  private signalStop!: () => void;
  private readonly now: () => number;
  private queue: { events: OutgoingEvent[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private draining = false;
  private started = false;
  private readonly cp: ScanCheckpoint;
  /** Lima image streams (bridge/lima-follower.ts). */
  private readonly lima: LimaStreams;
  /** The read issued ahead (see `nextRead`). */
  private readAhead?: { cursors: Map<string, string>; reply: Promise<Map<string, StreamEntry[]>> };
  /** Payload bytes per entry, recent maximum (decaying), for the size of the reads. */
  private entryBytes = 0;

  constructor(private readonly entry: HistoryEntry, private readonly deps: FollowerDeps, private readonly options: FollowerOptions) {
    this.runUid = entry.scanKey.split(':').pop() ?? entry.scanKey;
    this.now = deps.now ?? (() => Date.now() / 1000);
    this.cp = deps.checkpoint;
    this.stopSignal = new Promise((resolve) => { this.signalStop = resolve; });
    // lima: Lima streams are followed apart (files, not payloads), sharing this follower's publish queue and checkpoint.
    this.lima = new LimaStreams({
      runUid: this.runUid, scanKey: entry.scanKey, beamline: options.beamline, source: deps.source, store: deps.store, logger: deps.logger,
      stats: deps.stats, checkpoint: this.cp, saveCheckpoint: deps.saveCheckpoint, emit: (events) => this.emit(events),
      sleep: (ms) => this.sleep(ms), isStopping: () => this.stopping, fail: (error) => { this.failure ??= error; },
    }, options);
  }

  get scanKey(): string {
    return this.entry.scanKey;
  }

  /** Asks the follower to stop: reads end, retries give up, in-flight chunks finish or are left to the next start. */
  stop(): void {
    this.stopping = true;
    this.signalStop();
  }

  status(): FollowerStatus {
    let read = 0;
    let committed = 0;
    let oldest = Infinity;
    let gaps = 0;
    for (const c of this.channels.values()) {
      read += c.expected;
      committed += c.cp.committed;
      gaps += c.cp.gaps.length;
      if (c.pendingSince !== undefined && c.expected > c.cp.committed) oldest = Math.min(oldest, c.pendingSince);
    }
    const lima = this.lima.progress(); // lima: frames saved by Lima / uploaded and announced
    read += lima.read;
    committed += lima.committed;
    return {
      scanKey: this.entry.scanKey, runUid: this.runUid, state: this.state, pointsRead: read, pointsCommitted: committed,
      lagPoints: read - committed, lagSeconds: Number.isFinite(oldest) ? Math.round((Date.now() - oldest) / 100) / 10 : 0,
      inflightChunks: this.inflight.size, gaps,
    };
  }

  async run(): Promise<FollowerResult> {
    const log = { runUid: this.runUid, scanKey: this.entry.scanKey };
    this.reader = this.deps.source.openReader();
    try {
      const result = await this.follow();
      if (result === 'stopped') this.deps.logger.info('run stopped', { ...log, points: this.pointsPerChannel(), datums: this.datumCount() });
      return result;
    } catch (error) {
      if (error instanceof Interrupted || (this.stopping && !(error instanceof RunFailure))) {
        await this.settle().catch(() => undefined);
        return 'interrupted';
      }
      const failure = this.asFailure(error);
      this.deps.stats.errors++;
      this.deps.logger.error('run failed', { ...log, reason: failure.reason, errors: failure.errors });
      await this.settle().catch(() => undefined);
      try {
        const detail = runFailedOf(this.runUid, this.entry.scanKey, failure.reason, failure.errors);
        await this.emit([{ detailType: DetailType.RunFailed, source: EventSource.Bridge, detail }]);
      } catch (publishError) {
        if (publishError instanceof Interrupted) return 'interrupted';
        this.deps.logger.error('Run Failed event could not be published', { ...log, error: String(publishError) });
      }
      return 'failed';
    } finally {
      this.lima.abort(); // lima: a run that ended (stopped, failed, interrupted) leaves no Lima loop behind
      for (const channel of this.channels.values()) {
        if (channel.chunk) this.deps.chunks.release(channel.chunk);
        channel.chunk = undefined;
      }
      this.readAhead?.reply.catch(() => undefined);
      await this.reader.close().catch(() => undefined);
    }
  }

  private asFailure(error: unknown): RunFailure {
    if (error instanceof RunFailure) return error;
    if (error instanceof LimaRunError) return new RunFailure(error.reason, error.errors, { cause: error }); // lima
    const context = error instanceof ArchiveError ? error.context : {};
    const runError: RunError = { message: error instanceof Error ? error.message : String(error) };
    if (typeof context.stream === 'string') runError.stream = context.stream;
    if (typeof context.index === 'number') runError.index = context.index;
    const reason = error instanceof InvalidInputError ? 'stream payload could not be decoded' : 'bridge error while following the scan';
    return new RunFailure(reason, [runError], { cause: error });
  }

  private async follow(): Promise<FollowerResult> {
    const scanKey = this.entry.scanKey;
    const first = await this.deps.source.readScan(scanKey);
    if (!first) {
      if (this.cp.opened) {
        throw new RunFailure('scan was deleted from Redis before it was archived', [{ message: `${scanKey} no longer exists; ${this.committedSummary()}` }]);
      }
      this.deps.logger.warn('scan vanished before it could be followed', { runUid: this.runUid, scanKey });
      return 'skipped';
    }
    this.scan = first;
    const stateKey = first.stateStreamKey;
    let stateCursor = '0-0';
    let quietAfterClose = 0;
    let lastGoneCheck = Date.now();
    const goneCheckMs = this.options.goneCheckMs ?? 2_000;
    while (!this.stopping) {
      this.throwIfFailed();
      const open = [...this.channels.values()].filter((c) => c.sealedTotal === undefined);
      if (this.closedSeen && (open.length === 0 || quietAfterClose >= 2)) {
        for (const channel of open) {
          this.deps.logger.warn('stream not sealed at CLOSED; taking the points received', { runUid: this.runUid, scanKey, stream: channel.model.name });
          channel.sealedTotal = channel.expected;
          this.stageBuffered(channel);
        }
        return this.finish();
      }
      if (!this.closedSeen && Date.now() - lastGoneCheck >= goneCheckMs) {
        lastGoneCheck = Date.now();
        if (await this.deps.source.isGone(scanKey)) return this.onDeleted();
      }
      await this.deps.budget.waitForRoom(this.stopSignal);
      if (this.stopping) break;
      const readCursors = new Map<string, string>();
      if (!this.closedSeen) readCursors.set(stateKey, stateCursor);
      for (const channel of open) readCursors.set(channel.model.key, channel.cursor);
      const read = await this.nextRead(readCursors);
      let gotData = false;
      for (const entry of read.get(stateKey) ?? []) {
        stateCursor = entry.id;
        await this.onState(Number(entry.fields.get('state')?.toString('latin1')));
      }
      for (const channel of open) {
        const entries = read.get(channel.model.key);
        if (!entries?.length) continue;
        gotData = true;
        this.onData(channel, entries);
        await this.backpressure();
      }
      if (this.closedSeen) quietAfterClose = gotData ? 0 : quietAfterClose + 1;
    }
    // Stop: chunks in flight finish (or give up); the checkpoint keeps the rest for the next start.
    await this.settle();
    return 'interrupted';
  }

  /** The reply for these cursors: the read issued ahead if it asked for exactly them, else a blocking read now. */
  private async nextRead(cursors: Map<string, string>): Promise<Map<string, StreamEntry[]>> {
    const ahead = this.readAhead;
    this.readAhead = undefined;
    const count = this.readCountFor(cursors.size);
    let read: Map<string, StreamEntry[]> | undefined;
    const stats = this.deps.stats;
    if (ahead && sameCursors(ahead.cursors, cursors)) {
      read = await ahead.reply;
      if ([...read.values()].some((entries) => entries.length > 0)) stats.readsAhead++;
      else read = undefined;
    }
    if (!read) {
      stats.reads++;
      read = await this.reader!.read(cursors, count, this.options.flushIntervalMs);
    }
    let entries = 0;
    let dataEntries = 0;
    let dataBytes = 0;
    let bytes = 0;
    const next = new Map(cursors);
    for (const [key, list] of read) {
      const last = list.at(-1);
      if (!last) continue;
      next.set(key, last.id);
      entries += list.length;
      // Estimated from the larger of the stream's first and last entry in this reply (batches of a
      // stream are mostly alike; counting every field cost ~2 % of the bridge's time at 10-point batches).
      const listBytes = Math.max(entrySize(list[0]!), entrySize(last)) * list.length;
      bytes += listBytes;
      if (key === this.scan?.stateStreamKey) continue;
      dataEntries += list.length;
      dataBytes += listBytes;
    }
    // The size of data entries sets the count of the next reads (the largest recently seen, decaying).
    if (dataEntries > 0) this.entryBytes = Math.max(dataBytes / dataEntries, this.entryBytes * 0.9);
    stats.largestReadBytes = Math.max(stats.largestReadBytes, bytes);
    // Ask Redis for what follows now (without blocking), so that it prepares the next reply while
    // this one is cut into chunks and uploaded; used only if the next round asks for the same cursors.
    if (entries > 0 && !this.stopping && this.deps.budget.used <= this.deps.budget.limit) {
      stats.reads++;
      const reply = this.reader!.read(next, this.readCountFor(next.size));
      reply.catch(() => undefined);
      this.readAhead = { cursors: next, reply };
    }
    return read;
  }

  /** Entries per stream for a read of `streams` streams: about `readBytes` in all, at most `readCount` each. */
  private readCountFor(streams: number): number {
    if (this.entryBytes === 0) return Math.min(this.options.readCount, FIRST_READ_COUNT);
    const target = this.options.readBytes ?? DEFAULT_READ_BYTES;
    return Math.max(1, Math.min(this.options.readCount, Math.floor(target / (Math.max(1, streams) * (this.entryBytes + 64)))));
  }

  private async onDeleted(): Promise<FollowerResult> {
    if (!this.cp.opened && !this.started) {
      this.deps.logger.info('scan deleted before it was prepared; skipped', { runUid: this.runUid, scanKey: this.entry.scanKey });
      return 'skipped';
    }
    await this.settle();
    throw new RunFailure('scan was deleted from Redis while it was running', [{ message: `${this.entry.scanKey} deleted at state ${this.state}; ${this.committedSummary()}` }]);
  }

  private committedSummary(): string {
    const parts = Object.entries(this.cp.streams).map(([name, s]) => `${name}: ${s.committed}`);
    return parts.length > 0 ? `points staged ${parts.join(', ')}` : 'no points staged';
  }

  private async onState(state: number): Promise<void> {
    if (!Number.isInteger(state) || state < ScanState.Created || state > ScanState.Closed) {
      throw new RunFailure('scan state stream is malformed', [{ stream: 'state', message: `state ${state} is not 0..4` }]);
    }
    this.state = state;
    if (state >= ScanState.Prepared) {
      const scan = await this.deps.source.readScan(this.entry.scanKey);
      if (!scan) throw new RunFailure('scan was deleted from Redis while it was running', [{ message: `${this.entry.scanKey} no longer exists; ${this.committedSummary()}` }]);
      this.scan = scan;
      if (!this.started) await this.startRun(scan);
    }
    if (state === ScanState.Closed) this.closedSeen = true;
  }

  /** Sets up the channels and, unless the checkpoint says it was done, sends RunStart, the descriptor and the resources known. */
  private async startRun(scan: BlissScan): Promise<void> {
    this.started = true;
    const specs: ChannelSpec[] = [];
    for (const model of scan.streams) {
      // lima: Lima image streams (JSON statuses + files on disk) go to bridge/lima-follower.ts.
      const lima = this.lima.claim(model, scan);
      if (lima === 'skipped') continue;
      if (lima) {
        specs.push(lima);
        continue;
      }
      if (model.encoding.type === 'json') {
        // JSON streams (scan_info-like values, scan sequences' child references): NDJSON chunks.
        const cp = (this.cp.streams[model.name] ??= { committed: 0, datums: 0, gaps: [] });
        const cursor = await this.deps.source.cursorForIndex(model.key, cp.committed);
        this.channels.set(model.name, {
          model, json: true, cp, cursor, expected: cp.committed, pointShape: [],
          buffer: [], bufferStart: cp.committed, bufferedPoints: 0, bufferedBytes: 0, completed: new Map(),
        });
        const units = unitsOf(scan, model.name, model.info);
        specs.push({ name: model.name, streamPk: model.pk, encoding: 'json', ...(units ? { units } : {}) });
        continue;
      }
      if (!isNumericEncoding(model.encoding)) {
        throw new RunFailure('stream encoding is not supported', [{ stream: model.name, message: `unknown encoding type ${JSON.stringify(model.encoding.type)}` }]);
      }
      let codec: ChannelCodec;
      try {
        codec = codecOf(model.name, model.encoding);
      } catch (error) {
        throw new RunFailure('stream encoding is not supported', [{ stream: model.name, message: (error as Error).message }]);
      }
      const cp = (this.cp.streams[model.name] ??= { committed: 0, datums: 0, gaps: [] });
      const pointShape = hasFreeDimension(codec.shape) ? cp.pointShape : [...codec.shape];
      const cursor = await this.deps.source.cursorForIndex(model.key, cp.committed);
      const channel: Channel = {
        model, codec, json: false, free: hasFreeDimension(codec.shape), cp, cursor, expected: cp.committed, ...(pointShape ? { pointShape } : {}),
        buffer: [], bufferStart: cp.committed, bufferedPoints: 0, bufferedBytes: 0, completed: new Map(),
      };
      this.channels.set(model.name, channel);
      const units = unitsOf(scan, model.name, model.info);
      specs.push({
        name: model.name, streamPk: model.pk, dtype: codec.dtype,
        shape: codec.shape.map((d) => (d === -1 ? null : d)), ...(units ? { units } : {}),
      });
    }
    if (this.cp.opened) {
      this.deps.logger.info('run resumed', { runUid: this.runUid, scanKey: scan.key, committed: this.committedSummary() });
      this.lima.start(); // lima
      const missing = [...this.channels.values()].filter((c) => c.pointShape && !c.cp.resource);
      if (missing.length > 0) await this.emitResources(missing);
      return;
    }
    const now = this.now();
    const opening: OutgoingEvent[] = [{ detailType: DetailType.RunStart, source: EventSource.Bridge, detail: runStartOf(scan, this.options.beamline, now) }];
    if (specs.length > 0) {
      opening.push({ detailType: DetailType.EventDescriptor, source: EventSource.Bridge, detail: descriptorOf(this.runUid, specs, now) });
    }
    const withShape = [...this.channels.values()].filter((c) => c.pointShape);
    opening.push(...withShape.map((c) => this.resourceEvent(c, c.pointShape!)));
    this.deps.logger.info('run started', { runUid: this.runUid, scanKey: scan.key, channels: specs.length, dataset: scan.identity.dataset });
    await this.emit(opening);
    this.cp.opened = true;
    this.lima.start(); // lima
    for (const c of withShape) c.cp.resource = true;
    this.deps.saveCheckpoint();
  }

  private async emitResources(channels: Channel[]): Promise<void> {
    await this.emit(channels.map((c) => this.resourceEvent(c, c.pointShape!)));
    for (const c of channels) c.cp.resource = true;
    this.deps.saveCheckpoint();
  }

  private resourceEvent(channel: Channel, shape: number[]): OutgoingEvent {
    const name = channel.model.name;
    return {
      detailType: DetailType.StreamResource, source: EventSource.Bridge,
      detail: streamResourceOf(this.runUid, this.deps.store.bucket, channel.codec ? { name, dtype: channel.codec.dtype, shape } : { name, encoding: 'json' }),
    };
  }

  private onData(channel: Channel, entries: StreamEntry[]): void {
    const name = channel.model.name;
    for (const entry of entries) {
      channel.cursor = entry.id;
      const decoded = channel.codec ? decodeEntry(channel.codec, entry.id, entry.fields) : decodeJsonEntry(name, entry.id, entry.fields);
      if (decoded.kind === 'seal') {
        if (decoded.total < channel.expected) {
          throw new InvalidInputError(
            `stream ${name}: sealed with ${decoded.total} points, ${channel.expected} received`,
            { stream: name, index: decoded.total },
          );
        }
        if (decoded.total > channel.expected) this.recordGap(channel, decoded.total);
        channel.sealedTotal = decoded.total;
        this.stageBuffered(channel);
        return;
      }
      let { start, count, bytes } = decoded;
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
        sent.catch((error: unknown) => { this.failure ??= error; });
        channel.resourceSent = sent;
      } else if (channel.free && !sameShape(decoded.pointShape, channel.pointShape)) {
        // A free dimension changed size (blisswriter 3 pads, and so does the scan writer): the chunk
        // ends with the last point of the old shape, as at a gap. The cut depends only on the data,
        // so a restart cuts the same chunks (same keys, same datum uids).
        this.stageBuffered(channel);
        channel.pointShape = decoded.pointShape;
      }
      if (start > channel.expected) this.recordGap(channel, start);
      if (channel.cp.chunkPoints === undefined) {
        channel.cp.chunkPoints = Math.max(1, Math.min(this.options.chunkPoints, pointBytes > 0 ? Math.floor(this.options.chunkBytes / pointBytes) : Infinity));
        channel.cp.chunkBytes = this.options.chunkBytes;
        // On disk before the stream's first datum is accepted: a restart with other --chunk-points /
        // --chunk-bytes must cut the chunks this bridge announced, not new ones overlapping them.
        channel.gridOnDisk = this.deps.flushCheckpoint?.().catch(() => undefined);
      }
      if (channel.bufferedPoints === 0) channel.bufferStart = start;
      channel.pendingSince ??= Date.now();
      channel.expected = start + count;
      const grid = channel.cp.chunkPoints;
      if (!channel.json) {
        this.fill(channel, bytes, count, pointBytes, grid);
        continue;
      }
      channel.buffer.push(bytes);
      channel.bufferedPoints += count;
      channel.bufferedBytes += bytes.length;
      for (;;) {
        const boundary = (Math.floor(channel.bufferStart / grid) + 1) * grid;
        if (channel.bufferedPoints === 0 || channel.bufferStart + channel.bufferedPoints < boundary) break;
        this.stage(channel, boundary - channel.bufferStart);
      }
    }
  }

  /** Copies the points of one numeric entry into the channel's chunk, staging each chunk that reaches its grid boundary. */
  private fill(channel: Channel, bytes: Buffer, count: number, pointBytes: number, grid: number): void {
    let offset = 0;
    // Free dimensions: the grid was fixed by the first entry's points, and later points can be far
    // larger (a spectrum of 2 bins, then of 4096). A chunk of them also ends at `chunkBytes` counted
    // from its start (at least one point): the cut depends only on the data and the chunk's start,
    // itself a cut, so a restart cuts the same chunks (with the bytes checkpointed with the grid, whatever --chunk-bytes says now).
    const chunkBytes = channel.cp.chunkBytes ?? this.options.chunkBytes;
    const cap = channel.free && pointBytes > 0 ? Math.max(1, Math.floor(chunkBytes / pointBytes)) : Infinity;
    for (let remaining = count; remaining > 0;) {
      const boundary = Math.min((Math.floor(channel.bufferStart / grid) + 1) * grid, channel.bufferStart + cap);
      const size = boundary - channel.bufferStart;
      const take = Math.min(size - channel.bufferedPoints, remaining);
      const length = take * pointBytes;
      const needed = channel.bufferedBytes + length;
      if (!channel.chunk || channel.chunk.length < needed) {
        // Grown by doubling up to the chunk's final size: a short scan of many channels never holds 1 MiB per channel.
        const grown = this.deps.chunks.acquire(Math.min(size * pointBytes, Math.max(needed, INITIAL_CHUNK_BYTES, (channel.chunk?.length ?? 0) * 2)));
        if (channel.chunk) {
          channel.chunk.copy(grown, 0, 0, channel.bufferedBytes);
          this.deps.chunks.release(channel.chunk);
        }
        channel.chunk = grown;
      }
      bytes.copy(channel.chunk, channel.bufferedBytes, offset, offset + length);
      offset += length;
      remaining -= take;
      channel.bufferedPoints += take;
      channel.bufferedBytes += length;
      if (channel.bufferedPoints === size) this.stage(channel, size);
    }
  }

  /** Points [expected, upTo) are not in Redis any more: stage what came before, record the gap, never invent data. */
  private recordGap(channel: Channel, upTo: number): void {
    const gap = { start: channel.expected, stop: upTo };
    this.stageBuffered(channel);
    this.deps.stats.gaps++;
    this.deps.logger.warn('points missing from Redis (trimmed); archiving what exists', { runUid: this.runUid, stream: channel.model.name, ...gap });
    channel.expected = upTo;
    channel.bufferStart = upTo;
    this.complete(channel, gap.start, { stop: gap.stop, datums: 0, gap });
  }

  private stageBuffered(channel: Channel): void {
    if (channel.bufferedPoints > 0) this.stage(channel, channel.bufferedPoints);
  }

  /** Takes the first `points` buffered points of a channel, stages them and announces the chunk. */
  private stage(channel: Channel, points: number): void {
    let bytes: Buffer;
    /** A pooled chunk buffer, given back once the chunk is staged (or given up). */
    let pooled: Buffer | undefined;
    if (channel.json) {
      // One line per point: the chunk is the first `points` lines.
      const lines = channel.buffer.splice(0, points);
      bytes = Buffer.concat(lines);
      channel.bufferedBytes -= bytes.length;
    } else {
      // Numeric chunks end at a grid boundary, a gap or the seal: always everything buffered.
      if (points !== channel.bufferedPoints || !channel.chunk) {
        throw new InvalidInputError(`stream ${channel.model.name}: staging ${points} of ${channel.bufferedPoints} buffered points`, { stream: channel.model.name, index: channel.bufferStart });
      }
      pooled = channel.chunk;
      bytes = pooled.subarray(0, channel.bufferedBytes);
      channel.chunk = undefined;
      channel.bufferedBytes = 0;
    }
    const start = channel.bufferStart;
    const stop = start + points;
    channel.bufferedPoints -= points;
    channel.bufferStart = stop;
    const name = channel.model.name;
    // Free dimensions: every chunk has one point shape (a change cuts the chunk), carried by its datum.
    const pointShape = channel.free ? channel.pointShape : undefined;
    const budget = this.deps.budget;
    budget.take(bytes.length);
    const task = (async () => {
      try {
        const stored = await this.putWithRetry(stagingChunkKey(this.runUid, name, start, stop), bytes, channel.json ? 'application/x-ndjson' : undefined);
        const detail = streamDatumOf(this.runUid, this.deps.store.bucket, name, start, stop, stored, undefined, pointShape);
        // No datum accepted before its resource: while the resource is not accepted nothing is
        // committed, so the checkpoint's shape is still the first one when a restart re-sends it.
        if (channel.resourceSent) await channel.resourceSent;
        if (channel.gridOnDisk) await channel.gridOnDisk;
        await this.emit([{ detailType: DetailType.StreamDatum, source: EventSource.Bridge, detail }]);
        this.deps.stats.chunksStaged++;
        this.deps.stats.pointsStaged += points;
        this.deps.stats.bytesStaged += bytes.length;
        this.complete(channel, start, { stop, datums: 1, ...(pointShape ? { pointShape } : {}) });
      } finally {
        budget.give(bytes.length);
        if (pooled) this.deps.chunks.release(pooled);
      }
    })().catch((error: unknown) => {
      if (error instanceof Interrupted) return;
      this.failure ??= error instanceof RunFailure ? error
        : new RunFailure('chunk could not be staged or announced', [{ stream: name, index: start, message: error instanceof Error ? error.message : String(error) }], { cause: error });
    });
    this.inflight.add(task);
    void task.finally(() => this.inflight.delete(task));
  }

  /** Records a finished range and moves the channel's committed index over every contiguous one. */
  private complete(channel: Channel, start: number, done: Completed): void {
    channel.completed.set(start, done);
    let moved = false;
    for (let next = channel.completed.get(channel.cp.committed); next; next = channel.completed.get(channel.cp.committed)) {
      channel.completed.delete(channel.cp.committed);
      if (next.gap) channel.cp.gaps.push(next.gap);
      // Free dimensions: the checkpoint keeps the shape of the last committed chunk (the current shape).
      if (next.pointShape) channel.cp.pointShape = next.pointShape;
      channel.cp.datums += next.datums;
      channel.cp.committed = next.stop;
      moved = true;
    }
    if (!moved) return;
    channel.pendingSince = channel.expected > channel.cp.committed ? Date.now() : undefined;
    this.deps.saveCheckpoint();
  }

  /** S3 put, retried with backoff until it succeeds or the bridge stops (5xx, timeouts, expired credentials …). */
  private async putWithRetry(key: string, body: Uint8Array | string, contentType?: string): Promise<StoredObject> {
    for (let attempt = 1; ; attempt++) {
      if (this.stopping) throw new Interrupted();
      try {
        return await this.deps.store.put(key, body, contentType);
      } catch (error) {
        this.deps.stats.s3Retries++;
        this.deps.stats.lastError = `S3 put ${key}: ${String(error)}`;
        if (attempt === 1 || attempt % 10 === 0) {
          this.deps.logger.warn('S3 put failed; retrying', { runUid: this.runUid, key, attempt, error: String(error) });
        }
        await this.sleep(backoffDelay(attempt, this.options.retryBaseMs ?? 200, this.options.retryMaxMs ?? 10_000));
      }
    }
  }

  private async sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((r) => { timer = setTimeout(r, ms); }), this.stopSignal]);
    clearTimeout(timer);
    if (this.stopping) throw new Interrupted();
  }

  private async backpressure(): Promise<void> {
    while (this.inflight.size >= this.options.maxInflightChunks) await Promise.race(this.inflight);
  }

  /** Waits for every chunk upload and every queued publish. */
  private async settle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  private pointsPerChannel(): Record<string, number> {
    const points: Record<string, number> = {};
    for (const [name, channel] of this.channels) points[name] = channel.sealedTotal ?? channel.expected;
    return points;
  }

  private datumCount(): number {
    return [...this.channels.values()].reduce((n, c) => n + c.cp.datums, 0);
  }

  /** CLOSED and all sealed: final scan_info staged, then RunStop once everything before it was accepted. */
  private async finish(): Promise<FollowerResult> {
    await this.settle();
    this.throwIfFailed();
    const lima = await this.lima.finish(); // lima: every Lima file uploaded and announced (or LimaRunError)
    const scan = (await this.deps.source.readScan(this.entry.scanKey)) ?? this.scan!;
    this.scan = scan;
    if (!this.started) await this.startRun(scan);
    for (const channel of this.channels.values()) {
      if (channel.cp.committed !== channel.sealedTotal) {
        throw new RunFailure('bridge error while following the scan', [{ stream: channel.model.name, message: `committed ${channel.cp.committed} of ${channel.sealedTotal} points at the end` }]);
      }
    }
    const infoRef = await this.putWithRetry(stagingScanInfoKey(this.runUid), JSON.stringify(scan.info), 'application/json');
    const gaps = [...this.channels.values()].flatMap((c) => c.cp.gaps.map((g) => ({ stream: c.model.name, ...g }))).concat(lima.gaps);
    const stop = runStopOf(scan, {
      points: { ...this.pointsPerChannel(), ...lima.points },
      documents: {
        descriptor: this.channels.size + this.lima.size > 0 ? 1 : 0,
        stream_resource: [...this.channels.values()].filter((c) => c.cp.resource).length + lima.resources,
        stream_datum: this.datumCount() + lima.datums,
      },
      scanInfoRef: { bucket: this.deps.store.bucket, key: infoRef.key, bytes: infoRef.bytes, sha256: infoRef.sha256 },
      ...(gaps.length > 0 ? { gaps } : {}),
    }, this.now());
    await this.emit([{ detailType: DetailType.RunStop, source: EventSource.Bridge, detail: stop }]);
    return 'stopped';
  }

  /**
   * Queues documents for the bus; resolves once PutEvents accepted all of them. Queued documents
   * go out in order, several per request. Entries refused for a transient reason are sent again
   * (backoff with jitter) until accepted or the bridge stops; entries refused for good go to the
   * dead-letter file and fail the run.
   */
  private emit(events: OutgoingEvent[]): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.queue.push({ events, resolve, reject }));
    this.kick();
    return done;
  }

  private kick(): void {
    if (this.draining || this.queue.length === 0) return;
    this.draining = true;
    void this.drain().finally(() => {
      this.draining = false;
      this.kick();
    });
  }

  private async drain(): Promise<void> {
    let round = 0;
    while (this.queue.length > 0) {
      const groups = this.queue.splice(0);
      const events = groups.flatMap((g) => g.events);
      let reasons: Map<OutgoingEvent, string>;
      try {
        const outcome = await this.deps.publisher.publish(events);
        reasons = new Map(outcome.rejected.map((r) => [r.event, r.reason]));
      } catch (error) {
        reasons = new Map(events.map((e) => [e, `gave up after 1 attempts: ${String(error)}`]));
      }
      const retry: typeof groups = [];
      for (const group of groups) {
        const refused = group.events.filter((e) => reasons.has(e));
        if (refused.length === 0) {
          this.deps.stats.eventsSent += group.events.length;
          group.resolve();
          continue;
        }
        const permanent = refused.filter((e) => !isTransientRejection(reasons.get(e)!));
        if (permanent.length > 0) {
          for (const e of permanent) {
            this.deps.stats.deadLetters++;
            await this.deps.deadLetter(e, reasons.get(e)!, { runUid: this.runUid, scanKey: this.entry.scanKey });
          }
          group.reject(new RunFailure('documents were refused by the bus', permanent.map((e) => ({
            message: `${e.detailType} ${(e.detail as { uid?: string }).uid ?? ''}: ${reasons.get(e)}`,
          }))));
          continue;
        }
        this.deps.stats.eventsSent += group.events.length - refused.length;
        this.deps.stats.putEventsRetries += refused.length;
        this.deps.stats.lastError = `PutEvents: ${reasons.get(refused[0]!)}`;
        retry.push({ ...group, events: refused });
      }
      if (retry.length === 0) {
        round = 0;
        continue;
      }
      round++;
      if (round === 1 || round % 10 === 0) {
        this.deps.logger.warn('PutEvents entries still refused; retrying', { runUid: this.runUid, entries: retry.reduce((n, g) => n + g.events.length, 0), round });
      }
      try {
        await this.sleep(backoffDelay(round, this.options.retryBaseMs ?? 200, this.options.retryMaxMs ?? 10_000));
      } catch (error) {
        for (const group of [...retry, ...this.queue.splice(0)]) group.reject(error);
        return;
      }
      this.queue.unshift(...retry);
    }
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function entrySize(entry: StreamEntry): number {
  let bytes = 0;
  for (const value of entry.fields.values()) bytes += value.length;
  return bytes;
}

function sameCursors(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, id] of a) if (b.get(key) !== id) return false;
  return true;
}
