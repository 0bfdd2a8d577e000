import type { BlissScan } from './scan-model.js';
import type { EntryFields } from './stream-decoding.js';

/** One entry of `_SCAN_HISTORY_`: a scan was created. */
export interface HistoryEntry {
  id: string;
  scanKey: string;
}

export interface StreamEntry {
  id: string;
  fields: EntryFields;
}

/** Blocking reads of several streams, on a connection of its own (one per followed scan). */
export interface StreamReader {
  /** Entries after each cursor (stream key → last id seen), at most `count` per stream, waiting up to `blockMs` (without it, not at all). */
  read(cursors: ReadonlyMap<string, string>, count: number, blockMs?: number): Promise<Map<string, StreamEntry[]>>;
  close(): Promise<void>;
}

/** Where BLISS scans come from (blissdata in Redis). */
export interface ScanSource {
  /** Resolves `$` (only new scans) to the id of the newest history entry; other ids are returned as is. */
  resolveHistoryId(id: string): Promise<string>;
  /** Scans announced after `afterId`, waiting up to `blockMs`. */
  readHistory(afterId: string, count: number, blockMs: number): Promise<HistoryEntry[]>;
  /** Whether a scan key is missing or about to expire (TTL 0..10 s): such scans are skipped. */
  isGone(scanKey: string): Promise<boolean>;
  /** Reads and validates the scan JSON. Throws InvalidInputError when malformed; undefined when the key is gone. */
  readScan(scanKey: string): Promise<BlissScan | undefined>;
  /**
   * Cursor from which a read returns the entry holding point `index` and what follows: the id
   * just below the last entry starting at or before `index` (`0-0` when there is none).
   */
  cursorForIndex(streamKey: string, index: number): Promise<string>;
  /** The newest state of a scan (last entry of its state stream), undefined when it has none. */
  lastState(stateStreamKey: string): Promise<number | undefined>;
  openReader(): StreamReader;
  close(): Promise<void>;
}
