/**
 * Composition root of the export functions (export-api, export-worker): configuration from the
 * environment (validated once, failing fast with the missing names), clients, adapters, the service.
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

export interface ExportConfig {
  bucketName: string;
  tableName: string;
  eventBusName: string;
  sourceRepository: string;
  /** EXPORT_LEASE_SECONDS: how long a build holds its claim (the worker's timeout). @default 900 */
  leaseSeconds: number;
  /** DOWNLOAD_LINK_SECONDS: lifetime of the download links. @default 900 */
  downloadLinkSeconds: number;
}

export function exportConfigFromEnv(env: NodeJS.ProcessEnv): ExportConfig {
  const missing = ['BUCKET_NAME', 'TABLE_NAME', 'EVENT_BUS_NAME', 'BEAMLINE_ARCHIVE_REPOSITORY'].filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`export functions: environment variable(s) ${missing.join(', ')} not set`);
  const seconds = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`export functions: ${name} must be a positive whole number of seconds, got ${JSON.stringify(raw)}`);
    return value;
  };
  return {
    bucketName: env.BUCKET_NAME!, tableName: env.TABLE_NAME!, eventBusName: env.EVENT_BUS_NAME!, sourceRepository: env.BEAMLINE_ARCHIVE_REPOSITORY!,
    leaseSeconds: seconds('EXPORT_LEASE_SECONDS', 900), downloadLinkSeconds: seconds('DOWNLOAD_LINK_SECONDS', 900),
  };
}

export const CREATOR = `beamline-archive ${pkg.version}`;

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
