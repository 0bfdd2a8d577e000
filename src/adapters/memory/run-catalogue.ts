/**
 * A RunCatalogue in memory with the DynamoDB adapter's rules: a document is stored once per uid,
 * RunStart/RunStop fill the run record (RECORDING unless it already has a state), FAILED never
 * downgrades an ARCHIVED run, a final key belongs to one run (FileKeyConflictError otherwise).
 * For unit tests and nothing in production.
 */
import type { ArchivedFile, RunFailed, RunStart, RunStop } from '../../core/contract/generated-types.js';
import { FileKeyConflictError } from '../../core/archive/errors.js';
import { RunState, type ArchivedRun, type RunCatalogue, type RunRecord, type StoredDocument } from '../../core/archive/ports.js';
import { runTitleOf, runSourceKeyOf } from '../../core/bluesky/run-origin.js';

export class MemoryRunCatalogue implements RunCatalogue {
  readonly documents = new Map<string, StoredDocument[]>();
  readonly runs = new Map<string, RunRecord>();
  /** Final key → the run that claimed it. */
  readonly files = new Map<string, string>();
  /** Every runArchived call, in order (a redelivery calls again; it is recorded only from the expected state). */
  readonly archivals: ArchivedRun[] = [];

  /** A catalogue already holding these documents of a run (as the run-recorder stored them). */
  static holding(runUid: string, documents: readonly StoredDocument[]): MemoryRunCatalogue {
    const catalogue = new MemoryRunCatalogue();
    catalogue.documents.set(
      runUid,
      documents.map((d) => structuredClone(d)),
    );
    return catalogue;
  }

  private record(runUid: string): RunRecord {
    let record = this.runs.get(runUid);
    if (!record) this.runs.set(runUid, (record = { runUid }));
    return record;
  }

  async putDocument(runUid: string, detailType: string, docUid: string, body: unknown): Promise<'stored' | 'duplicate'> {
    const docs = this.documents.get(runUid) ?? [];
    if (docs.some((d) => d.detailType === detailType && d.uid === docUid)) return 'duplicate';
    docs.push({ detailType, uid: docUid, body: structuredClone(body) });
    this.documents.set(runUid, docs);
    return 'stored';
  }

  async runStarted(start: RunStart): Promise<void> {
    const record = this.record(start.uid);
    Object.assign(record, {
      scanId: start.scan_id,
      title: runTitleOf(start),
      planName: start.plan_name,
      scanKey: runSourceKeyOf(start),
      dataPolicy: start.data_policy,
      startTime: new Date(Math.round(start.time * 1000)).toISOString(),
    });
    record.state ??= RunState.Recording;
  }

  async runStopped(stop: RunStop): Promise<void> {
    const record = this.record(stop.run_start);
    record.endTime = stop.bliss.end_time ?? new Date(Math.round(stop.time * 1000)).toISOString();
    record.endReason = stop.bliss.end_reason ?? stop.reason ?? stop.exit_status;
    record.sealedPoints = Object.fromEntries(Object.entries(stop.bliss.points).filter((e): e is [string, number] => e[1] !== undefined));
    record.state ??= RunState.Recording;
  }

  async runFailed(failure: RunFailed): Promise<'failed' | 'already-archived'> {
    const record = this.record(failure.run_uid);
    if (record.state === RunState.Archived) return 'already-archived';
    record.state = RunState.Failed;
    record.failure = { stage: failure.stage, reason: failure.reason, errors: failure.errors };
    return 'failed';
  }

  /** As DynamoDB's: never over ARCHIVED, a re-archive only over the version it replaced ('conflict', nothing changed). */
  async runArchived(run: ArchivedRun): Promise<'archived' | 'conflict'> {
    this.archivals.push(structuredClone(run));
    const record = this.record(run.runUid);
    const expected = run.rearchive
      ? record.state === RunState.Archived && record.object?.etag === run.rearchive.previous.etag
      : record.state !== RunState.Archived;
    if (!expected) return 'conflict';
    Object.assign(record, {
      state: RunState.Archived,
      file: run.file,
      points: run.points,
      archivedAt: run.archivedAt,
      failure: undefined,
      stalled: undefined,
      ...(run.gaps ? { gaps: run.gaps } : {}),
      ...(run.channelPaths ? { channelPaths: run.channelPaths } : {}),
      ...(run.refusedChannels?.length ? { refusedChannels: run.refusedChannels } : {}),
      ...(run.engine ? { engine: run.engine } : {}),
      ...(run.object ? { object: run.object } : {}),
    });
    if (run.rearchive) record.rearchives = [...(record.rearchives ?? []), run.rearchive];
    if (run.indexMissing) record.indexMissing = run.indexMissing;
    else delete record.indexMissing;
    return 'archived';
  }

  async getRun(runUid: string): Promise<RunRecord | undefined> {
    const record = this.runs.get(runUid);
    return record ? structuredClone(record) : undefined;
  }

  async listDocuments(runUid: string): Promise<StoredDocument[]> {
    return structuredClone(this.documents.get(runUid) ?? []);
  }

  async claimFile(file: Pick<ArchivedFile, 'bucket' | 'key'> & Partial<ArchivedFile>, runUid: string): Promise<void> {
    const owner = this.files.get(file.key);
    if (owner !== undefined && owner !== runUid) {
      throw new FileKeyConflictError(
        `s3://${file.bucket}/${file.key} already belongs to run ${owner}: run ${runUid} (same data policy and scan number) cannot be published there`,
        { runUid, key: file.key, otherRunUid: owner },
      );
    }
    this.files.set(file.key, runUid);
  }
}
