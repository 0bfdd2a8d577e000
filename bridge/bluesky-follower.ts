/**
 * Follows the Redis stream of Bluesky documents (tools/bluesky-publisher, docs/bluesky.md) and
 * archives every run in it like a BLISS scan: RunStart, one EventDescriptor per event stream
 * (`primary`, `baseline` …), the numeric columns of events and event pages staged in S3 as chunks
 * on a fixed grid with their StreamResource/StreamDatum, and RunStop once every chunk of the run
 * is staged and every earlier document accepted.
 *
 * Entries are handled one at a time in stream order. Progress is kept in the bridge checkpoint
 * (`bluesky`): the last entry handled, and per open run the entry of its start document, what was
 * accepted, and per channel the points staged and announced. After a restart the stream is read
 * again from the oldest open run's start document: the documents of finished runs and entries
 * already handled are skipped, the open runs are rebuilt, and each channel skips the points it
 * had committed; a chunk re-staged after a kill has the same key and datum uid (it overwrites).
 *
 * An entry that cannot be archived (not JSON, unknown document name, a document for a run whose
 * start is unknown, an event for an unknown descriptor) goes to the dead-letter file with the
 * reason; a run whose own data is bad (a value that does not fit its data key, seq_num gaps) is
 * failed with Run Failed. Other runs keep flowing.
 *
 * The documents of a run already failed (or whose start was refused) that arrive later, also after
 * a restart, are counted, not archived: one dead-letter summary per run and range of entries
 * (run uid, first and last entry id, counts by document kind, why the run failed) instead of one
 * record per document. The counts not yet written are kept in the checkpoint with the cursor.
 *
 * This file is the runs' state machine (stream read, document dispatch, start, stop, failure,
 * checkpoint); a run's channels and events are in bridge/bluesky/run-data.ts, the dead-letter
 * records and failed-run summaries in bridge/bluesky/dead-letters.ts.
 */
import { DetailType, EventSource } from '../src/core/contract/detail-types.js';
import type { RunError } from '../src/core/contract/generated-types.js';
import { runFailedOf } from '../src/core/event-model/documents.js';
import type { StreamEntry } from '../src/core/bliss/scan-source.js';
import {
  BlueskyDocumentName,
  blueskyDescriptorOf,
  blueskyRunStartOf,
  blueskyRunStopOf,
  blueskyStreamResourceOf,
  channelsOfDescriptor,
  MAX_INLINE_START,
  parseBlueskyEntry,
  requireString,
  startDocumentBytes,
  type BlueskyEntry,
} from '../src/core/bluesky/documents.js';
import { BlueskyDocumentError } from '../src/core/bluesky/errors.js';
import { stagingRunPrefix } from '../src/core/object-keys.js';
import type { OutgoingEvent } from '../src/core/ports.js';
import { backoffDelay } from './bridge-stats.js';
import { compareStreamIds, predecessor, type BlueskyCheckpoint, type BlueskyRunCheckpoint } from './checkpoint/index.js';
import { Interrupted, runErrorOf } from './errors.js';
import { BlueskyDeadLetters, shorten } from './bluesky/dead-letters.js';
import {
  appendEvents,
  checkNoEventLost,
  committedPoints,
  descriptorChannels,
  eventAsPage,
  pageOf,
  RunDataError,
  throwIfFailed,
  type DescriptorState,
  type RunDataContext,
  type RunState,
} from './bluesky/run-data.js';
import type { BlueskyFollowerDeps, BlueskyFollowerOptions, BlueskyStatus } from './bluesky/follower-options.js';
import { StagingSink } from './staging/sink.js';
import { Stopper } from './staging/stopper.js';

export type { BlueskyCheckpoint } from './checkpoint/index.js';
export type { BlueskyFollowerDeps, BlueskyFollowerOptions, BlueskyStatus } from './bluesky/follower-options.js';

const FINISHED_KEPT = 1000;

export class BlueskyFollower {
  private cp!: BlueskyCheckpoint;
  private readonly runs = new Map<string, RunState>();
  private readonly descriptorRun = new Map<string, string>();
  private readonly finished = new Set<string>();
  private readonly stopper = new Stopper();
  private caughtUp = false;
  private readonly counts = { stopped: 0, failed: 0, resumed: 0, deadLetters: 0, failedRunDocuments: 0 };

  /** Rejected entries and failed runs' documents (bridge/bluesky/dead-letters.ts). */
  private readonly deadLetters: BlueskyDeadLetters;
  /** What a run's channels need (bridge/bluesky/run-data.ts). */
  private readonly runData: RunDataContext;

  constructor(
    private readonly deps: BlueskyFollowerDeps,
    private readonly options: BlueskyFollowerOptions,
  ) {
    this.deadLetters = new BlueskyDeadLetters({
      stream: options.stream,
      deadLetter: deps.deadLetter,
      stats: deps.stats,
      saveCheckpoint: deps.saveCheckpoint,
      checkpoint: () => this.cp,
      descriptorRun: this.descriptorRun,
      counts: this.counts,
      summaryIntervalMs: options.summaryIntervalMs,
      summaryMaxDocuments: options.summaryMaxDocuments,
    });
    const { chunkPoints, chunkBytes, maxInflightChunks } = options;
    this.runData = {
      store: deps.store,
      beamline: options.policy.beamline,
      saveCheckpoint: deps.saveCheckpoint,
      budget: deps.budget,
      stopper: this.stopper,
      chunkPoints,
      chunkBytes,
      maxInflightChunks,
    };
  }

  stop(): void {
    this.stopper.stop();
  }

  private get stopping(): boolean {
    return this.stopper.stopping;
  }

  /** A staging sink for one run (chunks, documents, dead letters named by the run). */
  private sinkFor(runUid: string): StagingSink {
    return new StagingSink({ ...this.deps, stopper: this.stopper }, this.options, { runUid });
  }

  status(): BlueskyStatus {
    return {
      stream: this.options.stream,
      cursor: this.cp?.cursor ?? '',
      caughtUp: this.caughtUp,
      openRuns: [...this.runs.keys()],
      runsStopped: this.counts.stopped,
      runsFailed: this.counts.failed,
      resumed: this.counts.resumed,
      deadLetters: this.counts.deadLetters,
      failedRunDocuments: this.counts.failedRunDocuments,
    };
  }

  /** Caught up with the stream and no run open. */
  idle(): boolean {
    return this.caughtUp && this.runs.size === 0 && Object.keys(this.cp?.runs ?? {}).length === 0;
  }

  async run(): Promise<void> {
    const existing = this.deps.checkpoint();
    this.cp = existing ?? {
      stream: this.options.stream,
      cursor: this.options.from === '0' ? '0-0' : this.options.from,
      runs: {},
      finished: [],
      failed: {},
    };
    if (!existing) this.deps.setCheckpoint(this.cp);
    for (const uid of this.cp.finished) this.finished.add(uid);
    for (const [uid, failed] of Object.entries(this.cp.failed)) {
      this.finished.add(uid);
      for (const d of failed.descriptors) this.descriptorRun.set(d, uid);
    }
    const open = Object.entries(this.cp.runs).sort(([, a], [, b]) => compareStreamIds(a.startEntry, b.startEntry));
    let cursor = this.cp.cursor;
    if (open.length > 0) {
      cursor = predecessor(open[0]![1].startEntry);
      this.counts.resumed = open.length;
      this.deps.logger.info('Bluesky runs resumed from the checkpoint', {
        stream: this.options.stream,
        runs: open.map(([uid]) => uid),
        from: cursor,
      });
    }
    this.deps.logger.info('following Bluesky documents', { stream: this.options.stream, cursor });
    try {
      for (let failedReads = 0; !this.stopping;) {
        let read: Map<string, StreamEntry[]>;
        try {
          read = await this.deps.reader.read(new Map([[this.options.stream, cursor]]), this.options.readCount, this.options.blockMs);
          failedReads = 0;
        } catch (error) {
          // Redis away (restart, network): keep the place and try again with backoff.
          failedReads++;
          if (failedReads === 1 || failedReads % 10 === 0)
            this.deps.logger.warn('Bluesky stream read failed; retrying', {
              stream: this.options.stream,
              cursor,
              attempt: failedReads,
              error: String(error),
            });
          await this.stopper.sleep(backoffDelay(failedReads, this.options.retryBaseMs ?? 200, this.options.retryMaxMs ?? 10_000));
          continue;
        }
        const entries = read.get(this.options.stream) ?? [];
        if (entries.length === 0) {
          this.caughtUp = compareStreamIds(cursor, this.cp.cursor) >= 0;
          await this.deadLetters.writeSummaries(false);
          continue;
        }
        this.caughtUp = false;
        for (const entry of entries) {
          if (this.stopping) break;
          await this.failTrimmedRuns(entry.id);
          await this.handle(entry);
          cursor = entry.id;
          if (compareStreamIds(entry.id, this.cp.cursor) > 0) {
            this.cp.cursor = entry.id;
            this.deps.saveCheckpoint();
          }
        }
        await this.deadLetters.writeSummaries(false);
      }
    } catch (error) {
      if (!(error instanceof Interrupted)) throw error;
    } finally {
      for (const run of this.runs.values()) await run.sink.settle().catch(() => undefined);
      // What is counted is in the checkpoint anyway; written now, a person sees it without waiting for the next start.
      await this.deadLetters
        .writeSummaries(true)
        .catch((error: unknown) =>
          this.deps.logger.error('Bluesky failed-run summaries not written; they stay in the checkpoint', { error: String(error) }),
        );
    }
  }

  /** An open run of the checkpoint whose start document is no longer in the stream cannot be rebuilt. */
  private async failTrimmedRuns(nextId: string): Promise<void> {
    for (const [uid, run] of Object.entries(this.cp.runs)) {
      if (this.runs.has(uid) || compareStreamIds(run.startEntry, nextId) >= 0) continue;
      await this.failRun(uid, run.startEntry, 'the run cannot be resumed: its start document was trimmed from the stream', [
        { message: `start entry ${run.startEntry} of ${this.options.stream} is gone; raise the publisher's maxlen` },
      ]);
    }
  }

  private async handle(entry: StreamEntry): Promise<void> {
    const replay = compareStreamIds(entry.id, this.cp.cursor) <= 0;
    let doc: BlueskyEntry;
    try {
      doc = parseBlueskyEntry(entry.id, entry.fields);
    } catch (error) {
      if (!replay) await this.deadLetters.rejectEntry(entry, error);
      return;
    }
    const runUid = this.runOf(doc);
    if (replay && (runUid === undefined || !this.cp.runs[runUid])) return; // handled before the restart
    if (runUid !== undefined && this.finished.has(runUid)) {
      const failed = this.cp.failed[runUid];
      if (failed) await this.deadLetters.countDocumentOfFailedRun(runUid, failed, doc);
      else
        this.deps.logger.debug('document of a stopped run ignored', {
          stream: this.options.stream,
          entryId: entry.id,
          runUid,
          document: doc.name,
        });
      return;
    }
    try {
      await this.dispatch(doc, runUid);
    } catch (error) {
      if (error instanceof Interrupted) throw error;
      if (replay && error instanceof BlueskyDocumentError && !(error instanceof RunDataError)) return; // rejected before the restart
      if (error instanceof RunDataError && runUid && this.runs.has(runUid)) {
        await this.deadLetters.rejectEntry(entry, error);
        // A descriptor that failed the run (a second one for a stream) was never set up: its uid is kept all the
        // same, so that its events are counted in the run's summaries, not dead-lettered one by one as orphans.
        const refusedDescriptor = doc.name === BlueskyDocumentName.Descriptor && typeof doc.doc.uid === 'string' ? [doc.doc.uid] : [];
        await this.failRun(runUid, entry.id, 'a document of the run cannot be archived', [runErrorOf(error)], refusedDescriptor);
        return;
      }
      if (error instanceof BlueskyDocumentError || !(runUid && this.runs.has(runUid))) {
        // Not a run's data: the entry itself cannot be archived (a start the contract refuses …).
        await this.deadLetters.rejectEntry(entry, error);
        if (
          doc.name === BlueskyDocumentName.Start &&
          runUid &&
          !this.runs.has(runUid) &&
          !this.cp.runs[runUid] &&
          !this.finished.has(runUid)
        ) {
          // A refused start: the run's later documents are summarised like those of a failed run, not dead-lettered one by one as orphans.
          this.cp.failed[runUid] = {
            reason: shorten(`its start document was refused: ${error instanceof Error ? error.message : String(error)}`),
            entryId: entry.id,
            descriptors: [],
          };
          await this.close(runUid, entry.id);
        }
        return;
      }
      await this.failRun(runUid, entry.id, 'bridge error while following the run', [runErrorOf(error)]);
    }
  }

  /** The run a document belongs to, when it can be told from the document or a known descriptor. */
  private runOf(entry: BlueskyEntry): string | undefined {
    const { doc, name } = entry;
    switch (name) {
      case BlueskyDocumentName.Start:
        return typeof doc.uid === 'string' ? doc.uid : undefined;
      case BlueskyDocumentName.Event:
      case BlueskyDocumentName.EventPage:
        return typeof doc.descriptor === 'string' ? this.descriptorRun.get(doc.descriptor) : undefined;
      default:
        return typeof doc.run_start === 'string' ? doc.run_start : undefined;
    }
  }

  private async dispatch(entry: BlueskyEntry, runUid: string | undefined): Promise<void> {
    const ctx = { entryId: entry.id, document: entry.name };
    if (entry.name === BlueskyDocumentName.Start) return this.onStart(entry);
    if (
      entry.name === BlueskyDocumentName.Datum ||
      entry.name === BlueskyDocumentName.DatumPage ||
      entry.name === BlueskyDocumentName.StreamDatum
    ) {
      return; // their resource was listed as not archived
    }
    const run = runUid ? this.runs.get(runUid) : undefined;
    if (!run) {
      if (entry.name === BlueskyDocumentName.Event || entry.name === BlueskyDocumentName.EventPage) {
        throw new BlueskyDocumentError(
          `stream entry ${entry.id}: ${entry.name} for unknown descriptor ${JSON.stringify(entry.doc.descriptor)} (no descriptor document before it)`,
          { ...ctx, descriptor: String(entry.doc.descriptor) },
        );
      }
      throw new BlueskyDocumentError(
        `stream entry ${entry.id}: ${entry.name} document for run ${JSON.stringify(runUid ?? null)} whose start document was never seen`,
        { ...ctx, runUid: runUid ?? '' },
      );
    }
    throwIfFailed(run);
    switch (entry.name) {
      case BlueskyDocumentName.Descriptor:
        return this.onDescriptor(run, entry);
      case BlueskyDocumentName.Event:
        return appendEvents(this.runData, run, entry, eventAsPage(entry));
      case BlueskyDocumentName.EventPage:
        return appendEvents(this.runData, run, entry, pageOf(entry));
      case BlueskyDocumentName.Stop:
        return this.onStop(run, entry);
      case BlueskyDocumentName.Resource:
      case BlueskyDocumentName.StreamResource: {
        const key =
          typeof entry.doc.data_key === 'string' ? entry.doc.data_key : typeof entry.doc.spec === 'string' ? entry.doc.spec : entry.name;
        run.notArchived.push({
          channel: `${entry.name}:${key}`,
          reason: 'data in external files (resource documents) is not carried by the bridge',
        });
        this.deps.logger.warn('Bluesky external resource not archived', { runUid: run.uid, entryId: entry.id, resource: key });
        return;
      }
      default:
        return;
    }
  }

  private async onStart(entry: BlueskyEntry): Promise<void> {
    const uid = requireString(entry.doc, 'uid', { entryId: entry.id, document: 'start' });
    if (this.runs.has(uid))
      throw new BlueskyDocumentError(`stream entry ${entry.id}: second start document for run ${uid}`, { entryId: entry.id, runUid: uid });
    const known = this.cp.runs[uid];
    const cp: BlueskyRunCheckpoint = known ?? { startEntry: entry.id, opened: false, descriptors: {}, channels: {} };
    const run: RunState = {
      uid,
      cp,
      descriptors: new Map(),
      sink: this.sinkFor(uid),
      notArchived: [],
      eventsReceived: {},
      documents: { descriptor: 0, stream_resource: 0 },
    };
    let startRef: { bucket: string; key: string; bytes: number; sha256: string } | undefined;
    if (startDocumentBytes(entry.doc) > MAX_INLINE_START) {
      const stored = await run.sink.put(
        `${stagingRunPrefix(this.options.policy.beamline, uid)}bluesky-start.json`,
        JSON.stringify(entry.doc),
        'application/json',
      );
      startRef = { bucket: this.deps.store.bucket, key: stored.key, bytes: stored.bytes, sha256: stored.sha256 };
    }
    const start = blueskyRunStartOf(entry.doc, {
      stream: this.options.stream,
      entryId: entry.id,
      policy: this.options.policy,
      ...(startRef ? { startRef } : {}),
    });
    this.runs.set(uid, run);
    this.cp.runs[uid] = cp;
    if (!cp.opened) {
      this.deps.stats.scansStarted++;
      await run.sink.emit([{ detailType: DetailType.RunStart, source: EventSource.Bridge, detail: start }]);
      cp.opened = true;
      this.deps.saveCheckpoint();
      this.deps.logger.info('Bluesky run started', {
        runUid: uid,
        entryId: entry.id,
        plan: start.plan_name,
        scanId: start.scan_id,
        dataset: start.data_policy.dataset,
      });
    } else {
      this.deps.logger.info('Bluesky run resumed', { runUid: uid, entryId: entry.id });
    }
  }

  private async onDescriptor(run: RunState, entry: BlueskyEntry): Promise<void> {
    const { stream, uid, channels, notArchived } = channelsOfDescriptor(entry.doc, { entryId: entry.id, runUid: run.uid });
    if (run.descriptors.has(uid))
      throw new BlueskyDocumentError(`stream entry ${entry.id}: descriptor ${uid} sent twice`, {
        entryId: entry.id,
        runUid: run.uid,
        descriptor: uid,
      });
    for (const other of run.descriptors.values()) {
      if (other.stream === stream)
        throw new RunDataError(
          `stream entry ${entry.id}: run ${run.uid} has two descriptors for stream ${stream}; the archive names channels <stream>/<key>`,
          { entryId: entry.id, runUid: run.uid, stream },
        );
    }
    for (const n of notArchived) {
      this.deps.logger.warn('Bluesky data key not archived', { runUid: run.uid, channel: n.channel, reason: n.reason });
    }
    run.notArchived.push(...notArchived);
    const state: DescriptorState = { uid, stream, next: 0, channels: [] };
    state.channels.push(...descriptorChannels(this.runData, run, uid, channels));
    run.descriptors.set(uid, state);
    this.descriptorRun.set(uid, run.uid);
    run.eventsReceived[stream] = 0;
    if (channels.length === 0) return;
    run.documents.descriptor++;
    run.documents.stream_resource += channels.length;
    if (run.cp.descriptors[uid]) return;
    const events: OutgoingEvent[] = [
      {
        detailType: DetailType.EventDescriptor,
        source: EventSource.Bridge,
        detail: blueskyDescriptorOf(run.uid, entry.doc, channels, notArchived),
      },
      ...channels.map((ch) => ({
        detailType: DetailType.StreamResource,
        source: EventSource.Bridge,
        detail: blueskyStreamResourceOf(this.options.policy.beamline, run.uid, this.deps.store.bucket, ch),
      })),
    ];
    await run.sink.emit(events);
    run.cp.descriptors[uid] = true;
    this.deps.saveCheckpoint();
  }

  private async onStop(run: RunState, entry: BlueskyEntry): Promise<void> {
    checkNoEventLost(run, entry, this.options.stream);
    for (const desc of run.descriptors.values()) {
      for (const c of desc.channels) c.chunker.cut();
    }
    await run.sink.settle();
    throwIfFailed(run);
    const { points, datums } = committedPoints(run);
    const stop = blueskyRunStopOf(
      run.uid,
      entry.doc,
      {
        points,
        documents: { ...run.documents, stream_datum: datums },
        notArchived: run.notArchived,
        eventsReceived: run.eventsReceived,
      },
      entry.id,
    );
    for (const [stream, received] of Object.entries(run.eventsReceived)) {
      if (stop.num_events[stream] !== undefined && stop.num_events[stream] !== received) {
        this.deps.logger.warn('stop document counts fewer events than the stream carried', {
          runUid: run.uid,
          stream,
          declared: stop.num_events[stream],
          received,
        });
      }
    }
    await run.sink.emit([{ detailType: DetailType.RunStop, source: EventSource.Bridge, detail: stop }]);
    if (run.notArchived.length > 0) {
      this.deps.logger.warn('Bluesky run archived without some data keys', { runUid: run.uid, notArchived: run.notArchived });
    }
    this.deps.logger.info('Bluesky run stopped', { runUid: run.uid, exitStatus: stop.exit_status, points, datums });
    this.counts.stopped++;
    await this.close(run.uid, entry.id);
  }

  /**
   * The run is finished by entry `entryId` (handled: the cursor moves with the run's closing, in the
   * same checkpoint write). Its descriptors keep naming it while it is in `finished`: late events of
   * a stopped run are ignored, those of a failed run summarised.
   */
  private async close(uid: string, entryId: string): Promise<void> {
    this.runs.delete(uid);
    delete this.cp.runs[uid];
    this.finished.add(uid);
    this.cp.finished.push(uid);
    if (compareStreamIds(entryId, this.cp.cursor) > 0) this.cp.cursor = entryId;
    if (this.cp.finished.length > FINISHED_KEPT) {
      const forgotten = new Set(this.cp.finished.splice(0, this.cp.finished.length - FINISHED_KEPT));
      for (const old of forgotten) {
        const failed = this.cp.failed[old];
        if (failed) await this.deadLetters.writeSummary(old, failed);
        delete this.cp.failed[old];
        this.finished.delete(old);
      }
      for (const [d, r] of this.descriptorRun) if (forgotten.has(r)) this.descriptorRun.delete(d);
    }
    this.deps.saveCheckpoint();
  }

  private async failRun(
    uid: string,
    entryId: string,
    reason: string,
    errors: RunError[],
    moreDescriptors: readonly string[] = [],
  ): Promise<void> {
    const run = this.runs.get(uid);
    if (run) await run.sink.settle().catch(() => undefined);
    this.deps.stats.errors++;
    this.counts.failed++;
    this.deps.logger.error('Bluesky run failed', { runUid: uid, entryId, reason, errors });
    const startEntry = this.cp.runs[uid]?.startEntry ?? entryId;
    try {
      // Inside the try: a Run Failed the contract refuses is logged, it never stops the follower (and every other run).
      const detail = runFailedOf(uid, `${this.options.stream}#${startEntry}`, reason, errors);
      await (run?.sink ?? this.sinkFor(uid)).emit([{ detailType: DetailType.RunFailed, source: EventSource.Bridge, detail }]);
    } catch (error) {
      if (error instanceof Interrupted) throw error;
      this.deps.logger.error('Run Failed event could not be published', { runUid: uid, error: String(error) });
    }
    const descriptors = new Set([
      ...(run?.descriptors.keys() ?? []),
      ...Object.keys(this.cp.runs[uid]?.descriptors ?? {}),
      ...moreDescriptors,
    ]);
    for (const d of moreDescriptors) this.descriptorRun.set(d, uid);
    this.cp.failed[uid] = {
      reason: shorten(errors[0] ? `${reason}: ${errors[0].message}` : reason),
      entryId,
      descriptors: [...descriptors],
    };
    await this.close(uid, entryId);
  }
}
