/**
 * Composition root of the export API: configuration from the environment (functions/shared/export-config.ts,
 * shared with the export-worker; validated once, failing fast with the missing names), clients, adapters, the service.
 * The h5wasm modules are imported here: both functions carry the h5wasm layer.
 */
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import type { Logger } from '../../src/adapters/logger.js';
import { S3DownloadLinks } from '../../src/adapters/s3-download-links.js';
import { ExportService } from '../../src/core/exports/export-service.js';
import { sharedExportDeps } from '../shared/export-service-deps.js';
import { exportConfigFromEnv, type ExportConfig } from '../shared/export-config.js';

export { exportConfigFromEnv };

export function buildExportService(name: string, logger: Logger, config: ExportConfig = exportConfigFromEnv(process.env)): ExportService {
  const clients = createAwsClients(awsConnectionFromEnv());
  return new ExportService({
    ...sharedExportDeps(clients, config, logger, process.env),
    links: new S3DownloadLinks(clients.s3, config.bucketName),
  });
}
