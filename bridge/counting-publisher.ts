import type { EventPublisher, OutgoingEvent, PublishOutcome } from '../src/core/ports.js';
import { entrySize } from '../src/adapters/eventbridge-publisher.js';

/** Counts what goes to PutEvents (status view, benchmark); sends every event as this beamline's bridge (src/core/access/edge-source.ts). */
export class CountingPublisher implements EventPublisher {
  requests = 0;
  entries = 0;
  bytes = 0;
  constructor(
    private readonly inner: EventPublisher,
    private readonly source: string,
  ) {}
  publish(events: readonly OutgoingEvent[]): Promise<PublishOutcome> {
    const sent = events.map((e) => ({ ...e, source: this.source }));
    this.requests++;
    this.entries += sent.length;
    for (const e of sent) this.bytes += entrySize({ Source: e.source, DetailType: e.detailType, Detail: JSON.stringify(e.detail) });
    return this.inner.publish(sent);
  }
}
