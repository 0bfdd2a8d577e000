/**
 * Derived runs in the catalogue table: the same run documents as raw runs (`pk RUN#<uid>`,
 * `sk DOC#<detail-type>#<doc uid>`, through DynamoDbRunCatalogue) and a run record
 * (`sk RUN`) with `kind: derived`, state ARCHIVED, no gsi1 keys (a derived run is in no dataset).
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from './dynamodb-conditions.js';
import type { StoredDocument } from '../core/archive/ports.js';
import { RunState } from '../core/archive/ports.js';
import { AnalysisError } from '../core/analysis/errors.js';
import type { AnalysisCatalogue, DerivedRunRecord } from '../core/analysis/ports.js';
import { DynamoDbRunCatalogue, runPk, RUN_SK } from './dynamodb-run-catalogue.js';

export class DynamoDbAnalysisCatalogue implements AnalysisCatalogue {
  private readonly runs: DynamoDbRunCatalogue;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {
    this.runs = new DynamoDbRunCatalogue(db, tableName);
  }

  putDocument(runUid: string, detailType: string, docUid: string, body: unknown): Promise<'stored' | 'duplicate'> {
    return this.runs.putDocument(runUid, detailType, docUid, body);
  }

  listDocuments(runUid: string): Promise<StoredDocument[]> {
    return this.runs.listDocuments(runUid);
  }

  async putDerivedRun(record: DerivedRunRecord): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: runPk(record.runUid),
            sk: RUN_SK,
            run_uid: record.runUid,
            kind: 'derived',
            state: RunState.Archived,
            plan_name: record.planName,
            start_time: record.startTime,
            archived_at: record.savedAt,
            points: record.points,
            parents: record.parents,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) {
        throw new AnalysisError(`run ${record.runUid} already exists`, { runUid: record.runUid }, { cause: error });
      }
      throw error;
    }
  }

  async runKind(runUid: string): Promise<'raw' | 'derived' | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: runPk(runUid), sk: RUN_SK },
        ProjectionExpression: 'kind',
        ConsistentRead: true,
      }),
    );
    if (!out.Item) return undefined;
    return out.Item.kind === 'derived' ? 'derived' : 'raw';
  }
}
