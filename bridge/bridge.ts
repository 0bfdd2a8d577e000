import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { EventPublisher, ObjectStore, OutgoingEvent } from '../src/core/ports.js';
import type { HistoryEntry, ScanSource } from '../src/core/bliss/scan-source.js';
import { ScanState } from '../src/core/bliss/scan-model.js';
import { createBridgeAwsClients } from '../src/adapters/aws-clients.js';
import { EventBridgePublisher } from '../src/adapters/eventbridge-publisher.js';
import { CountingPublisher } from './counting-publisher.js';
import { createLogger, type Logger } from '../src/adapters/logger.js';
import { RedisScanSource } from '../src/adapters/redis-scan-source.js';
import { S3ObjectStore } from '../src/adapters/s3-object-store.js';
import { BridgeError, edgeSourceOf } from './errors.js';
import { MemoryBudget, newStats, type BridgeStats } from './bridge-stats.js';
import { ChunkPool } from './chunk-pool.js';
import { CheckpointStore, compareStreamIds, type ScanCheckpoint, type ScanOutcome } from './checkpoint/index.js';
import { ScanFollower } from './scan-follower.js';
import type { FollowerResult, FollowerStatus } from './scan-follower-types.js';
import { BlueskyBridgeHook, type BlueskyStatus } from './bluesky-bridge.js';
import { Heartbeat } from './heartbeat.js';
import { defaultBridgeOptions, LIMA_ROOT_REQUIRED, type BridgeConfig, type BridgeOptions } from './bridge-options.js';

export interface BridgeDeps {
  source: ScanSource;
  store: ObjectStore;
  publisher: EventPublisher;
  logger: Logger;
}

export interface BridgeStatus {
  historyId: string;
  /** The history has been read up to its end at least once since the last new scan. */
  caughtUp: boolean;
  active: string[];
  stopped: number;
  failed: number;
  skipped: number;
  interrupted: number;
  /** Scans resumed from the checkpoint at start. */
  resumed: number;
  checkpoint?: string;
  checkpointWrites: number;
  scans: FollowerStatus[];
  stats: BridgeStats;
  /** PutEvents entries and their bytes as sent (accepted or not). */
  putEvents: { requests: number; entries: number; bytes: number };
  bufferedBytes: number;
  peakBufferedBytes: number;
  /** Numeric chunk buffers: allocated, reused from the pool, held now, and idle in the pool (bytes). */
  chunkBuffers: { allocated: number; reused: number; outstanding: number; idleBytes: number };
  redisReconnects: number;
  uptimeSeconds: number;
  /** The Bluesky document stream, when followed. */
  bluesky?: BlueskyStatus;
}

/**
 * The edge bridge: follows blissdata's `_SCAN_HISTORY_`, and runs one ScanFollower per scan
 * (several at once) that stages chunks in S3 and puts the run documents on the bus. Progress is
 * kept in a checkpoint (see checkpoint-store.ts); at start the unfinished scans it names are
 * resumed and the history is read on from where every earlier entry was done.
 */
export class Bridge {
  private readonly followers = new Map<string, ScanFollower>();
  private stopping = false;
  private loop?: Promise<void>;
  private readonly counts: Record<FollowerResult, number> = { stopped: 0, failed: 0, skipped: 0, interrupted: 0 };
  private resumed = 0;
  private historyId = '';
  private caughtUp = false;
  private loopError?: unknown;
  private readonly checkpoint: CheckpointStore;
  readonly stats = newStats();
  private readonly budget: MemoryBudget;
  /** Numeric chunk buffers, reused (idle ones: at most a quarter of the budget, 64 MiB). */
  private readonly chunks: ChunkPool;
  private readonly publisher: CountingPublisher;
  private readonly startedAt = Date.now();
  private readonly bluesky?: BlueskyBridgeHook;

  constructor(
    private readonly deps: BridgeDeps,
    private readonly options: BridgeOptions,
  ) {
    if (!options.limaRoots || options.limaRoots.length === 0) throw new BridgeError(LIMA_ROOT_REQUIRED);
    const eventSource = edgeSourceOf(options.beamline);
    this.checkpoint = CheckpointStore.open(options.checkpointPath, (error) => {
      this.stats.errors++;
      deps.logger.error('checkpoint not written', { path: options.checkpointPath, error: String(error) });
    });
    // Never start over silently: a configured checkpoint that is not there is said out loud (bridge engineer).
    if (this.checkpoint.origin === 'missing') {
      deps.logger.warn('no checkpoint file yet (first start, or it was removed): following the history from --from', {
        path: options.checkpointPath,
        from: options.from,
      });
    }
    this.budget = new MemoryBudget(options.maxBufferedBytes);
    this.chunks = new ChunkPool(Math.min(64 * 1024 * 1024, Math.floor(options.maxBufferedBytes / 4)));
    this.publisher = new CountingPublisher(deps.publisher, eventSource);
    // Bluesky document stream (bridge/bluesky-bridge.ts): same store, bus, checkpoint, dead letters and budget.
    if (options.bluesky) {
      this.bluesky = new BlueskyBridgeHook(
        {
          ...deps,
          publisher: this.publisher,
          checkpoint: this.checkpoint,
          stats: this.stats,
          budget: this.budget,
          deadLetter: (event, reason, context) => this.deadLetter(event, reason, context),
        },
        options,
        options.bluesky,
      );
    }
  }

  start(): void {
    this.bluesky?.start();
    this.loop ??= this.followHistory().catch((error: unknown) => {
      this.loopError = error;
      this.stats.errors++;
      this.deps.logger.error('history follower stopped on an error', { error: String(error) });
    });
  }

  status(): BridgeStatus {
    const source = this.deps.source as { reconnects?: number };
    return {
      historyId: this.historyId,
      caughtUp: this.caughtUp,
      active: [...this.followers.keys()],
      ...this.counts,
      resumed: this.resumed,
      ...(this.checkpoint.data.history ? { checkpoint: this.checkpoint.data.history } : {}),
      checkpointWrites: this.checkpoint.writes,
      scans: [...this.followers.values()].map((f) => f.status()),
      stats: { ...this.stats },
      putEvents: { requests: this.publisher.requests, entries: this.publisher.entries, bytes: this.publisher.bytes },
      bufferedBytes: this.budget.used,
      peakBufferedBytes: this.budget.peak,
      chunkBuffers: {
        allocated: this.chunks.allocations,
        reused: this.chunks.reuses,
        outstanding: this.chunks.outstanding,
        idleBytes: this.chunks.idle,
      },
      redisReconnects: source.reconnects ?? 0,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      ...(this.bluesky ? { bluesky: this.bluesky.status() } : {}),
    };
  }

  /** Healthy: the history loop runs and the checkpoint can be written. */
  healthy(): { ok: boolean; reason?: string } {
    if (this.loopError) return { ok: false, reason: `history follower stopped: ${String(this.loopError)}` };
    if (this.checkpoint.lastError) return { ok: false, reason: `checkpoint not written: ${this.checkpoint.lastError}` };
    if (this.bluesky?.error) return { ok: false, reason: `Bluesky follower stopped: ${String(this.bluesky.error)}` };
    return { ok: true };
  }

  /** Resolves when the history is read to its end and no scan is being followed. */
  async idle(timeoutMs = 60_000): Promise<BridgeStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.loopError) throw this.loopError;
      if (this.bluesky?.error) throw this.bluesky.error;
      if (this.caughtUp && this.followers.size === 0 && (this.bluesky?.idle() ?? true)) return this.status();
      if (Date.now() > deadline) throw new Error(`bridge not idle after ${timeoutMs} ms: ${JSON.stringify(this.status())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops reading; chunks in flight finish or are left for the next start; the checkpoint is written. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const follower of this.followers.values()) follower.stop();
    await this.bluesky?.stop();
    await this.loop;
    while (this.followers.size > 0) await new Promise((r) => setTimeout(r, 20));
    await this.checkpoint.flush();
    await this.deps.source.close();
  }

  private async followHistory(): Promise<void> {
    const cp = this.checkpoint.data;
    // Scans the checkpoint names as unfinished: resume them first, in history order.
    const known = Object.values(cp.scans).sort((a, b) => compareStreamIds(a.historyId, b.historyId));
    for (const scan of known) {
      if (scan.outcome || this.stopping) continue;
      this.resumed++;
      this.follow({ id: scan.historyId, scanKey: scan.scanKey }, scan);
    }
    let cursor: string;
    let catchUpUntil: string | undefined;
    if (cp.history || known.length > 0) {
      cursor = cp.history ?? '0-0';
    } else if (this.options.from === '$') {
      // No checkpoint: new scans, and the scans announced before that are still running.
      catchUpUntil = await this.deps.source.resolveHistoryId('$');
      cursor = '0-0';
    } else {
      cursor = this.options.from === '0' ? '0-0' : this.options.from;
    }
    this.historyId = cursor;
    this.deps.logger.info('following scan history', { from: this.options.from, historyId: cursor, resumed: this.resumed, catchUpUntil });
    while (!this.stopping) {
      const entries = await this.deps.source.readHistory(cursor, 100, this.options.historyBlockMs);
      if (entries.length === 0) {
        this.caughtUp = true;
        continue;
      }
      this.caughtUp = false;
      for (const entry of entries) {
        if (this.stopping) break;
        cursor = entry.id;
        this.historyId = cursor;
        if (cp.scans[entry.id]) continue; // resumed above, or already done
        const catchingUp = catchUpUntil !== undefined && compareStreamIds(entry.id, catchUpUntil) <= 0;
        await this.handle(entry, catchingUp);
      }
    }
  }

  private async handle(entry: HistoryEntry, catchingUp: boolean): Promise<void> {
    const scan: ScanCheckpoint = { historyId: entry.id, scanKey: entry.scanKey, opened: false, streams: {} };
    this.checkpoint.data.scans[entry.id] = scan;
    if (!entry.scanKey || (await this.deps.source.isGone(entry.scanKey))) {
      this.deps.logger.info('scan skipped: gone or expiring', { scanKey: entry.scanKey, historyId: entry.id });
      this.finished(scan, 'skipped');
      return;
    }
    if (catchingUp) {
      const model = await this.deps.source.readScan(entry.scanKey).catch(() => undefined);
      const state = model ? await this.deps.source.lastState(model.stateStreamKey) : undefined;
      if (state === undefined || state >= ScanState.Closed) {
        this.deps.logger.info('scan closed before the bridge started (no checkpoint, --from $); not archived', {
          scanKey: entry.scanKey,
          historyId: entry.id,
        });
        this.finished(scan, 'skipped');
        return;
      }
      this.deps.logger.info('catching up a scan that started before the bridge', { scanKey: entry.scanKey, historyId: entry.id, state });
    }
    this.follow(entry, scan);
  }

  private follow(entry: HistoryEntry, scan: ScanCheckpoint): void {
    if (this.followers.has(entry.scanKey)) return;
    this.stats.scansStarted++;
    const follower = new ScanFollower(
      entry,
      {
        ...this.deps,
        publisher: this.publisher,
        checkpoint: scan,
        saveCheckpoint: () => this.checkpoint.touch(),
        flushCheckpoint: () => this.checkpoint.flush(),
        deadLetter: (event, reason, context) => this.deadLetter(event, reason, context),
        stats: this.stats,
        budget: this.budget,
        chunks: this.chunks,
      },
      this.options,
    );
    this.followers.set(entry.scanKey, follower);
    void follower
      .run()
      .catch((error: unknown) => {
        this.stats.errors++;
        this.deps.logger.error('scan follower crashed', { scanKey: entry.scanKey, error: String(error) });
        return 'failed' as const;
      })
      .then((result) => {
        this.followers.delete(entry.scanKey);
        this.counts[result]++;
        if (result !== 'interrupted') this.finished(scan, result);
      });
  }

  /** Marks a scan done and moves the history watermark over every contiguous done entry. */
  private finished(scan: ScanCheckpoint, outcome: ScanOutcome): void {
    scan.outcome = outcome;
    scan.streams = {};
    const cp = this.checkpoint.data;
    const ids = Object.keys(cp.scans).sort(compareStreamIds);
    for (const id of ids) {
      if (!cp.scans[id]!.outcome) break;
      cp.history = id;
      delete cp.scans[id];
    }
    this.checkpoint.touch();
  }

  private async deadLetter(event: OutgoingEvent, reason: string, context: Record<string, unknown>): Promise<void> {
    this.deps.logger.error('event refused by the bus for good; written to the dead-letter file', {
      ...context,
      detailType: event.detailType,
      reason,
      deadLetterPath: this.options.deadLetterPath,
    });
    if (!this.options.deadLetterPath) return;
    const line = JSON.stringify({
      time: new Date().toISOString(),
      reason,
      ...context,
      detailType: event.detailType,
      source: event.source,
      detail: event.detail,
    });
    try {
      await mkdir(dirname(this.options.deadLetterPath), { recursive: true });
      await appendFile(this.options.deadLetterPath, `${line}\n`);
    } catch (error) {
      this.stats.errors++;
      this.deps.logger.error('dead-letter file not written; the event is in this log line', { line, error: String(error) });
    }
  }
}

export interface RunningBridge {
  bridge: Bridge;
  /** Liveness and lag on the bus, every `heartbeatSeconds` (bridge/heartbeat.ts); none when 0. */
  heartbeat?: Heartbeat;
  stop(): Promise<void>;
  idle(timeoutMs?: number): Promise<BridgeStatus>;
  status(): BridgeStatus;
}

/** Composition root: real Redis, S3 and EventBridge clients, started. */
export async function startBridge(config: BridgeConfig): Promise<RunningBridge> {
  const { s3, events } = createBridgeAwsClients(config.aws);
  const logger = createLogger('bridge', config.logLevel);
  const { redisUrl, bucket, eventBusName, aws: _aws, logLevel: _level, maxPublishAttempts, ...rest } = config;
  const options: BridgeOptions = {
    ...defaultBridgeOptions,
    ...stripUndefined(rest),
    beamline: config.beamline,
    limaRoots: config.limaRoots,
  };
  let lastRedisLog = 0;
  const publisher = new EventBridgePublisher(
    { send: (command) => events.send(command) },
    {
      eventBusName,
      ...(maxPublishAttempts ? { maxAttempts: maxPublishAttempts } : {}),
    },
  );
  const bridge = new Bridge(
    {
      source: new RedisScanSource(redisUrl, {
        onError: (role, error) => {
          if (Date.now() - lastRedisLog < 5_000) return;
          lastRedisLog = Date.now();
          logger.warn('Redis connection error; reconnecting with backoff', { role, error: error.message });
        },
      }),
      store: new S3ObjectStore(s3, bucket),
      publisher,
      logger,
    },
    options,
  );
  bridge.start();
  const heartbeat =
    options.heartbeatSeconds > 0
      ? new Heartbeat(publisher, bridge, logger, { beamline: options.beamline, intervalSeconds: options.heartbeatSeconds })
      : undefined;
  heartbeat?.start();
  return {
    bridge,
    ...(heartbeat ? { heartbeat } : {}),
    async stop() {
      await heartbeat?.stop();
      await bridge.stop();
      s3.destroy();
      events.destroy();
    },
    idle: (timeoutMs) => bridge.idle(timeoutMs),
    status: () => bridge.status(),
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
