/**
 * The bridge's staging pieces on their own (bridge/staging/): the pure chunker (grid, byte cap,
 * shape changes, JSON lines, cut), contiguous-range commits, and the staging sink's PutEvents queue
 * (transient refusals resent, permanent ones dead-lettered and the run failed, order kept).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Chunker, type Chunk } from '../../bridge/staging/chunker.js';
import { RangeCommits } from '../../bridge/staging/commits.js';
import { StagingSink } from '../../bridge/staging/sink.js';
import { Stopper } from '../../bridge/staging/stopper.js';
import { MemoryBudget, newStats } from '../../bridge/bridge-stats.js';
import { RefusedByBus } from '../../bridge/errors.js';
import { createLogger } from '../../src/adapters/logger.js';
import { MemoryEventBus } from '../../src/adapters/memory/event-bus.js';
import { MemoryObjectStore } from '../../src/adapters/memory/object-store.js';
import type { EventPublisher, OutgoingEvent } from '../../src/core/ports.js';

const points = (from: number, n: number, bytesPerPoint = 8) =>
  Buffer.from(Array.from({ length: n * bytesPerPoint }, (_, i) => (from * bytesPerPoint + i) % 251));

function chunker(options: { grid: number; byteCap?: number; json?: boolean }, start = 0): { c: Chunker; out: Chunk[] } {
  const out: Chunk[] = [];
  const c = new Chunker(
    {
      grid: options.grid,
      json: options.json ?? false,
      ...(options.byteCap ? { byteCap: options.byteCap } : {}),
      onChunk: (k) => out.push({ ...k, bytes: Buffer.from(k.bytes) }),
    },
    start,
  );
  return { c, out };
}

describe('bridge staging: chunker', () => {
  it('cuts numeric points on the grid, whatever the entries, and hands out the rest at cut()', () => {
    const { c, out } = chunker({ grid: 4 });
    for (const [start, n] of [
      [0, 3],
      [3, 3],
      [6, 5],
    ] as const)
      c.append(start, n, points(start, n));
    assert.deepEqual(
      out.map((k) => [k.start, k.stop]),
      [
        [0, 4],
        [4, 8],
      ],
    );
    c.cut();
    assert.deepEqual(
      out.map((k) => [k.start, k.stop]),
      [
        [0, 4],
        [4, 8],
        [8, 11],
      ],
    );
    assert.ok(Buffer.concat(out.map((k) => k.bytes)).equals(points(0, 11)), 'bytes in order, none lost or doubled');
  });

  it('resumes on the same grid from a committed index inside a chunk (the same cuts after a restart)', () => {
    const { c, out } = chunker({ grid: 4 }, 6);
    c.append(6, 5, points(6, 5));
    c.cut();
    assert.deepEqual(
      out.map((k) => [k.start, k.stop]),
      [
        [6, 8],
        [8, 11],
      ],
    );
  });

  it('free dimensions: a change of point shape and the byte cap end a chunk; each chunk carries its shape', () => {
    const { c, out } = chunker({ grid: 100, byteCap: 32 });
    c.shape([2]);
    c.append(0, 3, points(0, 3, 16));
    c.shape([4]);
    c.append(3, 2, points(3, 2, 32));
    c.cut();
    assert.deepEqual(
      out.map((k) => [k.start, k.stop, k.pointShape]),
      [
        [0, 2, [2]],
        [2, 3, [2]],
        [3, 4, [4]],
        [4, 5, [4]],
      ],
    );
  });

  it('JSON: one line per point, cut on the grid', () => {
    const { c, out } = chunker({ grid: 2, json: true });
    c.append(
      0,
      3,
      ['1\n', '"a"\n', '{}\n'].map((t) => Buffer.from(t)),
    );
    c.cut();
    assert.deepEqual(
      out.map((k) => [k.start, k.stop, k.bytes.toString()]),
      [
        [0, 2, '1\n"a"\n'],
        [2, 3, '{}\n'],
      ],
    );
  });
});

describe('bridge staging: range commits', () => {
  it('moves over contiguous ranges only, in order', () => {
    let committed = 0;
    const commits = new RangeCommits<{ stop: number }>(() => committed);
    const apply = (moved: { stop: number }[]) => {
      for (const m of moved) committed = m.stop;
      return moved.length;
    };
    assert.equal(apply(commits.complete(4, { stop: 8 })), 0);
    assert.equal(apply(commits.complete(8, { stop: 9 })), 0);
    assert.equal(apply(commits.complete(0, { stop: 4 })), 3);
    assert.equal(committed, 9);
  });
});

describe('bridge staging: sink', () => {
  const event = (n: number): OutgoingEvent => ({ detailType: 'StreamDatum', source: 'test', detail: { uid: `u${n}` } });
  const deps = (publisher: EventPublisher, dead: string[]) => ({
    store: new MemoryObjectStore('b'),
    publisher,
    logger: createLogger('test', 'ERROR'),
    stats: newStats(),
    budget: new MemoryBudget(1 << 20),
    deadLetter: async (e: OutgoingEvent, reason: string) => {
      dead.push(`${(e.detail as { uid: string }).uid}: ${reason}`);
    },
    stopper: new Stopper(),
  });

  it('resends entries refused as transient, in order, and dead-letters the permanent ones (their group fails with RefusedByBus)', async () => {
    let refusedOnce = false;
    const publisher = new MemoryEventBus({
      refuse: (e) => {
        const uid = (e.detail as { uid: string }).uid;
        if (uid === 'u1' && !refusedOnce) {
          refusedOnce = true;
          return { reason: 'gave up after 3 attempts: ThrottlingException', transient: true };
        }
        if (uid === 'u2') return { reason: 'ValidationException: bad', transient: false };
        return undefined;
      },
    });
    const dead: string[] = [];
    const d = deps(publisher, dead);
    const sink = new StagingSink(d, { retryBaseMs: 1, retryMaxMs: 2 }, { runUid: 'r' });
    const results = await Promise.allSettled([sink.emit([event(0)]), sink.emit([event(1)]), sink.emit([event(2)]), sink.emit([event(3)])]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.ok((results[2] as PromiseRejectedResult).reason instanceof RefusedByBus);
    assert.deepEqual(dead, ['u2: ValidationException: bad']);
    assert.deepEqual(
      publisher.events.map((e) => (e.detail as { uid: string }).uid),
      ['u0', 'u3', 'u1'],
    );
    assert.equal(d.stats.putEventsRetries, 1);
    assert.equal(d.stats.deadLetters, 1);
  });

  it('treats a publish call that throws as transient (the request failed, not the entries)', async () => {
    const publisher = new MemoryEventBus({ fail: (call) => (call === 1 ? new Error('socket hang up') : undefined) });
    const dead: string[] = [];
    const sink = new StagingSink(deps(publisher, dead), { retryBaseMs: 1, retryMaxMs: 2 }, { runUid: 'r' });
    await sink.emit([event(0)]);
    assert.equal(publisher.calls, 2);
    assert.deepEqual(dead, []);
  });
});
