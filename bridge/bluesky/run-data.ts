/**
 * The data of one Bluesky run: its descriptors' channels, each cut on its grid by a chunker
 * (bridge/staging/chunker.ts) and staged by the run's sink (bridge/staging/sink.ts); the points of
 * events and event pages checked (seq_num in order, a value for every channel) and appended; the
 * ranges accepted committed in the run's checkpoint. bridge/bluesky-follower.ts dispatches the
 * documents and keeps the runs' state machine.
 */
import { DetailType, EventSource } from '../../src/core/contract/detail-types.js';
import {
  blueskyStreamDatumOf,
  packJsonLines,
  packPoints,
  type BlueskyChannel,
  type BlueskyDoc,
  type BlueskyEntry,
  type NotArchived,
} from '../../src/core/bluesky/documents.js';
import { BlueskyDocumentError } from '../../src/core/bluesky/errors.js';
import { ArchiveError } from '../../src/core/errors.js';
import { stagingChunkKey } from '../../src/core/object-keys.js';
import { isRecord } from '../../src/core/guards.js';
import type { ObjectStore } from '../../src/core/ports.js';
import type { MemoryBudget } from '../bridge-stats.js';
import type { BlueskyChannelCheckpoint, BlueskyRunCheckpoint } from '../checkpoint/index.js';
import { Chunker, type Chunk } from '../staging/chunker.js';
import { RangeCommits } from '../staging/commits.js';
import type { StagingSink } from '../staging/sink.js';
import type { Stopper } from '../staging/stopper.js';

export interface RunDataContext {
  store: ObjectStore;
  /** The bridge's beamline (--beamline): chunks are staged under staging/<beamline>/<run>/, the only staging its role may write. */
  beamline: string;
  saveCheckpoint: () => void;
  budget: MemoryBudget;
  stopper: Stopper;
  /** A chunk holds at most this many points and bytes (a channel's grid, fixed once in the checkpoint). */
  chunkPoints: number;
  chunkBytes: number;
  /** Chunks being uploaded/announced at once per run (backpressure on the reads). */
  maxInflightChunks: number;
}

export interface ChannelState {
  ch: BlueskyChannel;
  cp: BlueskyChannelCheckpoint;
  descriptorUid: string;
  /** Cuts the channel's points on its grid (bridge/staging/chunker.ts). */
  chunker: Chunker;
  /** Ranges staged beyond cp.committed. */
  commits: RangeCommits<{ stop: number }>;
}

export interface DescriptorState {
  uid: string;
  stream: string;
  channels: ChannelState[];
  /** Point index (seq_num - 1) expected next. */
  next: number;
}

export interface RunState {
  uid: string;
  cp: BlueskyRunCheckpoint;
  descriptors: Map<string, DescriptorState>;
  /** The run's staging sink: its chunks in flight and its ordered documents (bridge/staging/sink.ts). */
  sink: StagingSink;
  failure?: unknown;
  notArchived: NotArchived[];
  eventsReceived: Record<string, number>;
  documents: { descriptor: number; stream_resource: number };
}

/** The run is to be failed (Run Failed); the entry that caused it goes to the dead-letter file too. */
export class RunDataError extends BlueskyDocumentError {
  override name = 'RunDataError';
}

/** The channels of a descriptor, each on its grid (fixed at its first descriptor, kept in the run's checkpoint), resuming at its committed index. */
export function descriptorChannels(ctx: RunDataContext, run: RunState, uid: string, channels: BlueskyChannel[]): ChannelState[] {
  return channels.map((ch) => {
    // JSON points differ in size: their grid assumes 64 bytes a point (fixed once, in the checkpoint).
    const pointBytes = ch.encoding === 'json' ? 64 : ch.dtype.itemsize * ch.shape.reduce((a, b) => a * b, 1);
    const cp = (run.cp.channels[ch.name] ??= {
      committed: 0,
      datums: 0,
      chunkPoints: Math.max(1, Math.min(ctx.chunkPoints, pointBytes > 0 ? Math.floor(ctx.chunkBytes / pointBytes) : ctx.chunkPoints)),
    });
    const c: ChannelState = { ch, cp, descriptorUid: uid, commits: new RangeCommits(() => cp.committed), chunker: undefined! };
    c.chunker = new Chunker(
      { grid: cp.chunkPoints, json: ch.encoding === 'json', onChunk: (chunk) => stage(ctx, run, c, chunk) },
      cp.committed,
    );
    return c;
  });
}

/** The points of an event or event page, appended to the chunkers of its descriptor's channels (in order: a hole, a repeat or a bad value fails the run). */
export async function appendEvents(ctx: RunDataContext, run: RunState, entry: BlueskyEntry, page: EventColumns): Promise<void> {
  const desc = run.descriptors.get(page.descriptor)!;
  const n = page.seqNums.length;
  if (n === 0) return;
  const firstSeq = page.seqNums[0];
  if (!Number.isSafeInteger(firstSeq) || (firstSeq as number) < 1) {
    throw new RunDataError(
      `stream entry ${entry.id}: run ${run.uid}, stream ${desc.stream}: seq_num ${JSON.stringify(firstSeq) ?? 'missing'} is not a positive integer (${desc.next + 1} was expected)`,
      { entryId: entry.id, runUid: run.uid, stream: desc.stream, index: desc.next },
    );
  }
  const first = (firstSeq as number) - 1;
  page.seqNums.forEach((s, i) => {
    if (!Number.isSafeInteger(s) || s - 1 !== first + i) {
      throw new RunDataError(
        `stream entry ${entry.id}: run ${run.uid}, stream ${desc.stream}: seq_num ${s} where ${first + i + 1} was expected`,
        { entryId: entry.id, runUid: run.uid, stream: desc.stream, index: first + i },
      );
    }
  });
  if (first !== desc.next) {
    // Replayed events after a restart start at 0 again; anything else is a hole or a repeat.
    if (!(first < desc.next && first + n <= desc.next)) {
      throw new RunDataError(
        `stream entry ${entry.id}: run ${run.uid}, stream ${desc.stream}: events start at seq_num ${first + 1}, ${desc.next + 1} was expected`,
        { entryId: entry.id, runUid: run.uid, stream: desc.stream, index: desc.next },
      );
    }
    return;
  }
  desc.next = first + n;
  run.eventsReceived[desc.stream] = desc.next;
  for (const c of desc.channels) {
    if (first + n <= c.cp.committed) continue; // staged before a restart
    const column = page.data[c.ch.key];
    if (!Array.isArray(column) || column.length !== n) {
      throw new RunDataError(
        `stream entry ${entry.id}: run ${run.uid}, channel ${c.ch.name}: ${column === undefined ? 'no value' : 'a column of the wrong length'} in ${entry.name} (points ${first}..${first + n - 1})`,
        { entryId: entry.id, runUid: run.uid, stream: c.ch.name, index: first },
      );
    }
    const skip = Math.max(0, c.cp.committed - first);
    let bytes: Buffer[];
    try {
      bytes =
        c.ch.encoding === 'json'
          ? packJsonLines(column.slice(skip))
          : [packPoints(c.ch, column.slice(skip), { runUid: run.uid, channel: c.ch.name, index: first + skip, entryId: entry.id })];
    } catch (error) {
      const context = error instanceof ArchiveError ? error.context : {};
      throw new RunDataError(
        (error as Error).message,
        { ...context, entryId: entry.id, runUid: run.uid, stream: c.ch.name },
        { cause: error },
      );
    }
    c.chunker.append(first + skip, n - skip, c.ch.encoding === 'json' ? bytes : bytes[0]!);
  }
  await run.sink.backpressure(ctx.maxInflightChunks);
  await ctx.budget.waitForRoom(ctx.stopper.signal);
  throwIfFailed(run);
}

/** Stages a chunk of a channel and announces it (in flight); its range is committed once its datum is accepted. */
function stage(ctx: RunDataContext, run: RunState, c: ChannelState, chunk: Chunk): void {
  const { start, stop } = chunk;
  run.sink.stage({
    key: stagingChunkKey(ctx.beamline, run.uid, c.ch.name, start, stop),
    bytes: chunk.bytes,
    points: stop - start,
    ...(c.ch.encoding === 'json' ? { contentType: 'application/x-ndjson' } : {}),
    datum: (stored) => ({
      detailType: DetailType.StreamDatum,
      source: EventSource.Bridge,
      detail: blueskyStreamDatumOf(run.uid, ctx.store.bucket, c.ch.name, c.descriptorUid, start, stop, stored),
    }),
    done: () => {
      for (const next of c.commits.complete(start, { stop })) {
        c.cp.committed = next.stop;
        c.cp.datums++;
      }
      ctx.saveCheckpoint();
    },
    fail: (error) => {
      run.failure ??= error;
    },
  });
}

/** At the stop document: the RunEngine counted more events than reached the stream (an XADD lost): the run would be archived truncated. */
export function checkNoEventLost(run: RunState, entry: BlueskyEntry, streamName: string): void {
  const declared = isRecord(entry.doc.num_events) ? entry.doc.num_events : {};
  for (const [stream, count] of Object.entries(declared)) {
    const received = run.eventsReceived[stream] ?? 0;
    if (Number.isSafeInteger(count) && (count as number) > received) {
      throw new RunDataError(
        `stream entry ${entry.id}: run ${run.uid}: the stop document counts ${count as number} events in stream ${stream}, the stream carried ${received}; events were lost before they reached ${streamName}`,
        { entryId: entry.id, runUid: run.uid, stream, index: received },
      );
    }
  }
}

/** Points and datums of every channel, once all are committed (at the stop, after the sink settled). */
export function committedPoints(run: RunState): { points: Record<string, number>; datums: number } {
  const points: Record<string, number> = {};
  let datums = 0;
  for (const desc of run.descriptors.values()) {
    for (const c of desc.channels) {
      if (c.cp.committed !== desc.next) {
        throw new ArchiveError(`run ${run.uid}: channel ${c.ch.name} committed ${c.cp.committed} of ${desc.next} points at the stop`, {
          runUid: run.uid,
          stream: c.ch.name,
        });
      }
      points[c.ch.name] = c.cp.committed;
      datums += c.cp.datums;
    }
  }
  return { points, datums };
}

export function throwIfFailed(run: RunState): void {
  if (run.failure) throw run.failure;
}

export interface EventColumns {
  descriptor: string;
  seqNums: number[];
  data: Record<string, unknown[]>;
}

export function eventAsPage(entry: BlueskyEntry): EventColumns {
  const doc = entry.doc;
  const data = (typeof doc.data === 'object' && doc.data !== null ? doc.data : {}) as Record<string, unknown>;
  return {
    descriptor: doc.descriptor as string,
    seqNums: [doc.seq_num as number],
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, [v]])),
  };
}

export function pageOf(entry: BlueskyEntry): EventColumns {
  const doc: BlueskyDoc = entry.doc;
  if (!Array.isArray(doc.seq_num) || typeof doc.data !== 'object' || doc.data === null) {
    throw new BlueskyDocumentError(`stream entry ${entry.id}: event_page has no seq_num list or no data`, {
      entryId: entry.id,
      document: entry.name,
    });
  }
  return { descriptor: doc.descriptor as string, seqNums: doc.seq_num as number[], data: doc.data as Record<string, unknown[]> };
}
