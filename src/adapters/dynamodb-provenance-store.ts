/**
 * Provenance in the catalogue table (docs/analysis-store.md):
 *
 * | item               | pk                 | sk                  |
 * | provenance record  | PROV#<entity ref>  | PROV                |
 * | edge to a parent   | PROV#<child ref>   | PARENT#<parent ref> |
 * | edge to a child    | PROV#<parent ref>  | CHILD#<child ref>   |
 *
 * The record and its parent edges are written in one transaction, conditional on the record not
 * existing. Output files (a derived run's data objects) get edges to the entity afterwards (batch
 * writes, idempotent). Existence of a parent: any PROV# item of it, or the catalogue item of its
 * kind (run record, FILE# record of a scan file in this bucket, the dataset record or a run of the
 * dataset in gsi1).
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ProvenanceConflictError } from '../core/provenance/errors.js';
import type { EntityRef, ProvenanceRecord } from '../core/provenance/model.js';
import type { ProvenanceStore } from '../core/provenance/ports.js';
import { filePk, FILE_SK, runPk, RUN_SK } from './dynamodb-run-catalogue.js';

export const provPk = (entity: string) => `PROV#${entity}`;
export const PROV_SK = 'PROV';
export const PARENT_PREFIX = 'PARENT#';
export const CHILD_PREFIX = 'CHILD#';
/** pk of a dataset record and gsi1pk of the runs of a dataset: `DATASET#<p>#<b>#<s>#<c>#<d>`. */
export const datasetGsiPk = (datasetId: string) => `DATASET#${datasetId.split('/').join('#')}`;

export class DynamoDbProvenanceStore implements ProvenanceStore {
  constructor(private readonly db: DynamoDBDocumentClient, readonly tableName: string, private readonly bucket: string) {}

  async exists(entity: EntityRef): Promise<boolean> {
    const any = await this.db.send(new QueryCommand({
      TableName: this.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': provPk(entity.ref) },
      Limit: 1, ProjectionExpression: 'pk', ConsistentRead: true,
    }));
    if ((any.Items ?? []).length > 0) return true;
    switch (entity.kind) {
      case 'run': return this.hasItem(runPk(entity.id), RUN_SK);
      case 'file': {
        const prefix = `s3://${this.bucket}/`;
        return entity.id.startsWith(prefix) && this.hasItem(filePk(entity.id.slice(prefix.length)), FILE_SK);
      }
      case 'dataset': {
        // The dataset record (src/adapters/dynamodb-dataset-catalogue.ts), else any run of the dataset.
        if (await this.hasItem(datasetGsiPk(entity.id), 'DATASET')) return true;
        const out = await this.db.send(new QueryCommand({
          TableName: this.tableName, IndexName: 'gsi1', KeyConditionExpression: 'gsi1pk = :pk',
          ExpressionAttributeValues: { ':pk': datasetGsiPk(entity.id) }, Limit: 1,
        }));
        return (out.Items ?? []).length > 0;
      }
      default: return false;
    }
  }

  private async hasItem(pk: string, sk: string): Promise<boolean> {
    const out = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { pk, sk }, ProjectionExpression: 'pk', ConsistentRead: true }));
    return out.Item !== undefined;
  }

  async get(entity: string): Promise<ProvenanceRecord | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { pk: provPk(entity), sk: PROV_SK }, ConsistentRead: true }));
    return out.Item ? JSON.parse(String(out.Item.body)) as ProvenanceRecord : undefined;
  }

  async hasChildren(entity: string): Promise<boolean> {
    return (await this.linked(entity, CHILD_PREFIX, 1)).length > 0;
  }

  async put(record: ProvenanceRecord): Promise<'stored' | 'duplicate'> {
    const edges = record.parents.flatMap((parent) => [
      { Put: { TableName: this.tableName, Item: { pk: provPk(record.entity), sk: `${PARENT_PREFIX}${parent}`, entity: record.entity, parent } } },
      { Put: { TableName: this.tableName, Item: { pk: provPk(parent), sk: `${CHILD_PREFIX}${record.entity}`, entity: parent, child: record.entity } } },
    ]);
    try {
      await this.db.send(new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.tableName,
              Item: { pk: provPk(record.entity), sk: PROV_SK, entity: record.entity, activity_uid: record.activity_uid, recorded_at: record.recorded_at, body: JSON.stringify(record) },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          ...edges,
        ],
      }));
    } catch (error) {
      const cancelled = error instanceof TransactionCanceledException || (error as { name?: string }).name === 'TransactionCanceledException';
      if (!cancelled) throw error;
      const existing = await this.get(record.entity);
      if (existing?.activity_uid === record.activity_uid) return 'duplicate';
      throw new ProvenanceConflictError(`${record.entity} already has a provenance record${existing ? ` (activity ${existing.activity_uid})` : ''}`, { entity: record.entity }, { cause: error });
    }
    await this.putOutputEdges(record);
    return 'stored';
  }

  /** Output files are children of the entity: the lineage of a data object reaches its run. */
  private async putOutputEdges(record: ProvenanceRecord): Promise<void> {
    const items = record.outputs.filter((o) => o.uri.startsWith('s3://')).flatMap((o) => {
      const child = `file:${o.uri}`;
      return [
        { pk: provPk(child), sk: `${PARENT_PREFIX}${record.entity}`, entity: child, parent: record.entity },
        { pk: provPk(record.entity), sk: `${CHILD_PREFIX}${child}`, entity: record.entity, child },
      ];
    });
    for (let i = 0; i < items.length; i += 25) {
      let pending: Record<string, unknown>[] = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; pending.length > 0; attempt += 1) {
        if (attempt > 8) throw new Error(`could not write ${pending.length} provenance edges of ${record.entity}`);
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
      const out = await this.db.send(new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': provPk(entity), ':prefix': prefix },
        ProjectionExpression: 'sk', ConsistentRead: true,
        ...(limit ? { Limit: limit } : {}), ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }));
      for (const item of out.Items ?? []) found.push(String(item.sk).slice(prefix.length));
      startKey = limit && found.length >= limit ? undefined : out.LastEvaluatedKey;
    } while (startKey);
    return found;
  }
}
