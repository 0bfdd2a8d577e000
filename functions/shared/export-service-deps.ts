/**
 * What both export functions give the export service (export-api answers requests, export-worker
 * builds): catalogues, store, h5wasm reader, workspace, bus, provenance and the clock, from one
 * configuration. Each composition root adds its own part (download links; capacity and engine).
 */
import type { AwsClients } from '../../src/adapters/aws-clients.js';
import { DynamoDbExportCatalogue } from '../../src/adapters/dynamodb-export-catalogue.js';
import { DynamoDbProvenanceStore } from '../../src/adapters/dynamodb-provenance-store.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge-publisher.js';
import { H5wasmArchivedChannelReader } from '../../src/adapters/h5wasm-archived-channel-reader.js';
import { createLocalExportWorkspace } from '../../src/adapters/local-export-workspace.js';
import type { Logger } from '../../src/adapters/logger.js';
import { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import type { ExportServiceDeps } from '../../src/core/exports/service-deps.js';
import { archiveSoftware } from '../../src/core/provenance/scan-file-provenance.js';
import pkg from '../../package.json' with { type: 'json' };
import { CREATOR, type ExportConfig } from './export-config.js';

export type SharedExportDeps = Pick<
  ExportServiceDeps,
  'exports' | 'runs' | 'store' | 'reader' | 'workspace' | 'publisher' | 'provenance' | 'creator' | 'now' | 'leaseMs' | 'log'
>;

export function sharedExportDeps(clients: AwsClients, config: ExportConfig, logger: Logger, env: NodeJS.ProcessEnv): SharedExportDeps {
  return {
    exports: new DynamoDbExportCatalogue(clients.dynamo, config.tableName),
    runs: new DynamoDbRunCatalogue(clients.dynamo, config.tableName),
    store: new S3ObjectStore(clients.s3, config.bucketName),
    reader: new H5wasmArchivedChannelReader(),
    workspace: (fileTime) => createLocalExportWorkspace({ fileTimeMs: fileTime.getTime() }),
    publisher: new EventBridgePublisher(clients.events, { eventBusName: config.eventBusName }),
    provenance: {
      store: new DynamoDbProvenanceStore(clients.dynamo, config.tableName, config.bucketName),
      software: archiveSoftware(pkg.version, config.sourceRepository, env.BEAMLINE_ARCHIVE_COMMIT),
    },
    creator: CREATOR,
    now: () => new Date(),
    leaseMs: config.leaseSeconds * 1000,
    log: (message, context) => logger.info(message, context),
  };
}
