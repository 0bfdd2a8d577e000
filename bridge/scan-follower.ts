import { DetailType, EventSource } from '../src/core/contract/detail-types.js';
import { InvalidInputError } from '../src/core/errors.js';
import { stagingChunkKey, stagingScanInfoKey } from '../src/core/object-keys.js';
import type { EventPublisher, ObjectStore, OutgoingEvent } from '../src/core/ports.js';
import { descriptorOf, runFailedOf, streamDatumOf, streamResourceOf } from '../src/core/event-model/documents.js';
import type { ChannelSpec } from '../src/core/event-model/channels.js';
import { runStartOf, runStopOf, unitsOf } from '../src/core/bliss/run-documents.js';
import { isNumericEncoding, ScanState, type BlissScan, type StreamModel } from '../src/core/bliss/scan-model.js';
import type { HistoryEntry, ScanSource, StreamEntry } from '../src/core/bliss/scan-source.js';
import { codecOf, decodeEntry, decodeJsonEntry, hasFreeDimension, type ChannelCodec } from '../src/core/bliss/stream-decoding.js';
import type { Logger } from '../src/adapters/logger.js';
import type { GapRange, ScanCheckpoint, StreamCheckpoint } from './checkpoint/index.js';
import type { BridgeStats, MemoryBudget } from './bridge-stats.js';
import type { ChunkPool } from './chunk-pool.js';
import { checkGap, checkNumericStream, checkPointShape, checkStreamPoints, DEFAULT_LIMITS, type BridgeLimits } from './bounds.js';
import { Interrupted, RunFailure, runErrorOf } from './errors.js';
import { ScanReads, type ReadPacing } from './scan-reads.js';
import { Chunker, type Chunk } from './staging/chunker.js';
import { RangeCommits } from './staging/commits.js';
import { StagingSink, type DeadLetter } from './staging/sink.js';
import { Stopper } from './staging/stopper.js';
import { LimaStreams, type LimaOptions } from './lima-follower.js'; // lima

export { DEFAULT_READ_BYTES } from './scan-reads.js';

export interface FollowerOptions extends ReadPacing, Partial<Pick<LimaOptions, 'limaFileWaitMs'>>, Partial<BridgeLimits> {
  beamline: string;
  /** A chunk holds at most this many points … */
  chunkPoints: number;
  /** … and at most this many bytes (the grid of a stream is fixed from both at its first entry). */
  chunkBytes: number;
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
  deadLetter: DeadLetter;
  stats: BridgeStats;
  budget: MemoryBudget;
  /** Where numeric chunk buffers come from and go back to (shared by the bridge's followers). */
  chunks: ChunkPool;
  now?: () => number;
}

export type FollowerResult = 'stopped' | 'failed' | 'skipped' | 'interrupted';

interface Completed {
  stop: number;
  datums: number;
  gap?: GapRange;
  /** Free dimensions: the point shape of the chunk (becomes the checkpoint's shape once committed). */
  pointShape?: number[];
}

interface Channel {
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

const commitsOf = (cp: StreamCheckpoint) => new RangeCommits<Completed>(() => cp.committed);

/**
 * Follows one BLISS scan from its state and data streams to run documents: RunStart, the
 * descriptor and resources at PREPARED; chunks staged in S3 and their StreamDatum as data comes;
 * RunStop at CLOSED once every chunk is staged and every document accepted. This file is the scan's
 * state machine; the chunks are cut by bridge/staging/chunker.ts, staged and announced by
 * bridge/staging/sink.ts, and the reads paced by bridge/scan-reads.ts.
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
  private failure?: unknown;
  private reads?: ScanReads;
  private readonly stopper = new Stopper();
  private readonly sink: StagingSink;
  private readonly now: () => number;
  private readonly limits: BridgeLimits;
  private started = false;
  private readonly cp: ScanCheckpoint;
  /** Lima image streams (bridge/lima-follower.ts). */
  private readonly lima: LimaStreams;

  constructor(private readonly entry: HistoryEntry, private readonly deps: FollowerDeps, private readonly options: FollowerOptions) {
    this.runUid = entry.scanKey.split(':').pop() ?? entry.scanKey;
    this.now = deps.now ?? (() => Date.now() / 1000);
    this.limits = { maxGapPoints: options.maxGapPoints ?? DEFAULT_LIMITS.maxGapPoints, maxStreamPoints: options.maxStreamPoints ?? DEFAULT_LIMITS.maxStreamPoints };
    this.cp = deps.checkpoint;
    this.sink = new StagingSink({ ...deps, stopper: this.stopper }, options, { runUid: this.runUid, scanKey: entry.scanKey });
    // lima: Lima streams are followed apart (files, not payloads), sharing this follower's sink and checkpoint.
    this.lima = new LimaStreams({
      runUid: this.runUid, scanKey: entry.scanKey, beamline: options.beamline, source: deps.source, store: deps.store, logger: deps.logger,
      stats: deps.stats, checkpoint: this.cp, saveCheckpoint: deps.saveCheckpoint, sink: this.sink, stopper: this.stopper,
      fail: (error) => { this.failure ??= error; },
    }, options);
  }

  get scanKey(): string {
    return this.entry.scanKey;
  }

  /** Asks the follower to stop: reads end, retries give up, in-flight chunks finish or are left to the next start. */
  stop(): void {
    this.stopper.stop();
  }

  private get stopping(): boolean {
    return this.stopper.stopping;
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
      inflightChunks: this.sink.inflightChunks, gaps,
    };
  }

  async run(): Promise<FollowerResult> {
    const log = { runUid: this.runUid, scanKey: this.entry.scanKey };
    const reader = this.deps.source.openReader();
    this.reads = new ScanReads(reader, this.deps.stats, this.deps.budget, this.options, () => this.stopping);
    try {
      const result = await this.follow();
      if (result === 'stopped') this.deps.logger.info('run stopped', { ...log, points: this.pointsPerChannel(), datums: this.datumCount() });
      return result;
    } catch (error) {
      if (error instanceof Interrupted || (this.stopping && !(error instanceof RunFailure))) {
        await this.sink.settle().catch(() => undefined);
        return 'interrupted';
      }
      const failure = this.asFailure(error);
      this.deps.stats.errors++;
      this.deps.logger.error('run failed', { ...log, reason: failure.reason, errors: failure.errors });
      await this.sink.settle().catch(() => undefined);
      try {
        const detail = runFailedOf(this.runUid, this.entry.scanKey, failure.reason, failure.errors);
        await this.sink.emit([{ detailType: DetailType.RunFailed, source: EventSource.Bridge, detail }]);
      } catch (publishError) {
        if (publishError instanceof Interrupted) return 'interrupted';
        this.deps.logger.error('Run Failed event could not be published', { ...log, error: String(publishError) });
      }
      return 'failed';
    } finally {
      this.lima.abort(); // lima: a run that ended (stopped, failed, interrupted) leaves no Lima loop behind
      for (const channel of this.channels.values()) channel.chunker?.dispose();
      this.reads.dispose();
      await reader.close().catch(() => undefined);
    }
  }

  private asFailure(error: unknown): RunFailure {
    if (error instanceof RunFailure) return error;
    const reason = error instanceof InvalidInputError ? 'stream payload could not be decoded' : 'bridge error while following the scan';
    return new RunFailure(reason, [runErrorOf(error)], { cause: error });
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
          channel.chunker?.cut();
        }
        return this.finish();
      }
      if (!this.closedSeen && Date.now() - lastGoneCheck >= goneCheckMs) {
        lastGoneCheck = Date.now();
        if (await this.deps.source.isGone(scanKey)) return this.onDeleted();
      }
      await this.deps.budget.waitForRoom(this.stopper.signal);
      if (this.stopping) break;
      const readCursors = new Map<string, string>();
      if (!this.closedSeen) readCursors.set(stateKey, stateCursor);
      for (const channel of open) readCursors.set(channel.model.key, channel.cursor);
      const read = await this.reads!.next(readCursors, this.scan?.stateStreamKey);
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
        await this.sink.backpressure(this.options.maxInflightChunks);
      }
      if (this.closedSeen) quietAfterClose = gotData ? 0 : quietAfterClose + 1;
    }
    // Stop: chunks in flight finish (or give up); the checkpoint keeps the rest for the next start.
    await this.sink.settle();
    return 'interrupted';
  }

  private async onDeleted(): Promise<FollowerResult> {
    if (!this.cp.opened && !this.started) {
      this.deps.logger.info('scan deleted before it was prepared; skipped', { runUid: this.runUid, scanKey: this.entry.scanKey });
      return 'skipped';
    }
    await this.sink.settle();
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
        this.channels.set(model.name, { model, json: true, cp, cursor, expected: cp.committed, pointShape: [], commits: commitsOf(cp) });
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
      // What the scan file could never hold is refused here, at PREPARED (bridge/bounds.ts).
      checkNumericStream(model.name, codec.dtype.str, codec.shape);
      const cp = (this.cp.streams[model.name] ??= { committed: 0, datums: 0, gaps: [] });
      const pointShape = hasFreeDimension(codec.shape) ? cp.pointShape : [...codec.shape];
      const cursor = await this.deps.source.cursorForIndex(model.key, cp.committed);
      const channel: Channel = {
        model, codec, json: false, free: hasFreeDimension(codec.shape), cp, cursor, expected: cp.committed, ...(pointShape ? { pointShape } : {}), commits: commitsOf(cp),
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
    await this.sink.emit(opening);
    this.cp.opened = true;
    this.lima.start(); // lima
    for (const c of withShape) c.cp.resource = true;
    this.deps.saveCheckpoint();
  }

  private async emitResources(channels: Channel[]): Promise<void> {
    await this.sink.emit(channels.map((c) => this.resourceEvent(c, c.pointShape!)));
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
        checkStreamPoints(name, decoded.total, 'its seal', this.limits, channel.expected);
        if (decoded.total > channel.expected) this.recordGap(channel, decoded.total, `its seal (${decoded.total} points)`);
        channel.sealedTotal = decoded.total;
        channel.chunker?.cut();
        return;
      }
      let { start, count, bytes } = decoded;
      checkPointShape(name, start, decoded.pointShape);
      checkStreamPoints(name, start + count, `the entry at index ${start} (len ${count})`, this.limits, start);
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
      } else if (channel.free) {
        // A free dimension changed size (blisswriter 3 pads, and so does the scan writer): the chunker
        // ends the chunk with the last point of the old shape, as at a gap.
        channel.pointShape = decoded.pointShape;
      }
      channel.chunker?.shape(decoded.pointShape);
      if (start > channel.expected) this.recordGap(channel, start, `the entry at index ${start}`);
      if (channel.cp.chunkPoints === undefined) {
        channel.cp.chunkPoints = Math.max(1, Math.min(this.options.chunkPoints, pointBytes > 0 ? Math.floor(this.options.chunkBytes / pointBytes) : Infinity));
        channel.cp.chunkBytes = this.options.chunkBytes;
        // On disk before the stream's first datum is accepted: a restart with other --chunk-points /
        // --chunk-bytes must cut the chunks this bridge announced, not new ones overlapping them.
        channel.gridOnDisk = this.deps.flushCheckpoint?.().catch(() => undefined);
      }
      const chunker = (channel.chunker ??= this.chunkerOf(channel, start));
      channel.pendingSince ??= Date.now();
      channel.expected = start + count;
      chunker.append(start, count, channel.json ? [bytes] : bytes);
    }
  }

  /** The stream's chunker, on the grid of its checkpoint (free dimensions: also the bytes checkpointed with the grid, whatever --chunk-bytes says now). */
  private chunkerOf(channel: Channel, start: number): Chunker {
    const chunker = new Chunker({
      grid: channel.cp.chunkPoints!, json: channel.json, allocator: this.deps.chunks,
      ...(channel.free ? { byteCap: channel.cp.chunkBytes ?? this.options.chunkBytes } : {}),
      onChunk: (chunk) => this.stage(channel, chunk),
    }, start);
    if (channel.free && channel.pointShape) chunker.shape(channel.pointShape);
    return chunker;
  }

  /** Points [expected, upTo) are not in Redis any more: stage what came before, record the gap, never invent data. */
  private recordGap(channel: Channel, upTo: number, what: string): void {
    checkGap(channel.model.name, channel.expected, upTo, what, this.limits);
    const gap = { start: channel.expected, stop: upTo };
    channel.chunker?.cut();
    this.deps.stats.gaps++;
    this.deps.logger.warn('points missing from Redis (trimmed); archiving what exists', { runUid: this.runUid, stream: channel.model.name, ...gap });
    channel.expected = upTo;
    channel.chunker?.skipTo(upTo);
    this.complete(channel, gap.start, { stop: gap.stop, datums: 0, gap });
  }

  /** Stages a chunk and announces it (in flight); its range is committed once its datum is accepted. */
  private stage(channel: Channel, chunk: Chunk): void {
    const name = channel.model.name;
    const { start, stop, pointShape } = chunk;
    this.sink.stage({
      key: stagingChunkKey(this.runUid, name, start, stop), bytes: chunk.bytes, points: stop - start,
      ...(channel.json ? { contentType: 'application/x-ndjson' } : {}),
      datum: (stored) => ({ detailType: DetailType.StreamDatum, source: EventSource.Bridge, detail: streamDatumOf(this.runUid, this.deps.store.bucket, name, start, stop, stored, undefined, pointShape) }),
      // No datum accepted before its resource: while the resource is not accepted nothing is
      // committed, so the checkpoint's shape is still the first one when a restart re-sends it.
      gates: () => [channel.resourceSent, channel.gridOnDisk],
      done: () => this.complete(channel, start, { stop, datums: 1, ...(pointShape ? { pointShape } : {}) }),
      fail: (error) => {
        this.failure ??= error instanceof RunFailure ? error
          : new RunFailure('chunk could not be staged or announced', [{ stream: name, index: start, message: error instanceof Error ? error.message : String(error) }], { cause: error });
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
    this.deps.saveCheckpoint();
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
    await this.sink.settle();
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
    const infoRef = await this.sink.put(stagingScanInfoKey(this.runUid), JSON.stringify(scan.info), 'application/json');
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
    await this.sink.emit([{ detailType: DetailType.RunStop, source: EventSource.Bridge, detail: stop }]);
    return 'stopped';
  }
}
