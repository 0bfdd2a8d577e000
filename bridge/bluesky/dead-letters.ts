/**
 * What the Bluesky follower cannot archive goes to the dead-letter file: an entry that cannot be
 * archived (not JSON, unknown document, orphan), with the reason; and the documents of a run
 * already failed (or whose start was refused), counted, not archived, in one summary per run and
 * range of entries (run uid, first and last entry id, counts by document kind, why the run
 * failed). The counts not yet written are kept in the checkpoint with the cursor.
 */
import { EventSource } from '../../src/core/contract/detail-types.js';
import { BlueskyDocumentName, type BlueskyEntry } from '../../src/core/bluesky/documents.js';
import type { StreamEntry } from '../../src/core/bliss/scan-source.js';
import { ArchiveError } from '../../src/core/errors.js';
import type { BridgeStats } from '../bridge-stats.js';
import { compareStreamIds, type BlueskyCheckpoint, type BlueskyFailedRun } from '../checkpoint/index.js';
import type { DeadLetter } from '../staging/sink.js';

/** A failed run's reason as repeated in each summary of its documents (the whole reason is in Run Failed and the log). */
const FAILED_REASON_CHARS = 400;

export interface DeadLettersContext {
  stream: string;
  deadLetter: DeadLetter;
  stats: BridgeStats;
  saveCheckpoint: () => void;
  checkpoint: () => BlueskyCheckpoint;
  /** Descriptor uid → run uid (a failed run's descriptors keep naming it). */
  descriptorRun: Map<string, string>;
  /** The follower's counts (status). */
  counts: { deadLetters: number; failedRunDocuments: number };
  summaryIntervalMs?: number | undefined;
  summaryMaxDocuments?: number | undefined;
}

export class BlueskyDeadLetters {
  constructor(private readonly ctx: DeadLettersContext) {}

  /** Counts a document of a failed run into its pending summary (written at its stop document or when too many). */
  async countDocumentOfFailedRun(uid: string, failed: BlueskyFailedRun, entry: BlueskyEntry): Promise<void> {
    const p = (failed.pending ??= { firstEntry: entry.id, lastEntry: entry.id, documents: 0, byKind: {}, events: 0, since: Date.now() });
    p.lastEntry = entry.id;
    p.documents++;
    p.byKind[entry.name] = (p.byKind[entry.name] ?? 0) + 1;
    p.events +=
      entry.name === BlueskyDocumentName.Event
        ? 1
        : entry.name === BlueskyDocumentName.EventPage && Array.isArray(entry.doc.seq_num)
          ? entry.doc.seq_num.length
          : 0;
    if (entry.name === BlueskyDocumentName.Descriptor && typeof entry.doc.uid === 'string' && !failed.descriptors.includes(entry.doc.uid)) {
      failed.descriptors.push(entry.doc.uid);
      this.ctx.descriptorRun.set(entry.doc.uid, uid);
    }
    this.ctx.counts.failedRunDocuments++;
    // Counted and handled in one step: a checkpoint written now neither loses the entry nor counts it again after a restart.
    if (compareStreamIds(entry.id, this.ctx.checkpoint().cursor) > 0) this.ctx.checkpoint().cursor = entry.id;
    this.ctx.saveCheckpoint();
    if (entry.name === BlueskyDocumentName.Stop || p.documents >= (this.ctx.summaryMaxDocuments ?? 10_000))
      await this.writeSummary(uid, failed);
  }

  /** Writes the pending summaries of failed runs: all of them, or those older than the summary interval. */
  async writeSummaries(all: boolean): Promise<void> {
    const now = Date.now();
    for (const [uid, failed] of Object.entries(this.ctx.checkpoint().failed)) {
      if (failed.pending && (all || now - failed.pending.since >= (this.ctx.summaryIntervalMs ?? 60_000)))
        await this.writeSummary(uid, failed);
    }
  }

  /** One dead-letter record for the documents of a failed run counted since the last one: enough to find them again with XRANGE. */
  async writeSummary(uid: string, failed: BlueskyFailedRun): Promise<void> {
    const p = failed.pending;
    if (!p) return;
    const kinds = Object.entries(p.byKind)
      .map(([kind, n]) => `${n} ${kind}`)
      .join(', ');
    const reason = `${p.documents} documents of run ${uid} (stream entries ${p.firstEntry}..${p.lastEntry}) not archived (${kinds}; ${p.events} events): the run failed earlier, at entry ${failed.entryId}: ${failed.reason}`;
    this.ctx.stats.deadLetters++;
    this.ctx.counts.deadLetters++;
    await this.ctx.deadLetter(
      {
        detailType: 'BlueskyFailedRunDocuments',
        source: EventSource.Bridge,
        detail: {
          stream: this.ctx.stream,
          runUid: uid,
          firstEntry: p.firstEntry,
          lastEntry: p.lastEntry,
          documents: p.documents,
          byKind: p.byKind,
          events: p.events,
          runFailure: { reason: failed.reason, entryId: failed.entryId },
        },
      },
      reason,
      { stream: this.ctx.stream, runUid: uid, firstEntry: p.firstEntry, lastEntry: p.lastEntry, documents: p.documents },
    );
    // After the record is written: a kill in between writes it twice rather than never.
    delete failed.pending;
    this.ctx.saveCheckpoint();
  }

  async rejectEntry(entry: StreamEntry, error: unknown): Promise<void> {
    const reason = error instanceof Error ? error.message : String(error);
    const context = error instanceof ArchiveError ? error.context : {};
    const raw = entry.fields.get('doc');
    this.ctx.stats.deadLetters++;
    this.ctx.counts.deadLetters++;
    await this.ctx.deadLetter(
      {
        detailType: 'BlueskyStreamEntry',
        source: EventSource.Bridge,
        detail: {
          stream: this.ctx.stream,
          entryId: entry.id,
          name: entry.fields.get('name')?.toString('utf8') ?? null,
          doc: raw ? raw.toString('utf8').slice(0, 64 * 1024) : null,
        },
      },
      reason,
      { ...context, stream: this.ctx.stream, entryId: entry.id },
    );
  }
}

export function shorten(text: string): string {
  return text.length <= FAILED_REASON_CHARS ? text : `${text.slice(0, FAILED_REASON_CHARS - 1)}…`;
}
