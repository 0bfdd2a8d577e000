/**
 * The one staging sink of the bridge, used by every follower (scan, Bluesky, Lima): chunks put in
 * S3 with retry, documents announced in order through one PutEvents queue with its dead-letter
 * file, and the chunks in flight tracked for backpressure and for a clean stop.
 *
 * - `put`: S3 put retried with backoff until it succeeds or the bridge stops (5xx, timeouts,
 *   expired credentials …): a chunk is never given up while the bridge runs.
 * - `emit`: queues documents; resolves once PutEvents accepted all of them. Queued documents go
 *   out in order, several per request. Entries refused with `transient: true` are sent again
 *   (backoff with jitter) until accepted or the bridge stops; entries refused for good go to the
 *   dead-letter file and the group is rejected with `RefusedByBus` (the run fails).
 * - `stage`: one chunk: memory budget taken, put, its StreamDatum built from what was stored, the
 *   gates it must wait for (its resource accepted, its grid on disk), emitted, counted; then
 *   `done` (the caller commits the range). Failures go to `fail`, never `Interrupted`.
 */
import type { EventPublisher, ObjectStore, OutgoingEvent, StoredObject } from '../../src/core/ports.js';
import type { Logger } from '../../src/adapters/logger.js';
import { backoffDelay, type BridgeStats, type MemoryBudget } from '../bridge-stats.js';
import { Interrupted, RefusedByBus } from '../errors.js';
import type { Stopper } from './stopper.js';

export type DeadLetter = (event: OutgoingEvent, reason: string, context: Record<string, unknown>) => Promise<void>;

export interface SinkDeps {
  store: ObjectStore;
  publisher: EventPublisher;
  logger: Logger;
  stats: BridgeStats;
  budget: MemoryBudget;
  deadLetter: DeadLetter;
  stopper: Stopper;
}

export interface SinkOptions {
  /** Backoff of S3 and PutEvents retries: first delay and cap (ms). */
  retryBaseMs?: number;
  retryMaxMs?: number;
}

/** One chunk to stage. */
export interface ChunkJob {
  key: string;
  bytes: Uint8Array;
  contentType?: string;
  points: number;
  /** The StreamDatum announcing the chunk, from what S3 stored. */
  datum: (stored: StoredObject) => OutgoingEvent;
  /** Promises the datum must wait for before it is emitted (its resource accepted, its grid on disk). */
  gates?: () => (Promise<unknown> | undefined)[];
  /** The datum was accepted: commit the range. */
  done: () => void;
  /** The chunk could not be staged or announced (never called for Interrupted). */
  fail: (error: unknown) => void;
  /** Gives the chunk's buffer back (pooled buffers), once it is staged or given up. */
  release?: () => void;
}

interface Queued {
  events: OutgoingEvent[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class StagingSink {
  private queue: Queued[] = [];
  private draining = false;
  private readonly inflight = new Set<Promise<void>>();

  /** `context` names the run in log lines and dead-letter records ({ runUid, scanKey? }). */
  constructor(
    private readonly deps: SinkDeps,
    private readonly options: SinkOptions,
    private readonly context: Record<string, unknown>,
  ) {}

  get bucket(): string {
    return this.deps.store.bucket;
  }

  /** Chunks being staged or announced now. */
  get inflightChunks(): number {
    return this.inflight.size;
  }

  /** S3 put, retried with backoff until it succeeds or the bridge stops. */
  async put(key: string, body: Uint8Array | string, contentType?: string): Promise<StoredObject> {
    const { stats, logger, store, stopper } = this.deps;
    for (let attempt = 1; ; attempt++) {
      stopper.throwIfStopping();
      try {
        return await store.put(key, body, contentType);
      } catch (error) {
        stats.s3Retries++;
        stats.lastError = `S3 put ${key}: ${String(error)}`;
        if (attempt === 1 || attempt % 10 === 0)
          logger.warn('S3 put failed; retrying', { ...this.context, key, attempt, error: String(error) });
        await this.backoff(attempt);
      }
    }
  }

  /** Sleeps the backoff of retry `attempt`; throws Interrupted once the bridge stops. */
  backoff(attempt: number): Promise<void> {
    return this.deps.stopper.sleep(backoffDelay(attempt, this.options.retryBaseMs ?? 200, this.options.retryMaxMs ?? 10_000));
  }

  /** Stages one chunk in flight (see the file's comment); `backpressure` and `settle` wait for it. */
  stage(job: ChunkJob): void {
    const { budget, stats } = this.deps;
    budget.take(job.bytes.length);
    const task = (async () => {
      try {
        const stored = await this.put(job.key, job.bytes, job.contentType);
        const detail = job.datum(stored);
        for (const gate of job.gates?.() ?? []) if (gate) await gate;
        await this.emit([detail]);
        stats.chunksStaged++;
        stats.pointsStaged += job.points;
        stats.bytesStaged += job.bytes.length;
        job.done();
      } finally {
        budget.give(job.bytes.length);
        job.release?.();
      }
    })().catch((error: unknown) => {
      if (error instanceof Interrupted) return;
      job.fail(error);
    });
    this.inflight.add(task);
    void task.finally(() => this.inflight.delete(task));
  }

  /** Waits while `max` chunks or more are in flight. */
  async backpressure(max: number): Promise<void> {
    while (this.inflight.size >= max) await Promise.race(this.inflight);
  }

  /** Waits for every chunk in flight (and so for their documents). */
  async settle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  /** Queues documents for the bus; resolves once PutEvents accepted all of them (see the file's comment). */
  emit(events: OutgoingEvent[]): Promise<void> {
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
    const { stats, logger, publisher, deadLetter } = this.deps;
    let round = 0;
    while (this.queue.length > 0) {
      const groups = this.queue.splice(0);
      const events = groups.flatMap((g) => g.events);
      let refusals: Map<OutgoingEvent, { reason: string; transient: boolean }>;
      try {
        const outcome = await publisher.publish(events);
        refusals = new Map(outcome.rejected.map((r) => [r.event, r]));
      } catch (error) {
        // The request itself failed (network, a bug in the client): nothing says the entries are wrong.
        refusals = new Map(events.map((e) => [e, { reason: String(error), transient: true }]));
      }
      const retry: Queued[] = [];
      for (const group of groups) {
        const refused = group.events.filter((e) => refusals.has(e));
        if (refused.length === 0) {
          stats.eventsSent += group.events.length;
          group.resolve();
          continue;
        }
        const permanent = refused.filter((e) => !refusals.get(e)!.transient);
        if (permanent.length > 0) {
          for (const e of permanent) {
            stats.deadLetters++;
            await deadLetter(e, refusals.get(e)!.reason, this.context);
          }
          group.reject(
            new RefusedByBus(
              'documents were refused by the bus',
              permanent.map((e) => ({
                message: `${e.detailType} ${(e.detail as { uid?: string }).uid ?? ''}: ${refusals.get(e)!.reason}`,
              })),
            ),
          );
          continue;
        }
        stats.eventsSent += group.events.length - refused.length;
        stats.putEventsRetries += refused.length;
        stats.lastError = `PutEvents: ${refusals.get(refused[0]!)!.reason}`;
        retry.push({ ...group, events: refused });
      }
      if (retry.length === 0) {
        round = 0;
        continue;
      }
      round++;
      if (round === 1 || round % 10 === 0) {
        logger.warn('PutEvents entries still refused; retrying', {
          ...this.context,
          entries: retry.reduce((n, g) => n + g.events.length, 0),
          round,
        });
      }
      try {
        await this.backoff(round);
      } catch (error) {
        for (const group of [...retry, ...this.queue.splice(0)]) group.reject(error);
        return;
      }
      this.queue.unshift(...retry);
    }
  }
}
