/**
 * The `bluesky` part of the bridge checkpoint (bridge/bluesky-follower.ts keeps it): the last entry
 * handled of the Bluesky document stream, the open runs' progress, and the failed runs whose later
 * documents are summarised.
 */
import { ArchiveError } from '../../src/core/errors.js';
import { isRecord } from '../../src/core/guards.js';
import { isStreamId } from '../../src/core/bliss/stream-ids.js';

/** Progress of one channel of an open run. */
export interface BlueskyChannelCheckpoint {
  /** Points [0, committed) are staged and their StreamDatum accepted. */
  committed: number;
  datums: number;
  /** Points per chunk (grid), fixed when the channel is created. */
  chunkPoints: number;
}

export interface BlueskyRunCheckpoint {
  /** Stream id of the run's start document: a restart reads again from here. */
  startEntry: string;
  /** RunStart accepted. */
  opened: boolean;
  /** Descriptor uid → its EventDescriptor and StreamResources accepted. */
  descriptors: Record<string, boolean>;
  channels: Record<string, BlueskyChannelCheckpoint>;
}

/** Documents of a failed run read since its last dead-letter summary. */
export interface BlueskySkippedDocuments {
  firstEntry: string;
  lastEntry: string;
  documents: number;
  /** Documents by name: `event`, `event_page`, `descriptor`, `stop` … */
  byKind: Record<string, number>;
  /** Events they carry (an event page counts each of its seq_nums). */
  events: number;
  /** When the first of them was counted (ms since the epoch). */
  since: number;
}

/** A run failed, or whose start document was refused, while it is listed in `finished`. */
export interface BlueskyFailedRun {
  /** Why (the Run Failed reason and first error, shortened), repeated in each summary. */
  reason: string;
  /** The entry that failed the run (or the refused start document). */
  entryId: string;
  /** Its descriptor uids: an event names only its descriptor. */
  descriptors: string[];
  /** Counted but not yet in a dead-letter summary; written with the cursor, so a kill neither loses nor recounts them. */
  pending?: BlueskySkippedDocuments;
}

export interface BlueskyCheckpoint {
  stream: string;
  /** Every entry up to and including this id is handled (or belongs to a run listed in `runs`). */
  cursor: string;
  /** Open runs by uid. */
  runs: Record<string, BlueskyRunCheckpoint>;
  /** Runs finished recently (stopped or failed): their replayed entries are ignored, the later ones of a failed run summarised. */
  finished: string[];
  /** The failed runs among `finished`, by uid. */
  failed: Record<string, BlueskyFailedRun>;
}

/** Validates the `bluesky` part of a checkpoint file; a damaged one is named, never guessed around. */
export function checkBlueskyCheckpoint(value: unknown, stream: string, path = 'checkpoint'): BlueskyCheckpoint | undefined {
  if (value === undefined) return undefined;
  const bad = (what: string): never => {
    throw new ArchiveError(`${path}: bluesky ${what}; fix or remove the "bluesky" entry to start the stream from --bluesky-from`, {
      key: path,
    });
  };
  if (typeof value !== 'object' || value === null) return bad('is not an object');
  const cp = value as Partial<BlueskyCheckpoint>;
  if (cp.stream !== stream) return undefined; // another stream: start this one afresh
  if (typeof cp.cursor !== 'string' || !/^\d+-\d+$/.test(cp.cursor)) bad(`cursor ${JSON.stringify(cp.cursor)} is not a stream id`);
  if (typeof cp.runs !== 'object' || cp.runs === null || Array.isArray(cp.runs)) return bad('runs is not an object');
  for (const [uid, run] of Object.entries(cp.runs)) {
    const r = run as Partial<BlueskyRunCheckpoint> | null;
    if (
      !r ||
      typeof r.startEntry !== 'string' ||
      typeof r.opened !== 'boolean' ||
      typeof r.descriptors !== 'object' ||
      typeof r.channels !== 'object'
    )
      bad(`run ${uid} is incomplete`);
    if (!/^\d+-\d+$/.test(r!.startEntry!)) bad(`run ${uid} start entry ${JSON.stringify(r!.startEntry)} is not a stream id`);
    for (const [name, c] of Object.entries(r!.channels ?? {})) {
      const ok =
        Number.isSafeInteger(c?.committed) &&
        c.committed >= 0 &&
        Number.isSafeInteger(c.datums) &&
        Number.isSafeInteger(c.chunkPoints) &&
        c.chunkPoints > 0;
      if (!ok) bad(`run ${uid} channel ${name} is not a valid progress record`);
    }
  }
  const failed = cp.failed ?? {};
  if (typeof failed !== 'object' || failed === null || Array.isArray(failed)) return bad('failed is not an object');
  for (const [uid, run] of Object.entries(failed)) {
    const f = run as Partial<BlueskyFailedRun> | null;
    if (
      !f ||
      typeof f.reason !== 'string' ||
      !isStreamId(f.entryId) ||
      !Array.isArray(f.descriptors) ||
      !f.descriptors.every((d) => typeof d === 'string')
    )
      bad(`failed run ${uid} is incomplete`);
    const p = f!.pending as Partial<BlueskySkippedDocuments> | undefined;
    const count = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
    if (
      p !== undefined &&
      !(
        isStreamId(p?.firstEntry) &&
        isStreamId(p.lastEntry) &&
        count(p.documents) &&
        count(p.events) &&
        count(p.since) &&
        isRecord(p.byKind) &&
        Object.values(p.byKind).every(count)
      )
    ) {
      bad(`failed run ${uid} has a damaged summary of documents not yet dead-lettered`);
    }
  }
  return {
    stream,
    cursor: cp.cursor!,
    runs: cp.runs as Record<string, BlueskyRunCheckpoint>,
    finished: Array.isArray(cp.finished) ? cp.finished.filter((u): u is string => typeof u === 'string') : [],
    failed: failed as Record<string, BlueskyFailedRun>,
  };
}
