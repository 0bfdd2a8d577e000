/** The options of a bridge (bridge/bridge.ts) and of a bridge process (bridge/cli.ts), with their defaults. */
import type { AwsConnection } from '../src/adapters/aws-clients.js';
import { DEFAULT_LIMITS } from './bounds.js';
import { DEFAULT_READ_BYTES } from './scan-reads.js';
import type { FollowerOptions } from './scan-follower-types.js';
import type { BlueskyBridgeOptions } from './bluesky-bridge.js';
import { DEFAULT_LIMA_FILE_WAIT_MS } from './lima-follower.js';
import { DEFAULT_HEARTBEAT_SECONDS } from './heartbeat.js';

export interface BridgeOptions extends FollowerOptions {
  /**
   * Where to start when there is no checkpoint: `$` new scans and the scans still running in the
   * history (not CLOSED yet), `0` every scan still in Redis, or a history id to start after.
   */
  from: string;
  /** How long one blocking read of the history waits (ms). */
  historyBlockMs: number;
  /** Checkpoint file (JSON, replaced atomically); without it nothing survives a restart. */
  checkpointPath?: string;
  /** JSONL file receiving the events the bus refused for good. */
  deadLetterPath?: string;
  /** Bytes of chunk data held at once (all scans) before the reads pause. */
  maxBufferedBytes: number;
  /** Also follow a Redis stream of Bluesky documents (docs/bluesky.md). */
  bluesky?: BlueskyBridgeOptions;
  /**
   * Operator-set folders Lima files must be below (besides the scan's own folder and data-policy folder, both from
   * Redis). Required: a bridge without it refuses to start (a hostile scan in Redis could otherwise name any host file).
   * Passed through the scan follower's options to its Lima streams (LimaOptions.limaRoots).
   */
  limaRoots: readonly string[];
  /** A Bridge Heartbeat event every this many seconds (bridge/heartbeat.ts, sent by the bridge process: startBridge); 0: none. */
  heartbeatSeconds: number;
}

export const defaultBridgeOptions = {
  from: '$',
  historyBlockMs: 500,
  chunkPoints: 1_000_000,
  chunkBytes: 1024 * 1024,
  flushIntervalMs: 1_000,
  readCount: 1_000,
  readBytes: DEFAULT_READ_BYTES,
  maxInflightChunks: 8,
  maxBufferedBytes: 256 * 1024 * 1024,
  limaFileWaitMs: DEFAULT_LIMA_FILE_WAIT_MS,
  maxGapPoints: DEFAULT_LIMITS.maxGapPoints,
  maxStreamPoints: DEFAULT_LIMITS.maxStreamPoints,
  heartbeatSeconds: DEFAULT_HEARTBEAT_SECONDS,
} as const satisfies Omit<BridgeOptions, 'beamline' | 'limaRoots'>;

/** Why a bridge without Lima roots does not start. */
export const LIMA_ROOT_REQUIRED =
  '--lima-root is required (BRIDGE_LIMA_ROOT): the folders Lima detectors save to, e.g. /data. ' +
  "Lima file paths come from Redis: the bridge reads a Lima file only below one of these folders (and below the scan's own data-policy folder)";

/** Configuration of a bridge process, validated at the edge (bridge/cli.ts or tests). */
export interface BridgeConfig extends Partial<Omit<BridgeOptions, 'beamline' | 'limaRoots'>> {
  /** Required (see BridgeOptions.limaRoots). */
  limaRoots: readonly string[];
  redisUrl: string;
  bucket: string;
  eventBusName: string;
  beamline: string;
  aws: AwsConnection;
  logLevel?: string;
  /** PutEvents attempts per entry. */
  maxPublishAttempts?: number;
}
