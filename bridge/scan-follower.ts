import { DetailType, EventSource } from '../src/core/contract/detail-types.js';
import type { RunError } from '../src/core/contract/generated-types.js';
import { ArchiveError, InvalidInputError } from '../src/core/errors.js';
import { stagingChunkKey, stagingScanInfoKey } from '../src/core/object-keys.js';
import type { EventPublisher, ObjectStore, OutgoingEvent } from '../src/core/ports.js';
import {
  descriptorOf, runFailedOf, runStartOf, runStopOf, streamDatumOf, streamResourceOf, type ChannelSpec,
} from '../src/core/bliss/documents.js';
import { isNumericEncoding, ScanState, type BlissScan, type StreamModel } from '../src/core/bliss/scan-model.js';
import type { HistoryEntry, ScanSource, StreamEntry, StreamReader } from '../src/core/bliss/scan-source.js';
import {
  checkContiguous, codecOf, decodeEntry, hasFreeDimension, type ChannelCodec,
} from '../src/core/bliss/stream-decoding.js';
import { unitsOf } from '../src/core/bliss/documents.js';
import type { Logger } from '../src/adapters/logger.js';

export interface FollowerOptions {
  beamline: string;
  /** Stage a chunk when a channel has buffered this many points … */
  chunkPoints: number;
  /** … or this many bytes … */
  chunkBytes: number;
  /** … or when its oldest buffered point is this old (also the blocking read timeout). */
  flushIntervalMs: number;
  /** Entries per stream per XREAD. */
  readCount: number;
  /** Chunks being uploaded/announced at once per scan (backpressure on the reads). */
  maxInflightChunks: number;
}

export interface FollowerDeps {
  source: ScanSource;
  store: ObjectStore;
  publisher: EventPublisher;
  logger: Logger;
  now?: () => number;
}

export type FollowerResult = 'stopped' | 'failed' | 'skipped' | 'interrupted';

/** A failure that ends the run with a `Run Failed` event. */
class RunFailure extends ArchiveError {
  override name = 'RunFailure';
  constructor(readonly reason: string, readonly errors: RunError[], options?: ErrorOptions) {
    super(`${reason}: ${errors.map((e) => e.message).join('; ')}`, {}, options);
  }
}

interface Channel {
  model: StreamModel;
  codec: ChannelCodec;
  cursor: string;
  /** Index of the next point expected from Redis. */
  expected: number;
  sealedTotal?: number;
  /** Concrete point shape (known at PREPARED, or at the first entry for free dimensions). */
  pointShape?: number[];
  resourceSent: boolean;
  buffer: Buffer[];
  bufferStart: number;
  bufferedPoints: number;
  bufferedBytes: number;
  bufferedSince: number;
}

/**
 * Follows one BLISS scan from its state and data streams to run documents: RunStart, the
 * descriptor and resources at PREPARED; chunks staged in S3 and their StreamDatum as data comes;
 * RunStop at CLOSED once every chunk is staged and every document accepted. Memory is bounded by
 * the chunk size × channels plus `maxInflightChunks` chunks.
 */
export class ScanFollower {
  private readonly runUid: string;
  private scan?: BlissScan;
  private channels = new Map<string, Channel>();
  private state = -1;
  private closedSeen = false;
  private readonly inflight = new Set<Promise<void>>();
  private failure?: unknown;
  private datums = 0;
  private resources = 0;
  private reader?: StreamReader;
  private stopping = false;
  private readonly now: () => number;
  private queue: { events: OutgoingEvent[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private draining = false;

  constructor(private readonly entry: HistoryEntry, private readonly deps: FollowerDeps, private readonly options: FollowerOptions) {
    this.runUid = entry.scanKey.split(':').pop() ?? entry.scanKey;
    this.now = deps.now ?? (() => Date.now() / 1000);
  }

  get scanKey(): string {
    return this.entry.scanKey;
  }

  /** Asks the follower to stop reading; buffered points are staged and announced, no RunStop is sent. */
  stop(): void {
    this.stopping = true;
  }

  async run(): Promise<FollowerResult> {
    const log = { runUid: this.runUid, scanKey: this.entry.scanKey };
    this.reader = this.deps.source.openReader();
    try {
      const result = await this.follow();
      if (result === 'stopped') this.deps.logger.info('run stopped', { ...log, points: this.pointsPerChannel(), datums: this.datums });
      return result;
    } catch (error) {
      const failure = error instanceof RunFailure ? error : this.asFailure(error);
      this.deps.logger.error('run failed', { ...log, reason: failure.reason, errors: failure.errors });
      await this.settle().catch(() => undefined);
      try {
        const detail = runFailedOf(this.runUid, this.entry.scanKey, failure.reason, failure.errors);
        await this.emit([{ detailType: DetailType.RunFailed, source: EventSource.Bridge, detail }]);
      } catch (publishError) {
        this.deps.logger.error('Run Failed event could not be published', { ...log, error: String(publishError) });
      }
      return 'failed';
    } finally {
      await this.reader.close().catch(() => undefined);
    }
  }

  private asFailure(error: unknown): RunFailure {
    if (error instanceof RunFailure) return error;
    const context = error instanceof ArchiveError ? error.context : {};
    const runError: RunError = { message: error instanceof Error ? error.message : String(error) };
    if (typeof context.stream === 'string') runError.stream = context.stream;
    if (typeof context.index === 'number') runError.index = context.index;
    const reason = error instanceof InvalidInputError ? 'stream payload could not be decoded' : 'bridge error while following the scan';
    return new RunFailure(reason, [runError], { cause: error });
  }

  private async follow(): Promise<FollowerResult> {
    const scanKey = this.entry.scanKey;
    const stateKey = await this.initialStateKey();
    if (!stateKey) return 'skipped';
    const cursors = new Map<string, string>([[stateKey, '0-0']]);
    let quietAfterClose = 0;
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
      const readCursors = new Map<string, string>();
      if (!this.closedSeen) readCursors.set(stateKey, cursors.get(stateKey)!);
      for (const channel of open) readCursors.set(channel.model.key, channel.cursor);
      const read = await this.reader!.read(readCursors, this.options.readCount, this.options.flushIntervalMs);
      let gotData = false;
      for (const entry of read.get(stateKey) ?? []) {
        cursors.set(stateKey, entry.id);
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
      this.flushOld();
    }
    // Graceful stop: stage what is buffered, announce it, no RunStop (the scan is not over for us).
    for (const channel of this.channels.values()) this.stageBuffered(channel);
    await this.settle();
    this.throwIfFailed();
    return 'interrupted';
  }

  /** Reads the scan JSON once to learn its state stream; a scan that is gone is skipped. */
  private async initialStateKey(): Promise<string | undefined> {
    const scan = await this.deps.source.readScan(this.entry.scanKey);
    if (!scan) {
      this.deps.logger.warn('scan vanished before it could be followed', { runUid: this.runUid, scanKey: this.entry.scanKey });
      return undefined;
    }
    this.scan = scan;
    return scan.stateStreamKey;
  }

  private async onState(state: number): Promise<void> {
    if (!Number.isInteger(state) || state < ScanState.Created || state > ScanState.Closed) {
      throw new RunFailure('scan state stream is malformed', [{ stream: 'state', message: `state ${state} is not 0..4` }]);
    }
    this.state = state;
    if (state >= ScanState.Prepared) {
      const scan = await this.deps.source.readScan(this.entry.scanKey);
      if (!scan) throw new RunFailure('scan vanished while it was followed', [{ message: `${this.entry.scanKey} no longer exists` }]);
      this.scan = scan;
      if (this.channels.size === 0 && !this.started) await this.startRun(scan);
    }
    if (state === ScanState.Closed) this.closedSeen = true;
  }

  private started = false;

  /** RunStart, the primary descriptor and the resources of channels whose point shape is known. */
  private async startRun(scan: BlissScan): Promise<void> {
    this.started = true;
    const specs: ChannelSpec[] = [];
    for (const model of scan.streams) {
      if (!isNumericEncoding(model.encoding)) {
        if (model.encoding.type === 'json') {
          this.deps.logger.info('JSON stream not archived by this bridge version; skipped', { runUid: this.runUid, stream: model.name });
          continue;
        }
        throw new RunFailure('stream encoding is not supported', [{ stream: model.name, message: `unknown encoding type ${JSON.stringify(model.encoding.type)}` }]);
      }
      let codec: ChannelCodec;
      try {
        codec = codecOf(model.name, model.encoding);
      } catch (error) {
        throw new RunFailure('stream encoding is not supported', [{ stream: model.name, message: (error as Error).message }]);
      }
      const free = hasFreeDimension(codec.shape);
      const channel: Channel = {
        model, codec, cursor: '0-0', expected: 0, resourceSent: false,
        ...(free ? {} : { pointShape: [...codec.shape] }),
        buffer: [], bufferStart: 0, bufferedPoints: 0, bufferedBytes: 0, bufferedSince: 0,
      };
      this.channels.set(model.name, channel);
      const units = unitsOf(scan, model.name, model.info);
      specs.push({
        name: model.name, streamPk: model.pk, dtype: codec.dtype,
        shape: codec.shape.map((d) => (d === -1 ? null : d)), ...(units ? { units } : {}),
      });
    }
    const now = this.now();
    const opening: OutgoingEvent[] = [{ detailType: DetailType.RunStart, source: EventSource.Bridge, detail: runStartOf(scan, this.options.beamline, now) }];
    if (specs.length > 0) {
      opening.push({ detailType: DetailType.EventDescriptor, source: EventSource.Bridge, detail: descriptorOf(this.runUid, specs, now) });
    }
    for (const channel of this.channels.values()) {
      if (channel.pointShape) opening.push(this.resourceEvent(channel, channel.pointShape));
    }
    this.deps.logger.info('run started', { runUid: this.runUid, scanKey: scan.key, channels: specs.length, dataset: scan.identity.dataset });
    await this.emit(opening);
  }

  private resourceEvent(channel: Channel, shape: number[]): OutgoingEvent {
    channel.resourceSent = true;
    this.resources++;
    return {
      detailType: DetailType.StreamResource, source: EventSource.Bridge,
      detail: streamResourceOf(this.runUid, this.deps.store.bucket, { name: channel.model.name, dtype: channel.codec.dtype, shape }),
    };
  }

  private onData(channel: Channel, entries: StreamEntry[]): void {
    for (const entry of entries) {
      channel.cursor = entry.id;
      const decoded = decodeEntry(channel.codec, entry.id, entry.fields);
      if (decoded.kind === 'seal') {
        if (decoded.total !== channel.expected) {
          throw new InvalidInputError(
            `stream ${channel.model.name}: sealed with ${decoded.total} points, ${channel.expected} received`,
            { stream: channel.model.name, index: channel.expected },
          );
        }
        channel.sealedTotal = decoded.total;
        this.stageBuffered(channel);
        return;
      }
      checkContiguous(channel.model.name, channel.expected, decoded.start);
      if (!channel.pointShape) {
        channel.pointShape = decoded.pointShape;
        void this.emit([this.resourceEvent(channel, decoded.pointShape)]).catch(() => undefined);
      } else if (decoded.pointShape.some((d, i) => d !== channel.pointShape![i])) {
        throw new InvalidInputError(
          `stream ${channel.model.name}: point shape changed from [${channel.pointShape.join(', ')}] to [${decoded.pointShape.join(', ')}] at entry ${decoded.start}`,
          { stream: channel.model.name, index: decoded.start },
        );
      }
      if (channel.bufferedPoints === 0) {
        channel.bufferStart = decoded.start;
        channel.bufferedSince = Date.now();
      }
      channel.buffer.push(decoded.bytes);
      channel.bufferedPoints += decoded.count;
      channel.bufferedBytes += decoded.bytes.length;
      channel.expected = decoded.start + decoded.count;
      const pointBytes = decoded.count > 0 ? decoded.bytes.length / decoded.count : 0;
      const bound = Math.max(1, Math.min(this.options.chunkPoints, pointBytes > 0 ? Math.floor(this.options.chunkBytes / pointBytes) : Infinity));
      while (channel.bufferedPoints >= bound) this.stage(channel, bound);
    }
  }

  private flushOld(): void {
    const limit = Date.now() - this.options.flushIntervalMs;
    for (const channel of this.channels.values()) {
      if (channel.bufferedPoints > 0 && channel.bufferedSince <= limit) this.stageBuffered(channel);
    }
  }

  private stageBuffered(channel: Channel): void {
    if (channel.bufferedPoints > 0) this.stage(channel, channel.bufferedPoints);
  }

  /** Takes the first `points` buffered points of a channel, stages them and announces the chunk. */
  private stage(channel: Channel, points: number): void {
    const all = channel.buffer.length === 1 ? channel.buffer[0]! : Buffer.concat(channel.buffer, channel.bufferedBytes);
    const pointBytes = channel.bufferedBytes / channel.bufferedPoints;
    const take = points * pointBytes;
    const bytes = all.subarray(0, take);
    const rest = all.subarray(take);
    const start = channel.bufferStart;
    const stop = start + points;
    channel.buffer = rest.length > 0 ? [rest] : [];
    channel.bufferedPoints -= points;
    channel.bufferedBytes = rest.length;
    channel.bufferStart = stop;
    channel.bufferedSince = Date.now();
    const name = channel.model.name;
    const task = (async () => {
      const stored = await this.deps.store.put(stagingChunkKey(this.runUid, name, start, stop), bytes);
      const detail = streamDatumOf(this.runUid, this.deps.store.bucket, name, start, stop, stored);
      await this.emit([{ detailType: DetailType.StreamDatum, source: EventSource.Bridge, detail }]);
      this.datums++;
    })().catch((error: unknown) => {
      this.failure ??= error instanceof RunFailure ? error
        : new RunFailure('chunk could not be staged or announced', [{ stream: name, index: start, message: error instanceof Error ? error.message : String(error) }], { cause: error });
    });
    this.inflight.add(task);
    void task.finally(() => this.inflight.delete(task));
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

  /** CLOSED and all sealed: final scan_info staged, then RunStop once everything before it was accepted. */
  private async finish(): Promise<FollowerResult> {
    await this.settle();
    this.throwIfFailed();
    const scan = (await this.deps.source.readScan(this.entry.scanKey)) ?? this.scan!;
    this.scan = scan;
    if (!this.started) await this.startRun(scan);
    const infoRef = await this.deps.store.put(stagingScanInfoKey(this.runUid), JSON.stringify(scan.info), 'application/json');
    const stop = runStopOf(scan, {
      points: this.pointsPerChannel(),
      documents: { descriptor: this.channels.size > 0 ? 1 : 0, stream_resource: this.resources, stream_datum: this.datums },
      scanInfoRef: { bucket: this.deps.store.bucket, key: infoRef.key, bytes: infoRef.bytes, sha256: infoRef.sha256 },
    }, this.now());
    await this.emit([{ detailType: DetailType.RunStop, source: EventSource.Bridge, detail: stop }]);
    return 'stopped';
  }

  /**
   * Queues documents for the bus; resolves once PutEvents accepted all of them. Queued documents
   * go out in order, several per request.
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
    while (this.queue.length > 0) {
      const groups = this.queue.splice(0);
      const events = groups.flatMap((g) => g.events);
      try {
        const outcome = await this.deps.publisher.publish(events);
        const reasons = new Map(outcome.rejected.map((r) => [r.event, r.reason]));
        for (const group of groups) {
          const refused = group.events.filter((e) => reasons.has(e));
          if (refused.length === 0) {
            group.resolve();
          } else {
            group.reject(new RunFailure('documents were refused by the bus', refused.map((e) => ({
              message: `${e.detailType} ${(e.detail as { uid?: string }).uid ?? ''}: ${reasons.get(e)}`,
            }))));
          }
        }
      } catch (error) {
        for (const group of groups) group.reject(error);
      }
    }
  }
}
