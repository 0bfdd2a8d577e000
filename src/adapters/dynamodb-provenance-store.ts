/**
 * Provenance in the catalogue table (docs/analysis-store.md):
 *
 * | item               | pk                 | sk                  |
 * | provenance record  | PROV#<entity ref>  | PROV                |
 * | edge to a parent   | PROV#<child ref>   | PARENT#<parent ref> |
 * | edge to a child    | PROV#<parent ref>  | CHILD#<child ref>   |
 *
 * The record, its parent edges and its output edges are written in one transaction, conditional on
 * the record not existing. A record with more edges than one transaction holds (100 items) gets the
 * output edges that do not fit in batch writes afterwards; every retry of the same record (a
 * 'duplicate') writes its output edges again, so a crash between the two steps is repaired by the
 * redelivery. Existence of a parent: any PROV# item of it, or the catalogue item of its
 * kind (run record, FILE# record of a scan file in this bucket, the dataset record or a run of the
 * dataset in gsi1).
 */
import { BatchWriteCommand, GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isTransactionCancelled } from './dynamodb-conditions.js';
import { ProvenanceConflictError } from '../core/provenance/errors.js';
import type { EntityRef, ProvenanceRecord } from '../core/provenance/model.js';
import type { ProvenanceStore } from '../core/provenance/ports.js';
import { filePk, FILE_SK, runPk, RUN_SK } from './dynamodb-run-catalogue.js';
import { isArchiveOwned } from '../core/provenance/archive-owned.js';

export const provPk = (entity: string) => `PROV#${entity}`;
export const PROV_SK = 'PROV';
export const PARENT_PREFIX = 'PARENT#';
export const CHILD_PREFIX = 'CHILD#';
/** pk of a dataset record and gsi1pk of the runs of a dataset: `DATASET#<p>#<b>#<s>#<c>#<d>`. */
export const datasetGsiPk = (datasetId: string) => `DATASET#${datasetId.split('/').join('#')}`;

/** DynamoDB's limit of items in one TransactWriteItems call. */
const MAX_TRANSACTION_ITEMS = 100;

/** The two items linking a child to a parent: PARENT# under the child, CHILD# under the parent. */
function edgePair(child: string, parent: string): Record<string, unknown>[] {
  return [
    { pk: provPk(child), sk: `${PARENT_PREFIX}${parent}`, entity: child, parent },
    { pk: provPk(parent), sk: `${CHILD_PREFIX}${child}`, entity: parent, child },
  ];
}

/** Output files are children of the entity: the lineage of a data object reaches its run. */
function outputEdgesOf(record: ProvenanceRecord): Record<string, unknown>[] {
  return record.outputs.filter((o) => o.uri.startsWith('s3://')).flatMap((o) => edgePair(`file:${o.uri}`, record.entity));
}

export class DynamoDbProvenanceStore implements ProvenanceStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly bucket: string,
  ) {}

  async exists(entity: EntityRef): Promise<boolean> {
    // Only real records count (issue 15): a provenance record of the entity, or the entity named as
    // an output of one (a PARENT# edge) unless it is the archive's own, or its catalogue item below.
    // A bare CHILD# edge proves nothing by itself.
    if (await this.hasItem(provPk(entity.ref), PROV_SK)) return true;
    if (!isArchiveOwned(entity.ref) && (await this.linked(entity.ref, PARENT_PREFIX, 1)).length > 0) return true;
    switch (entity.kind) {
      case 'run':
        return this.hasItem(runPk(entity.id), RUN_SK);
      case 'file': {
        const prefix = `s3://${this.bucket}/`;
        return entity.id.startsWith(prefix) && this.hasItem(filePk(entity.id.slice(prefix.length)), FILE_SK);
      }
      case 'dataset': {
        // The dataset record (src/adapters/dynamodb-dataset-catalogue.ts), else any run of the dataset.
        if (await this.hasItem(datasetGsiPk(entity.id), 'DATASET')) return true;
        const out = await this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: 'gsi1',
            KeyConditionExpression: 'gsi1pk = :pk',
            ExpressionAttributeValues: { ':pk': datasetGsiPk(entity.id) },
            Limit: 1,
          }),
        );
        return (out.Items ?? []).length > 0;
      }
      default:
        return false;
    }
  }

  private async hasItem(pk: string, sk: string): Promise<boolean> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { pk, sk }, ProjectionExpression: 'pk', ConsistentRead: true }),
    );
    return out.Item !== undefined;
  }

  async get(entity: string): Promise<ProvenanceRecord | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: provPk(entity), sk: PROV_SK }, ConsistentRead: true }),
    );
    return out.Item ? (JSON.parse(String(out.Item.body)) as ProvenanceRecord) : undefined;
  }

  async hasChildren(entity: string): Promise<boolean> {
    return (await this.linked(entity, CHILD_PREFIX, 1)).length > 0;
  }

  async put(record: ProvenanceRecord): Promise<'stored' | 'duplicate'> {
    const parentEdges = record.parents.flatMap((parent) => edgePair(record.entity, parent));
    const outputEdges = outputEdgesOf(record);
    // What fits next to the record in one transaction goes there; the rest follows in batches.
    const room = Math.max(0, MAX_TRANSACTION_ITEMS - 1 - parentEdges.length);
    const inTransaction = outputEdges.slice(0, room - (room % 2));
    const afterwards = outputEdges.slice(inTransaction.length);
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  pk: provPk(record.entity),
                  sk: PROV_SK,
                  entity: record.entity,
                  activity_uid: record.activity_uid,
                  recorded_at: record.recorded_at,
                  body: JSON.stringify(record),
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            ...[...parentEdges, ...inTransaction].map((Item) => ({ Put: { TableName: this.tableName, Item } })),
          ],
        }),
      );
    } catch (error) {
      if (!isTransactionCancelled(error)) throw error;
      const existing = await this.get(record.entity);
      if (existing?.activity_uid !== record.activity_uid) {
        throw new ProvenanceConflictError(
          `${record.entity} already has a provenance record${existing ? ` (activity ${existing.activity_uid})` : ''}`,
          { entity: record.entity },
          { cause: error },
        );
      }
      // The same record again (a redelivery): its output edges may not all have been written.
      await this.batchPut(record.entity, outputEdges);
      return 'duplicate';
    }
    await this.batchPut(record.entity, afterwards);
    return 'stored';
  }

  /** Idempotent plain puts, 25 per request, unprocessed items retried with backoff. */
  private async batchPut(entity: string, items: readonly Record<string, unknown>[]): Promise<void> {
    for (let i = 0; i < items.length; i += 25) {
      let pending: Record<string, unknown>[] = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; pending.length > 0; attempt += 1) {
        if (attempt > 8) throw new Error(`could not write ${pending.length} provenance edges of ${entity}`);
        const out = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
        pending = (out.UnprocessedItems?.[this.tableName] ?? []) as Record<string, unknown>[];
        if (pending.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }

  parentsOf(entity: string): Promise<string[]> {
    return this.linked(entity, PARENT_PREFIX);
  }

  childrenOf(entity: string): Promise<string[]> {
    return this.linked(entity, CHILD_PREFIX);
  }

  private async linked(entity: string, prefix: string, limit?: number): Promise<string[]> {
    const found: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': provPk(entity), ':prefix': prefix },
          ProjectionExpression: 'sk',
          ConsistentRead: true,
          ...(limit ? { Limit: limit } : {}),
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of out.Items ?? []) found.push(String(item.sk).slice(prefix.length));
      startKey = limit && found.length >= limit ? undefined : out.LastEvaluatedKey;
    } while (startKey);
    return found;
  }
}
