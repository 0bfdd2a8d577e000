import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkPool, MIN_POOLED_BYTES, pooledSize } from '../../bridge/chunk-pool.js';

describe('bridge chunk pool', () => {
  it('serves power-of-two sizes from 64 KiB', () => {
    assert.equal(pooledSize(1), MIN_POOLED_BYTES);
    assert.equal(pooledSize(MIN_POOLED_BYTES), MIN_POOLED_BYTES);
    assert.equal(pooledSize(MIN_POOLED_BYTES + 1), 2 * MIN_POOLED_BYTES);
    assert.equal(pooledSize(1024 * 1024 - 16), 1024 * 1024);
    const pool = new ChunkPool(1 << 30);
    assert.equal(pool.acquire(3 * 1024 * 1024).length, 4 * 1024 * 1024);
  });

  it('hands a released buffer out again, and never one that is still held', () => {
    const pool = new ChunkPool(1 << 30);
    const a = pool.acquire(100_000);
    const b = pool.acquire(100_000);
    assert.notEqual(a.buffer, b.buffer);
    a.fill(1);
    pool.release(a);
    const c = pool.acquire(70_000);
    assert.equal(c.buffer, a.buffer, 'same size class: reused');
    const d = pool.acquire(70_000);
    assert.notEqual(d.buffer, b.buffer);
    assert.notEqual(d.buffer, c.buffer);
    assert.deepEqual(
      { allocations: pool.allocations, reuses: pool.reuses, outstanding: pool.outstanding },
      { allocations: 3, reuses: 1, outstanding: 3 },
    );
  });

  it('keeps at most maxIdleBytes idle; a size class only serves its own size', () => {
    const pool = new ChunkPool(3 * MIN_POOLED_BYTES);
    const small = [pool.acquire(1), pool.acquire(1), pool.acquire(1), pool.acquire(1)];
    for (const b of small) pool.release(b);
    assert.equal(pool.idle, 3 * MIN_POOLED_BYTES, 'the fourth is dropped');
    const large = pool.acquire(2 * MIN_POOLED_BYTES);
    assert.equal(pool.allocations, 5, 'no 128 KiB buffer was idle');
    pool.release(large);
    assert.equal(pool.idle, 3 * MIN_POOLED_BYTES, 'over the limit: dropped');
    assert.equal(pool.outstanding, 0);
  });

  it('drops a view that is not a whole pooled buffer', () => {
    const pool = new ChunkPool(1 << 30);
    const a = pool.acquire(1);
    pool.release(a.subarray(0, 1000));
    assert.equal(pool.idle, 0);
    assert.equal(pool.acquire(1) === a, false);
  });
});
