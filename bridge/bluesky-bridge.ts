/**
 * The Bridge's hook for the Bluesky document stream: builds one BlueskyFollower on the bridge's
 * Redis source, object store, bus publisher, checkpoint, dead-letter file and memory budget, and
 * runs it next to the BLISS history loop (bridge.ts). Configured by `--bluesky-stream`.
 */
import type { EventPublisher, ObjectStore, OutgoingEvent } from '../src/core/ports.js';
import type { ScanSource, StreamReader } from '../src/core/bliss/scan-source.js';
import type { Logger } from '../src/adapters/logger.js';
import type { BridgeStats, MemoryBudget } from './bridge-stats.js';
import { checkBlueskyCheckpoint, type CheckpointStore } from './checkpoint/index.js';
import type { FollowerOptions } from './scan-follower-types.js';
import { BlueskyFollower, type BlueskyStatus } from './bluesky-follower.js';

/**
 * Entries per XREAD of the Bluesky stream. An entry may carry up to 8 MiB of JSON (the publisher's
 * default max_entry_bytes) and Redis cannot bound a read by bytes: 16 entries keep one read under
 * 128 MiB when the bridge catches up on a stream of large event pages (BLISS streams keep readCount).
 */
export const BLUESKY_READ_COUNT = 16;

export type { BlueskyStatus } from './bluesky-follower.js';

export interface BlueskyBridgeOptions {
  /** Redis stream key (tools/bluesky-publisher writes `bluesky:documents`). */
  stream: string;
  /** Without a checkpoint: `0` the whole stream (default), or an entry id to start after. */
  from?: string;
  /** Data policy for runs whose metadata does not say (the beamline comes from --beamline). */
  proposal?: string;
  session?: string;
  collection?: string;
  dataset?: string;
}

export interface BlueskyHookDeps {
  source: ScanSource;
  store: ObjectStore;
  publisher: EventPublisher;
  logger: Logger;
  checkpoint: CheckpointStore;
  stats: BridgeStats;
  budget: MemoryBudget;
  deadLetter: (event: OutgoingEvent, reason: string, context: Record<string, unknown>) => Promise<void>;
}

export class BlueskyBridgeHook {
  private readonly follower: BlueskyFollower;
  private readonly reader: StreamReader;
  private loop?: Promise<void>;
  error?: unknown;

  constructor(
    private readonly deps: BlueskyHookDeps,
    options: FollowerOptions,
    bluesky: BlueskyBridgeOptions,
  ) {
    // Fail at start on a damaged checkpoint, with the file named.
    const existing = checkBlueskyCheckpoint(deps.checkpoint.data.bluesky, bluesky.stream, deps.checkpoint.path);
    if (existing) deps.checkpoint.data.bluesky = existing;
    else delete deps.checkpoint.data.bluesky;
    this.reader = deps.source.openReader();
    this.follower = new BlueskyFollower(
      {
        reader: this.reader,
        store: deps.store,
        publisher: deps.publisher,
        logger: deps.logger,
        stats: deps.stats,
        budget: deps.budget,
        deadLetter: deps.deadLetter,
        checkpoint: () => deps.checkpoint.data.bluesky,
        setCheckpoint: (cp) => {
          deps.checkpoint.data.bluesky = cp;
          deps.checkpoint.touch();
        },
        saveCheckpoint: () => deps.checkpoint.touch(),
      },
      {
        stream: bluesky.stream,
        from: bluesky.from ?? '0',
        policy: {
          beamline: options.beamline,
          proposal: bluesky.proposal,
          session: bluesky.session,
          collection: bluesky.collection,
          dataset: bluesky.dataset,
        },
        chunkPoints: options.chunkPoints,
        chunkBytes: options.chunkBytes,
        readCount: Math.min(options.readCount, BLUESKY_READ_COUNT),
        blockMs: options.flushIntervalMs,
        maxInflightChunks: options.maxInflightChunks,
        ...(options.retryBaseMs !== undefined ? { retryBaseMs: options.retryBaseMs } : {}),
        ...(options.retryMaxMs !== undefined ? { retryMaxMs: options.retryMaxMs } : {}),
      },
    );
  }

  start(): void {
    this.loop ??= this.follower.run().catch((error: unknown) => {
      this.error = error;
      this.deps.stats.errors++;
      this.deps.logger.error('Bluesky follower stopped on an error', { error: String(error) });
    });
  }

  status(): BlueskyStatus {
    return this.follower.status();
  }

  idle(): boolean {
    return this.follower.idle();
  }

  async stop(): Promise<void> {
    this.follower.stop();
    await this.loop;
    await this.reader.close().catch(() => undefined);
  }
}
