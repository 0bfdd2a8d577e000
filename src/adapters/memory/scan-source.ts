/**
 * blissdata in memory, as far as the bridge reads it: the scan history, scan JSON by key, and
 * streams of entries (ids `<ms>-<seq>`, compared as Redis does). Reads return the entries after
 * each cursor; a read that finds nothing waits a moment (a blocking XREAD that times out) so a
 * follower polling it does not spin. For unit tests and nothing in production.
 */
import { parseScanJson, type BlissScan } from '../../core/bliss/scan-model.js';
import type { HistoryEntry, ScanSource, StreamEntry, StreamReader } from '../../core/bliss/scan-source.js';
import { SEAL_ENTRY_ID } from '../../core/bliss/stream-decoding.js';
import { compareStreamIds } from '../../core/bliss/stream-ids.js';

const idle = () => new Promise((r) => setTimeout(r, 2));

/** Blocking reads of streams held in memory (stream key → entries in id order). */
export class MemoryStreamReader implements StreamReader {
  constructor(readonly streams: Map<string, StreamEntry[]> = new Map()) {}

  /** Appends an entry to a stream. */
  append(streamKey: string, entry: StreamEntry): void {
    const entries = this.streams.get(streamKey) ?? [];
    entries.push(entry);
    this.streams.set(streamKey, entries);
  }

  async read(cursors: ReadonlyMap<string, string>, count: number): Promise<Map<string, StreamEntry[]>> {
    const out = new Map<string, StreamEntry[]>();
    for (const [key, after] of cursors) {
      const entries = (this.streams.get(key) ?? []).filter((e) => compareStreamIds(e.id, after) > 0).slice(0, count);
      if (entries.length > 0) out.set(key, entries);
    }
    if (out.size === 0) await idle();
    return out;
  }

  async close(): Promise<void> {}
}

export interface MemoryScanSourceInit {
  /** Scan key → the scan JSON as blissdata stores it. */
  scans?: Record<string, unknown>;
  streams?: Map<string, StreamEntry[]>;
  history?: HistoryEntry[];
}

export class MemoryScanSource implements ScanSource {
  readonly scans: Map<string, unknown>;
  readonly streams: Map<string, StreamEntry[]>;
  readonly history: HistoryEntry[];

  constructor(init: MemoryScanSourceInit = {}) {
    this.scans = new Map(Object.entries(init.scans ?? {}));
    this.streams = init.streams ?? new Map();
    this.history = init.history ?? [];
  }

  async resolveHistoryId(id: string): Promise<string> {
    return id === '$' ? (this.history.at(-1)?.id ?? '0-0') : id;
  }

  async readHistory(afterId: string, count: number): Promise<HistoryEntry[]> {
    const found = this.history.filter((e) => compareStreamIds(e.id, afterId) > 0).slice(0, count);
    if (found.length === 0) await idle();
    return found;
  }

  async isGone(scanKey: string): Promise<boolean> {
    return !this.scans.has(scanKey);
  }

  async readScan(scanKey: string): Promise<BlissScan | undefined> {
    return this.scans.has(scanKey) ? parseScanJson(scanKey, this.scans.get(scanKey)) : undefined;
  }

  async cursorForIndex(streamKey: string, index: number): Promise<string> {
    const entries = this.streams.get(streamKey) ?? [];
    let cursor = '0-0';
    for (let i = 0; i < entries.length; i++) {
      const id = entries[i]!.id;
      if (id === SEAL_ENTRY_ID || Number(id.split('-')[0]) > index) break;
      cursor = i === 0 ? '0-0' : entries[i - 1]!.id;
    }
    return cursor;
  }

  async lastState(stateStreamKey: string): Promise<number | undefined> {
    const state = this.streams.get(stateStreamKey)?.at(-1)?.fields.get('state')?.toString('latin1');
    return state === undefined ? undefined : Number(state);
  }

  openReader(): StreamReader {
    return new MemoryStreamReader(this.streams);
  }

  async close(): Promise<void> {}
}
