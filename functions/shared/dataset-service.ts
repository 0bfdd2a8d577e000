/**
 * The dataset service as both dataset functions build it (dataset-api, dataset-recorder; each
 * composes it in its own compose.ts): configuration from the environment (validated once), clients,
 * adapters. It does not import h5wasm: the caller passes the master file writer (only dataset-api
 * has the h5wasm layer).
 */
import type { AwsClients } from '../../src/adapters/aws-clients.js';
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import { DynamoDbDatasetCatalogue } from '../../src/adapters/dynamodb-dataset-catalogue.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge-publisher.js';
import type { Logger } from '../../src/adapters/logger.js';
import { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import { DatasetService } from '../../src/core/datasets/dataset-service.js';
import { DynamoDbProvenanceStore } from '../../src/adapters/dynamodb-provenance-store.js';
import { archiveSoftware } from '../../src/core/provenance/scan-file-provenance.js';
import type { MasterFileWriter } from '../../src/core/datasets/ports.js';
import pkg from '../../package.json' with { type: 'json' };

export function configFromEnv(env: NodeJS.ProcessEnv): {
  bucketName: string;
  tableName: string;
  eventBusName: string;
  sourceRepository: string;
} {
  const missing = ['BUCKET_NAME', 'TABLE_NAME', 'EVENT_BUS_NAME', 'BEAMLINE_ARCHIVE_REPOSITORY'].filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`dataset functions: environment variable(s) ${missing.join(', ')} not set`);
  return {
    bucketName: env.BUCKET_NAME!,
    tableName: env.TABLE_NAME!,
    eventBusName: env.EVENT_BUS_NAME!,
    sourceRepository: env.BEAMLINE_ARCHIVE_REPOSITORY!,
  };
}

/** The service, on the clients given (default: built from the environment). */
export function buildDatasetService(
  name: string,
  logger: Logger,
  writer: MasterFileWriter,
  env: NodeJS.ProcessEnv = process.env,
  clients: AwsClients = createAwsClients(awsConnectionFromEnv(env)),
): DatasetService {
  const config = configFromEnv(env);
  return new DatasetService({
    catalogue: new DynamoDbDatasetCatalogue(clients.dynamo, config.tableName),
    store: new S3ObjectStore(clients.s3, config.bucketName),
    writer,
    publisher: new EventBridgePublisher(clients.events, { eventBusName: config.eventBusName }),
    now: () => new Date(),
    creator: `beamline-archive ${pkg.version}`,
    log: (message, context) => logger.info(message, context),
    provenance: {
      store: new DynamoDbProvenanceStore(clients.dynamo, config.tableName, config.bucketName),
      software: archiveSoftware(pkg.version, config.sourceRepository, env.BEAMLINE_ARCHIVE_COMMIT),
    },
  });
}
