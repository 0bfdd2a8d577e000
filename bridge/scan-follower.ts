import { DetailType, EventSource } from '../src/core/contract/detail-types.js';
import { InvalidInputError } from '../src/core/errors.js';
import { stagingScanInfoKey } from '../src/core/object-keys.js';
import type { OutgoingEvent } from '../src/core/ports.js';
import { descriptorOf, runFailedOf } from '../src/core/event-model/documents.js';
import type { ChannelSpec } from '../src/core/event-model/channels.js';
import { runStartOf, runStopOf } from '../src/core/bliss/run-documents.js';
import { ScanState, type BlissScan } from '../src/core/bliss/scan-model.js';
import type { HistoryEntry } from '../src/core/bliss/scan-source.js';
import type { ScanCheckpoint } from './checkpoint/index.js';
import { DEFAULT_LIMITS, type BridgeLimits } from './bounds.js';
import { Interrupted, RunFailure, runErrorOf } from './errors.js';
import { ScanReads } from './scan-reads.js';
import { ScanChannels, type Channel } from './scan-channels.js';
import { StagingSink } from './staging/sink.js';
import { Stopper } from './staging/stopper.js';
import { LimaStreams } from './lima-follower.js'; // lima
import type { FollowerDeps, FollowerOptions, FollowerResult, FollowerStatus } from './scan-follower-types.js';

/**
 * Follows one BLISS scan from its state and data streams to run documents: RunStart, the
 * descriptor and resources at PREPARED; chunks staged in S3 and their StreamDatum as data comes;
 * RunStop at CLOSED once every chunk is staged and every document accepted. This file is the scan's
 * state machine; its channels' entries are decoded and cut into chunks by bridge/scan-channels.ts
 * (bridge/staging/chunker.ts), staged and announced by bridge/staging/sink.ts, and the reads paced
 * by bridge/scan-reads.ts.
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
  private readonly channels: Map<string, Channel>;
  /** The scan's numeric and JSON channels (bridge/scan-channels.ts). */
  private readonly data: ScanChannels;
  private state = -1;
  private closedSeen = false;
  private failure?: unknown;
  private reads?: ScanReads;
  private readonly stopper = new Stopper();
  private readonly sink: StagingSink;
  private readonly now: () => number;
  private started = false;
  private readonly cp: ScanCheckpoint;
  /** Lima image streams (bridge/lima-follower.ts). */
  private readonly lima: LimaStreams;

  constructor(
    private readonly entry: HistoryEntry,
    private readonly deps: FollowerDeps,
    private readonly options: FollowerOptions,
  ) {
    this.runUid = entry.scanKey.split(':').pop() ?? entry.scanKey;
    this.now = deps.now ?? (() => Date.now() / 1000);
    const limits: BridgeLimits = {
      maxGapPoints: options.maxGapPoints ?? DEFAULT_LIMITS.maxGapPoints,
      maxStreamPoints: options.maxStreamPoints ?? DEFAULT_LIMITS.maxStreamPoints,
    };
    this.cp = deps.checkpoint;
    this.sink = new StagingSink({ ...deps, stopper: this.stopper }, options, { runUid: this.runUid, scanKey: entry.scanKey });
    this.data = new ScanChannels({
      runUid: this.runUid,
      beamline: options.beamline,
      source: deps.source,
      store: deps.store,
      logger: deps.logger,
      stats: deps.stats,
      chunks: deps.chunks,
      checkpoint: this.cp,
      saveCheckpoint: deps.saveCheckpoint,
      ...(deps.flushCheckpoint ? { flushCheckpoint: deps.flushCheckpoint } : {}),
      sink: this.sink,
      limits,
      chunkPoints: options.chunkPoints,
      chunkBytes: options.chunkBytes,
      fail: (error) => {
        this.failure ??= error;
      },
    });
    this.channels = this.data.all;
    // lima: Lima streams are followed apart (files, not payloads), sharing this follower's sink and checkpoint.
    this.lima = new LimaStreams(
      {
        runUid: this.runUid,
        scanKey: entry.scanKey,
        beamline: options.beamline,
        source: deps.source,
        store: deps.store,
        logger: deps.logger,
        stats: deps.stats,
        checkpoint: this.cp,
        saveCheckpoint: deps.saveCheckpoint,
        sink: this.sink,
        stopper: this.stopper,
        fail: (error) => {
          this.failure ??= error;
        },
      },
      options,
    );
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
      scanKey: this.entry.scanKey,
      runUid: this.runUid,
      state: this.state,
      pointsRead: read,
      pointsCommitted: committed,
      lagPoints: read - committed,
      lagSeconds: Number.isFinite(oldest) ? Math.round((Date.now() - oldest) / 100) / 10 : 0,
      inflightChunks: this.sink.inflightChunks,
      gaps,
    };
  }

  async run(): Promise<FollowerResult> {
    const log = { runUid: this.runUid, scanKey: this.entry.scanKey };
    const reader = this.deps.source.openReader();
    this.reads = new ScanReads(reader, this.deps.stats, this.deps.budget, this.options, () => this.stopping);
    try {
      const result = await this.follow();
      if (result === 'stopped')
        this.deps.logger.info('run stopped', { ...log, points: this.pointsPerChannel(), datums: this.datumCount() });
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
        throw new RunFailure('scan was deleted from Redis before it was archived', [
          { message: `${scanKey} no longer exists; ${this.committedSummary()}` },
        ]);
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
          this.deps.logger.warn('stream not sealed at CLOSED; taking the points received', {
            runUid: this.runUid,
            scanKey,
            stream: channel.model.name,
          });
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
        this.data.onData(channel, entries);
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
    throw new RunFailure('scan was deleted from Redis while it was running', [
      { message: `${this.entry.scanKey} deleted at state ${this.state}; ${this.committedSummary()}` },
    ]);
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
      if (!scan)
        throw new RunFailure('scan was deleted from Redis while it was running', [
          { message: `${this.entry.scanKey} no longer exists; ${this.committedSummary()}` },
        ]);
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
      specs.push(await this.data.open(model, scan));
    }
    if (this.cp.opened) {
      this.deps.logger.info('run resumed', { runUid: this.runUid, scanKey: scan.key, committed: this.committedSummary() });
      this.lima.start(); // lima
      const missing = [...this.channels.values()].filter((c) => c.pointShape && !c.cp.resource);
      if (missing.length > 0) await this.data.emitResources(missing);
      return;
    }
    const now = this.now();
    const opening: OutgoingEvent[] = [
      { detailType: DetailType.RunStart, source: EventSource.Bridge, detail: runStartOf(scan, this.options.beamline, now) },
    ];
    if (specs.length > 0) {
      opening.push({ detailType: DetailType.EventDescriptor, source: EventSource.Bridge, detail: descriptorOf(this.runUid, specs, now) });
    }
    const withShape = [...this.channels.values()].filter((c) => c.pointShape);
    opening.push(...withShape.map((c) => this.data.resourceEvent(c, c.pointShape!)));
    this.deps.logger.info('run started', {
      runUid: this.runUid,
      scanKey: scan.key,
      channels: specs.length,
      dataset: scan.identity.dataset,
    });
    await this.sink.emit(opening);
    this.cp.opened = true;
    this.lima.start(); // lima
    for (const c of withShape) c.cp.resource = true;
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
        throw new RunFailure('bridge error while following the scan', [
          { stream: channel.model.name, message: `committed ${channel.cp.committed} of ${channel.sealedTotal} points at the end` },
        ]);
      }
    }
    const infoRef = await this.sink.put(
      stagingScanInfoKey(this.options.beamline, this.runUid),
      JSON.stringify(scan.info),
      'application/json',
    );
    const gaps = [...this.channels.values()].flatMap((c) => c.cp.gaps.map((g) => ({ stream: c.model.name, ...g }))).concat(lima.gaps);
    const stop = runStopOf(
      scan,
      {
        points: { ...this.pointsPerChannel(), ...lima.points },
        documents: {
          descriptor: this.channels.size + this.lima.size > 0 ? 1 : 0,
          stream_resource: [...this.channels.values()].filter((c) => c.cp.resource).length + lima.resources,
          stream_datum: this.datumCount() + lima.datums,
        },
        scanInfoRef: { bucket: this.deps.store.bucket, key: infoRef.key, bytes: infoRef.bytes, sha256: infoRef.sha256 },
        ...(gaps.length > 0 ? { gaps } : {}),
      },
      this.now(),
    );
    await this.sink.emit([{ detailType: DetailType.RunStop, source: EventSource.Bridge, detail: stop }]);
    return 'stopped';
  }
}
