/**
 * The chunker of a stream: points in, chunks out. Pure (no I/O): a chunk is handed to `onChunk`
 * the moment it is complete, synchronously, in stream order.
 *
 * Chunks follow a grid: points [k·grid, (k+1)·grid) of the stream, cut short only by
 *
 * - `cut()`: a gap (trimmed entries), the seal, or the end of the stream, called by the follower;
 * - a change of point shape (`shape()`, free dimensions): the chunk ends with the last point of
 *   the old shape;
 * - `byteCap` (free dimensions): points can grow far beyond the first entry's that fixed the grid
 *   (a spectrum of 2 bins, then of 4096), so a chunk also ends at `byteCap` bytes counted from its
 *   start (at least one point).
 *
 * Every cut depends only on the data and on the chunk's start (itself a cut), so a restart that
 * resumes at a committed index cuts the same chunks: same keys, same datum uids.
 *
 * Numeric streams: a chunk is one buffer allocated at its final size (up to the next grid boundary,
 * grown by doubling from 64 KiB) that entries' payloads are copied into as they are read: no
 * per-entry Buffer is kept alive (nor the Redis reply it is a slice of), and the chunk goes to S3
 * without a concatenation. Its buffer comes from `allocator` and must be given back with the
 * chunk's `release` once staged. JSON streams: one NDJSON line per point, concatenated at the cut.
 */

/** Where chunk buffers come from (bridge/chunk-pool.ts, or plain allocations). */
export interface ChunkAllocator {
  acquire(bytes: number): Buffer;
  release(buffer: Buffer): void;
}

export const PLAIN_ALLOCATOR: ChunkAllocator = { acquire: (bytes) => Buffer.allocUnsafe(bytes), release: () => undefined };

export interface Chunk {
  start: number;
  stop: number;
  bytes: Buffer;
  /** Free dimensions: the one point shape of the chunk's points. */
  pointShape?: number[];
  /** Gives the chunk's buffer back to the allocator (numeric chunks); the bytes must not be used after. */
  release?: () => void;
}

export interface ChunkerOptions {
  /** Points per chunk (the stream's grid). */
  grid: number;
  /** JSON stream: appended parts are one line per point. */
  json: boolean;
  /** Free dimensions: bytes per chunk at most (at least one point), and chunks carry their point shape. */
  byteCap?: number;
  allocator?: ChunkAllocator;
  onChunk: (chunk: Chunk) => void;
}

/** First allocation of a numeric chunk buffer (it doubles up to the chunk's size). */
const INITIAL_CHUNK_BYTES = 64 * 1024;

export class Chunker {
  /** Index of the first buffered point (or of the next point, when none is buffered). */
  bufferStart: number;
  bufferedPoints = 0;
  bufferedBytes = 0;
  private lines: Buffer[] = [];
  private chunk?: Buffer;
  private pointShape?: number[];
  private readonly allocator: ChunkAllocator;

  constructor(
    private readonly options: ChunkerOptions,
    start: number,
  ) {
    this.bufferStart = start;
    this.allocator = options.allocator ?? PLAIN_ALLOCATOR;
  }

  get grid(): number {
    return this.options.grid;
  }

  /** The point shape of the points that follow; a different one cuts the chunk there (free dimensions). */
  shape(pointShape: number[]): void {
    if (this.pointShape && !sameShape(pointShape, this.pointShape)) this.cut();
    this.pointShape = pointShape;
  }

  /** The next point is at `index` (after a gap): everything buffered must have been cut. */
  skipTo(index: number): void {
    if (this.bufferedPoints === 0) this.bufferStart = index;
  }

  /**
   * Points [start, start + count): numeric, one buffer of `count` equal points; JSON, one line per
   * point. Chunks reaching their boundary are handed out.
   */
  append(start: number, count: number, data: Buffer | readonly Buffer[]): void {
    if (this.bufferedPoints === 0) this.bufferStart = start;
    if (this.options.json) {
      // One push per line: a spread of a large page's lines overflows the call stack.
      for (const line of data as readonly Buffer[]) {
        this.lines.push(line);
        this.bufferedBytes += line.length;
      }
      this.bufferedPoints += count;
      const grid = this.options.grid;
      for (;;) {
        const boundary = (Math.floor(this.bufferStart / grid) + 1) * grid;
        if (this.bufferedPoints === 0 || this.bufferStart + this.bufferedPoints < boundary) break;
        this.emit(boundary - this.bufferStart);
      }
      return;
    }
    const bytes = Array.isArray(data) ? Buffer.concat(data as Buffer[]) : (data as Buffer);
    this.fill(bytes, count, count > 0 ? bytes.length / count : 0);
  }

  /** Hands out everything buffered (a gap, the seal, a shape change, the end). */
  cut(): void {
    if (this.bufferedPoints > 0) this.emit(this.bufferedPoints);
  }

  /** Gives the buffer of an unfinished chunk back (the follower ended). */
  dispose(): void {
    if (this.chunk) this.allocator.release(this.chunk);
    this.chunk = undefined;
  }

  private fill(bytes: Buffer, count: number, pointBytes: number): void {
    const grid = this.options.grid;
    const cap =
      this.options.byteCap !== undefined && pointBytes > 0 ? Math.max(1, Math.floor(this.options.byteCap / pointBytes)) : Infinity;
    let offset = 0;
    for (let remaining = count; remaining > 0;) {
      const boundary = Math.min((Math.floor(this.bufferStart / grid) + 1) * grid, this.bufferStart + cap);
      const size = boundary - this.bufferStart;
      const take = Math.min(size - this.bufferedPoints, remaining);
      const length = take * pointBytes;
      const needed = this.bufferedBytes + length;
      if (!this.chunk || this.chunk.length < needed) {
        // Grown by doubling up to the chunk's final size: a short scan of many channels never holds 1 MiB per channel.
        const grown = this.allocator.acquire(
          Math.min(size * pointBytes, Math.max(needed, INITIAL_CHUNK_BYTES, (this.chunk?.length ?? 0) * 2)),
        );
        if (this.chunk) {
          this.chunk.copy(grown, 0, 0, this.bufferedBytes);
          this.allocator.release(this.chunk);
        }
        this.chunk = grown;
      }
      bytes.copy(this.chunk, this.bufferedBytes, offset, offset + length);
      offset += length;
      remaining -= take;
      this.bufferedPoints += take;
      this.bufferedBytes += length;
      if (this.bufferedPoints === size) this.emit(size);
    }
  }

  /** Hands out the first `points` buffered points. */
  private emit(points: number): void {
    let bytes: Buffer;
    let release: (() => void) | undefined;
    if (this.options.json) {
      // One line per point: the chunk is the first `points` lines.
      bytes = Buffer.concat(this.lines.splice(0, points));
      this.bufferedBytes -= bytes.length;
    } else {
      // Numeric chunks end at a grid boundary, a cap, a gap or the seal: always everything buffered.
      const pooled = this.chunk!;
      bytes = pooled.subarray(0, this.bufferedBytes);
      release = () => this.allocator.release(pooled);
      this.chunk = undefined;
      this.bufferedBytes = 0;
    }
    const start = this.bufferStart;
    const stop = start + points;
    this.bufferedPoints -= points;
    this.bufferStart = stop;
    this.options.onChunk({
      start,
      stop,
      bytes,
      ...(this.options.byteCap !== undefined && this.pointShape ? { pointShape: this.pointShape } : {}),
      ...(release ? { release } : {}),
    });
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
