/** What a scan follower (bridge/scan-follower.ts) is given, and what it reports: its options, dependencies, result and status. */
import type { EventPublisher, ObjectStore } from '../src/core/ports.js';
import type { ScanSource } from '../src/core/bliss/scan-source.js';
import type { Logger } from '../src/adapters/logger.js';
import type { ScanCheckpoint } from './checkpoint/index.js';
import type { BridgeStats, MemoryBudget } from './bridge-stats.js';
import type { ChunkPool } from './chunk-pool.js';
import type { BridgeLimits } from './bounds.js';
import type { ReadPacing } from './scan-reads.js';
import type { DeadLetter } from './staging/sink.js';
import type { LimaOptions } from './lima-follower.js'; // lima

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
