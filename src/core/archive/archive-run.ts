import { DetailType, EventSource } from '../contract/detail-types.js';
import type { ArchivedFile, RunArchived, RunFailed, RunStop } from '../contract/generated-types.js';
import { validateDetail } from '../contract/validators.js';
import { InvalidInputError } from '../errors.js';
import { CapacityError, chooseEngine, estimateScanFile, type CapacityConfig, type EngineHere } from './capacity.js';
import { acknowledgeArchived, checkedPreviousVersion } from './archived-run.js';
import { publishOrThrow } from './publish-event.js';
import { handOver, type HandOver } from './run-hand-over.js';
import { writeIndex } from './write-file-index.js';
import { buildScanLayout } from '../nexus/scan-layouts.js';
import type { StorageOptions } from '../nexus/writers/channel-writer.js';
import { scanFileKey } from '../object-keys.js';
import type { EventPublisher, ObjectStore } from '../ports.js';
import { checkCoverage, collectRunDocuments } from './run-documents.js';
import { checkLimaFiles } from '../bliss/lima-archive.js';
import { FinalObjectConflictError, isPermanentArchiveError, runErrorsOf } from './errors.js';
import { publishLocalFile } from './publish-file.js';
import { getStagedObject } from './staged-objects.js';
import { tagStagedRun, type StagingTagger } from './staging-lifecycle.js';
import { readJsonChannels } from './json-channels.js';
import { pointShapeSlices } from './point-shapes.js';
import { fromSync, readSlices, sha256Hex } from './channel-slices.js';
import {
  RunState,
  type HandOverStore,
  type RunCatalogue,
  type RunEngine,
  type ScanFileIndexer,
  type ScanFileWriter,
  type TaskEngine,
} from './ports.js';

export { fillSlices } from './channel-slices.js';

export interface ArchiveRunDeps {
  catalogue: RunCatalogue;
  store: ObjectStore;
  writer: ScanFileWriter;
  publisher: EventPublisher;
  /** `beamline-archive <version>`: the file's creator attribute. */
  creator: string;
  now: () => Date;
  /** Chunking and compression of the channel datasets (the scan-writer's configuration); default DEFAULT_STORAGE. */
  storage?: StorageOptions;
  /** Re-download the .tmp object and compare its sha256 when it is at most this big (0: never). */
  verifyDownloadMaxBytes?: number;
  /** Staged chunks fetched at once per channel (bounded-fetch.ts); default DEFAULT_FETCH.concurrency. */
  fetchConcurrency?: number;
  /** Bytes of staged chunks fetched ahead of the writer at most; default DEFAULT_FETCH.maxBytes. */
  fetchAheadBytes?: number;
  /** Writes `<file>.index.json` next to the published file (the portal's range reads); none: no index. */
  indexer?: ScanFileIndexer;
  /**
   * Capacity before writing (capacity.ts): the limits and rates, and what is free where this runs.
   * Absent: no estimate (unit tests of the layout).
   */
  capacity?: { config: CapacityConfig; here: () => Promise<EngineHere> };
  /** The engine running this use case and where (recorded on the archived run). */
  engine?: RunEngine;
  /** The task engine a run too big for this function is handed to, and the record of hand-overs (Lambda only). */
  taskEngine?: { engine: TaskEngine; handOvers: HandOverStore };
  /** Structured progress notes (the handler's logger). */
  log?: (message: string, context: Record<string, unknown>) => void;
  /**
   * An explicit re-archive of a run already ARCHIVED (e.g. a new writer version): the file is
   * written again and replaces the final object only if that object is still the version the
   * record knows (If-Match on its ETag); the bucket keeps the old version and the record says why.
   * Without it, an ARCHIVED run is never written again (replays are acknowledged).
   */
  rearchive?: { reason: string; requestedBy: string };
  /** Tags the run's staged objects once it has ended (run-state=archived|failed), so the lifecycle can expire them. */
  staging?: StagingTagger | undefined;
}

export type ArchiveOutcome =
  /** `indexMissing`: why no `<file>.index.json` was written (the run is ARCHIVED all the same). */
  | { status: 'archived'; detail: RunArchived; indexMissing?: string }
  | { status: 'failed'; detail: RunFailed }
  /** Too big for this function: a task writes it (`engine.ref`), or one already does (`already`). */
  | { status: 'handed-over'; detail: HandOver };

/**
 * Staged chunks in flight per channel, and the bytes fetched ahead of the writer at most: 8 GETs
 * of ~1 MiB keep S3's per-request latency off the critical path (docs/big-scans.md) while at most
 * 64 MiB wait in memory, whatever the scan's size.
 */
export const DEFAULT_FETCH = { concurrency: 8, maxBytes: 64 * 1024 * 1024 } as const;

/** The read-back check holds the whole object in memory: bounded so the function's peak RSS stays flat (docs/nexus-layout.md). */
const DEFAULT_VERIFY_MAX = 64 * 1024 * 1024;

/**
 * The scan-writer use case for one RunStop. Throws NotReadyError while documents are in flight
 * and plain errors for transient trouble (both retried by SQS). Failures that retrying cannot
 * cure (contract, dtype, chunk coverage, chunk integrity, key conflict) are recorded: the run
 * becomes FAILED with its errors, Run Failed is emitted, and the outcome says so.
 */
export async function archiveRun(stop: RunStop, deps: ArchiveRunDeps): Promise<ArchiveOutcome> {
  try {
    return await writeAndPublish(stop, deps);
  } catch (error) {
    if (!isPermanentArchiveError(error)) throw error;
    if (deps.rearchive) {
      // A refused re-archive leaves the run as it was (ARCHIVED, its file untouched): the request fails, not the run.
      const reason = (error as Error).message.slice(0, 1000);
      deps.log?.('re-archive refused; the run and its file are unchanged', {
        runUid: stop.run_start,
        reason,
        error: (error as Error).name,
      });
      return {
        status: 'failed',
        detail: validateDetail(
          DetailType.RunFailed,
          { run_uid: stop.run_start, stage: 'scan-writer', reason, errors: runErrorsOf(error) } satisfies RunFailed,
          EventSource.ScanWriter,
        ),
      };
    }
    return recordRunFailure(stop, error, deps);
  }
}

/**
 * Records a run FAILED for `error` (its message is the reason) and emits Run Failed, unless the run is
 * already ARCHIVED. The task entry point uses it too, for errors that outlived its retries.
 */
export async function recordRunFailure(
  stop: RunStop,
  error: unknown,
  deps: Pick<ArchiveRunDeps, 'catalogue' | 'publisher' | 'log' | 'staging'>,
): Promise<Extract<ArchiveOutcome, { status: 'failed' }>> {
  const detail = validateDetail(
    DetailType.RunFailed,
    {
      run_uid: stop.run_start,
      stage: 'scan-writer',
      reason: (error as Error).message.slice(0, 1000),
      errors: runErrorsOf(error),
    } satisfies RunFailed,
    EventSource.ScanWriter,
  );
  deps.log?.('run cannot be archived; recorded as FAILED', { runUid: stop.run_start, reason: detail.reason, error: (error as Error).name });
  if ((await deps.catalogue.runFailed(detail)) === 'already-archived') {
    // The file is published and the run ARCHIVED (an earlier delivery got that far): never announce it as failed.
    deps.log?.('run is already ARCHIVED; the failure is logged, not announced', { runUid: stop.run_start, reason: detail.reason });
    return { status: 'failed', detail };
  }
  await publishOrThrow(deps.publisher, DetailType.RunFailed, detail, stop.run_start);
  // The run's staging folder is under its data policy's beamline (the recorded RunStart, when there is one).
  const beamline = deps.staging ? (await deps.catalogue.getRun(stop.run_start).catch(() => undefined))?.dataPolicy?.beamline : undefined;
  await tagStagedRun(deps.staging, { runUid: stop.run_start, beamline }, RunState.Failed, deps.log);
  return { status: 'failed', detail };
}

async function writeAndPublish(stop: RunStop, deps: ArchiveRunDeps): Promise<Exclude<ArchiveOutcome, { status: 'failed' }>> {
  const { catalogue, store, writer } = deps;
  const runUid = stop.run_start;
  const run = collectRunDocuments(stop, await catalogue.listDocuments(runUid));
  const finalKey = scanFileKey(run.start.data_policy, run.start.scan_id);

  // A run already ARCHIVED is never written again by a replay or a duplicate delivery: when its
  // record and the final object agree, the RunStop is acknowledged (and Run Archived announced
  // again, in case the first announcement was lost: its consumers are idempotent). Checked before
  // anything is read from staging: a replay after the staged objects expired is acknowledged too.
  const record = await catalogue.getRun(runUid);
  const replaced = record?.state === RunState.Archived ? record : undefined;
  if (replaced && !deps.rearchive) return { status: 'archived', detail: await acknowledgeArchived(replaced, run.start, finalKey, deps) };
  if (deps.rearchive && !replaced?.file) {
    throw new InvalidInputError(`run ${runUid} cannot be re-archived: it is not ARCHIVED (state ${record?.state ?? 'unknown'})`, {
      runUid,
    });
  }

  const coverage = checkCoverage(run);
  const scanInfo = await loadScanInfo(stop, run.start.bliss?.scan_info, store, runUid);
  // Lima channels: uploaded files next to the scan file, checked by HEAD (never downloaded) and linked.
  const limaFiles = await checkLimaFiles(
    { runUid, policy: run.start.data_policy, scanNumber: run.start.scan_id },
    run.resources,
    coverage.datumsByChannel,
    store,
  );
  // JSON channels (bridge engineer): their points are texts, read before the layout that holds them.
  const jsonValues = await readJsonChannels(
    run.resources,
    coverage.datumsByChannel,
    coverage.points,
    store,
    run.start.data_policy.beamline,
    runUid,
  );
  // The layout of the run's origin; given the datums, it lays out free-dimension channels whose point shape changed
  // between chunks at their largest shape (nexus/point-shapes.ts), and the writer pads them (point-shapes.ts).
  const plan = buildScanLayout({
    start: run.start,
    stop,
    descriptors: run.descriptors,
    resources: run.resources,
    scanInfo,
    points: coverage.points,
    fileName: finalKey.slice(finalKey.lastIndexOf('/') + 1),
    limaFiles,
    creator: deps.creator,
    hdf5Version: writer.hdf5Version,
    missing: coverage.gaps,
    storage: deps.storage,
    jsonValues,
    datumsByChannel: coverage.datumsByChannel,
  });
  const pointShapeOf = plan.pointShapeOf ?? new Map<string, string>();
  const refusedChannels = [...(plan.refused ?? [])];
  if (refusedChannels.length > 0) deps.log?.('channels refused; the others are archived', { runUid, refusedChannels });
  const resourceByUid = new Map(run.resources.map((r) => [r.uid, r] as const));

  // A re-archive replaces exactly the version the record describes.
  const previous = replaced ? await checkedPreviousVersion(replaced, deps) : undefined;

  // Capacity before writing: a file too big for this function goes to the task engine, one too
  // big for any engine fails here, before a key is claimed or a byte written (docs/big-scans.md).
  if (deps.capacity) {
    const here = await deps.capacity.here();
    const choice = chooseEngine(estimateScanFile(plan, deps.capacity.config), here, deps.capacity.config);
    deps.log?.('capacity estimate', {
      runUid,
      engine: choice.engine,
      here: here.kind,
      fileBytes: choice.estimate.fileBytes,
      seconds: Math.ceil(choice.estimate.seconds),
      reason: choice.reason,
    });
    if (choice.engine === 'none') throw new CapacityError(`run ${runUid} cannot be archived: ${choice.reason}`, { runUid, key: finalKey });
    if (choice.engine === 'task' && here.kind === 'lambda') return handOver(runUid, choice.reason, deps);
  }

  // Claim the final key before anything is uploaded: a second run mapped to the same key (scan
  // numbers restarted, a replay) stops here and never touches the .tmp object of the owner.
  await catalogue.claimFile({ bucket: store.bucket, key: finalKey }, runUid);
  const local = await writer.write(plan, (channel) => {
    const resource = resourceByUid.get(channel.resourceUid);
    const shapesOf = pointShapeOf.get(channel.path);
    // A `point_shape` dataset: the shapes of its channel's chunks (the datums say them, nothing to download).
    if (shapesOf !== undefined && resource)
      return fromSync(pointShapeSlices(channel, coverage.datumsByChannel.get(shapesOf) ?? [], resource));
    return readSlices(
      channel,
      coverage.datumsByChannel.get(channel.channel) ?? [],
      resource,
      store,
      run.start.data_policy.beamline,
      runUid,
      coverage.gaps[channel.channel] ?? [],
      {
        concurrency: deps.fetchConcurrency ?? DEFAULT_FETCH.concurrency,
        maxBytes: deps.fetchAheadBytes ?? DEFAULT_FETCH.maxBytes,
      },
    );
  });
  try {
    deps.log?.('scan file written', { runUid, bytes: local.bytes });
    // The upload hashes what it reads from the file: the file's sha256, without a second pass over it.
    // The final key is written conditionally: a new object only where there is none (If-None-Match),
    // a re-archive only over the version the record knows (If-Match).
    const published = await publishLocalFile(store, local.path, local.bytes, finalKey, {
      contentType: 'application/x-hdf5',
      verifyDownloadMaxBytes: deps.verifyDownloadMaxBytes ?? DEFAULT_VERIFY_MAX,
      context: { runUid },
      condition: previous?.etag ? { ifMatch: previous.etag } : { ifNoneMatch: '*' },
    });
    await catalogue.claimFile({ bucket: store.bucket, key: finalKey, bytes: published.bytes, sha256: published.sha256 }, runUid);
    const file: ArchivedFile = { bucket: store.bucket, key: finalKey, bytes: published.bytes, sha256: published.sha256 };
    // The file is published: from here on, indexing can only leave the index missing, never fail the run.
    const indexMissing = deps.indexer
      ? await writeIndex(deps.indexer, local.path, { ...file, etag: published.etag }, store, deps.log)
      : undefined;
    const archivedAt = deps.now().toISOString();
    // Where each channel lives in the file: exports read the archived data by these paths (docs/exports.md).
    const channelPaths = Object.fromEntries(plan.channels.filter((c) => !pointShapeOf.has(c.path)).map((c) => [c.channel, c.path]));
    const recorded = await catalogue.runArchived({
      runUid,
      file,
      points: coverage.points,
      archivedAt,
      channelPaths,
      ...(Object.keys(coverage.gaps).length ? { gaps: coverage.gaps } : {}),
      ...(deps.engine ? { engine: deps.engine } : {}),
      object: { etag: published.etag, versionId: published.versionId },
      ...(indexMissing ? { indexMissing } : {}),
      ...(deps.rearchive && previous
        ? {
            rearchive: { ...deps.rearchive, at: archivedAt, creator: deps.creator, previous },
          }
        : {}),
      ...(refusedChannels.length > 0 ? { refusedChannels } : {}),
    });
    if (recorded === 'conflict') {
      // Another delivery recorded the run first (it published this very file: the conditional write let only one
      // content through). Its record stands; nothing is recorded twice.
      const now = await catalogue.getRun(runUid);
      if (deps.rearchive || now?.state !== RunState.Archived) {
        throw new FinalObjectConflictError(
          `run ${runUid}: the record changed while the file was written (state ${now?.state ?? 'unknown'}, object ${now?.object?.etag ?? 'unknown'}); nothing was recorded`,
          { runUid, key: finalKey },
        );
      }
      deps.log?.('run was recorded ARCHIVED by another delivery meanwhile: acknowledged, recorded once', { runUid, key: finalKey });
      return { status: 'archived', detail: await acknowledgeArchived(now, run.start, finalKey, deps) };
    }
    const detail = validateDetail(
      DetailType.RunArchived,
      {
        run_uid: runUid,
        scan_id: run.start.scan_id,
        data_policy: run.start.data_policy,
        file,
        points: coverage.points,
        archived_at: archivedAt,
        ...(refusedChannels.length > 0
          ? { refused_channels: refusedChannels.map((r) => ({ channel: r.channel, reason: r.reason.slice(0, 1000) })) }
          : {}),
      } satisfies RunArchived,
      EventSource.ScanWriter,
    );
    await publishOrThrow(deps.publisher, DetailType.RunArchived, detail, runUid);
    deps.log?.('run archived', { runUid, key: finalKey, bytes: file.bytes });
    await tagStagedRun(deps.staging, { runUid, beamline: run.start.data_policy.beamline }, RunState.Archived, deps.log);
    return { status: 'archived', detail, ...(indexMissing ? { indexMissing } : {}) };
  } finally {
    await local.dispose();
  }
}

/** The final scan_info (claim check in RunStop) when staged, else the PREPARED one from RunStart. */
async function loadScanInfo(
  stop: RunStop,
  prepared: object | undefined,
  store: ObjectStore,
  runUid: string,
): Promise<Record<string, unknown> | undefined> {
  const ref = stop.bliss.scan_info_ref;
  if (!ref) return prepared as Record<string, unknown> | undefined;
  if (ref.bucket !== store.bucket) {
    throw new InvalidInputError(`scan_info_ref points at bucket ${ref.bucket}, the archive bucket is ${store.bucket}`, {
      runUid,
      key: ref.key,
    });
  }
  const bytes = await getStagedObject(store, ref.key, 'the final scan_info of RunStop', { runUid });
  if (ref.sha256 !== undefined && sha256Hex(bytes) !== ref.sha256) {
    throw new InvalidInputError(`scan_info s3://${ref.bucket}/${ref.key} does not match the sha256 of RunStop`, { runUid, key: ref.key });
  }
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new InvalidInputError(`scan_info s3://${ref.bucket}/${ref.key} is not a JSON object`, { runUid, key: ref.key }, { cause: error });
  }
}
