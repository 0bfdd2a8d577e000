/** The audit log of a deployed API function (TABLE_NAME), built once per process. */
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import { DynamoDbAuditLog } from '../../src/adapters/dynamodb-audit-log.js';
import type { AuditLog } from '../../src/core/access/audit.js';

export function auditLogFromEnv(env: NodeJS.ProcessEnv): AuditLog {
  if (!env.TABLE_NAME) throw new Error('TABLE_NAME is not set: the audit log lives in the catalogue table');
  return new DynamoDbAuditLog(createAwsClients(awsConnectionFromEnv()).dynamo, env.TABLE_NAME);
}
