/**
 * The run catalogue in the one DynamoDB table (docs/architecture.md, "Catalogue"):
 *
 * | item         | pk            | sk                              |
 * | run          | RUN#<uid>     | RUN                             |
 * | run document | RUN#<uid>     | DOC#<detail-type>#<doc uid>     |
 * | file         | FILE#<key>    | FILE                            |
 *
 * Every write is idempotent and order-independent: documents are put once (conditional), run
 * state transitions are update expressions with conditions (RECORDING only on a run without a
 * state, FAILED never over ARCHIVED, STALLED only over RECORDING).
 *
 * Runs by state: index gsi4, `gsi4pk = RUNSTATE#<state>` (kept with `state` in every transition),
 * `gsi4sk = <since>`: the run's start time, or its end time when RunStop came first.
 *
 * This file: the writes (documents, state transitions, file claims). The reads are in
 * dynamodb-run-queries.ts, the hand-over claim in dynamodb-run-handover.ts, the keys, stored items
 * and update expressions (state always the last field an update sets) in dynamodb-run-items.ts.
 */
import { isConditionFailure } from './dynamodb-conditions.js';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ArchivedFile, RunFailed, RunStalled, RunStart, RunStop } from '../core/contract/generated-types.js';
import { FileKeyConflictError } from '../core/archive/errors.js';
import { runOriginOf, runSourceKeyOf, runTitleOf } from '../core/bluesky/run-origin.js';
import {
  RunState,
  type ArchivedRun,
  type HandOverStore,
  type RunCatalogue,
  type RunEngine,
  type RunRecord,
  type RunStateCatalogue,
  type RunSummary,
  type StoredDocument,
} from '../core/archive/ports.js';
import {
  datasetGsiPkOf,
  docSk,
  filePk,
  FILE_SK,
  HANDOVER_CLAIM_STALE_MS,
  runPk,
  runStatePk,
  RUN_SK,
  setFields,
  stripUndefined,
  withCondition,
} from './dynamodb-run-items.js';
import { getRun, listDocuments, listRunsByState } from './dynamodb-run-queries.js';
import { claimHandOver, endHandOver, recordHandOver, releaseHandOver } from './dynamodb-run-handover.js';

export {
  docSk,
  DOC_PREFIX,
  filePk,
  FILE_SK,
  HANDOVER_CLAIM_STALE_MS,
  runPk,
  runStatePk,
  RUN_SK,
  RUN_STATE_INDEX,
} from './dynamodb-run-items.js';

export class DynamoDbRunCatalogue implements RunCatalogue, RunStateCatalogue, HandOverStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  async putDocument(runUid: string, detailType: string, docUid: string, body: unknown): Promise<'stored' | 'duplicate'> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: runPk(runUid),
            sk: docSk(detailType, docUid),
            run_uid: runUid,
            detail_type: detailType,
            doc_uid: docUid,
            body: JSON.stringify(body),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return 'stored';
    } catch (error) {
      if (isConditionFailure(error)) return 'duplicate';
      throw error;
    }
  }

  async runStarted(start: RunStart): Promise<void> {
    const p = start.data_policy;
    const startIso = new Date(Math.round(start.time * 1000)).toISOString();
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: runPk(start.uid), sk: RUN_SK },
        ...setFields(
          {
            run_uid: start.uid,
            scan_id: start.scan_id,
            title: runTitleOf(start),
            plan_name: start.plan_name,
            scan_key: runSourceKeyOf(start),
            origin: runOriginOf(start),
            data_policy: p,
            start_time: startIso,
            // The dataset's key is its names through the one naming rule (object-keys safeSegment), as the dataset catalogue keys it.
            gsi1pk: datasetGsiPkOf(start.data_policy),
            gsi1sk: `RUN#${startIso}`,
          },
          { state: RunState.Recording, gsi4pk: runStatePk(RunState.Recording), gsi4sk: startIso },
        ),
      }),
    );
  }

  async runStopped(stop: RunStop): Promise<void> {
    const endIso = stop.bliss.end_time ?? new Date(Math.round(stop.time * 1000)).toISOString();
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: runPk(stop.run_start), sk: RUN_SK },
        // A RunStop before its RunStart (or without one) still makes a RECORDING run the watchdog can find.
        ...setFields(
          {
            run_uid: stop.run_start,
            end_time: endIso,
            stopped: true,
            end_reason: stop.bliss.end_reason ?? stop.reason ?? stop.exit_status,
            exit_status: stop.exit_status,
            sealed_points: stop.bliss.points,
          },
          { state: RunState.Recording, gsi4pk: runStatePk(RunState.Recording), gsi4sk: endIso },
        ),
      }),
    );
  }

  async runFailed(failure: RunFailed): Promise<'failed' | 'already-archived'> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(failure.run_uid), sk: RUN_SK },
          ...withCondition(
            setFields(
              {
                state: RunState.Failed,
                gsi4pk: runStatePk(RunState.Failed),
                run_uid: failure.run_uid,
                failure: { stage: failure.stage, reason: failure.reason, errors: failure.errors },
              },
              { gsi4sk: new Date().toISOString() },
            ),
            'attribute_not_exists(#state) OR #state <> :archived',
            { ':archived': RunState.Archived },
          ),
        }),
      );
      return 'failed';
    } catch (error) {
      if (isConditionFailure(error)) return 'already-archived';
      throw error;
    }
  }

  /**
   * ARCHIVED only from the state the writer expects: a first archive from any state but ARCHIVED
   * (RECORDING, or FAILED/STALLED that a late delivery or task cured with a verified file); a
   * re-archive only over the very version it replaced (`object_version.etag`). Anything else is
   * 'conflict': another delivery got there first, the record is left as it is.
   */
  async runArchived(run: ArchivedRun): Promise<'archived' | 'conflict'> {
    const parts = setFields(
      {
        state: RunState.Archived,
        gsi4pk: runStatePk(RunState.Archived),
        run_uid: run.runUid,
        file: run.file,
        points: run.points,
        archived_at: run.archivedAt,
        ...(run.gaps ? { gaps: run.gaps } : {}),
        ...(run.channelPaths ? { channel_paths: run.channelPaths } : {}),
        ...(run.refusedChannels?.length ? { refused_channels: run.refusedChannels } : {}),
        ...(run.engine ? { engine: run.engine } : {}),
        ...(run.object ? { object_version: stripUndefined(run.object) } : {}),
        ...(run.indexMissing ? { index_missing: run.indexMissing } : {}),
      },
      { gsi4sk: run.archivedAt },
      ['failure', 'stalled', ...(run.indexMissing ? [] : ['index_missing']), ...(run.refusedChannels?.length ? [] : ['refused_channels'])],
    );
    if (run.rearchive) {
      // Every re-archive is kept, oldest first: why, by whom, and the version it replaced.
      parts.UpdateExpression = parts.UpdateExpression.replace(
        /^SET /,
        'SET #rearchives = list_append(if_not_exists(#rearchives, :none), :rearchive), ',
      );
      parts.ExpressionAttributeNames['#rearchives'] = 'rearchives';
      parts.ExpressionAttributeValues[':none'] = [];
      parts.ExpressionAttributeValues[':rearchive'] = [stripUndefined(run.rearchive)];
    }
    const previousEtag = run.rearchive?.previous.etag;
    const condition = run.rearchive
      ? withCondition(
          { ...parts, ExpressionAttributeNames: { ...parts.ExpressionAttributeNames, '#ov': 'object_version', '#etag': 'etag' } },
          previousEtag !== undefined
            ? '#state = :archived AND #ov.#etag = :previous'
            : '#state = :archived AND attribute_not_exists(#ov.#etag)',
          { ':archived': RunState.Archived, ...(previousEtag !== undefined ? { ':previous': previousEtag } : {}) },
        )
      : withCondition(parts, 'attribute_not_exists(#state) OR #state <> :archived', { ':archived': RunState.Archived });
    try {
      await this.db.send(new UpdateCommand({ TableName: this.tableName, Key: { pk: runPk(run.runUid), sk: RUN_SK }, ...condition }));
      return 'archived';
    } catch (error) {
      if (isConditionFailure(error)) return 'conflict';
      throw error;
    }
  }

  getRun(runUid: string): Promise<RunRecord | undefined> {
    return getRun(this.db, this.tableName, runUid);
  }

  listRunsByState(state: RunState, options: { before?: string; limit?: number } = {}): Promise<RunSummary[]> {
    return listRunsByState(this.db, this.tableName, state, options);
  }

  async runRetried(runUid: string, at: string): Promise<'retried' | 'not-ended'> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(runUid), sk: RUN_SK },
          // The hand-over claim goes too: the task it named is gone (the watchdog saw it expire, or the run FAILED), and the
          // retried RunStop must be able to hand the run over again, as a new attempt (handover_attempts counts on).
          ...withCondition(
            setFields({ state: RunState.Recording, gsi4pk: runStatePk(RunState.Recording), gsi4sk: at, retried_at: at }, {}, ['handover']),
            '#state IN (:failed, :stalled)',
            { ':failed': RunState.Failed, ':stalled': RunState.Stalled },
          ),
        }),
      );
      return 'retried';
    } catch (error) {
      if (isConditionFailure(error)) return 'not-ended';
      throw error;
    }
  }

  async runStalled(stall: RunStalled): Promise<'stalled' | 'terminal'> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(stall.run_uid), sk: RUN_SK },
          ...withCondition(
            setFields({
              state: RunState.Stalled,
              gsi4pk: runStatePk(RunState.Stalled),
              gsi4sk: stall.stalled_at,
              run_uid: stall.run_uid,
              stalled: {
                stalled_at: stall.stalled_at,
                since: stall.since,
                reason: stall.reason,
                missing: stall.missing,
                run_stop: stall.run_stop,
              },
            }),
            'attribute_not_exists(#state) OR #state = :recording',
            { ':recording': RunState.Recording },
          ),
        }),
      );
      return 'stalled';
    } catch (error) {
      if (isConditionFailure(error)) return 'terminal';
      throw error;
    }
  }

  listDocuments(runUid: string): Promise<StoredDocument[]> {
    return listDocuments(this.db, this.tableName, runUid);
  }

  /** The hand-over claim: dynamodb-run-handover.ts. */
  claimHandOver(runUid: string, at: Date, options: { rearchive?: boolean } = {}): Promise<{ attempt: number } | 'taken'> {
    return claimHandOver(this.db, this.tableName, runUid, at, options);
  }

  recordHandOver(runUid: string, engine: RunEngine, reason: string, leaseMs: number = HANDOVER_CLAIM_STALE_MS): Promise<void> {
    return recordHandOver(this.db, this.tableName, runUid, engine, reason, leaseMs);
  }

  endHandOver(runUid: string, ref?: string): Promise<void> {
    return endHandOver(this.db, this.tableName, runUid, ref);
  }

  releaseHandOver(runUid: string): Promise<void> {
    return releaseHandOver(this.db, this.tableName, runUid);
  }

  /** Claims a final key for a run (before anything is uploaded), and records its size and checksum once known. */
  async claimFile(file: Pick<ArchivedFile, 'bucket' | 'key'> & Partial<ArchivedFile>, runUid: string): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: filePk(file.key),
            sk: FILE_SK,
            run_uid: runUid,
            bucket: file.bucket,
            key: file.key,
            ...(file.bytes !== undefined ? { bytes: file.bytes } : {}),
            ...(file.sha256 !== undefined ? { sha256: file.sha256 } : {}),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR run_uid = :uid',
          ExpressionAttributeValues: { ':uid': runUid },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const owner = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: { pk: filePk(file.key), sk: FILE_SK }, ConsistentRead: true }),
      );
      throw new FileKeyConflictError(
        `s3://${file.bucket}/${file.key} already belongs to run ${String(owner.Item?.run_uid)}: run ${runUid} (same data policy and scan number) cannot be published there`,
        { runUid, key: file.key, otherRunUid: owner.Item?.run_uid },
        { cause: error },
      );
    }
  }
}
