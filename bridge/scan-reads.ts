/**
 * Read pacing of one scan's streams: XREADs of about `readBytes` in all (the count per stream
 * adapted to the size of the data entries recently seen), and the next read issued ahead, without
 * blocking, while the current reply is cut into chunks and uploaded, so that Redis prepares it
 * meanwhile (used only if the next round asks for the same cursors).
 */
import type { StreamEntry, StreamReader } from '../src/core/bliss/scan-source.js';
import type { BridgeStats, MemoryBudget } from './bridge-stats.js';

/** Default `readBytes`: what one XREAD of a scan brings at most (about). */
export const DEFAULT_READ_BYTES = 8 * 1024 * 1024;
/** Entries per stream of a read before the data entries' size is known. */
const FIRST_READ_COUNT = 4;

export interface ReadPacing {
  /** Entries per stream per XREAD, at most … */
  readCount: number;
  /** … and about this many payload bytes per XREAD, all streams (the count adapts to the entries' size). */
  readBytes?: number;
  /** Blocking read timeout (ms). */
  flushIntervalMs: number;
}

export class ScanReads {
  /** The read issued ahead (see `next`). */
  private readAhead?: { cursors: Map<string, string>; reply: Promise<Map<string, StreamEntry[]>> };
  /** Payload bytes per entry, recent maximum (decaying), for the size of the reads. */
  private entryBytes = 0;

  constructor(
    private readonly reader: StreamReader,
    private readonly stats: BridgeStats,
    private readonly budget: MemoryBudget,
    private readonly options: ReadPacing,
    private readonly isStopping: () => boolean,
  ) {}

  /** The reply for these cursors: the read issued ahead if it asked for exactly them, else a blocking read now. `stateKey`: not a data stream. */
  async next(cursors: Map<string, string>, stateKey: string | undefined): Promise<Map<string, StreamEntry[]>> {
    const ahead = this.readAhead;
    this.readAhead = undefined;
    const count = this.countFor(cursors.size);
    let read: Map<string, StreamEntry[]> | undefined;
    const stats = this.stats;
    if (ahead && sameCursors(ahead.cursors, cursors)) {
      read = await ahead.reply;
      if ([...read.values()].some((entries) => entries.length > 0)) stats.readsAhead++;
      else read = undefined;
    }
    if (!read) {
      stats.reads++;
      read = await this.reader.read(cursors, count, this.options.flushIntervalMs);
    }
    let entries = 0;
    let dataEntries = 0;
    let dataBytes = 0;
    let bytes = 0;
    const next = new Map(cursors);
    for (const [key, list] of read) {
      const last = list.at(-1);
      if (!last) continue;
      next.set(key, last.id);
      entries += list.length;
      // Estimated from the larger of the stream's first and last entry in this reply (batches of a
      // stream are mostly alike; counting every field cost ~2 % of the bridge's time at 10-point batches).
      const listBytes = Math.max(entrySize(list[0]!), entrySize(last)) * list.length;
      bytes += listBytes;
      if (key === stateKey) continue;
      dataEntries += list.length;
      dataBytes += listBytes;
    }
    // The size of data entries sets the count of the next reads (the largest recently seen, decaying).
    if (dataEntries > 0) this.entryBytes = Math.max(dataBytes / dataEntries, this.entryBytes * 0.9);
    stats.largestReadBytes = Math.max(stats.largestReadBytes, bytes);
    if (entries > 0 && !this.isStopping() && this.budget.used <= this.budget.limit) {
      stats.reads++;
      const reply = this.reader.read(next, this.countFor(next.size));
      reply.catch(() => undefined);
      this.readAhead = { cursors: next, reply };
    }
    return read;
  }

  /** The read issued ahead is dropped (the follower ended). */
  dispose(): void {
    this.readAhead?.reply.catch(() => undefined);
  }

  /** Entries per stream for a read of `streams` streams: about `readBytes` in all, at most `readCount` each. */
  private countFor(streams: number): number {
    if (this.entryBytes === 0) return Math.min(this.options.readCount, FIRST_READ_COUNT);
    const target = this.options.readBytes ?? DEFAULT_READ_BYTES;
    return Math.max(1, Math.min(this.options.readCount, Math.floor(target / (Math.max(1, streams) * (this.entryBytes + 64)))));
  }
}

function entrySize(entry: StreamEntry): number {
  let bytes = 0;
  for (const value of entry.fields.values()) bytes += value.length;
  return bytes;
}

function sameCursors(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, id] of a) if (b.get(key) !== id) return false;
  return true;
}
