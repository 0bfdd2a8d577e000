/**
 * Composition root of dataset-api: the dataset service as functions/shared/dataset-service.ts builds
 * it (shared with the dataset-recorder), presigned links, run records, the authenticator and the
 * audit log, from the environment.
 */
import { H5wasmMasterFileWriter } from '../../src/adapters/h5wasm-master-file-writer.js';
import { createLogger } from '../../src/adapters/logger.js';
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { S3DownloadLinks } from '../../src/adapters/s3-download-links.js';
import { authenticatorFromEnv } from '../shared/caller.js';
import { embargoYearsFromEnv } from '../shared/http-input.js';
import { auditLogFromEnv } from '../shared/audit.js';
import { buildDatasetService, configFromEnv } from '../shared/dataset-service.js';
import type { DatasetApiDeps } from './routes.js';

export { buildDatasetService, configFromEnv };

export async function composeDatasetApi(env: NodeJS.ProcessEnv = process.env): Promise<DatasetApiDeps> {
  const logger = createLogger(env.POWERTOOLS_SERVICE_NAME ?? 'dataset-api');
  const clients = createAwsClients(awsConnectionFromEnv(env));
  const config = configFromEnv(env);
  return {
    service: buildDatasetService('dataset-api', logger, await H5wasmMasterFileWriter.create(), env, clients),
    logger,
    links: new S3DownloadLinks(clients.s3, config.bucketName),
    runs: new DynamoDbRunCatalogue(clients.dynamo, config.tableName),
    authenticate: authenticatorFromEnv(env),
    embargoYears: embargoYearsFromEnv(env),
    audit: auditLogFromEnv(env),
  };
}
