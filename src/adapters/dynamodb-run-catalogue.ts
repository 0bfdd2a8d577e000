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
 * state, FAILED never over ARCHIVED).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ArchivedFile, RunFailed, RunStart, RunStop } from '../core/contract/generated-types.js';
import { FileKeyConflictError } from '../core/archive/errors.js';
import { RunState, type ArchivedRun, type RunCatalogue, type RunRecord, type StoredDocument } from '../core/archive/ports.js';

export const runPk = (runUid: string) => `RUN#${runUid}`;
export const RUN_SK = 'RUN';
export const DOC_PREFIX = 'DOC#';
export const docSk = (detailType: string, docUid: string) => `${DOC_PREFIX}${detailType}#${docUid}`;
export const filePk = (key: string) => `FILE#${key}`;
export const FILE_SK = 'FILE';

function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as { name?: string }).name === 'ConditionalCheckFailedException';
}

export class DynamoDbRunCatalogue implements RunCatalogue {
  constructor(private readonly db: DynamoDBDocumentClient, readonly tableName: string) {}

  async putDocument(runUid: string, detailType: string, docUid: string, body: unknown): Promise<'stored' | 'duplicate'> {
    try {
      await this.db.send(new PutCommand({
        TableName: this.tableName,
        Item: { pk: runPk(runUid), sk: docSk(detailType, docUid), run_uid: runUid, detail_type: detailType, doc_uid: docUid, body: JSON.stringify(body) },
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
      return 'stored';
    } catch (error) {
      if (isConditionFailure(error)) return 'duplicate';
      throw error;
    }
  }

  async runStarted(start: RunStart): Promise<void> {
    const p = start.data_policy;
    const startIso = new Date(Math.round(start.time * 1000)).toISOString();
    await this.db.send(new UpdateCommand({
      TableName: this.tableName,
      Key: { pk: runPk(start.uid), sk: RUN_SK },
      UpdateExpression: 'SET #state = if_not_exists(#state, :recording), run_uid = :uid, scan_id = :scan, title = :title, '
        + 'plan_name = :plan, scan_key = :scanKey, data_policy = :policy, start_time = :start, gsi1pk = :g1pk, gsi1sk = :g1sk',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ':recording': RunState.Recording, ':uid': start.uid, ':scan': start.scan_id, ':title': start.bliss.title,
        ':plan': start.plan_name, ':scanKey': start.bliss.scan_key, ':policy': p, ':start': startIso,
        ':g1pk': `DATASET#${p.proposal}#${p.beamline}#${p.session}#${p.collection}#${p.dataset}`, ':g1sk': `RUN#${startIso}`,
      },
    }));
  }

  async runStopped(stop: RunStop): Promise<void> {
    await this.db.send(new UpdateCommand({
      TableName: this.tableName,
      Key: { pk: runPk(stop.run_start), sk: RUN_SK },
      UpdateExpression: 'SET run_uid = :uid, end_time = :end, end_reason = :reason, exit_status = :exit, sealed_points = :points',
      ExpressionAttributeValues: {
        ':uid': stop.run_start, ':end': stop.bliss.end_time ?? new Date(Math.round(stop.time * 1000)).toISOString(),
        ':reason': stop.bliss.end_reason ?? stop.reason ?? stop.exit_status, ':exit': stop.exit_status, ':points': stop.bliss.points,
      },
    }));
  }

  async runFailed(failure: RunFailed): Promise<'failed' | 'already-archived'> {
    try {
      await this.db.send(new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: runPk(failure.run_uid), sk: RUN_SK },
        UpdateExpression: 'SET #state = :failed, run_uid = :uid, failure = :failure',
        ConditionExpression: 'attribute_not_exists(#state) OR #state <> :archived',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':failed': RunState.Failed, ':archived': RunState.Archived, ':uid': failure.run_uid,
          ':failure': { stage: failure.stage, reason: failure.reason, errors: failure.errors },
        },
      }));
      return 'failed';
    } catch (error) {
      if (isConditionFailure(error)) return 'already-archived';
      throw error;
    }
  }

  async runArchived(run: ArchivedRun): Promise<void> {
    await this.db.send(new UpdateCommand({
      TableName: this.tableName,
      Key: { pk: runPk(run.runUid), sk: RUN_SK },
      UpdateExpression: 'SET #state = :archived, run_uid = :uid, file = :file, points = :points, archived_at = :at REMOVE failure',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: { ':archived': RunState.Archived, ':uid': run.runUid, ':file': run.file, ':points': run.points, ':at': run.archivedAt },
    }));
  }

  async getRun(runUid: string): Promise<RunRecord | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { pk: runPk(runUid), sk: RUN_SK }, ConsistentRead: true }));
    if (!out.Item) return undefined;
    const item = out.Item as { state?: RunState; file?: ArchivedFile; points?: Record<string, number> };
    return { runUid, state: item.state, file: item.file, points: item.points };
  }

  async listDocuments(runUid: string): Promise<StoredDocument[]> {
    const docs: StoredDocument[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :doc)',
        ExpressionAttributeValues: { ':pk': runPk(runUid), ':doc': DOC_PREFIX },
        ProjectionExpression: 'detail_type, doc_uid, body',
        ConsistentRead: true,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }));
      for (const item of out.Items ?? []) {
        docs.push({ detailType: String(item.detail_type), uid: String(item.doc_uid), body: JSON.parse(String(item.body)) as unknown });
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return docs;
  }

  async claimFile(file: ArchivedFile, runUid: string): Promise<void> {
    try {
      await this.db.send(new PutCommand({
        TableName: this.tableName,
        Item: { pk: filePk(file.key), sk: FILE_SK, run_uid: runUid, bucket: file.bucket, key: file.key, bytes: file.bytes, sha256: file.sha256 },
        ConditionExpression: 'attribute_not_exists(pk) OR run_uid = :uid',
        ExpressionAttributeValues: { ':uid': runUid },
      }));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const owner = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { pk: filePk(file.key), sk: FILE_SK }, ConsistentRead: true }));
      throw new FileKeyConflictError(
        `s3://${file.bucket}/${file.key} already belongs to run ${String(owner.Item?.run_uid)}: run ${runUid} (same data policy and scan number) cannot be published there`,
        { runUid, key: file.key, otherRunUid: owner.Item?.run_uid }, { cause: error },
      );
    }
  }
}
