import { PutEventsCommand, type PutEventsRequestEntry, type PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import type { EventPublisher, OutgoingEvent, PublishOutcome } from '../core/ports.js';

/** The one call the publisher needs from an EventBridge client (EventBridgeClient satisfies it). */
export interface PutEventsClient {
  send(command: PutEventsCommand): Promise<{ FailedEntryCount?: number | undefined; Entries?: PutEventsResultEntry[] | undefined }>;
}

export interface EventBridgePublisherOptions {
  eventBusName: string;
  /** Attempts per entry before it is reported as rejected (default 6). */
  maxAttempts?: number;
  /** First backoff delay in ms; doubles per attempt, with full jitter (default 100). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** PutEvents limits: 10 entries and 256 KiB per request (and per entry). */
export const MAX_ENTRIES_PER_PUT = 10;
export const MAX_PUT_BYTES = 256 * 1024;

/** Error codes worth retrying; anything else (MalformedDetail, ValidationException …) fails the same way again. */
const TRANSIENT_CODES = new Set([
  'ThrottlingException',
  'InternalException',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** Prefix of the reason given for an entry refused only because its attempts ran out (such rejections say `transient: true`). */
export const GAVE_UP = 'gave up after';

/** Size of an entry as EventBridge counts it: detail-type + source + detail + resources (+ 14 for Time). */
export function entrySize(entry: PutEventsRequestEntry): number {
  let size = entry.Time ? 14 : 0;
  for (const part of [entry.Source, entry.DetailType, entry.Detail]) if (part) size += Buffer.byteLength(part, 'utf8');
  for (const resource of entry.Resources ?? []) size += Buffer.byteLength(resource, 'utf8');
  return size;
}

/**
 * Request-level errors that concern the entries themselves. Every other request-level error
 * (throttling, 5xx, network, expired or refused credentials, a missing bus) says nothing about
 * the entries: they are retried, and the bridge keeps them until the request goes through.
 */
const PERMANENT_REQUEST_ERRORS = new Set(['ValidationException', 'InvalidParameterException', 'SerializationException']);

function isTransientError(error: unknown): boolean {
  const e = error as { name?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  if (e?.name && TRANSIENT_CODES.has(e.name)) return true;
  if (e?.name && !PERMANENT_REQUEST_ERRORS.has(e.name)) return true;
  if (e?.$retryable) return true;
  const status = e?.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  return true; // network errors carry no HTTP status
}

interface Pending {
  event: OutgoingEvent;
  entry: PutEventsRequestEntry;
  size: number;
  attempts: number;
  lastError?: string;
}

/**
 * EventPublisher on EventBridge PutEvents: packs entries into requests within the limits, resends
 * only the entries that failed with a transient code (exponential backoff, full jitter), and
 * reports the others — oversize, permanently refused or out of attempts — as rejected with a reason.
 */
export class EventBridgePublisher implements EventPublisher {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    private readonly client: PutEventsClient,
    private readonly options: EventBridgePublisherOptions,
  ) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 6);
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 5_000;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = options.random ?? Math.random;
  }

  async publish(events: readonly OutgoingEvent[]): Promise<PublishOutcome> {
    const outcome: PublishOutcome = { accepted: 0, rejected: [] };
    let pending: Pending[] = [];
    for (const event of events) {
      const entry: PutEventsRequestEntry = {
        EventBusName: this.options.eventBusName,
        Source: event.source,
        DetailType: event.detailType,
        Detail: JSON.stringify(event.detail),
      };
      const size = entrySize(entry);
      if (size > MAX_PUT_BYTES) {
        outcome.rejected.push({ event, reason: `entry is ${size} bytes, above the PutEvents limit of ${MAX_PUT_BYTES}`, transient: false });
      } else {
        pending.push({ event, entry, size, attempts: 0 });
      }
    }
    for (let round = 0; pending.length > 0; round++) {
      if (round > 0) await this.sleep(this.backoff(round));
      const retry: Pending[] = [];
      for (const batch of this.batches(pending)) {
        await this.put(batch, outcome, retry);
      }
      pending = [];
      for (const item of retry) {
        if (item.attempts >= this.maxAttempts) {
          outcome.rejected.push({
            event: item.event,
            reason: `${GAVE_UP} ${item.attempts} attempts: ${item.lastError ?? 'unknown error'}`,
            transient: true,
          });
        } else {
          pending.push(item);
        }
      }
    }
    return outcome;
  }

  private backoff(round: number): number {
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (round - 1));
    return Math.round(this.random() * cap);
  }

  /** Requests of at most 10 entries and 256 KiB, in the order given. */
  private *batches(items: Pending[]): Generator<Pending[]> {
    let batch: Pending[] = [];
    let bytes = 0;
    for (const item of items) {
      if (batch.length === MAX_ENTRIES_PER_PUT || bytes + item.size > MAX_PUT_BYTES) {
        yield batch;
        batch = [];
        bytes = 0;
      }
      batch.push(item);
      bytes += item.size;
    }
    if (batch.length > 0) yield batch;
  }

  private async put(batch: Pending[], outcome: PublishOutcome, retry: Pending[]): Promise<void> {
    for (const item of batch) item.attempts++;
    let result: Awaited<ReturnType<PutEventsClient['send']>>;
    try {
      result = await this.client.send(new PutEventsCommand({ Entries: batch.map((b) => b.entry) }));
    } catch (error) {
      const message = `${(error as Error).name ?? 'Error'}: ${(error as Error).message ?? String(error)}`;
      for (const item of batch) {
        if (isTransientError(error)) {
          item.lastError = message;
          retry.push(item);
        } else {
          outcome.rejected.push({ event: item.event, reason: message, transient: false });
        }
      }
      return;
    }
    const entries = result.Entries ?? [];
    batch.forEach((item, i) => {
      const entry = entries[i];
      if (entry && !entry.ErrorCode && entry.EventId) {
        outcome.accepted++;
        return;
      }
      const code = entry?.ErrorCode ?? 'MissingResult';
      const reason = `${code}: ${entry?.ErrorMessage ?? (entry ? 'no event id' : 'no result entry for this event')}`;
      if (TRANSIENT_CODES.has(code) || code === 'MissingResult') {
        item.lastError = reason;
        retry.push(item);
      } else {
        outcome.rejected.push({ event: item.event, reason, transient: false });
      }
    });
  }
}
