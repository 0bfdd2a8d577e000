/**
 * The audit trail in the catalogue table: pk `AUDIT#<proposal>`, sk `<ISO time>#<random>` (one
 * item per write, never updated; the API roles may only put items under AUDIT#, see infra).
 */
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { AuditEntry, AuditLog } from '../core/access/audit.js';

export const AUDIT_PREFIX = 'AUDIT#';
export const auditPk = (proposal: string) => `${AUDIT_PREFIX}${proposal.trim().toLowerCase()}`;

export class DynamoDbAuditLog implements AuditLog {
  private readonly db: DynamoDBDocumentClient;
  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.db = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  async record(entry: AuditEntry): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: auditPk(entry.proposal), sk: `${entry.at}#${randomBytes(6).toString('hex')}`, entry: JSON.stringify(entry) },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async list(proposal: string, options: { limit?: number } = {}): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    let startKey: Record<string, unknown> | undefined;
    const limit = options.limit ?? 1000;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': auditPk(proposal) },
          ScanIndexForward: false,
          Limit: limit - entries.length,
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of out.Items ?? []) entries.push(JSON.parse(String(item.entry)) as AuditEntry);
      startKey = out.LastEvaluatedKey;
    } while (startKey && entries.length < limit);
    return entries;
  }
}
