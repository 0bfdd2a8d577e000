/**
 * Composition root of analysis-api: configuration from the environment (validated once, failing
 * fast with the missing names), clients, adapters, the authenticator and the audit log.
 */
import { ulid } from 'ulid';
import { handlerFor, writerFor } from '../../src/adapters/analysis-formats.js';
import { DynamoDbAnalysisCatalogue } from '../../src/adapters/analysis-dynamodb-catalogue.js';
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import { DynamoDbProvenanceStore } from '../../src/adapters/dynamodb-provenance-store.js';
import { createLogger } from '../../src/adapters/logger.js';
import { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { DynamoDbExportCatalogue } from '../../src/adapters/dynamodb-export-catalogue.js';
import { authenticatorFromEnv } from '../shared/caller.js';
import { embargoYearsFromEnv } from '../shared/http-input.js';
import { auditLogFromEnv } from '../shared/audit.js';
import type { AnalysisApiDeps } from './routes.js';

interface AnalysisApiConfig {
  bucketName: string;
  tableName: string;
}

export function configFromEnv(env: NodeJS.ProcessEnv): AnalysisApiConfig {
  const missing = ['BUCKET_NAME', 'TABLE_NAME'].filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`analysis-api: environment variable(s) ${missing.join(', ')} not set`);
  return { bucketName: env.BUCKET_NAME!, tableName: env.TABLE_NAME! };
}

export function composeAnalysisApi(env: NodeJS.ProcessEnv = process.env): AnalysisApiDeps {
  const config = configFromEnv(env);
  const clients = createAwsClients(awsConnectionFromEnv(env));
  const store = new S3ObjectStore(clients.s3, config.bucketName);
  const runs = new DynamoDbRunCatalogue(clients.dynamo, config.tableName);
  const exportRecords = new DynamoDbExportCatalogue(clients.dynamo, config.tableName);
  return {
    store,
    catalogue: new DynamoDbAnalysisCatalogue(clients.dynamo, config.tableName),
    provenance: new DynamoDbProvenanceStore(clients.dynamo, config.tableName, config.bucketName),
    writerFor: (spec, kwargs) => writerFor(spec, store, kwargs),
    handlerFor: (spec, kwargs) => handlerFor(spec, store, kwargs),
    newUid: ulid,
    now: () => new Date(),
    logger: createLogger(env.POWERTOOLS_SERVICE_NAME ?? 'analysis-api'),
    authenticate: authenticatorFromEnv(env),
    access: {
      run: (uid) => runs.getRun(uid),
      exportRecord: (id) => exportRecords.get(id),
      embargoYears: embargoYearsFromEnv(env),
    },
    audit: auditLogFromEnv(env),
  };
}
