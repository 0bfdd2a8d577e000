/**
 * Exports as a service: request, build, publish, record (docs/exports.md).
 *
 * - `request` (the export API): validates the request (format, runs known and ARCHIVED), creates the
 *   record REQUESTED under an id derived from the request id, and puts Export Requested on the bus.
 *   The same request id again returns the same record; with other content it is a conflict.
 * - `handleRequested` (the export worker, for every Export Requested on the bus, whoever sent it):
 *   creates the record if the API did not, claims the build (REQUESTED → BUILDING, with a lease),
 *   loads the runs, builds the product (buildExport), writes its files locally, uploads each to
 *   `<final>.tmp` and publishes them to their final keys only once every one is uploaded and
 *   checked, records the provenance, then COMPLETED, then Export Completed. A request that cannot be
 *   built is recorded FAILED with the reason (a partial file kept under `<final>.err`) and
 *   announced with Export Failed; nothing is ever written at a final key for it.
 *
 * The steps live beside it: the request's checks and identity (export-request.ts), writing and
 * publishing the files (export-files.ts), how a build ends (export-outcome.ts).
 */
import { DetailType, EventSource } from '../contract/detail-types.js';
import type { ExportRequested } from '../contract/generated-types.js';
import { ArchiveError } from '../errors.js';
import { exportFileKey } from '../object-keys.js';
import type { RunEngine, RunRecord } from '../archive/ports.js';
import { chooseExportEngine, estimateExport, ExportCapacityError } from './export-capacity.js';
import { buildExport } from './build-export.js';
import { ExportError } from './errors.js';
import { publishExportFiles, writeExportFiles, type PlannedFile, type Progress } from './export-files.js';
import { checkExportable, exportInputSize, loadExportRun, type LoadedRun } from './export-loader.js';
import { announceExport, failExport, isBuildFailure, recordExportProvenance } from './export-outcome.js';
import { BUS_REQUESTER_PREFIX, exportIdOf, parseExportRequest, requestFingerprint, unknownFormatError } from './export-request.js';
import { isExportFormat } from './model.js';
import { ExportOrigin, ExportState, type ExportRecord } from './ports.js';
import type { ExportServiceDeps } from './service-deps.js';
import { ExportConflictError, ExportNotFoundError, ExportNotReadyError } from './service-errors.js';

/** The export id of a request id (export-request.ts), also here for callers that name an export by its request (bench/big-scan.ts). */
export { exportIdOf };

export interface DownloadLink {
  name: string;
  key: string;
  bytes: number;
  sha256: string;
  url: string;
  expires_at: string;
}

export class ExportService {
  constructor(private readonly deps: ExportServiceDeps) {}

  private log(message: string, context: Record<string, unknown>): void {
    this.deps.log?.(message, context);
  }

  /**
   * The export API's request: refuses at once what can never be built (unknown format, unknown run,
   * run not ARCHIVED, run archived without channel paths), records the request and puts Export
   * Requested on the bus. `created` is false when the request id was seen before (same content).
   * `requester` is the authenticated caller; a `requester` in the body is ignored.
   */
  async request(input: unknown, requester?: string): Promise<{ created: boolean; record: ExportRecord }> {
    // The requester is who signed the request (IAM principal), never what the body claims.
    const body = input && typeof input === 'object' && !Array.isArray(input) ? { ...(input as Record<string, unknown>) } : input;
    if (body && typeof body === 'object') {
      delete (body as Record<string, unknown>).requester;
      if (requester) (body as Record<string, unknown>).requester = requester;
    }
    const request = parseExportRequest(body, EventSource.ExportApi);
    if (!isExportFormat(request.format)) throw unknownFormatError(request);
    for (const runUid of request.runs) await checkExportable(runUid, this.deps.runs);
    const { created, record } = await this.create(request, ExportOrigin.Api);
    // A record still REQUESTED may have lost its event (the API died before PutEvents), and a
    // BUILDING one whose lease ran out has lost its build (the worker died and its message went to
    // the DLQ): send the event again. The worker claims the build once, whatever the number of events.
    if (created || record.state === ExportState.Requested || this.leaseRanOut(record)) {
      const outcome = await this.deps.publisher.publish([
        { detailType: DetailType.ExportRequested, source: EventSource.ExportApi, detail: request },
      ]);
      if (outcome.rejected.length > 0) {
        throw new ArchiveError(
          `the bus refused Export Requested ${request.request_id}: ${outcome.rejected.map((r) => r.reason).join('; ')}`,
          { exportId: record.exportId },
        );
      }
    }
    this.log(created ? 'export requested' : 'export request repeated', {
      exportId: record.exportId,
      requestId: request.request_id,
      state: record.state,
    });
    return { created, record };
  }

  /** A BUILDING record nobody holds any more: its lease is over, so no worker is building it. */
  private leaseRanOut(record: ExportRecord): boolean {
    return record.state === ExportState.Building && (record.leaseUntil === undefined || record.leaseUntil < this.deps.now().toISOString());
  }

  private async create(request: ExportRequested, origin: ExportOrigin): Promise<{ created: boolean; record: ExportRecord }> {
    // API requests belong to their authenticated requester; bus clients' requests to nobody.
    const exportId = origin === ExportOrigin.Api ? exportIdOf(request.request_id, request.requester) : exportIdOf(request.request_id);
    const fingerprint = requestFingerprint(request);
    const result = await this.deps.exports.create({
      exportId,
      requestId: request.request_id,
      format: request.format,
      runs: request.runs,
      options: request.options ?? {},
      requester: request.requester,
      origin,
      fingerprint,
      requestedAt: this.deps.now().toISOString(),
    });
    if (!result.created && result.record.fingerprint !== fingerprint) {
      const r = result.record;
      throw new ExportConflictError(
        `request id ${request.request_id} was already used for a ${r.format} export of ${r.runs.join(', ')} (${r.exportId}, ${r.state}): choose a new request id for a different export`,
        { exportId, requestId: request.request_id },
      );
    }
    return result;
  }

  /** The run records of some runs (undefined for a run not in the catalogue): who may read them is decided from their data policy. */
  runRecords(runUids: readonly string[]): Promise<(RunRecord | undefined)[]> {
    return Promise.all(runUids.map((uid) => this.deps.runs.getRun(uid)));
  }

  async get(exportId: string): Promise<ExportRecord> {
    const record = await this.deps.exports.get(exportId);
    if (!record) throw new ExportNotFoundError(`no export ${exportId}`, { exportId });
    return record;
  }

  /** Presigned links to every file of a COMPLETED export. */
  async downloadLinks(exportId: string, expiresInSeconds = 900): Promise<DownloadLink[]> {
    const record = await this.get(exportId);
    if (record.state !== ExportState.Completed || !record.files) {
      const why =
        record.state === ExportState.Failed
          ? `FAILED: ${record.reason ?? 'no reason recorded'}`
          : `${record.state}; try again when it is COMPLETED`;
      throw new ExportNotReadyError(`export ${exportId} has no files to download: it is ${why}`, { exportId, state: record.state });
    }
    if (!this.deps.links) throw new ArchiveError('this service was built without download links', { exportId });
    const expiresAt = new Date(this.deps.now().getTime() + expiresInSeconds * 1000).toISOString();
    return Promise.all(
      record.files.map(async (f) => ({
        name: f.name,
        key: f.key,
        bytes: f.bytes,
        sha256: f.sha256,
        url: await this.deps.links!.linkTo(f.key, expiresInSeconds),
        expires_at: expiresAt,
      })),
    );
  }

  /**
   * The worker's use case for one Export Requested event. Idempotent: a finished export is only
   * re-announced if its announcement was lost; a build running elsewhere (live lease) is left alone.
   * Throws for transient trouble (SQS retries); requests that cannot be built end FAILED.
   */
  async handleRequested(detail: ExportRequested, source: string): Promise<ExportRecord> {
    const origin = source === EventSource.ExportApi ? ExportOrigin.Api : ExportOrigin.Bus;
    // Only the export API (IAM: the one role allowed to speak as its source) names an authenticated
    // requester; what another client writes there is a label, kept as `bus:<label>`.
    const named = detail.requester;
    const request = parseExportRequest(
      origin === ExportOrigin.Api || named === undefined || named.startsWith(BUS_REQUESTER_PREFIX)
        ? detail
        : { ...detail, requester: `${BUS_REQUESTER_PREFIX}${named}` },
      source,
    );
    const { record } = await this.create(request, origin);
    const exportId = record.exportId;
    if (record.state === ExportState.Completed || record.state === ExportState.Failed) {
      if (!record.announced) await announceExport(this.deps, record);
      this.log('export already finished; nothing to build', { exportId, state: record.state });
      return record;
    }
    const now = this.deps.now();
    const claimed = await this.deps.exports.claim(exportId, now.toISOString(), new Date(now.getTime() + this.deps.leaseMs).toISOString());
    if (!claimed) {
      this.log('export is being built by another invocation; this delivery is dropped', { exportId });
      return (await this.deps.exports.get(exportId)) ?? record;
    }
    return this.build(claimed);
  }

  /**
   * The task engine's use case (functions/archive-task/main.ts, job kind `export`): builds an export
   * the export-worker handed over. Only a BUILDING record is built (a finished one is re-announced
   * if that was lost); the capacity check runs again here, against the task's own limits.
   */
  async buildHandedOver(exportId: string): Promise<ExportRecord> {
    const record = await this.deps.exports.get(exportId);
    if (!record) throw new ExportNotFoundError(`no export ${exportId}`, { exportId });
    if (record.state !== ExportState.Building) {
      if ((record.state === ExportState.Completed || record.state === ExportState.Failed) && !record.announced)
        await announceExport(this.deps, record);
      this.log('handed-over export is not BUILDING; nothing to build', { exportId, state: record.state });
      return record;
    }
    return this.build(record);
  }

  /**
   * Capacity before building: the runs' scan files and data against what is free here. Returns the
   * record handed to the task engine when the build does not fit the function; throws
   * ExportCapacityError (→ FAILED, nothing downloaded) when it fits no engine; undefined to build here.
   */
  private async placeBuild(record: ExportRecord): Promise<ExportRecord | undefined> {
    const capacity = this.deps.capacity;
    if (!capacity) return undefined;
    const inputs = [];
    for (const runUid of record.runs) inputs.push(await exportInputSize(runUid, this.deps.runs));
    const estimate = estimateExport(record.format, inputs, capacity.config);
    const here = await capacity.here();
    const choice = chooseExportEngine(estimate, here, capacity.config);
    this.log('export capacity', { exportId: record.exportId, engine: choice.engine, reason: choice.reason, estimate, here });
    if (choice.engine === 'here') return undefined;
    if (choice.engine === 'none' || !capacity.taskEngine || !capacity.config.task) {
      throw new ExportCapacityError(`export ${record.exportId} cannot be built: ${choice.reason}`, {
        exportId: record.exportId,
        format: record.format,
      });
    }
    const now = this.deps.now();
    const { ref } = await capacity.taskEngine.start({ kind: 'export', exportId: record.exportId });
    const engine: RunEngine = { kind: 'task', ref };
    const handOver = { reason: choice.reason, at: now.toISOString() };
    // The task may run this long: a redelivered request must not take the build over meanwhile.
    const leaseUntil = new Date(now.getTime() + capacity.config.task.maxSeconds * 1000).toISOString();
    const recorded = await this.deps.exports.handedOver(record.exportId, { engine, ...handOver, leaseUntil });
    this.log('export handed over to the task engine', { exportId: record.exportId, task: ref, reason: choice.reason, recorded });
    return recorded ? { ...record, engine, handOver, leaseUntil } : ((await this.deps.exports.get(record.exportId)) ?? record);
  }

  private async build(record: ExportRecord): Promise<ExportRecord> {
    const { exportId } = record;
    const context = { exportId, requestId: record.requestId, format: record.format };
    this.log('export build started', { ...context, attempt: record.attempts });
    const workspace = await this.deps.workspace(new Date(record.requestedAt));
    const planned: PlannedFile[] = [];
    const loaded: LoadedRun[] = [];
    try {
      try {
        if (!isExportFormat(record.format)) throw unknownFormatError({ format: record.format, request_id: record.requestId });
        const handedOver = await this.placeBuild(record);
        if (handedOver) return handedOver;
        // Each run's scan file is streamed to local disk and opened there; its columns are read a
        // slice at a time while the export's files are written (memory flat with the files' sizes).
        for (const [i, runUid] of record.runs.entries()) {
          await this.progress(exportId, 'loading', i, record.runs.length, `run ${runUid}`);
          loaded.push(await loadExportRun(runUid, this.deps, workspace.inputPath(`run-${i + 1}.h5`)));
        }
        await this.progress(exportId, 'building', 0, 1, record.format);
        const product = buildExport(
          record.format,
          loaded.map((l) => l.run),
          {
            exportId,
            creator: this.deps.creator,
            now: new Date(record.requestedAt),
          },
        );
        if (product.files.length === 0) throw new ExportError(`the ${record.format} builder produced no file`, context);
        for (const file of product.files) planned.push({ file, key: exportFileKey(exportId, file.name) });
        const keys = planned.map((p) => p.key);
        if (new Set(keys).size !== keys.length)
          throw new ExportError(`the ${record.format} builder named two files alike: ${keys.join(', ')}`, context);
        const locals = await writeExportFiles(exportId, planned, workspace, this.progress);
        let provenance = '';
        // Provenance is recorded once every .tmp object is uploaded and checked, before any final
        // key is written: a refusal there still leaves no final object.
        const files = await publishExportFiles(this.deps, exportId, planned, locals, this.progress, async (stored) => {
          provenance = await recordExportProvenance(this.deps, record, loaded, stored);
        });
        const notes = [...loaded.flatMap((l) => l.skipped), ...product.notes];
        const completedAt = this.deps.now().toISOString();
        const engine = this.deps.engine;
        await this.deps.exports.completed(exportId, { files, provenance, notes, completedAt, ...(engine ? { engine } : {}) });
        const done: ExportRecord = {
          ...record,
          state: ExportState.Completed,
          files,
          provenance,
          notes,
          completedAt,
          progress: undefined,
          ...(engine ? { engine } : {}),
        };
        await announceExport(this.deps, done);
        this.log('export completed', { ...context, files: files.map((f) => ({ key: f.key, bytes: f.bytes })) });
        return done;
      } catch (error) {
        if (!isBuildFailure(error)) {
          this.log('export build interrupted; SQS will retry', { ...context, error: (error as Error).message });
          throw error;
        }
        return await failExport(this.deps, record, error, planned, workspace);
      }
    } finally {
      for (const run of loaded) await run.close();
      await workspace.dispose();
    }
  }

  /** Records a build's progress on its export record. */
  private readonly progress: Progress = async (exportId, step, done, total, detail) => {
    await this.deps.exports.progress(exportId, { step, done, total, ...(detail ? { detail } : {}), at: this.deps.now().toISOString() });
  };
}
