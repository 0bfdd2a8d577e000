/**
 * A RunStop for a run already ARCHIVED: a replay or duplicate delivery is acknowledged when the final
 * object is still the one the record describes, and an explicit re-archive replaces only that version.
 * Either way, an object that is not what the record says is a conflict, never overwritten.
 */
import { DetailType, EventSource } from '../contract/detail-types.js';
import type { RunArchived, RunStart } from '../contract/generated-types.js';
import { validateDetail } from '../contract/validators.js';
import type { EventPublisher, ObjectStore } from '../ports.js';
import { FinalObjectConflictError } from './errors.js';
import type { Rearchive, RunRecord } from './ports.js';
import { publishOrThrow } from './publish-event.js';

/** What these checks need of the archive use case's dependencies (archive-run.ts, ArchiveRunDeps). */
export interface ArchivedRunDeps {
  store: ObjectStore;
  publisher: EventPublisher;
  now: () => Date;
  log?: (message: string, context: Record<string, unknown>) => void;
}

/**
 * A replayed or duplicate RunStop of an ARCHIVED run: the final object must still be the one the
 * record describes (size, sha256 recorded with it, ETag when known). Then nothing is written; the
 * announcement is repeated. Otherwise the archive would be saying something false: a clear error
 * (the record stays ARCHIVED, the failure is logged, an operator decides).
 */
export async function acknowledgeArchived(
  record: RunRecord,
  start: RunStart,
  finalKey: string,
  deps: ArchivedRunDeps,
): Promise<RunArchived> {
  const runUid = record.runUid;
  const file = record.file;
  const there = file ? await deps.store.head(file.key) : undefined;
  const agrees =
    file !== undefined &&
    there !== undefined &&
    file.key === finalKey &&
    there.bytes === file.bytes &&
    (there.sha256 === undefined || there.sha256 === file.sha256) &&
    (record.object?.etag === undefined || record.object.etag === there.etag);
  if (!agrees) {
    throw new FinalObjectConflictError(
      `run ${runUid} is ARCHIVED as s3://${file?.bucket}/${file?.key} (${file?.bytes} bytes, sha256 ${file?.sha256}) but the object there ` +
        `${there ? `has ${there.bytes} bytes, sha256 ${there.sha256 ?? 'not recorded'}, ETag ${there.etag}` : 'is missing'}; nothing was written (an explicit re-archive can replace it)`,
      { runUid, key: file?.key ?? finalKey },
    );
  }
  deps.log?.('run already ARCHIVED and its final object agrees with the record: acknowledged, nothing written', {
    runUid,
    key: file.key,
    etag: there.etag,
    versionId: there.versionId,
  });
  const detail = validateDetail(
    DetailType.RunArchived,
    {
      run_uid: runUid,
      scan_id: start.scan_id,
      data_policy: start.data_policy,
      file,
      points: record.points ?? {},
      archived_at: record.archivedAt ?? deps.now().toISOString(),
    } satisfies RunArchived,
    EventSource.ScanWriter,
  );
  await publishOrThrow(deps.publisher, DetailType.RunArchived, detail, runUid);
  return detail;
}

/** The version a re-archive replaces: the final object must still be what the record says. */
export async function checkedPreviousVersion(record: RunRecord, deps: Pick<ArchivedRunDeps, 'store'>): Promise<Rearchive['previous']> {
  const file = record.file!;
  const there = await deps.store.head(file.key);
  if (
    !there ||
    there.bytes !== file.bytes ||
    (there.sha256 !== undefined && there.sha256 !== file.sha256) ||
    (record.object?.etag !== undefined && record.object.etag !== there.etag)
  ) {
    throw new FinalObjectConflictError(
      `run ${record.runUid} cannot be re-archived: s3://${file.bucket}/${file.key} is not the file its record describes (${there ? `${there.bytes} bytes, ETag ${there.etag}` : 'missing'})`,
      { runUid: record.runUid, key: file.key },
    );
  }
  return { ...file, etag: there.etag, versionId: there.versionId, ...(record.archivedAt ? { archivedAt: record.archivedAt } : {}) };
}
