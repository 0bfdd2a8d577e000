/**
 * The bridge's durable progress: which `_SCAN_HISTORY_` entries are done, and for every scan not
 * finished yet, per stream, up to which point index everything was staged in S3 and announced
 * (StreamDatum accepted by PutEvents). One JSON file, replaced atomically (write `<file>.tmp`,
 * fsync, rename, fsync the directory), so a SIGKILL at any instant leaves either the previous or
 * the next complete version.
 *
 * Why resuming from it neither loses nor doubles a point: chunk boundaries are a pure function of
 * the stream (a grid of `chunkPoints` fixed per stream and recorded here, plus gap edges and the
 * sealed end), so a chunk re-staged after a restart has the same key and the same StreamDatum
 * uid as one that may already have been accepted before the kill: it overwrites, never overlaps.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CheckpointError } from '../errors.js';
import type { BlueskyCheckpoint } from './bluesky.js';
import { isStreamId } from '../../src/core/bliss/stream-ids.js';

export interface GapRange {
  start: number;
  stop: number;
}

export interface StreamCheckpoint {
  /** Points [0, committed) are staged and announced, or recorded as gaps. */
  committed: number;
  /** StreamDatum documents accepted for [0, committed). */
  datums: number;
  /** Points per chunk (grid), fixed the first time the stream is chunked. */
  chunkPoints?: number;
  /** Bytes per chunk at most, fixed with the grid (free dimensions: grown points also end a chunk here). */
  chunkBytes?: number;
  /** Point shape of the last committed chunk (free dimensions: the first entry's until a chunk is committed; it may change, docs/bridge.md). */
  pointShape?: number[];
  /** StreamResource accepted. */
  resource?: boolean;
  /** Index ranges missing from Redis (trimmed) below `committed`. */
  gaps: GapRange[];
}

export type ScanOutcome = 'stopped' | 'failed' | 'skipped';

export interface ScanCheckpoint {
  historyId: string;
  scanKey: string;
  /** RunStart and the descriptor accepted. */
  opened: boolean;
  streams: Record<string, StreamCheckpoint>;
  /** Set once the scan needs nothing more (RunStop or Run Failed accepted, or skipped). */
  outcome?: ScanOutcome;
}

export interface BridgeCheckpoint {
  version: 1;
  /** Every history entry up to and including this id is done. */
  history?: string;
  /** Scans after `history`: in progress, or done out of order. Keyed by history id. */
  scans: Record<string, ScanCheckpoint>;
  /** Progress in the Bluesky document stream (checkpoint/bluesky.ts validates it). */
  bluesky?: BlueskyCheckpoint;
}

export function emptyCheckpoint(): BridgeCheckpoint {
  return { version: 1, scans: {} };
}

/** Reads a checkpoint file; a missing file is an empty checkpoint, a corrupt one an error (never silently reset). */
export function loadCheckpoint(path: string): BridgeCheckpoint {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyCheckpoint();
    throw error;
  }
  // Version 0 of the bridge wrote only the history id.
  if (/^\d+-\d+\s*$/.test(text)) return { version: 1, history: text.trim(), scans: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(`checkpoint ${path} is not valid JSON; move it away to start from --from`, { cause: error });
  }
  const cp = parsed as Partial<BridgeCheckpoint>;
  if (
    typeof cp !== 'object' ||
    cp === null ||
    cp.version !== 1 ||
    typeof cp.scans !== 'object' ||
    cp.scans === null ||
    Array.isArray(cp.scans)
  ) {
    throw new CheckpointError(
      `checkpoint ${path} has an unknown layout (version ${String(cp?.version)}); move it away to start from --from`,
    );
  }
  if (cp.history !== undefined && !isStreamId(cp.history)) {
    throw new CheckpointError(
      `checkpoint ${path}: history ${JSON.stringify(cp.history)} is not a stream id; move it away to start from --from`,
    );
  }
  for (const [historyId, scan] of Object.entries(cp.scans)) checkScan(path, historyId, scan);
  return {
    version: 1,
    ...(cp.history ? { history: cp.history } : {}),
    scans: cp.scans,
    ...(cp.bluesky !== undefined ? { bluesky: cp.bluesky } : {}),
  };
}

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** One scan's progress must be usable as it stands: a damaged entry is named, never resumed from a guess. */
function checkScan(path: string, historyId: string, scan: unknown): void {
  const bad = (what: string): never => {
    throw new CheckpointError(
      `checkpoint ${path}: scan ${historyId} ${what}; fix or remove that entry, or move the file away to start from --from`,
    );
  };
  if (!isStreamId(historyId)) bad('is not keyed by a history id');
  if (typeof scan !== 'object' || scan === null) return bad('is not an object');
  const s = scan as Partial<ScanCheckpoint>;
  if (s.historyId !== historyId) bad(`says historyId ${JSON.stringify(s.historyId)}`);
  if (typeof s.scanKey !== 'string' || s.scanKey.length === 0) bad('has no scanKey');
  if (typeof s.opened !== 'boolean') bad('has no opened flag');
  if (s.outcome !== undefined && !['stopped', 'failed', 'skipped'].includes(s.outcome)) bad(`has outcome ${JSON.stringify(s.outcome)}`);
  if (typeof s.streams !== 'object' || s.streams === null || Array.isArray(s.streams)) return bad('has no streams');
  for (const [name, raw] of Object.entries(s.streams)) {
    const st = raw as Partial<StreamCheckpoint> | null;
    const where = `stream ${JSON.stringify(name)}`;
    if (typeof st !== 'object' || st === null) return bad(`${where} is not an object`);
    if (!isCount(st.committed)) bad(`${where}: committed ${JSON.stringify(st.committed)} is not a point index`);
    if (!isCount(st.datums)) bad(`${where}: datums ${JSON.stringify(st.datums)} is not a count`);
    if (st.chunkPoints !== undefined && !(isCount(st.chunkPoints) && st.chunkPoints > 0))
      bad(`${where}: chunkPoints ${JSON.stringify(st.chunkPoints)} is not a positive count`);
    if (st.chunkBytes !== undefined && !(isCount(st.chunkBytes) && st.chunkBytes > 0))
      bad(`${where}: chunkBytes ${JSON.stringify(st.chunkBytes)} is not a positive count`);
    if (st.pointShape !== undefined && !(Array.isArray(st.pointShape) && st.pointShape.every(isCount)))
      bad(`${where}: pointShape is not a list of sizes`);
    if (
      !Array.isArray(st.gaps) ||
      !st.gaps.every((g: GapRange) => isCount(g?.start) && isCount(g?.stop) && g.start < g.stop && g.stop <= st.committed!)
    ) {
      bad(`${where}: gaps are not ranges below committed`);
    }
  }
}

/**
 * Keeps the checkpoint in memory and writes it whenever it changed, one write at a time (a
 * change made during a write is picked up by the next one). `flush()` resolves once everything
 * changed before the call is on disk.
 */
export class CheckpointStore {
  private dirty = false;
  private writing?: Promise<void>;
  writes = 0;
  lastError?: string;

  constructor(
    readonly path: string | undefined,
    readonly data: BridgeCheckpoint,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {
    if (path) mkdirSync(dirname(path), { recursive: true });
  }

  /**
   * Where the progress came from: the file, no file yet (`missing`: a first start, or the file was
   * removed: the bridge says so in its log), or no path (`memory`: nothing survives a restart).
   */
  origin: 'file' | 'missing' | 'memory' = 'memory';

  static open(path: string | undefined, onError?: (error: unknown) => void): CheckpointStore {
    const store = new CheckpointStore(path, path ? loadCheckpoint(path) : emptyCheckpoint(), onError);
    if (path) store.origin = existsSync(path) ? 'file' : 'missing';
    return store;
  }

  /** Marks the checkpoint changed; it is written soon. */
  touch(): void {
    this.dirty = true;
    this.writing ??= this.writeLoop().finally(() => {
      this.writing = undefined;
    });
  }

  async flush(): Promise<void> {
    this.touch();
    while (this.writing) await this.writing;
  }

  private async writeLoop(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      if (!this.path) continue;
      try {
        await writeAtomically(this.path, JSON.stringify(this.data));
        this.writes++;
        this.lastError = undefined;
      } catch (error) {
        this.lastError = String(error);
        this.onError(error);
        this.dirty = true;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const file = await open(tmp, 'w');
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic
  } finally {
    await dir.close();
  }
}
