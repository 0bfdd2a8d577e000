/**
 * The bridge's heartbeat: every `intervalSeconds` (default 60; `--heartbeat-seconds`) a `Bridge
 * Heartbeat` event on the bus (events/schemas/bridge-heartbeat.schema.json) saying which bridge of
 * which beamline is alive, which version it runs, whether it is healthy, and how far behind it is:
 * scans in flight, points read from Redis and not yet acknowledged (staged and their StreamDatum
 * accepted), the age of the oldest of them, and how long since it last caught up with the history.
 *
 * On AWS the notifier counts each heartbeat (EMF metric `BridgeHeartbeats`, service `notifier`);
 * the alarm `BridgeHeartbeatAlarm` watches that metric and treats no data as breaching, so a bridge
 * that is down, or cannot reach the bus, raises it (docs/operations.md). The first heartbeat goes
 * out at start; one is never sent while the previous is still being sent (a slow bus skips beats, it
 * does not pile them up). A heartbeat that cannot be sent is logged, never fails the bridge.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { DetailType } from '../src/core/contract/detail-types.js';
import { edgeSourceOf } from './errors.js';
import type { BridgeHeartbeat } from '../src/core/contract/generated-types.js';
import type { EventPublisher } from '../src/core/ports.js';
import type { Logger } from '../src/adapters/logger.js';
import type { FollowerStatus } from './scan-follower-types.js';

/** Default heartbeat period (s): well inside the alarm's default 5 minutes. */
export const DEFAULT_HEARTBEAT_SECONDS = 60;

/** What the heartbeat reads from the bridge at each beat. */
export interface HeartbeatSource {
  status(): {
    caughtUp: boolean;
    active: string[];
    scans: FollowerStatus[];
    bufferedBytes: number;
    redisReconnects: number;
    uptimeSeconds: number;
    bluesky?: { caughtUp: boolean; openRuns: string[] };
  };
  healthy(): { ok: boolean; reason?: string };
}

export interface HeartbeatOptions {
  beamline: string;
  intervalSeconds: number;
  /** Host and process of the bridge (default `<host>:<pid>`). */
  bridgeId?: string;
  /** Software version (default: package.json's). */
  version?: string;
  now?: () => number;
}

/** The project's version (package.json), read once. */
export function bridgeVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export class Heartbeat {
  private timer?: NodeJS.Timeout;
  private sending?: Promise<void>;
  private stopped = false;
  /** When the bridge was last seen caught up (ms; the start until then). */
  private lastCaughtUp: number;
  private readonly now: () => number;
  private readonly bridgeId: string;
  private readonly version: string;
  /** beamline-archive.bridge.<beamline>: what this beamline's bridge role may send. */
  private readonly eventSource: string;
  /** Heartbeats accepted by the bus, and not sent (refused or failed). */
  sent = 0;
  failed = 0;

  constructor(
    private readonly publisher: EventPublisher,
    private readonly source: HeartbeatSource,
    private readonly logger: Logger,
    private readonly options: HeartbeatOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.lastCaughtUp = this.now();
    this.bridgeId = options.bridgeId ?? `${hostname()}:${process.pid}`.slice(0, 256);
    this.version = options.version ?? bridgeVersion();
    this.eventSource = edgeSourceOf(options.beamline);
  }

  /** Sends the first heartbeat now, then one every interval until `stop`. */
  start(): void {
    if (this.timer || this.stopped) return;
    this.beat();
    this.timer = setInterval(() => this.beat(), this.options.intervalSeconds * 1000);
    this.timer.unref();
  }

  /** No heartbeat after this resolves (one being sent is awaited). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sending;
  }

  /** The heartbeat's detail, as the bridge stands now. */
  detail(): BridgeHeartbeat {
    const status = this.source.status();
    const health = this.source.healthy();
    const now = this.now();
    const caughtUp = status.caughtUp && (status.bluesky?.caughtUp ?? true);
    if (caughtUp) this.lastCaughtUp = now;
    let unacknowledged = 0;
    let oldest = 0;
    for (const scan of status.scans) {
      unacknowledged += scan.lagPoints;
      oldest = Math.max(oldest, scan.lagSeconds);
    }
    return {
      beamline: this.options.beamline,
      bridge_id: this.bridgeId,
      version: this.version,
      sent_at: new Date(now).toISOString(),
      interval_seconds: this.options.intervalSeconds,
      uptime_seconds: status.uptimeSeconds,
      healthy: health.ok,
      ...(health.reason ? { reason: health.reason.slice(0, 1000) } : {}),
      lag: {
        active_scans: status.active.length + (status.bluesky?.openRuns.length ?? 0),
        caught_up: caughtUp,
        buffered_bytes: status.bufferedBytes,
        unacknowledged_points: unacknowledged,
        oldest_unacknowledged_seconds: oldest,
        behind_seconds: caughtUp ? 0 : Math.round((now - this.lastCaughtUp) / 100) / 10,
        redis_reconnects: status.redisReconnects,
      },
    };
  }

  private beat(): void {
    if (this.stopped || this.sending) return;
    this.sending = this.send().finally(() => {
      this.sending = undefined;
    });
  }

  private async send(): Promise<void> {
    try {
      const detail = this.detail();
      const outcome = await this.publisher.publish([{ detailType: DetailType.BridgeHeartbeat, source: this.eventSource, detail }]);
      if (outcome.rejected.length > 0) throw new Error(outcome.rejected.map((r) => r.reason).join('; '));
      this.sent++;
      this.logger.debug('heartbeat sent', { lag: detail.lag, healthy: detail.healthy });
    } catch (error) {
      this.failed++;
      this.logger.warn('heartbeat not sent: the bridge alarm will say so if this lasts', { error: String(error) });
    }
  }
}
