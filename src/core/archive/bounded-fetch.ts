/**
 * Fetches a list of things with bounded concurrency and yields the results in the list's order:
 * at most `concurrency` requests in flight and, when sizes are known, at most `maxBytes` of
 * results fetched but not yet taken by the consumer (the first item is always let through, so one
 * item bigger than the bound still goes). Used for staged chunks: a channel of thousands of 1 MiB
 * chunks is not read one GET at a time, and memory stays bounded whatever the scan's size.
 */
export interface BoundedFetchOptions<T> {
  /** Requests in flight at most (at least 1). */
  concurrency: number;
  /** Bytes fetched ahead of the consumer at most (default: unbounded). */
  maxBytes?: number;
  /** Expected size of an item's result (for maxBytes). */
  bytesOf?: (item: T) => number;
}

export async function* fetchInOrder<T, R>(
  items: readonly T[],
  fetch: (item: T) => Promise<R>,
  options: BoundedFetchOptions<T>,
): AsyncGenerator<R> {
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const bytesOf = options.bytesOf ?? (() => 0);
  const pending: { promise: Promise<R>; bytes: number }[] = [];
  let next = 0;
  let aheadBytes = 0;
  const fill = () => {
    while (next < items.length && pending.length < concurrency) {
      const item = items[next]!;
      const bytes = bytesOf(item);
      if (pending.length > 0 && aheadBytes + bytes > maxBytes) break;
      const promise = fetch(item);
      // A rejection is seen when its turn comes; until then it must not count as unhandled.
      promise.catch(() => undefined);
      pending.push({ promise, bytes });
      aheadBytes += bytes;
      next += 1;
    }
  };
  try {
    fill();
    while (pending.length > 0) {
      const head = pending.shift()!;
      const result = await head.promise;
      aheadBytes -= head.bytes;
      fill();
      yield result;
    }
  } finally {
    // The consumer stopped early (an error downstream): let requests in flight settle quietly.
    await Promise.allSettled(pending.map((p) => p.promise));
  }
}
