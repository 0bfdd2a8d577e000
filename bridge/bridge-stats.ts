/** Counters of a bridge process, shared by its followers; shown by the status view and the health endpoint. */
export interface BridgeStats {
  scansStarted: number;
  pointsStaged: number;
  chunksStaged: number;
  bytesStaged: number;
  /** PutEvents entries accepted. */
  eventsSent: number;
  /** PutEvents entries sent again after a transient refusal (throttling, internal error). */
  putEventsRetries: number;
  /** S3 requests retried by the bridge (after the SDK's own retries). */
  s3Retries: number;
  /** Runs failed and other errors logged at ERROR. */
  errors: number;
  /** Events refused for good, written to the dead-letter file. */
  deadLetters: number;
  /** Index ranges found missing from Redis (trimmed streams). */
  gaps: number;
  /** Data stream reads (XREAD), and how many of them were issued ahead, while the previous reply was processed. */
  reads: number;
  readsAhead: number;
  /** Largest reply of one data stream read (bytes of field values, estimated from each stream's last entry): about `readBytes` at most. */
  largestReadBytes: number;
  lastError?: string;
}

export function newStats(): BridgeStats {
  return {
    scansStarted: 0,
    pointsStaged: 0,
    chunksStaged: 0,
    bytesStaged: 0,
    eventsSent: 0,
    putEventsRetries: 0,
    s3Retries: 0,
    errors: 0,
    deadLetters: 0,
    gaps: 0,
    reads: 0,
    readsAhead: 0,
    largestReadBytes: 0,
  };
}

/** Exponential backoff with full jitter: a random delay in [0, min(max, base·2^(attempt-1))]. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

/**
 * Bytes of chunk data held by the whole bridge (staged but not yet committed). Followers stop
 * reading Redis while it is above the limit, so a slow AWS does not grow the memory.
 */
export class MemoryBudget {
  used = 0;
  peak = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly limit: number) {}

  take(bytes: number): void {
    this.used += bytes;
    this.peak = Math.max(this.peak, this.used);
  }

  give(bytes: number): void {
    this.used -= bytes;
    if (this.used <= this.limit) for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves when the budget has room (or when `abort` resolves). */
  async waitForRoom(abort: Promise<void>): Promise<void> {
    while (this.used > this.limit) {
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), abort]);
      if (this.used > this.limit) {
        const settled = await Promise.race([abort.then(() => true), Promise.resolve(false)]);
        if (settled) return;
      }
    }
  }
}
