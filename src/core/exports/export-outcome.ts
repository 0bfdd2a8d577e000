/**
 * How a build ends: the provenance of a completed export, the record and the files of a failed
 * one, and the announcement of either on the bus (Export Completed / Export Failed).
 */
import { DetailType, EventSource } from '../contract/detail-types.js';
import type { ExportCompleted, ExportError as ExportErrorDetail, ExportErrorFile, ExportFailed } from '../contract/generated-types.js';
import { validateDetail } from '../contract/validators.js';
import { ArchiveError, isPermanent } from '../errors.js';
import { errKeyOf, TMP_SUFFIX } from '../object-keys.js';
import { EntityKind, fileRef, runRef } from '../provenance/model.js';
import { ProvenanceConflictError } from '../provenance/errors.js';
import { recordProvenance } from '../provenance/record-provenance.js';
import { ExportError } from './errors.js';
import type { PlannedFile } from './export-files.js';
import type { LoadedRun } from './export-loader.js';
import { ExportState, type ExportFileRecord, type ExportRecord, type ExportWorkspace } from './ports.js';
import type { ExportServiceDeps } from './service-deps.js';

type OutcomeDeps = Pick<ExportServiceDeps, 'store' | 'exports' | 'publisher' | 'now' | 'log'>;

/** `export:<id>`: parents the runs, inputs their scan files (sha256), outputs the published files. */
export async function recordExportProvenance(
  deps: Pick<ExportServiceDeps, 'provenance' | 'now'>,
  record: ExportRecord,
  loaded: readonly LoadedRun[],
  files: readonly ExportFileRecord[],
): Promise<string> {
  const entity = `${EntityKind.Export}:${record.exportId}`;
  const now = deps.now().toISOString();
  const activityUid = `export-worker/${record.exportId}`;
  const outputs = files.map((f) => ({ uri: `s3://${f.bucket}/${f.key}`, sha256: f.sha256, bytes: f.bytes }));
  const { record: stored, status } = await recordProvenance(
    entity,
    {
      parents: record.runs.map(runRef),
      inputs: loaded.map((l) => ({
        uri: fileRef(l.file.bucket, l.file.key).slice(`${EntityKind.File}:`.length),
        sha256: l.file.sha256,
        bytes: l.file.bytes,
      })),
      software: deps.provenance.software,
      parameters: { request_id: record.requestId, format: record.format, runs: record.runs, options: record.options },
      agent: { name: record.requester ?? 'beamline-archive export-worker', ...(record.requester ? { identifier: record.requester } : {}) },
      started_at: record.requestedAt,
      ended_at: now,
      activity: `export-${record.format}`,
    },
    { store: deps.provenance.store, now: deps.now, newUid: () => activityUid },
    {
      activityUid,
      outputs,
    },
  );
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
export async function failExport(
  deps: OutcomeDeps,
  record: ExportRecord,
  error: unknown,
  planned: readonly PlannedFile[],
  workspace: ExportWorkspace,
): Promise<ExportRecord> {
  const { exportId } = record;
  const errorFiles: ExportErrorFile[] = [];
  for (const { key } of planned) {
    const tmpKey = `${key}${TMP_SUFFIX}`;
    const errKey = errKeyOf(key);
    const tmp = await deps.store.head(tmpKey);
    if (tmp) {
      await deps.store.copy(tmpKey, errKey);
      await deps.store.delete(tmpKey);
      errorFiles.push({ bucket: deps.store.bucket, key: errKey, bytes: tmp.bytes });
      continue;
    }
    const partial = await workspace.partial(key.slice(key.lastIndexOf('/') + 1));
    if (partial && partial.bytes > 0) {
      const stored = await deps.store.uploadFile(errKey, partial.path, 'application/octet-stream');
      errorFiles.push({ bucket: deps.store.bucket, key: errKey, bytes: stored.bytes });
    }
  }
  const reason = (error as Error).message.slice(0, 1000);
  const errors = exportErrorsOf(error);
  const failedAt = deps.now().toISOString();
  const outcome = await deps.exports.failed(exportId, { reason, errors, errorFiles, failedAt });
  if (outcome === 'already-completed') {
    deps.log?.('export already COMPLETED; the failure of this delivery is logged, not recorded', { exportId, reason });
    return (await deps.exports.get(exportId)) ?? record;
  }
  const failed: ExportRecord = { ...record, state: ExportState.Failed, reason, errors, errorFiles, failedAt, progress: undefined };
  deps.log?.('export FAILED', {
    exportId,
    requestId: record.requestId,
    reason,
    errorFiles: errorFiles.map((f) => f.key),
    error: (error as Error).name,
  });
  await announceExport(deps, failed);
  return failed;
}

export async function announceExport(deps: Pick<ExportServiceDeps, 'publisher' | 'exports' | 'now'>, record: ExportRecord): Promise<void> {
  const event =
    record.state === ExportState.Completed
      ? {
          detailType: DetailType.ExportCompleted,
          detail: validateDetail(
            DetailType.ExportCompleted,
            {
              export_id: record.exportId,
              request_id: record.requestId,
              format: record.format,
              runs: record.runs as ExportCompleted['runs'],
              files: (record.files ?? []).map((f) => ({
                bucket: f.bucket,
                key: f.key,
                bytes: f.bytes,
                sha256: f.sha256,
              })) as ExportCompleted['files'],
              provenance: record.provenance ?? `${EntityKind.Export}:${record.exportId}`,
              completed_at: record.completedAt ?? deps.now().toISOString(),
            } satisfies ExportCompleted,
            EventSource.Exports,
          ),
        }
      : {
          detailType: DetailType.ExportFailed,
          detail: validateDetail(
            DetailType.ExportFailed,
            {
              export_id: record.exportId,
              request_id: record.requestId,
              format: record.format,
              runs: record.runs,
              reason: record.reason ?? 'no reason recorded',
              errors: record.errors ?? [],
              ...(record.errorFiles?.length ? { error_files: record.errorFiles } : {}),
              failed_at: record.failedAt ?? deps.now().toISOString(),
            } satisfies ExportFailed,
            EventSource.Exports,
          ),
        };
  const outcome = await deps.publisher.publish([{ ...event, source: EventSource.Exports }]);
  if (outcome.rejected.length > 0) {
    throw new ArchiveError(
      `the bus refused ${event.detailType} for export ${record.exportId}: ${outcome.rejected.map((r) => r.reason).join('; ')}`,
      { exportId: record.exportId },
    );
  }
  await deps.exports.announced(record.exportId);
}

/**
 * Failures a retry cannot cure: bad requests, runs that cannot be exported, builder refusals, write
 * failures, and an `export:<id>` that already has another provenance record.
 */
export function isBuildFailure(error: unknown): boolean {
  return isPermanent(error) || error instanceof ExportError || error instanceof ProvenanceConflictError;
}

/** The errors list of an Export Failed detail: the message with the run, stream, index and key it concerns. */
export function exportErrorsOf(error: unknown): ExportErrorDetail[] {
  const message = error instanceof Error ? error.message : String(error);
  const context = error instanceof ArchiveError ? error.context : {};
  return [
    {
      message: message.slice(0, 1000),
      ...(typeof context.runUid === 'string' ? { run_uid: context.runUid } : {}),
      ...(typeof context.stream === 'string' ? { stream: context.stream } : {}),
      ...(typeof context.index === 'number' ? { index: context.index } : {}),
      ...(typeof context.key === 'string' ? { key: context.key } : {}),
    },
  ];
}
