/**
 * Chunk buffers for the bridge, reused instead of allocated per chunk.
 *
 * A numeric chunk is filled from Redis replies, hashed, and put to S3; at 1000-point batches the
 * bridge goes through ~150 MB/s of them. Allocating each one anew made the bridge pay page faults
 * on every fresh buffer and a garbage collector chasing external memory. Buffers come in
 * power-of-two sizes from 64 KiB; released ones wait in a free list (at most `maxIdleBytes` in
 * all) for the next chunk of that size. A buffer must not be touched once released.
 *
 * Plain ArrayBuffers, not SharedArrayBuffers: V8 copies into shared memory with relaxed atomics,
 * byte by byte when source and target are not equally aligned (Redis payloads never are), which
 * made filling chunks six times slower than the hashing a worker would have saved (measured with
 * bench/bridge-throughput.ts).
 */
export const MIN_POOLED_BYTES = 64 * 1024;

export class ChunkPool {
  private readonly free = new Map<number, Buffer[]>();
  private idleBytes = 0;
  /** Buffers handed out and not released (for tests and the status view). */
  outstanding = 0;
  allocations = 0;
  reuses = 0;

  constructor(readonly maxIdleBytes: number) {}

  /** A buffer of at least `bytes` (its length is the pooled size: a power of two ≥ 64 KiB). */
  acquire(bytes: number): Buffer {
    const size = pooledSize(bytes);
    const list = this.free.get(size);
    const reused = list?.pop();
    this.outstanding++;
    if (reused) {
      this.idleBytes -= size;
      this.reuses++;
      return reused;
    }
    this.allocations++;
    return Buffer.allocUnsafeSlow(size);
  }

  /** Gives a buffer from `acquire` back; it is kept for reuse while the idle total stays under the limit. */
  release(buffer: Buffer): void {
    this.outstanding--;
    const size = buffer.byteLength;
    if (size !== pooledSize(size) || buffer.byteOffset !== 0 || this.idleBytes + size > this.maxIdleBytes) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
    this.idleBytes += size;
  }

  get idle(): number {
    return this.idleBytes;
  }
}

/** The power of two (≥ 64 KiB) a request of `bytes` is served from. */
export function pooledSize(bytes: number): number {
  let size = MIN_POOLED_BYTES;
  while (size < bytes) size *= 2;
  return size;
}
