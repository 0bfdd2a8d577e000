/** Redis stream ids `<ms>-<seq>` (blissdata's streams and history): checked, compared, stepped back; the bridge's checkpoints keep them. */

export function isStreamId(value: unknown): value is string {
  return typeof value === 'string' && /^\d+-\d+$/.test(value);
}

/** Compares two stream ids `<ms>-<seq>`. */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm);
  if (d !== 0n) return d < 0n ? -1 : 1;
  const s = BigInt(as) - BigInt(bs);
  return s === 0n ? 0 : s < 0n ? -1 : 1;
}

/** The stream id just before `id` (a read after it returns `id` first). */
export function predecessor(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-');
  if (BigInt(seq) > 0n) return `${ms}-${BigInt(seq) - 1n}`;
  if (BigInt(ms) === 0n) return '0-0';
  return `${BigInt(ms) - 1n}-18446744073709551615`;
}
