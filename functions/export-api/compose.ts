/**
 * Composition root of the export API: configuration from the environment (functions/shared/export-config.ts,
 * shared with the export-worker; validated once, failing fast with the missing names), clients, adapters, the service.
 * The h5wasm modules are imported here: both functions carry the h5wasm layer.
 */
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import { DynamoDbExportCatalogue } from '../../src/adapters/dynamodb-export-catalogue.js';
import { DynamoDbProvenanceStore } from '../../src/adapters/dynamodb-provenance-store.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge-publisher.js';
import { H5wasmArchivedChannelReader } from '../../src/adapters/h5wasm-archived-channel-reader.js';
import { createLocalExportWorkspace } from '../../src/adapters/local-export-workspace.js';
import type { Logger } from '../../src/adapters/logger.js';
import { S3DownloadLinks } from '../../src/adapters/s3-download-links.js';
import { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import { ExportService } from '../../src/core/exports/export-service.js';
import { archiveSoftware } from '../../src/core/provenance/scan-file-provenance.js';
import pkg from '../../package.json' with { type: 'json' };
import { CREATOR, exportConfigFromEnv, type ExportConfig } from '../shared/export-config.js';

export { exportConfigFromEnv };

export function buildExportService(name: string, logger: Logger, config: ExportConfig = exportConfigFromEnv(process.env)): ExportService {
  const clients = createAwsClients(awsConnectionFromEnv());
  return new ExportService({
    exports: new DynamoDbExportCatalogue(clients.dynamo, config.tableName),
    runs: new DynamoDbRunCatalogue(clients.dynamo, config.tableName),
    store: new S3ObjectStore(clients.s3, config.bucketName),
    reader: new H5wasmArchivedChannelReader(),
    workspace: (fileTime) => createLocalExportWorkspace({ fileTimeMs: fileTime.getTime() }),
    publisher: new EventBridgePublisher(clients.events, { eventBusName: config.eventBusName }),
    provenance: {
      store: new DynamoDbProvenanceStore(clients.dynamo, config.tableName, config.bucketName),
      software: archiveSoftware(pkg.version, config.sourceRepository, process.env.BEAMLINE_ARCHIVE_COMMIT),
    },
    links: new S3DownloadLinks(clients.s3, config.bucketName),
    creator: CREATOR,
    now: () => new Date(),
    leaseMs: config.leaseSeconds * 1000,
    log: (message, context) => logger.info(message, context),
  });
}
