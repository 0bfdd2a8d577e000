/**
 * The dataset catalogue's reads (dynamodb-dataset-catalogue.ts): a dataset, its scans, and the
 * datasets by proposal (and session), by sample, by time range or the open ones (docs/datasets.md).
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { InvalidInputError } from '../core/errors.js';
import { DatasetState, type DatasetRecord, type DatasetRef, type DatasetScan } from '../core/datasets/model.js';
import type { DatasetQuery } from '../core/datasets/ports.js';
import { DatasetIndex, datasetPk, DATASET_SK, OPEN_MARKER_PK, recordOf, sessionSk } from './dynamodb-dataset-items.js';

export async function getDataset(db: DynamoDBDocumentClient, tableName: string, ref: DatasetRef): Promise<DatasetRecord | undefined> {
  const out = await db.send(new GetCommand({ TableName: tableName, Key: { pk: datasetPk(ref), sk: DATASET_SK }, ConsistentRead: true }));
  return out.Item ? recordOf(out.Item) : undefined;
}

export async function listScans(db: DynamoDBDocumentClient, tableName: string, ref: DatasetRef): Promise<DatasetScan[]> {
  const items = await queryAll(db, tableName, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :scan)',
    ExpressionAttributeValues: { ':pk': datasetPk(ref), ':scan': 'SCAN#' },
    ConsistentRead: true,
  });
  return items
    .filter((i) => i.joined)
    .map((i) => ({
      runUid: String(i.run_uid),
      scanNumber: Number(i.scan_number),
      ...(i.title ? { title: String(i.title) } : {}),
      ...(i.start_time ? { startTime: String(i.start_time) } : {}),
      ...(i.file_key ? { fileKey: String(i.file_key) } : {}),
      ...(i.file_sha256 ? { fileSha256: String(i.file_sha256) } : {}),
    }));
}

/** Pages until `limit` items that `keep` accepts are found (or the query ends). */
export async function queryAll(
  db: DynamoDBDocumentClient,
  tableName: string,
  input: Record<string, unknown>,
  limit = Infinity,
  keep: (item: Record<string, unknown>) => boolean = () => true,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await db.send(new QueryCommand({ TableName: tableName, ...input, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }));
    items.push(...(out.Items ?? []).filter(keep));
    startKey = out.LastEvaluatedKey;
  } while (startKey && items.length < limit);
  return items.slice(0, limit);
}

/** Index items carry the whole dataset item (projection ALL); a GSI read is eventually consistent. */
export async function listDatasets(
  db: DynamoDBDocumentClient,
  tableName: string,
  query: DatasetQuery,
  accept: (record: DatasetRecord) => boolean = () => true,
): Promise<DatasetRecord[]> {
  const limit = query.limit ?? 1000;
  const from = query.from ?? '0000';
  const to = query.to ?? '\uffff';
  const inRange = (r: DatasetRecord) => r.startDate >= from && r.startDate <= to;
  // Every condition is applied while paging, before the limit: a page is short only when the query is exhausted.
  const wanted = (r: DatasetRecord) =>
    inRange(r) &&
    (query.sample === undefined || r.metadata.Sample_name === query.sample) &&
    (query.proposal === undefined || r.ref.proposal === query.proposal) &&
    accept(r);
  const keep = (item: Record<string, unknown>) => wanted(recordOf(item));
  let records: DatasetRecord[];
  if (query.open) {
    const markers = await queryAll(db, tableName, {
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': OPEN_MARKER_PK },
      ConsistentRead: true,
    });
    const ids = markers.map((m) => String(m.sk));
    records = (
      await Promise.all(
        ids.map(async (id) => {
          const [proposal, beamline, session, collection, dataset] = id.split('/') as [string, string, string, string, string];
          return getDataset(db, tableName, { proposal, beamline, session, collection, dataset });
        }),
      )
    ).filter((r): r is DatasetRecord => r !== undefined && r.state === DatasetState.Open && wanted(r));
  } else if (query.proposal) {
    const prefix = query.beamline && query.session ? sessionSk({ beamline: query.beamline, session: query.session }) : 'DATASET#';
    records = (
      await queryAll(
        db,
        tableName,
        {
          IndexName: DatasetIndex.ByProposal,
          KeyConditionExpression: 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)',
          ExpressionAttributeValues: { ':pk': `PROPOSAL#${query.proposal}`, ':prefix': prefix },
        },
        limit,
        keep,
      )
    ).map(recordOf);
  } else if (query.sample) {
    records = (
      await queryAll(
        db,
        tableName,
        {
          IndexName: DatasetIndex.BySample,
          KeyConditionExpression: 'gsi2pk = :pk AND gsi2sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': `SAMPLE#${query.sample}`, ':from': from, ':to': `${to}\uffff` },
        },
        limit,
        keep,
      )
    ).map(recordOf);
  } else if (query.from && query.to) {
    records = [];
    for (const month of monthsBetween(query.from, query.to)) {
      if (records.length >= limit) break;
      records.push(
        ...(
          await queryAll(
            db,
            tableName,
            {
              IndexName: DatasetIndex.ByMonth,
              KeyConditionExpression: 'gsi3pk = :pk AND gsi3sk BETWEEN :from AND :to',
              ExpressionAttributeValues: { ':pk': `DATASET_MONTH#${month}`, ':from': from, ':to': `${to}\uffff` },
            },
            limit - records.length,
            keep,
          )
        ).map(recordOf),
      );
    }
  } else {
    throw new InvalidInputError('list datasets by proposal (and session), by sample, by time range (from and to) or the open ones');
  }
  return records
    .filter(wanted)
    .sort((a, b) => a.startDate.localeCompare(b.startDate) || a.id.localeCompare(b.id))
    .slice(0, limit);
}

/** `yyyy-mm` of every month from `from` to `to` (ISO times). */
export function monthsBetween(from: string, to: string): string[] {
  const months: string[] = [];
  let year = Number(from.slice(0, 4));
  let month = Number(from.slice(5, 7));
  const end = to.slice(0, 7);
  for (let guard = 0; guard < 1200; guard++) {
    const m = `${year}-${String(month).padStart(2, '0')}`;
    if (m > end) break;
    months.push(m);
    month += 1;
    if (month > 12) {
      month = 1;
      year += 1;
    }
  }
  return months;
}
