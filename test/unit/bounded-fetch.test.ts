// Staged chunks are fetched with bounded concurrency, in order, with a bound on the bytes waiting
// ahead of the writer (src/core/archive/bounded-fetch.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fetchInOrder } from '../../src/core/archive/bounded-fetch.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function collect<R>(gen: AsyncGenerator<R>, slowConsumerMs = 0): Promise<R[]> {
  const out: R[] = [];
  for await (const r of gen) {
    out.push(r);
    if (slowConsumerMs) await tick(slowConsumerMs);
  }
  return out;
}

describe('fetchInOrder', () => {
  it('yields results in the order of the items although later ones finish first, never more than `concurrency` in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const items = Array.from({ length: 20 }, (_, i) => i);
    const results = await collect(
      fetchInOrder(
        items,
        async (i) => {
          inFlight += 1;
          peak = Math.max(peak, inFlight);
          await tick((20 - i) % 5); // later items often finish first
          inFlight -= 1;
          return i * 10;
        },
        { concurrency: 4 },
      ),
    );
    assert.deepEqual(
      results,
      items.map((i) => i * 10),
    );
    assert.equal(peak, 4);
  });

  it('keeps at most maxBytes fetched ahead of a slow consumer, but always lets one item through', async () => {
    let started = 0;
    let taken = 0;
    let peakAhead = 0;
    const items = Array.from({ length: 10 }, (_, i) => i);
    const gen = fetchInOrder(
      items,
      async (i) => {
        started += 1;
        peakAhead = Math.max(peakAhead, started - taken);
        await tick(1);
        return i;
      },
      { concurrency: 8, maxBytes: 3 * 100, bytesOf: () => 100 },
    );
    for await (const _ of gen) {
      taken += 1;
      await tick(5);
    }
    assert.equal(taken, 10);
    assert.ok(peakAhead <= 4, `${peakAhead} items were fetched ahead (3 allowed, +1 being consumed)`);
    const huge = await collect(fetchInOrder([1, 2], async (i) => i, { concurrency: 4, maxBytes: 10, bytesOf: () => 1000 }));
    assert.deepEqual(huge, [1, 2]);
  });

  it('reports the first failing item in order and lets the requests in flight settle', async () => {
    let settled = 0;
    const gen = fetchInOrder(
      [0, 1, 2, 3],
      async (i) => {
        await tick(i === 1 ? 5 : 1);
        settled += 1;
        if (i === 1 || i === 3) throw new Error(`item ${i} failed`);
        return i;
      },
      { concurrency: 4 },
    );
    await assert.rejects(collect(gen), /item 1 failed/);
    assert.equal(settled, 4);
  });
});
