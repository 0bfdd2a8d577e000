/**
 * The dataset catalogue in the one DynamoDB table (design and access patterns: docs/datasets.md).
 *
 * | item             | pk                                   | sk                         |
 * | dataset          | DATASET#<p>#<b>#<s>#<c>#<d>          | DATASET                    |
 * | dataset scan     | DATASET#<p>#<b>#<s>#<c>#<d>          | SCAN#<number, 6 digits>#<run uid> |
 * | open marker      | DATASETS#OPEN                        | <dataset id>               |
 *
 * The dataset pk equals the gsi1pk of the run records (dynamodb-run-catalogue.ts), so gsi1 also
 * answers "the runs of a dataset". Dataset items carry gsi1 (by proposal / session, in time order),
 * gsi2 (by sample) and gsi3 (by month of the start date, for time ranges).
 *
 * This file: the lifecycle (open, techniques and metadata, close, scans joining). The keys and
 * stored item are in dynamodb-dataset-items.ts, the reads and listings in dynamodb-dataset-queries.ts.
 */
import { isConditionFailure, transactionReasons } from './dynamodb-conditions.js';
import { GetCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DatasetCloseConflictError, DatasetClosedError, DatasetNotFoundError } from '../core/datasets/errors.js';
import {
  DatasetState,
  datasetIdOf,
  type DatasetRecord,
  type DatasetRef,
  type DatasetScan,
  type MasterFile,
  type MissingFields,
} from '../core/datasets/model.js';
import type { DatasetCatalogue, DatasetQuery, NewDataset } from '../core/datasets/ports.js';
import { datasetPk, DATASET_SK, indexKeys, OPEN_MARKER_PK, recordOf, scanSk } from './dynamodb-dataset-items.js';
import { getDataset, listDatasets, listScans } from './dynamodb-dataset-queries.js';

export { DatasetIndex, datasetPk, DATASET_SK, OPEN_MARKER_PK, scanSk } from './dynamodb-dataset-items.js';
export { monthsBetween } from './dynamodb-dataset-queries.js';

export class DynamoDbDatasetCatalogue implements DatasetCatalogue {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  private key(ref: DatasetRef) {
    return { pk: datasetPk(ref), sk: DATASET_SK };
  }

  get(ref: DatasetRef): Promise<DatasetRecord | undefined> {
    return getDataset(this.db, this.tableName, ref);
  }

  private async mustGet(ref: DatasetRef): Promise<DatasetRecord> {
    const record = await this.get(ref);
    if (!record) throw new DatasetNotFoundError(`no dataset ${datasetIdOf(ref)}`, { dataset: datasetIdOf(ref) });
    return record;
  }

  private async closedError(ref: DatasetRef, what: string): Promise<Error> {
    const record = await this.get(ref);
    if (!record) return new DatasetNotFoundError(`no dataset ${datasetIdOf(ref)}: open it first`, { dataset: datasetIdOf(ref) });
    const state = record.state === DatasetState.Closing ? 'being closed' : `closed${record.closedAt ? ` since ${record.closedAt}` : ''}`;
    return new DatasetClosedError(`dataset ${record.id} is ${state}: it takes no ${what}`, { dataset: record.id, state: record.state });
  }

  async open(dataset: NewDataset): Promise<{ created: boolean; record: DatasetRecord }> {
    const { ref, startDate } = dataset;
    const id = datasetIdOf(ref);
    // Every scan of a dataset opens it again: read first, so that the common case (already open)
    // costs one read instead of a cancelled transaction. The transaction below stays the guard
    // against two first scans racing.
    const existing = await this.get(ref);
    if (existing) return { created: false, record: existing };
    const item = {
      ...this.key(ref),
      ref,
      id,
      state: DatasetState.Open,
      origin: dataset.origin,
      metadata: dataset.metadata,
      start_date: startDate,
      version: 1,
      ...(dataset.techniques.length ? { techniques: new Set(dataset.techniques) } : {}),
      ...indexKeys(ref, startDate, dataset.metadata.Sample_name ?? ref.collection),
    };
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
            { Put: { TableName: this.tableName, Item: { pk: OPEN_MARKER_PK, sk: id, start_date: startDate } } },
          ],
        }),
      );
      return { created: true, record: recordOf(item) };
    } catch (error) {
      const reasons = transactionReasons(error);
      if (reasons?.[0] === 'ConditionalCheckFailed') return { created: false, record: await this.mustGet(ref) };
      throw error;
    }
  }

  async update(ref: DatasetRef, change: { techniques?: string[]; metadata?: Record<string, string> }): Promise<DatasetRecord> {
    // Only names the expression uses: DynamoDB refuses an unused one (adding a technique the dataset already has wrote no metadata: a 500).
    const names: Record<string, string> = { '#state': 'state', '#version': 'version' };
    const values: Record<string, unknown> = { ':open': DatasetState.Open, ':one': 1 };
    const sets: string[] = [];
    if (Object.keys(change.metadata ?? {}).length > 0) names['#metadata'] = 'metadata';
    Object.entries(change.metadata ?? {}).forEach(([field, value], i) => {
      names[`#f${i}`] = field;
      values[`:v${i}`] = value;
      sets.push(`#metadata.#f${i} = :v${i}`);
    });
    const sample = change.metadata?.Sample_name;
    if (sample !== undefined) {
      names['#gsi2pk'] = 'gsi2pk';
      values[':gsi2pk'] = `SAMPLE#${sample}`;
      sets.push('#gsi2pk = :gsi2pk');
    }
    const adds = ['#version :one'];
    if (change.techniques?.length) {
      names['#techniques'] = 'techniques';
      values[':techniques'] = new Set(change.techniques);
      adds.push('#techniques :techniques');
    }
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(ref),
          UpdateExpression: `${sets.length ? `SET ${sets.join(', ')} ` : ''}ADD ${adds.join(', ')}`,
          ConditionExpression: 'attribute_exists(pk) AND #state = :open',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return recordOf(out.Attributes!);
    } catch (error) {
      if (isConditionFailure(error)) throw await this.closedError(ref, 'new techniques or metadata');
      throw error;
    }
  }

  async beginClose(
    ref: DatasetRef,
    close: { endDate: string; closedAt: string; missing: MissingFields; expectedVersion: number },
  ): Promise<DatasetRecord> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(ref),
          UpdateExpression:
            'SET #state = :closing, #end = :end, #closed = :closed, #missing = :missing, #metadata.#endDate = :end ADD #version :one',
          ConditionExpression: 'attribute_exists(pk) AND #state = :open AND #version = :expected',
          ExpressionAttributeNames: {
            '#state': 'state',
            '#end': 'end_date',
            '#closed': 'closed_at',
            '#missing': 'missing',
            '#metadata': 'metadata',
            '#endDate': 'endDate',
            '#version': 'version',
          },
          ExpressionAttributeValues: {
            ':closing': DatasetState.Closing,
            ':open': DatasetState.Open,
            ':end': close.endDate,
            ':closed': close.closedAt,
            ':missing': close.missing,
            ':one': 1,
            ':expected': close.expectedVersion,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return recordOf(out.Attributes!);
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const now = await this.mustGet(ref);
      if (now.state === DatasetState.Open) {
        throw new DatasetCloseConflictError(
          `dataset ${now.id} changed while it was being closed (version ${close.expectedVersion} → ${now.version}); close it again`,
          { dataset: now.id },
        );
      }
      throw new DatasetCloseConflictError(
        `dataset ${now.id} is already ${now.state === DatasetState.Closing ? 'being closed' : 'closed'} by another request`,
        { dataset: now.id, state: now.state },
      );
    }
  }

  async finishClose(ref: DatasetRef, masterFile: MasterFile): Promise<DatasetRecord> {
    const id = datasetIdOf(ref);
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: this.key(ref),
                UpdateExpression: 'SET #state = :closed, #master = :master ADD #version :one',
                ConditionExpression: '#state = :closing',
                ExpressionAttributeNames: { '#state': 'state', '#master': 'master_file', '#version': 'version' },
                ExpressionAttributeValues: {
                  ':closed': DatasetState.Closed,
                  ':closing': DatasetState.Closing,
                  ':master': masterFile,
                  ':one': 1,
                },
              },
            },
            { Delete: { TableName: this.tableName, Key: { pk: OPEN_MARKER_PK, sk: id } } },
          ],
        }),
      );
    } catch (error) {
      if (transactionReasons(error)?.[0] === 'ConditionalCheckFailed') {
        throw new DatasetCloseConflictError(`dataset ${id} is no longer CLOSING: another request finished its close`, { dataset: id });
      }
      throw error;
    }
    return this.mustGet(ref);
  }

  async addScan(ref: DatasetRef, scan: DatasetScan): Promise<'added' | 'duplicate'> {
    const key = { pk: datasetPk(ref), sk: scanSk(scan.scanNumber, scan.runUid) };
    const existing = await this.db.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    if (existing.Item?.joined) return 'duplicate';
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: this.key(ref),
                ConditionExpression: '#state = :open',
                ExpressionAttributeNames: { '#state': 'state' },
                ExpressionAttributeValues: { ':open': DatasetState.Open },
              },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: key,
                UpdateExpression: 'SET #run = :run, #number = :number, #title = :title, #start = :start, #joined = :true',
                ExpressionAttributeNames: {
                  '#run': 'run_uid',
                  '#number': 'scan_number',
                  '#title': 'title',
                  '#start': 'start_time',
                  '#joined': 'joined',
                },
                ExpressionAttributeValues: {
                  ':run': scan.runUid,
                  ':number': scan.scanNumber,
                  ':title': scan.title ?? '',
                  ':start': scan.startTime ?? '',
                  ':true': true,
                },
              },
            },
          ],
        }),
      );
      return 'added';
    } catch (error) {
      if (transactionReasons(error)?.[0] === 'ConditionalCheckFailed')
        throw await this.closedError(ref, `new scans (scan ${scan.scanNumber}, run ${scan.runUid})`);
      throw error;
    }
  }

  async setScanFile(ref: DatasetRef, runUid: string, scanNumber: number, fileKey: string, fileSha256?: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: datasetPk(ref), sk: scanSk(scanNumber, runUid) },
        UpdateExpression: `SET #run = :run, #number = :number, #file = :file${fileSha256 ? ', #sha = :sha' : ''}`,
        ExpressionAttributeNames: {
          '#run': 'run_uid',
          '#number': 'scan_number',
          '#file': 'file_key',
          ...(fileSha256 ? { '#sha': 'file_sha256' } : {}),
        },
        ExpressionAttributeValues: {
          ':run': runUid,
          ':number': scanNumber,
          ':file': fileKey,
          ...(fileSha256 ? { ':sha': fileSha256 } : {}),
        },
      }),
    );
  }

  listScans(ref: DatasetRef): Promise<DatasetScan[]> {
    return listScans(this.db, this.tableName, ref);
  }

  /** Index items carry the whole dataset item (projection ALL); a GSI read is eventually consistent. */
  list(query: DatasetQuery, accept: (record: DatasetRecord) => boolean = () => true): Promise<DatasetRecord[]> {
    return listDatasets(this.db, this.tableName, query, accept);
  }
}
