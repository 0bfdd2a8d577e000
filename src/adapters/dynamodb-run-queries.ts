/**
 * The run catalogue's reads (dynamodb-run-catalogue.ts): a run record, the runs in a state (index
 * gsi4), a run's documents. The catalogue's state updates are in dynamodb-run-catalogue.ts.
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RunRecord, RunState, RunSummary, StoredDocument } from '../core/archive/ports.js';
import { DOC_PREFIX, handOverOf, runPk, runStatePk, RUN_SK, RUN_STATE_INDEX, type RunItem } from './dynamodb-run-items.js';

export async function getRun(db: DynamoDBDocumentClient, tableName: string, runUid: string): Promise<RunRecord | undefined> {
  const out = await db.send(new GetCommand({ TableName: tableName, Key: { pk: runPk(runUid), sk: RUN_SK }, ConsistentRead: true }));
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

export async function listRunsByState(
  db: DynamoDBDocumentClient,
  tableName: string,
  state: RunState,
  options: { before?: string; limit?: number } = {},
): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await db.send(
      new QueryCommand({
        TableName: tableName,
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

export async function listDocuments(db: DynamoDBDocumentClient, tableName: string, runUid: string): Promise<StoredDocument[]> {
  const docs: StoredDocument[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await db.send(
      new QueryCommand({
        TableName: tableName,
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
