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
 */
import { createHash } from 'node:crypto';
import { DetailType, EventSource } from '../contract/detail-types.js';
import type { ExportCompleted, ExportError as ExportErrorDetail, ExportErrorFile, ExportFailed, ExportRequested } from '../contract/generated-types.js';
import { validateDetail } from '../contract/validators.js';
import { ArchiveError, ContractError, isPermanent } from '../errors.js';
import { errKeyOf, exportFileKey, TMP_SUFFIX } from '../object-keys.js';
import type { EventPublisher, ObjectStore, StoredObject } from '../ports.js';
import { publishLocalFile } from '../archive/publish-file.js';
import type { RunCatalogue, RunEngine, RunRecord, TaskEngine } from '../archive/ports.js';
import { chooseExportEngine, estimateExport, ExportCapacityError, type ExportCapacityConfig, type ExportHere } from './export-capacity.js';
import { EntityKind, fileRef, runRef, type SoftwareRef } from '../provenance/model.js';
import { ProvenanceConflictError } from '../provenance/errors.js';
import type { ProvenanceStore } from '../provenance/ports.js';
import { recordProvenance } from '../provenance/record-provenance.js';
import { buildExport } from './build-export.js';
import { ExportError } from './errors.js';
import { checkExportable, exportInputSize, loadExportRun, type LoadedRun } from './export-loader.js';
import { ExportFormat, isExportFormat, type ExportFile } from './model.js';
import {
  ExportOrigin, ExportState,
  type ArchivedChannelReader, type DownloadLinks, type ExportCatalogue, type ExportFileRecord, type ExportLocalFile, type ExportRecord, type ExportWorkspace,
} from './ports.js';
import { ExportConflictError, ExportNotFoundError, ExportNotReadyError, ExportWriteError, UnknownExportFormatError } from './service-errors.js';

export interface ExportServiceDeps {
  exports: ExportCatalogue;
  runs: Pick<RunCatalogue, 'getRun' | 'listDocuments'>;
  store: ObjectStore;
  reader: ArchivedChannelReader;
  /** A fresh local scratch space per build; HDF5 object times are `fileTime` (the request's time: a rebuild gives the same bytes). */
  workspace: (fileTime: Date) => Promise<ExportWorkspace>;
  publisher: EventPublisher;
  provenance: { store: ProvenanceStore; software: SoftwareRef };
  /** Needed by `downloadLinks` only (the API). */
  links?: DownloadLinks;
  /** `beamline-archive <version>`: the creator attribute of HDF5 files. */
  creator: string;
  now: () => Date;
  /** How long a build may hold its claim before another worker takes it over (the function timeout). */
  leaseMs: number;
  /** Re-download a .tmp object and compare its sha256 when it is at most this big. @default 64 MiB */
  verifyDownloadMaxBytes?: number;
  log?: (message: string, context: Record<string, unknown>) => void;
  /** Where this service builds (the export-worker function, or the task a build was handed to): recorded on the export. */
  engine?: RunEngine | undefined;
  /**
   * Capacity before building (export-capacity.ts): what is free here, the limits, and the task engine
   * a build that does not fit the function is handed to. Without it every build runs here.
   */
  capacity?: {
    config: ExportCapacityConfig;
    here: () => Promise<ExportHere>;
    taskEngine?: TaskEngine | undefined;
  } | undefined;
}

/** A request as it arrives (API body or Export Requested detail). */
export interface ExportRequestInput {
  request_id: string;
  runs: string[];
  format: string;
  options?: Record<string, unknown>;
  requester?: string;
}

export interface DownloadLink {
  name: string;
  key: string;
  bytes: number;
  sha256: string;
  url: string;
  expires_at: string;
}

const MAX_OPTIONS_BYTES = 4096;
const DEFAULT_VERIFY_MAX = 64 * 1024 * 1024;

/**
 * `exp-<24 hex of sha256(owner, request id)>`: a request id names the same export for the same
 * owner only, so a request id reused by someone else names another export (issue 15). The owner is
 * the authenticated caller of the export API (`oidc:…`, `iam:…`); requests put on the bus by clients
 * (trusted IAM machines) share one namespace, the request id alone.
 */
export function exportIdOf(requestId: string, owner?: string): string {
  const hash = createHash('sha256');
  if (owner !== undefined) hash.update(`${owner}\u0000`);
  return `exp-${hash.update(requestId).digest('hex').slice(0, 24)}`;
}

/** A requester named in a bus client's event is a label, never an identity: `bus:<label>`. */
export const BUS_REQUESTER_PREFIX = 'bus:';

/** JSON with object keys sorted: equal requests give equal text whatever the key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** sha256 of what the request asks for (runs in order, format, options); the requester is not part of it. */
export function requestFingerprint(request: Pick<ExportRequestInput, 'runs' | 'format' | 'options'>): string {
  return createHash('sha256').update(canonicalJson({ runs: request.runs, format: request.format, options: request.options ?? {} })).digest('hex');
}

const contentTypeOf = (file: ExportFile): string => (file.kind === 'hdf5' ? 'application/x-hdf5' : file.contentType);

/**
 * Waits until `n` parties arrived, then runs `onAll` once; every party proceeds only if it
 * succeeded. One party failing before that fails every waiter.
 */
class Barrier {
  private arrived = 0;
  private readonly done: Promise<void>;
  private open!: () => void;
  private fail!: (error: unknown) => void;
  constructor(private readonly n: number, onAll: () => Promise<void>) {
    const all = new Promise<void>((resolve, reject) => { this.open = resolve; this.fail = reject; });
    this.done = all.then(onAll);
    this.done.catch(() => undefined);
  }
  arrive(): Promise<void> {
    if (++this.arrived === this.n) this.open();
    return this.done;
  }
  abort(error: unknown): void {
    this.fail(error);
  }
}

export class ExportService {
  constructor(private readonly deps: ExportServiceDeps) {}

  private log(message: string, context: Record<string, unknown>): void {
    this.deps.log?.(message, context);
  }

  /** Validates an API request body against the Export Requested contract and the options bound. */
  private parse(input: unknown, source: string): ExportRequested {
    const detail = validateDetail(DetailType.ExportRequested, input, source);
    if (new Set(detail.runs).size !== detail.runs.length) {
      throw new ContractError(`runs lists a run twice: ${detail.runs.filter((r, i) => detail.runs.indexOf(r) !== i).join(', ')}`, { requestId: detail.request_id });
    }
    if (detail.options && Buffer.byteLength(JSON.stringify(detail.options)) > MAX_OPTIONS_BYTES) {
      throw new ContractError(`options take at most ${MAX_OPTIONS_BYTES} bytes of JSON`, { requestId: detail.request_id });
    }
    return detail;
  }

  /**
   * The export API's request: refuses at once what can never be built (unknown format, unknown run,
   * run not ARCHIVED, run archived without channel paths), records the request and puts Export
   * Requested on the bus. `created` is false when the request id was seen before (same content).
   * `requester` is the authenticated caller; a `requester` in the body is ignored.
   */
  async request(input: unknown, requester?: string): Promise<{ created: boolean; record: ExportRecord }> {
    // The requester is who signed the request (IAM principal), never what the body claims.
    const body = (input && typeof input === 'object' && !Array.isArray(input)) ? { ...(input as Record<string, unknown>) } : input;
    if (body && typeof body === 'object') {
      delete (body as Record<string, unknown>).requester;
      if (requester) (body as Record<string, unknown>).requester = requester;
    }
    const request = this.parse(body, EventSource.ExportApi);
    if (!isExportFormat(request.format)) throw this.unknownFormat(request);
    for (const runUid of request.runs) await checkExportable(runUid, this.deps.runs);
    const { created, record } = await this.create(request, ExportOrigin.Api);
    // A record still REQUESTED may have lost its event (the API died before PutEvents), and a
    // BUILDING one whose lease ran out has lost its build (the worker died and its message went to
    // the DLQ): send the event again. The worker claims the build once, whatever the number of events.
    if (created || record.state === ExportState.Requested || this.leaseRanOut(record)) {
      const outcome = await this.deps.publisher.publish([{ detailType: DetailType.ExportRequested, source: EventSource.ExportApi, detail: request }]);
      if (outcome.rejected.length > 0) {
        throw new ArchiveError(`the bus refused Export Requested ${request.request_id}: ${outcome.rejected.map((r) => r.reason).join('; ')}`, { exportId: record.exportId });
      }
    }
    this.log(created ? 'export requested' : 'export request repeated', { exportId: record.exportId, requestId: request.request_id, state: record.state });
    return { created, record };
  }

  /** A BUILDING record nobody holds any more: its lease is over, so no worker is building it. */
  private leaseRanOut(record: ExportRecord): boolean {
    return record.state === ExportState.Building && (record.leaseUntil === undefined || record.leaseUntil < this.deps.now().toISOString());
  }

  private unknownFormat(request: Pick<ExportRequested, 'format' | 'request_id'>): UnknownExportFormatError {
    return new UnknownExportFormatError(
      `unknown export format ${JSON.stringify(request.format)}: use one of ${Object.values(ExportFormat).join(', ')}`,
      { requestId: request.request_id, format: request.format },
    );
  }

  private async create(request: ExportRequested, origin: ExportOrigin): Promise<{ created: boolean; record: ExportRecord }> {
    // API requests belong to their authenticated requester; bus clients' requests to nobody.
    const exportId = origin === ExportOrigin.Api ? exportIdOf(request.request_id, request.requester) : exportIdOf(request.request_id);
    const fingerprint = requestFingerprint(request);
    const result = await this.deps.exports.create({
      exportId, requestId: request.request_id, format: request.format, runs: request.runs, options: request.options ?? {},
      requester: request.requester, origin, fingerprint, requestedAt: this.deps.now().toISOString(),
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
      const why = record.state === ExportState.Failed ? `FAILED: ${record.reason ?? 'no reason recorded'}` : `${record.state}; try again when it is COMPLETED`;
      throw new ExportNotReadyError(`export ${exportId} has no files to download: it is ${why}`, { exportId, state: record.state });
    }
    if (!this.deps.links) throw new ArchiveError('this service was built without download links', { exportId });
    const expiresAt = new Date(this.deps.now().getTime() + expiresInSeconds * 1000).toISOString();
    return Promise.all(record.files.map(async (f) => ({
      name: f.name, key: f.key, bytes: f.bytes, sha256: f.sha256, url: await this.deps.links!.linkTo(f.key, expiresInSeconds), expires_at: expiresAt,
    })));
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
    const request = this.parse(origin === ExportOrigin.Api || named === undefined || named.startsWith(BUS_REQUESTER_PREFIX)
      ? detail : { ...detail, requester: `${BUS_REQUESTER_PREFIX}${named}` }, source);
    const { record } = await this.create(request, origin);
    const exportId = record.exportId;
    if (record.state === ExportState.Completed || record.state === ExportState.Failed) {
      if (!record.announced) await this.announce(record);
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
      if ((record.state === ExportState.Completed || record.state === ExportState.Failed) && !record.announced) await this.announce(record);
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
      throw new ExportCapacityError(`export ${record.exportId} cannot be built: ${choice.reason}`, { exportId: record.exportId, format: record.format });
    }
    const now = this.deps.now();
    const { ref } = await capacity.taskEngine.start({ kind: 'export', exportId: record.exportId });
    const engine: RunEngine = { kind: 'task', ref };
    const handOver = { reason: choice.reason, at: now.toISOString() };
    // The task may run this long: a redelivered request must not take the build over meanwhile.
    const leaseUntil = new Date(now.getTime() + capacity.config.task.maxSeconds * 1000).toISOString();
    const recorded = await this.deps.exports.handedOver(record.exportId, { engine, ...handOver, leaseUntil });
    this.log('export handed over to the task engine', { exportId: record.exportId, task: ref, reason: choice.reason, recorded });
    return recorded ? { ...record, engine, handOver, leaseUntil } : (await this.deps.exports.get(record.exportId)) ?? record;
  }

  private async build(record: ExportRecord): Promise<ExportRecord> {
    const { exportId } = record;
    const context = { exportId, requestId: record.requestId, format: record.format };
    this.log('export build started', { ...context, attempt: record.attempts });
    const workspace = await this.deps.workspace(new Date(record.requestedAt));
    const planned: { file: ExportFile; key: string }[] = [];
    const loaded: LoadedRun[] = [];
    try {
      try {
        if (!isExportFormat(record.format)) throw this.unknownFormat({ format: record.format, request_id: record.requestId });
        const handedOver = await this.placeBuild(record);
        if (handedOver) return handedOver;
        // Each run's scan file is streamed to local disk and opened there; its columns are read a
        // slice at a time while the export's files are written (memory flat with the files' sizes).
        for (const [i, runUid] of record.runs.entries()) {
          await this.progress(exportId, 'loading', i, record.runs.length, `run ${runUid}`);
          loaded.push(await loadExportRun(runUid, this.deps, workspace.inputPath(`run-${i + 1}.h5`)));
        }
        await this.progress(exportId, 'building', 0, 1, record.format);
        const product = buildExport(record.format, loaded.map((l) => l.run), {
          exportId, creator: this.deps.creator, now: new Date(record.requestedAt),
        });
        if (product.files.length === 0) throw new ExportError(`the ${record.format} builder produced no file`, context);
        for (const file of product.files) planned.push({ file, key: exportFileKey(exportId, file.name) });
        const keys = planned.map((p) => p.key);
        if (new Set(keys).size !== keys.length) throw new ExportError(`the ${record.format} builder named two files alike: ${keys.join(', ')}`, context);
        const locals = await this.writeFiles(exportId, planned, workspace);
        let provenance = '';
        // Provenance is recorded once every .tmp object is uploaded and checked, before any final
        // key is written: a refusal there still leaves no final object.
        const files = await this.publishAll(exportId, planned, locals, async (stored) => {
          provenance = await this.recordProvenance(record, loaded, stored);
        });
        const notes = [...loaded.flatMap((l) => l.skipped), ...product.notes];
        const completedAt = this.deps.now().toISOString();
        const engine = this.deps.engine;
        await this.deps.exports.completed(exportId, { files, provenance, notes, completedAt, ...(engine ? { engine } : {}) });
        const done: ExportRecord = { ...record, state: ExportState.Completed, files, provenance, notes, completedAt, progress: undefined, ...(engine ? { engine } : {}) };
        await this.announce(done);
        this.log('export completed', { ...context, files: files.map((f) => ({ key: f.key, bytes: f.bytes })) });
        return done;
      } catch (error) {
        if (!isBuildFailure(error)) {
          this.log('export build interrupted; SQS will retry', { ...context, error: (error as Error).message });
          throw error;
        }
        return await this.fail(record, error, planned, workspace);
      }
    } finally {
      for (const run of loaded) await run.close();
      await workspace.dispose();
    }
  }

  private async progress(exportId: string, step: string, done: number, total: number, detail?: string): Promise<void> {
    await this.deps.exports.progress(exportId, { step, done, total, ...(detail ? { detail } : {}), at: this.deps.now().toISOString() });
  }

  private async writeFiles(exportId: string, planned: readonly { file: ExportFile; key: string }[], workspace: ExportWorkspace): Promise<ExportLocalFile[]> {
    const locals: ExportLocalFile[] = [];
    for (const [i, { file, key }] of planned.entries()) {
      await this.progress(exportId, 'writing', i, planned.length, file.name);
      const name = key.slice(key.lastIndexOf('/') + 1);
      try {
        locals.push(file.kind === 'hdf5' ? await workspace.writeTree(name, file.tree) : await workspace.writeText(name, file.chunks()));
      } catch (error) {
        if (error instanceof ExportWriteError) throw error;
        throw new ExportWriteError(`writing ${file.name} of export ${exportId} failed: ${(error as Error).message}`, { exportId, key }, { cause: error });
      }
    }
    return locals;
  }

  /**
   * Every file to `<final>.tmp`, checked; then, only once all of them are, each to its final key.
   * A failure before that point leaves no final object (the barrier stops every copy).
   */
  private async publishAll(
    exportId: string, planned: readonly { file: ExportFile; key: string }[], locals: readonly ExportLocalFile[],
    beforeFinal: (files: ExportFileRecord[]) => Promise<void>,
  ): Promise<ExportFileRecord[]> {
    await this.progress(exportId, 'publishing', 0, planned.length);
    const stored: ExportFileRecord[] = [];
    const describe = (object: StoredObject, i: number): ExportFileRecord => ({
      bucket: this.deps.store.bucket, key: object.key, bytes: object.bytes, sha256: object.sha256,
      name: planned[i]!.file.name, contentType: contentTypeOf(planned[i]!.file),
    });
    const barrier = new Barrier(planned.length, () => beforeFinal(planned.map((_, i) => stored[i]!)));
    const results = await Promise.allSettled(planned.map(async ({ key }, i) => {
      const local = locals[i]!;
      try {
        return await publishLocalFile(this.deps.store, local.path, local.bytes, key, {
          contentType: contentTypeOf(planned[i]!.file),
          verifyDownloadMaxBytes: this.deps.verifyDownloadMaxBytes ?? DEFAULT_VERIFY_MAX,
          context: { exportId },
          beforePublish: (object) => { stored[i] = describe(object, i); return barrier.arrive(); },
        });
      } catch (error) {
        barrier.abort(error);
        throw error;
      }
    }));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return (results as PromiseFulfilledResult<StoredObject>[]).map(({ value }, i) => describe(value, i));
  }

  /** `export:<id>`: parents the runs, inputs their scan files (sha256), outputs the published files. */
  private async recordProvenance(record: ExportRecord, loaded: readonly LoadedRun[], files: readonly ExportFileRecord[]): Promise<string> {
    const entity = `${EntityKind.Export}:${record.exportId}`;
    const now = this.deps.now().toISOString();
    const activityUid = `export-worker/${record.exportId}`;
    const outputs = files.map((f) => ({ uri: `s3://${f.bucket}/${f.key}`, sha256: f.sha256, bytes: f.bytes }));
    const { record: stored, status } = await recordProvenance(entity, {
      parents: record.runs.map(runRef),
      inputs: loaded.map((l) => ({ uri: fileRef(l.file.bucket, l.file.key).slice(`${EntityKind.File}:`.length), sha256: l.file.sha256, bytes: l.file.bytes })),
      software: this.deps.provenance.software,
      parameters: { request_id: record.requestId, format: record.format, runs: record.runs, options: record.options },
      agent: { name: record.requester ?? 'beamline-archive export-worker', ...(record.requester ? { identifier: record.requester } : {}) },
      started_at: record.requestedAt,
      ended_at: now,
      activity: `export-${record.format}`,
    }, { store: this.deps.provenance.store, now: this.deps.now, newUid: () => activityUid }, {
      activityUid,
      outputs,
    });
    // A retried build (the first one died after recording its provenance) must have made the same
    // files: builds are deterministic (HDF5 object times pinned to the request time).
    const key = (o: { uri: string; sha256: string }) => `${o.uri} ${o.sha256}`;
    if (status === 'duplicate' && stored.outputs.map(key).sort().join('\n') !== outputs.map(key).sort().join('\n')) {
      throw new ProvenanceConflictError(
        `${entity} was recorded by an earlier attempt with other files (${stored.outputs.map(key).join(', ')}); this build made ${outputs.map(key).join(', ')}`,
        { exportId: record.exportId },
      );
    }
    return entity;
  }

  /**
   * Records FAILED with the reason, keeps what was written of each file under `<final>.err`
   * (the .tmp object if it reached S3, else the partial local file), removes the .tmp objects,
   * announces Export Failed. No final key is ever written here.
   */
  private async fail(record: ExportRecord, error: unknown, planned: readonly { file: ExportFile; key: string }[], workspace: ExportWorkspace): Promise<ExportRecord> {
    const { exportId } = record;
    const errorFiles: ExportErrorFile[] = [];
    for (const { key } of planned) {
      const tmpKey = `${key}${TMP_SUFFIX}`;
      const errKey = errKeyOf(key);
      const tmp = await this.deps.store.head(tmpKey);
      if (tmp) {
        await this.deps.store.copy(tmpKey, errKey);
        await this.deps.store.delete(tmpKey);
        errorFiles.push({ bucket: this.deps.store.bucket, key: errKey, bytes: tmp.bytes });
        continue;
      }
      const partial = await workspace.partial(key.slice(key.lastIndexOf('/') + 1));
      if (partial && partial.bytes > 0) {
        const stored = await this.deps.store.uploadFile(errKey, partial.path, 'application/octet-stream');
        errorFiles.push({ bucket: this.deps.store.bucket, key: errKey, bytes: stored.bytes });
      }
    }
    const reason = (error as Error).message.slice(0, 1000);
    const errors = exportErrorsOf(error);
    const failedAt = this.deps.now().toISOString();
    const outcome = await this.deps.exports.failed(exportId, { reason, errors, errorFiles, failedAt });
    if (outcome === 'already-completed') {
      this.log('export already COMPLETED; the failure of this delivery is logged, not recorded', { exportId, reason });
      return (await this.deps.exports.get(exportId)) ?? record;
    }
    const failed: ExportRecord = { ...record, state: ExportState.Failed, reason, errors, errorFiles, failedAt, progress: undefined };
    this.log('export FAILED', { exportId, requestId: record.requestId, reason, errorFiles: errorFiles.map((f) => f.key), error: (error as Error).name });
    await this.announce(failed);
    return failed;
  }

  private async announce(record: ExportRecord): Promise<void> {
    const event = record.state === ExportState.Completed ? {
      detailType: DetailType.ExportCompleted,
      detail: validateDetail(DetailType.ExportCompleted, {
        export_id: record.exportId, request_id: record.requestId, format: record.format, runs: record.runs as ExportCompleted['runs'],
        files: (record.files ?? []).map((f) => ({ bucket: f.bucket, key: f.key, bytes: f.bytes, sha256: f.sha256 })) as ExportCompleted['files'],
        provenance: record.provenance ?? `${EntityKind.Export}:${record.exportId}`, completed_at: record.completedAt ?? this.deps.now().toISOString(),
      } satisfies ExportCompleted, EventSource.Exports),
    } : {
      detailType: DetailType.ExportFailed,
      detail: validateDetail(DetailType.ExportFailed, {
        export_id: record.exportId, request_id: record.requestId, format: record.format, runs: record.runs,
        reason: record.reason ?? 'no reason recorded', errors: record.errors ?? [],
        ...(record.errorFiles?.length ? { error_files: record.errorFiles } : {}),
        failed_at: record.failedAt ?? this.deps.now().toISOString(),
      } satisfies ExportFailed, EventSource.Exports),
    };
    const outcome = await this.deps.publisher.publish([{ ...event, source: EventSource.Exports }]);
    if (outcome.rejected.length > 0) {
      throw new ArchiveError(`the bus refused ${event.detailType} for export ${record.exportId}: ${outcome.rejected.map((r) => r.reason).join('; ')}`, { exportId: record.exportId });
    }
    await this.deps.exports.announced(record.exportId);
  }
}

/**
 * Failures a retry cannot cure: bad requests, runs that cannot be exported, builder refusals, write
 * failures, and an `export:<id>` that already has another provenance record.
 */
function isBuildFailure(error: unknown): boolean {
  return isPermanent(error) || error instanceof ExportError || error instanceof ProvenanceConflictError;
}

/** The errors list of an Export Failed detail: the message with the run, stream, index and key it concerns. */
export function exportErrorsOf(error: unknown): ExportErrorDetail[] {
  const message = error instanceof Error ? error.message : String(error);
  const context = error instanceof ArchiveError ? error.context : {};
  return [{
    message: message.slice(0, 1000),
    ...(typeof context.runUid === 'string' ? { run_uid: context.runUid } : {}),
    ...(typeof context.stream === 'string' ? { stream: context.stream } : {}),
    ...(typeof context.index === 'number' ? { index: context.index } : {}),
    ...(typeof context.key === 'string' ? { key: context.key } : {}),
  }];
}
