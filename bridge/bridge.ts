import { rename, writeFile } from 'node:fs/promises';
import type { EventPublisher, ObjectStore } from '../src/core/ports.js';
import type { HistoryEntry, ScanSource } from '../src/core/bliss/scan-source.js';
import { createAwsClients, type AwsConnection } from '../src/adapters/aws-clients.js';
import { EventBridgePublisher } from '../src/adapters/eventbridge-publisher.js';
import { createLogger, type Logger } from '../src/adapters/logger.js';
import { RedisScanSource } from '../src/adapters/redis-scan-source.js';
import { S3ObjectStore } from '../src/adapters/s3-object-store.js';
import { ScanFollower, type FollowerOptions, type FollowerResult } from './scan-follower.js';

export interface BridgeOptions extends FollowerOptions {
  /** `_SCAN_HISTORY_` id to start after: `$` only new scans, `0` every scan still in Redis. */
  from: string;
  /** How long one blocking read of the history waits (ms). */
  historyBlockMs: number;
  /** File where the last history id whose scan (and every earlier one) was handled is written. */
  checkpointPath?: string;
}

export const defaultBridgeOptions = {
  from: '$',
  historyBlockMs: 500,
  chunkPoints: 10_000,
  chunkBytes: 1024 * 1024,
  flushIntervalMs: 1_000,
  readCount: 1_000,
  maxInflightChunks: 8,
} as const satisfies Omit<BridgeOptions, 'beamline'>;

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
  checkpoint?: string;
}

/**
 * The edge bridge: follows blissdata's `_SCAN_HISTORY_`, and runs one ScanFollower per scan
 * (several at once) that stages chunks in S3 and puts the run documents on the bus.
 */
export class Bridge {
  private readonly followers = new Map<string, ScanFollower>();
  private readonly pendingIds: { id: string; done: boolean }[] = [];
  private stopping = false;
  private loop?: Promise<void>;
  private readonly counts: Record<FollowerResult, number> = { stopped: 0, failed: 0, skipped: 0, interrupted: 0 };
  private historyId = '';
  private caughtUp = false;
  private checkpoint?: string;
  private checkpointWrite = Promise.resolve();
  private loopError?: unknown;

  constructor(private readonly deps: BridgeDeps, private readonly options: BridgeOptions) {}

  start(): void {
    this.loop ??= this.followHistory().catch((error: unknown) => {
      this.loopError = error;
      this.deps.logger.error('history follower stopped on an error', { error: String(error) });
    });
  }

  status(): BridgeStatus {
    return {
      historyId: this.historyId, caughtUp: this.caughtUp, active: [...this.followers.keys()],
      ...this.counts, ...(this.checkpoint ? { checkpoint: this.checkpoint } : {}),
    };
  }

  /** Resolves when the history is read to its end and no scan is being followed. */
  async idle(timeoutMs = 60_000): Promise<BridgeStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.loopError) throw this.loopError;
      if (this.caughtUp && this.followers.size === 0) return this.status();
      if (Date.now() > deadline) throw new Error(`bridge not idle after ${timeoutMs} ms: ${JSON.stringify(this.status())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops reading; followers stage and announce what they buffered (no RunStop for unfinished scans). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const follower of this.followers.values()) follower.stop();
    await this.loop;
    while (this.followers.size > 0) await new Promise((r) => setTimeout(r, 20));
    await this.checkpointWrite;
    await this.deps.source.close();
  }

  private async followHistory(): Promise<void> {
    let cursor = await this.deps.source.resolveHistoryId(this.options.from === '0' ? '0-0' : this.options.from);
    this.historyId = cursor;
    this.deps.logger.info('following scan history', { from: this.options.from, historyId: cursor });
    while (!this.stopping) {
      const entries = await this.deps.source.readHistory(cursor, 100, this.options.historyBlockMs);
      if (entries.length === 0) {
        this.caughtUp = true;
        continue;
      }
      for (const entry of entries) {
        cursor = entry.id;
        this.historyId = cursor;
        if (this.stopping) break;
        await this.handle(entry);
      }
      this.caughtUp = false;
    }
  }

  private async handle(entry: HistoryEntry): Promise<void> {
    const slot = { id: entry.id, done: false };
    this.pendingIds.push(slot);
    const done = (result: FollowerResult) => {
      this.counts[result]++;
      slot.done = true;
      this.advanceCheckpoint();
    };
    if (!entry.scanKey || (await this.deps.source.isGone(entry.scanKey))) {
      this.deps.logger.info('scan skipped: gone or expiring', { scanKey: entry.scanKey, historyId: entry.id });
      done('skipped');
      return;
    }
    if (this.followers.has(entry.scanKey)) return;
    const follower = new ScanFollower(entry, this.deps, this.options);
    this.followers.set(entry.scanKey, follower);
    void follower.run()
      .catch((error: unknown) => {
        this.deps.logger.error('scan follower crashed', { scanKey: entry.scanKey, error: String(error) });
        return 'failed' as const;
      })
      .then((result) => {
        this.followers.delete(entry.scanKey);
        done(result);
      });
  }

  /** The checkpoint is the last history id such that it and every earlier one were handled. */
  private advanceCheckpoint(): void {
    let advanced: string | undefined;
    while (this.pendingIds[0]?.done) advanced = this.pendingIds.shift()!.id;
    if (!advanced) return;
    this.checkpoint = advanced;
    const path = this.options.checkpointPath;
    if (!path) return;
    const id = advanced;
    this.checkpointWrite = this.checkpointWrite
      .then(async () => {
        await writeFile(`${path}.tmp`, `${id}\n`);
        await rename(`${path}.tmp`, path);
      })
      .catch((error: unknown) => this.deps.logger.warn('checkpoint not written', { path, error: String(error) }));
  }
}

/** Configuration of a bridge process, validated at the edge (bridge/cli.ts or tests). */
export interface BridgeConfig extends Partial<Omit<BridgeOptions, 'beamline'>> {
  redisUrl: string;
  bucket: string;
  eventBusName: string;
  beamline: string;
  aws: AwsConnection;
  logLevel?: string;
  /** PutEvents attempts per entry. */
  maxPublishAttempts?: number;
}

export interface RunningBridge {
  bridge: Bridge;
  stop(): Promise<void>;
  idle(timeoutMs?: number): Promise<BridgeStatus>;
  status(): BridgeStatus;
}

/** Composition root: real Redis, S3 and EventBridge clients, started. */
export async function startBridge(config: BridgeConfig): Promise<RunningBridge> {
  const clients = createAwsClients(config.aws);
  const logger = createLogger('bridge', config.logLevel);
  const { redisUrl, bucket, eventBusName, aws: _aws, logLevel: _level, maxPublishAttempts, ...rest } = config;
  const options: BridgeOptions = { ...defaultBridgeOptions, ...stripUndefined(rest), beamline: config.beamline };
  const bridge = new Bridge({
    source: new RedisScanSource(redisUrl),
    store: new S3ObjectStore(clients.s3, bucket),
    publisher: new EventBridgePublisher({ send: (command) => clients.events.send(command) }, {
      eventBusName, ...(maxPublishAttempts ? { maxAttempts: maxPublishAttempts } : {}),
    }),
    logger,
  }, options);
  bridge.start();
  return {
    bridge,
    async stop() {
      await bridge.stop();
      clients.s3.destroy();
      clients.events.destroy();
    },
    idle: (timeoutMs) => bridge.idle(timeoutMs),
    status: () => bridge.status(),
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
