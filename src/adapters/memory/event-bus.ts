/**
 * An EventPublisher in memory: keeps the events it accepts, in order. A test may make it refuse
 * entries (per entry: transient or not, with the bus's reason) or fail whole calls (a request that
 * failed), as EventBridge does. For unit tests and nothing in production.
 */
import type { EventPublisher, OutgoingEvent, PublishOutcome } from '../../core/ports.js';

export interface BusRefusal {
  reason: string;
  transient: boolean;
}

export interface MemoryEventBusOptions {
  /** Whether the bus refuses this entry, and why; undefined accepts it. */
  refuse?: (event: OutgoingEvent) => BusRefusal | undefined;
  /** An error that fails the whole call number `call` (1-based); undefined lets the call through. */
  fail?: (call: number) => Error | undefined;
}

export class MemoryEventBus implements EventPublisher {
  /** Events accepted, in the order they were accepted. */
  readonly events: OutgoingEvent[] = [];
  /** Calls of publish so far (failed ones included). */
  calls = 0;

  constructor(private readonly options: MemoryEventBusOptions = {}) {}

  async publish(events: readonly OutgoingEvent[]): Promise<PublishOutcome> {
    this.calls += 1;
    const error = this.options.fail?.(this.calls);
    if (error) throw error;
    const rejected: PublishOutcome['rejected'] = [];
    for (const event of events) {
      const refusal = this.options.refuse?.(event);
      if (refusal) rejected.push({ event, ...refusal });
      else this.events.push(event);
    }
    return { accepted: events.length - rejected.length, rejected };
  }
}
