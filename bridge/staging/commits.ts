/**
 * Ranges of a stream finish out of order (chunks upload in parallel); the checkpoint may only move
 * over a contiguous prefix. `complete` records one finished range and gives back, in order, every
 * range that the committed index now moves over (the caller applies them to its checkpoint).
 */
export class RangeCommits<T extends { stop: number }> {
  private readonly done = new Map<number, T>();

  /** `committed()` reads the stream's committed index (the caller moves it as it applies the ranges). */
  constructor(private readonly committed: () => number) {}

  complete(start: number, range: T): T[] {
    this.done.set(start, range);
    const moved: T[] = [];
    for (let at = this.committed(), next = this.done.get(at); next; next = this.done.get(at)) {
      this.done.delete(at);
      moved.push(next);
      at = next.stop;
    }
    return moved;
  }
}
