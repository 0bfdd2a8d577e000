/** The Bluesky follower's options, what it is given, and its status (bridge/bluesky-follower.ts). */
import type { BlueskyDataPolicyDefaults } from '../../src/core/bluesky/documents.js';
import type { StreamReader } from '../../src/core/bliss/scan-source.js';
import type { EventPublisher, ObjectStore } from '../../src/core/ports.js';
import type { Logger } from '../../src/adapters/logger.js';
import type { BridgeStats, MemoryBudget } from '../bridge-stats.js';
import type { BlueskyCheckpoint } from '../checkpoint/index.js';
import type { DeadLetter } from '../staging/sink.js';

export interface BlueskyFollowerOptions {
  stream: string;
  /** Where to start without a checkpoint: `0` (the whole stream) or an entry id to start after. */
  from: string;
  policy: BlueskyDataPolicyDefaults;
  chunkPoints: number;
  chunkBytes: number;
  readCount: number;
  blockMs: number;
  maxInflightChunks: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /**
   * Documents of a failed run go to one dead-letter summary per run, written at the run's stop
   * document, after this many documents, once the summary is this old when a read ends (0: after
   * every read), and when the follower stops. Defaults: 60 s, 10,000 documents.
   */
  summaryIntervalMs?: number;
  summaryMaxDocuments?: number;
}

export interface BlueskyFollowerDeps {
  reader: StreamReader;
  store: ObjectStore;
  publisher: EventPublisher;
  logger: Logger;
  /** The bridge checkpoint's `bluesky` part (created when absent) and how to get it written. */
  checkpoint: () => BlueskyCheckpoint | undefined;
  setCheckpoint: (cp: BlueskyCheckpoint) => void;
  saveCheckpoint: () => void;
  deadLetter: DeadLetter;
  stats: BridgeStats;
  budget: MemoryBudget;
}

export interface BlueskyStatus {
  stream: string;
  cursor: string;
  caughtUp: boolean;
  openRuns: string[];
  runsStopped: number;
  runsFailed: number;
  resumed: number;
  /** Dead-letter records written: rejected entries and summaries of failed runs' documents. */
  deadLetters: number;
  /** Documents of failed runs read (and summarised in the dead-letter file) since the bridge started. */
  failedRunDocuments: number;
}
