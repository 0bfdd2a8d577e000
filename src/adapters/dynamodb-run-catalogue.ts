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
 */
import { isConditionFailure } from './dynamodb-conditions.js';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
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
  DOC_PREFIX,
  filePk,
  FILE_SK,
  handOverOf,
  HANDOVER_CLAIM_STALE_MS,
  runPk,
  runStatePk,
  RUN_SK,
  RUN_STATE_INDEX,
  setFields,
  stripUndefined,
  withCondition,
  type RunItem,
} from './dynamodb-run-items.js';

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

  async getRun(runUid: string): Promise<RunRecord | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: runPk(runUid), sk: RUN_SK }, ConsistentRead: true }),
    );
    if (!out.Item) return undefined;
    const item = out.Item as RunItem;
    return {
      runUid,
      state: item.state,
      file: item.file,
      points: item.points,
      gaps: item.gaps,
      failure: item.failure,
      channelPaths: item.channel_paths,
      refusedChannels: item.refused_channels,
      stalled: item.stalled,
      scanId: item.scan_id,
      title: item.title,
      planName: item.plan_name,
      scanKey: item.scan_key,
      dataPolicy: item.data_policy,
      startTime: item.start_time,
      endTime: item.end_time,
      endReason: item.end_reason,
      archivedAt: item.archived_at,
      sealedPoints: item.sealed_points,
      ...(item.engine ? { engine: item.engine } : {}),
      object: item.object_version,
      rearchives: item.rearchives,
      ...(item.handover ? { handOver: handOverOf(item.handover, item.handover_attempts) } : {}),
      ...(item.index_missing ? { indexMissing: item.index_missing } : {}),
    };
  }

  async listRunsByState(state: RunState, options: { before?: string; limit?: number } = {}): Promise<RunSummary[]> {
    const runs: RunSummary[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: RUN_STATE_INDEX,
          KeyConditionExpression: options.before !== undefined ? 'gsi4pk = :pk AND gsi4sk < :before' : 'gsi4pk = :pk',
          ExpressionAttributeValues: { ':pk': runStatePk(state), ...(options.before !== undefined ? { ':before': options.before } : {}) },
          ...(options.limit !== undefined ? { Limit: options.limit - runs.length } : {}),
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const raw of out.Items ?? []) {
        const item = raw as RunItem & { gsi4sk: string };
        // The index is eventually consistent: an item may still show the state it just left.
        if (item.state !== state) continue;
        runs.push({
          runUid: item.run_uid,
          state,
          since: item.gsi4sk,
          scanId: item.scan_id,
          title: item.title,
          scanKey: item.scan_key,
          dataPolicy: item.data_policy,
          startTime: item.start_time,
          endTime: item.end_time,
          stopped: item.stopped === true || item.end_time !== undefined,
          reason: item.failure?.reason ?? item.stalled?.reason,
          retriedAt: item.retried_at,
          ...(item.handover ? { handOver: handOverOf(item.handover, item.handover_attempts) } : {}),
        });
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey && (options.limit === undefined || runs.length < options.limit));
    return runs;
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

  async listDocuments(runUid: string): Promise<StoredDocument[]> {
    const docs: StoredDocument[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :doc)',
          ExpressionAttributeValues: { ':pk': runPk(runUid), ':doc': DOC_PREFIX },
          ProjectionExpression: 'detail_type, doc_uid, body',
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of out.Items ?? []) {
        docs.push({ detailType: String(item.detail_type), uid: String(item.doc_uid), body: JSON.parse(String(item.body)) as unknown });
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return docs;
  }

  /**
   * The hand-over claim (`handover` on the run record): taken once per attempt. It holds while its
   * task may still run: until `expires_at` (the claim's `leaseMs` from now; an unanswered claim is
   * stale after HANDOVER_CLAIM_STALE_MS until recordHandOver extends it), then it can be taken again
   * and the watchdog treats its task as gone. Never for an ARCHIVED run unless `rearchive`.
   * Each claim is a new attempt (`handover_attempts`, kept across retries): the RunTask client token
   * is per attempt, so a new attempt never gets the dead task of the last one back.
   */
  async claimHandOver(runUid: string, at: Date, options: { rearchive?: boolean } = {}): Promise<{ attempt: number } | 'taken'> {
    const stale = new Date(at.getTime() - HANDOVER_CLAIM_STALE_MS).toISOString();
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(runUid), sk: RUN_SK },
          UpdateExpression: 'SET #h = :claim, #run = :uid ADD #attempts :one',
          ConditionExpression: `${options.rearchive ? '#state = :archived' : '(attribute_not_exists(#state) OR #state <> :archived)'} AND (attribute_not_exists(#h) OR #h.#exp < :now OR (attribute_not_exists(#h.#exp) AND attribute_not_exists(#h.#ref) AND #h.#at < :stale))`,
          ExpressionAttributeNames: {
            '#h': 'handover',
            '#state': 'state',
            '#ref': 'ref',
            '#at': 'claimed_at',
            '#exp': 'expires_at',
            '#run': 'run_uid',
            '#attempts': 'handover_attempts',
          },
          ExpressionAttributeValues: {
            ':claim': {
              claimed_at: at.toISOString(),
              expires_at: new Date(at.getTime() + HANDOVER_CLAIM_STALE_MS).toISOString(),
              ...(options.rearchive ? { rearchive: true } : {}),
            },
            ':uid': runUid,
            ':archived': RunState.Archived,
            ':now': at.toISOString(),
            ':stale': stale,
            ':one': 1,
          },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      const attempt = Number((out.Attributes as { handover_attempts?: number } | undefined)?.handover_attempts ?? 1);
      return { attempt };
    } catch (error) {
      if (isConditionFailure(error)) return 'taken';
      throw error;
    }
  }

  /** Where the task of this attempt runs; the claim now holds for `leaseMs` (the task's longest run and a margin). */
  async recordHandOver(runUid: string, engine: RunEngine, reason: string, leaseMs: number = HANDOVER_CLAIM_STALE_MS): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: runPk(runUid), sk: RUN_SK },
        UpdateExpression: 'SET #h.#ref = :ref, #h.#reason = :reason, #h.#exp = :exp, #engine = :engine',
        ExpressionAttributeNames: { '#h': 'handover', '#ref': 'ref', '#reason': 'reason', '#exp': 'expires_at', '#engine': 'engine' },
        ExpressionAttributeValues: {
          ':ref': engine.ref,
          ':reason': reason,
          ':engine': engine,
          ':exp': new Date(Date.now() + leaseMs).toISOString(),
        },
      }),
    );
  }

  /** The task `ref` ended: its claim goes (only its own: a later attempt's claim is left alone). */
  async endHandOver(runUid: string, ref?: string): Promise<void> {
    await this.db
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(runUid), sk: RUN_SK },
          UpdateExpression: 'REMOVE #h',
          ...(ref !== undefined ? { ConditionExpression: '#h.#ref = :ref', ExpressionAttributeValues: { ':ref': ref } } : {}),
          ExpressionAttributeNames: { '#h': 'handover', ...(ref !== undefined ? { '#ref': 'ref' } : {}) },
        }),
      )
      .catch((error: unknown) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  async releaseHandOver(runUid: string): Promise<void> {
    await this.db
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(runUid), sk: RUN_SK },
          UpdateExpression: 'REMOVE #h',
          ConditionExpression: 'attribute_exists(#h) AND attribute_not_exists(#h.#ref)',
          ExpressionAttributeNames: { '#h': 'handover', '#ref': 'ref' },
        }),
      )
      .catch((error: unknown) => {
        if (!isConditionFailure(error)) throw error;
      });
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
