import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PutEventsCommand, PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { EventBridgePublisher, entrySize, MAX_PUT_BYTES, type PutEventsClient } from '../../src/adapters/eventbridge-publisher.js';
import type { OutgoingEvent } from '../../src/core/ports.js';

type Entry = NonNullable<PutEventsCommand['input']['Entries']>[number];

/** In-memory PutEvents: records requests; `decide` returns an error code per entry (or undefined = accept). */
class FakeEventBridge implements PutEventsClient {
  requests: Entry[][] = [];
  accepted: Entry[] = [];
  constructor(private readonly decide: (entry: Entry, call: number) => string | undefined = () => undefined) {}
  async send(command: PutEventsCommand) {
    const entries = command.input.Entries ?? [];
    const call = this.requests.length;
    this.requests.push(entries);
    const results: PutEventsResultEntry[] = entries.map((entry, i) => {
      const code = this.decide(entry, call);
      if (code) return { ErrorCode: code, ErrorMessage: `fake ${code}` };
      this.accepted.push(entry);
      return { EventId: `${call}-${i}` };
    });
    return { FailedEntryCount: results.filter((r) => r.ErrorCode).length, Entries: results };
  }
}

const event = (n: number, size = 10): OutgoingEvent => ({
  detailType: 'StreamDatum',
  source: 'beamline-archive.bridge',
  detail: { n, pad: 'x'.repeat(size) },
});
const noSleep = async () => undefined;

describe('EventBridgePublisher', () => {
  it('sends at most 10 entries per request, in order, to the configured bus', async () => {
    const fake = new FakeEventBridge();
    const publisher = new EventBridgePublisher(fake, { eventBusName: 'my-bus', sleep: noSleep });
    const out = await publisher.publish(Array.from({ length: 25 }, (_, i) => event(i)));
    assert.deepEqual(out, { accepted: 25, rejected: [] });
    assert.deepEqual(
      fake.requests.map((r) => r.length),
      [10, 10, 5],
    );
    assert.ok(fake.requests.flat().every((e) => e.EventBusName === 'my-bus'));
    assert.deepEqual(
      fake.accepted.map((e) => (JSON.parse(e.Detail!) as { n: number }).n),
      Array.from({ length: 25 }, (_, i) => i),
    );
  });

  it('keeps each request within 256 KiB as AWS counts it', async () => {
    const fake = new FakeEventBridge();
    const publisher = new EventBridgePublisher(fake, { eventBusName: 'b', sleep: noSleep });
    await publisher.publish(Array.from({ length: 6 }, (_, i) => event(i, 100 * 1024)));
    for (const request of fake.requests) assert.ok(request.reduce((s, e) => s + entrySize(e), 0) <= MAX_PUT_BYTES);
    assert.deepEqual(
      fake.requests.map((r) => r.length),
      [2, 2, 2],
    );
    assert.equal(entrySize({ Source: 'ab', DetailType: 'cd', Detail: 'é', Resources: ['r'] }), 2 + 2 + 2 + 1);
  });

  it('rejects an oversize entry without sending it', async () => {
    const fake = new FakeEventBridge();
    const publisher = new EventBridgePublisher(fake, { eventBusName: 'b', sleep: noSleep });
    const out = await publisher.publish([event(1), event(2, MAX_PUT_BYTES), event(3)]);
    assert.equal(out.accepted, 2);
    assert.equal(out.rejected.length, 1);
    assert.match(out.rejected[0]!.reason, /above the PutEvents limit/);
    assert.equal(fake.requests.flat().length, 2);
  });

  it('resends only the failed entries, with growing jittered delays', async () => {
    const delays: number[] = [];
    // Entries 3 and 7 are throttled on the first two calls' attempts.
    const failures = new Map([
      [3, 2],
      [7, 1],
    ]);
    const fake = new FakeEventBridge((entry) => {
      const n = (JSON.parse(entry.Detail!) as { n: number }).n;
      const left = failures.get(n) ?? 0;
      if (left > 0) {
        failures.set(n, left - 1);
        return 'ThrottlingException';
      }
      return undefined;
    });
    const publisher = new EventBridgePublisher(fake, {
      eventBusName: 'b',
      baseDelayMs: 100,
      random: () => 1,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    const out = await publisher.publish(Array.from({ length: 10 }, (_, i) => event(i)));
    assert.deepEqual(out, { accepted: 10, rejected: [] });
    assert.deepEqual(
      fake.requests.map((r) => r.map((e) => (JSON.parse(e.Detail!) as { n: number }).n)),
      [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 7], [3]],
    );
    assert.deepEqual(delays, [100, 200]);
  });

  it('gives up after maxAttempts and rejects permanent errors at once', async () => {
    const fake = new FakeEventBridge((entry) => {
      const n = (JSON.parse(entry.Detail!) as { n: number }).n;
      return n === 0 ? 'InternalException' : n === 1 ? 'MalformedDetail' : undefined;
    });
    const publisher = new EventBridgePublisher(fake, { eventBusName: 'b', maxAttempts: 3, sleep: noSleep });
    const out = await publisher.publish([event(0), event(1), event(2)]);
    assert.equal(out.accepted, 1);
    const reasons = new Map(out.rejected.map((r) => [(r.event.detail as { n: number }).n, r.reason]));
    assert.match(reasons.get(0)!, /gave up after 3 attempts: InternalException/);
    assert.match(reasons.get(1)!, /^MalformedDetail/);
    assert.equal(fake.requests.flat().filter((e) => (JSON.parse(e.Detail!) as { n: number }).n === 1).length, 1);
    assert.equal(fake.requests.length, 3);
  });

  it('retries a throttled request and rejects a ValidationException', async () => {
    let calls = 0;
    const throttled = Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    const invalid = Object.assign(new Error('bad bus'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    const flaky: PutEventsClient = {
      send: async () => {
        calls++;
        if (calls === 1) throw throttled;
        return { Entries: [{ EventId: 'x' }] };
      },
    };
    assert.deepEqual(await new EventBridgePublisher(flaky, { eventBusName: 'b', sleep: noSleep }).publish([event(0)]), {
      accepted: 1,
      rejected: [],
    });
    const broken: PutEventsClient = {
      send: async () => {
        throw invalid;
      },
    };
    const out = await new EventBridgePublisher(broken, { eventBusName: 'b', sleep: noSleep }).publish([event(0)]);
    assert.match(out.rejected[0]!.reason, /ValidationException/);
  });
});
