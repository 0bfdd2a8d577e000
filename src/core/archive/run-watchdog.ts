/**
 * The run watchdog (functions/run-watchdog, on an EventBridge schedule): every run ends ARCHIVED or
 * FAILED within a bounded time, or is marked STALLED here with what is missing. A run is stalled
 * when it is still RECORDING
 * - `stoppedAfterSeconds` after its RunStop's end time (the scan-writer had every chance), or
 * - `recordingAfterSeconds` after its start without a RunStop (the bridge never finished it).
 * What is missing is found by comparing the RunStop's document counts and sealed points with the
 * recorded documents: which documents, which chunks (point ranges without a StreamDatum), or no
 * RunStop. The run is recorded STALLED (only over RECORDING: a run that ended meanwhile is left
 * alone), its staged objects are tagged, and Run Stalled is announced (notifications, alarm).
 *
 * A run handed over to the task engine (docs/big-scans.md) is left alone while its hand-over holds
 * (the task may legitimately write for hours), and is STALLED as soon as the hand-over expired: the
 * task died before recording anything (killed, out of memory, the container lost), the reason names it.
 */
import { DetailType, EventSource } from '../contract/detail-types.js';
import type { MissingPart, RunStalled, RunStart, RunStop, StreamDatum, StreamResource } from '../contract/generated-types.js';
import { validateDetail } from '../contract/validators.js';
import { ArchiveError } from '../errors.js';
import type { EventPublisher } from '../ports.js';
import { datumsByChannelOf } from './run-documents.js';
import { RunState, type HandOver, type RunCatalogue, type RunStateCatalogue, type RunSummary, type StoredDocument } from './ports.js';
import { tagStagedRun, type StagingTagger } from './staging-lifecycle.js';

export interface WatchdogLimits {
  /** A run with a RunStop still not terminal this long after its end time is STALLED. */
  stoppedAfterSeconds: number;
  /** A run without a RunStop this long after its start is STALLED. */
  recordingAfterSeconds: number;
}

export const DEFAULT_WATCHDOG_LIMITS: WatchdogLimits = { stoppedAfterSeconds: 2 * 3600, recordingAfterSeconds: 24 * 3600 };

export interface WatchdogDeps {
  runs: RunStateCatalogue;
  catalogue: Pick<RunCatalogue, 'listDocuments'>;
  publisher: EventPublisher;
  staging?: StagingTagger | undefined;
  now: () => Date;
  log?: (message: string, context: Record<string, unknown>) => void;
}

export interface WatchdogReport {
  /** RECORDING runs looked at. */
  checked: number;
  stalled: RunStalled[];
  /** Runs that ended while the watchdog looked at them. */
  endedMeanwhile: string[];
}

/** One pass of the watchdog: every RECORDING run older than the shorter limit is checked. */
export async function watchRuns(deps: WatchdogDeps, limits: WatchdogLimits = DEFAULT_WATCHDOG_LIMITS): Promise<WatchdogReport> {
  const now = deps.now();
  // Every RECORDING run: a hand-over can expire before the run is older than either limit.
  const candidates = await deps.runs.listRunsByState(RunState.Recording);
  const report: WatchdogReport = { checked: candidates.length, stalled: [], endedMeanwhile: [] };
  for (const run of candidates) {
    const limit = run.stopped ? limits.stoppedAfterSeconds : limits.recordingAfterSeconds;
    // Counted from the RunStop's end time when there is one, and from an operator's retry when later.
    const since = [run.stopped ? (run.endTime ?? run.since) : run.since, run.retriedAt]
      .filter((t): t is string => t !== undefined)
      .sort()
      .at(-1)!;
    const waited = Math.floor((now.getTime() - Date.parse(since)) / 1000);
    const handOver = run.handOver;
    // A task still within its hand-over is writing: not stalled, however long it takes.
    if (handOver && Date.parse(handOver.expiresAt) > now.getTime()) continue;
    if (!handOver && !(waited >= limit)) continue;
    const documents = await deps.catalogue.listDocuments(run.runUid);
    const stall = handOver
      ? taskGone({ ...run, since }, handOver, documents, now, waited)
      : stallOf({ ...run, since }, documents, now, waited);
    const detail = validateDetail(DetailType.RunStalled, stall, EventSource.RunWatchdog);
    if ((await deps.runs.runStalled(detail)) === 'terminal') {
      report.endedMeanwhile.push(run.runUid);
      continue;
    }
    deps.log?.('run STALLED', { runUid: run.runUid, reason: detail.reason, waitedSeconds: waited });
    await tagStagedRun(deps.staging, { runUid: run.runUid, beamline: recordedBeamline(documents) }, RunState.Stalled, deps.log);
    const outcome = await deps.publisher.publish([{ detailType: DetailType.RunStalled, source: EventSource.RunWatchdog, detail }]);
    if (outcome.rejected.length > 0) {
      throw new ArchiveError(`the bus refused Run Stalled for run ${run.runUid}: ${outcome.rejected.map((r) => r.reason).join('; ')}`, {
        runUid: run.runUid,
      });
    }
    report.stalled.push(detail);
  }
  return report;
}

/** What is missing from a run, from its recorded documents. */
export function missingParts(documents: readonly StoredDocument[]): { missing: MissingPart[]; start?: RunStart; stop?: RunStop } {
  let start: RunStart | undefined;
  let stop: RunStop | undefined;
  const counts = { descriptor: 0, stream_resource: 0, stream_datum: 0 };
  const resources: StreamResource[] = [];
  const datums: StreamDatum[] = [];
  for (const doc of documents) {
    switch (doc.detailType) {
      case DetailType.RunStart:
        start = doc.body as RunStart;
        break;
      case DetailType.RunStop:
        stop = doc.body as RunStop;
        break;
      case DetailType.EventDescriptor:
        counts.descriptor++;
        break;
      case DetailType.StreamResource:
        counts.stream_resource++;
        resources.push(doc.body as StreamResource);
        break;
      case DetailType.StreamDatum:
        counts.stream_datum++;
        datums.push(doc.body as StreamDatum);
        break;
      default:
        break;
    }
  }
  const missing: MissingPart[] = [];
  if (!start) missing.push({ kind: 'RunStart', message: 'no RunStart recorded' });
  if (!stop) {
    missing.push({
      kind: 'RunStop',
      message: `no RunStop: the bridge never finished the run (${counts.descriptor} descriptors, ${counts.stream_resource} stream resources, ${counts.stream_datum} stream datums recorded so far)`,
    });
    return { missing, ...(start ? { start } : {}) };
  }
  const expected = stop.bliss.documents;
  const kinds = [
    ['EventDescriptor', 'descriptor', 'descriptors'],
    ['StreamResource', 'stream_resource', 'stream resources'],
    ['StreamDatum', 'stream_datum', 'stream datums'],
  ] as const;
  for (const [kind, field, words] of kinds) {
    if (counts[field] < expected[field]) {
      missing.push({
        kind,
        message: `${words} ${counts[field]}/${expected[field]} recorded`,
        expected: expected[field],
        recorded: counts[field],
      });
    }
  }
  // Chunks: the point ranges of each channel (sealed in RunStop) that no recorded StreamDatum covers, declared gaps aside.
  const gaps = new Map<string, [number, number][]>();
  for (const g of stop.bliss.gaps ?? []) gaps.set(g.stream, [...(gaps.get(g.stream) ?? []), [g.start, g.stop]]);
  const byChannel = datumsByChannelOf(resources, datums);
  const channels = new Set([...Object.keys(stop.bliss.points), ...byChannel.keys()]);
  for (const channel of [...channels].sort()) {
    const sealed = stop.bliss.points[channel];
    if (!byChannel.has(channel)) {
      if (sealed !== undefined && sealed > 0)
        missing.push({
          kind: 'StreamResource',
          stream: channel,
          message: `${channel}: no StreamResource recorded (${sealed} points sealed)`,
        });
      continue;
    }
    const covered = [
      ...(byChannel.get(channel) ?? []).map((d) => [d.indices.start, d.indices.stop] as [number, number]),
      ...(gaps.get(channel) ?? []),
    ];
    const ranges = uncovered(covered, sealed ?? 0);
    if (ranges.length > 0) {
      const text =
        ranges
          .slice(0, 5)
          .map(([a, b]) => `[${a}, ${b})`)
          .join(', ') + (ranges.length > 5 ? ` and ${ranges.length - 5} more` : '');
      missing.push({
        kind: 'chunks',
        stream: channel,
        message: `points ${text} of ${channel} have no StreamDatum`,
        ranges: ranges.slice(0, 50),
      });
    }
  }
  if (missing.length === 0) {
    missing.push({
      kind: 'scan-file',
      message: 'every document is recorded but no scan file was published: see the scan-writer (beamline-archive dlq list, its logs)',
    });
  }
  return { missing: missing.slice(0, 100), ...(start ? { start } : {}), stop };
}

function stallOf(run: RunSummary, documents: readonly StoredDocument[], now: Date, waited: number): RunStalled {
  const { missing, start, stop } = missingParts(documents);
  const hours = waited >= 3600 ? `${(waited / 3600).toFixed(1)} h` : `${Math.round(waited / 60)} min`;
  const head = stop ? `RunStop recorded ${hours} ago, the run is not archived` : `started ${hours} ago, no RunStop`;
  const policy = start?.data_policy ?? run.dataPolicy;
  return {
    run_uid: run.runUid,
    stalled_at: now.toISOString(),
    since: run.since,
    waited_seconds: waited,
    run_stop: stop !== undefined,
    ...(run.scanKey ? { scan_key: run.scanKey } : {}),
    ...(policy ? { data_policy: { ...policy } as Record<string, string> } : {}),
    reason: `${head}: ${missing.map((m) => m.message).join('; ')}`.slice(0, 2000),
    missing,
  };
}

/** A run whose hand-over expired: its task ended without recording the run ARCHIVED or FAILED. */
function taskGone(run: RunSummary, handOver: HandOver, documents: readonly StoredDocument[], now: Date, waited: number): RunStalled {
  const { start, stop } = missingParts(documents);
  const task = handOver.ref ? `the archive task ${handOver.ref}` : 'the archive task (RunTask never answered)';
  const message =
    `${task}, attempt ${handOver.attempt}, handed over at ${handOver.claimedAt}, did not record the run ARCHIVED or FAILED by ${handOver.expiresAt}: ` +
    'it died or outlived its time (see its logs under archive-task/); beamline-archive runs retry <uid> hands the run over again as a new attempt';
  const policy = start?.data_policy ?? run.dataPolicy;
  return {
    run_uid: run.runUid,
    stalled_at: now.toISOString(),
    since: run.since,
    waited_seconds: Math.max(0, waited),
    run_stop: stop !== undefined,
    ...(run.scanKey ? { scan_key: run.scanKey } : {}),
    ...(policy ? { data_policy: { ...policy } as Record<string, string> } : {}),
    reason: message.slice(0, 2000),
    missing: [{ kind: 'scan-file', message }],
  };
}

/** The parts of [0, total) no interval covers, in order. */
export function uncovered(intervals: readonly [number, number][], total: number): [number, number][] {
  const out: [number, number][] = [];
  let at = 0;
  for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
    if (a > at) out.push([at, Math.min(a, total)]);
    at = Math.max(at, b);
    if (at >= total) break;
  }
  if (at < total) out.push([at, total]);
  return out.filter(([a, b]) => b > a);
}

/** The beamline of a run's recorded RunStart (its staging folder's), undefined when none is recorded. */
function recordedBeamline(documents: readonly StoredDocument[]): string | undefined {
  const start = documents.find((d) => d.detailType === DetailType.RunStart)?.body as { data_policy?: { beamline?: unknown } } | undefined;
  const beamline = start?.data_policy?.beamline;
  return typeof beamline === 'string' ? beamline : undefined;
}
