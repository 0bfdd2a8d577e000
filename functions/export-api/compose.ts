/**
 * Composition root of the export API: configuration from the environment (functions/shared/export-config.ts,
 * shared with the export-worker; validated once, failing fast with the missing names), clients, adapters, the service.
 * The h5wasm modules are imported here: both functions carry the h5wasm layer. `composeExportApi`
 * adds what the API needs around the service: the authenticator, the embargo, the audit log.
 */
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import { createLogger, type Logger } from '../../src/adapters/logger.js';
import { S3DownloadLinks } from '../../src/adapters/s3-download-links.js';
import { ExportService } from '../../src/core/exports/export-service.js';
import { sharedExportDeps } from '../shared/export-service-deps.js';
import { exportConfigFromEnv, type ExportConfig } from '../shared/export-config.js';
import { authenticatorFromEnv } from '../shared/caller.js';
import { embargoYearsFromEnv } from '../shared/http-input.js';
import { auditLogFromEnv } from '../shared/audit.js';
import type { ExportApiDeps } from './routes.js';

export { exportConfigFromEnv };

export function buildExportService(name: string, logger: Logger, config: ExportConfig = exportConfigFromEnv(process.env)): ExportService {
  const clients = createAwsClients(awsConnectionFromEnv());
  return new ExportService({
    ...sharedExportDeps(clients, config, logger, process.env),
    links: new S3DownloadLinks(clients.s3, config.bucketName),
  });
}

export function composeExportApi(env: NodeJS.ProcessEnv = process.env): ExportApiDeps {
  const logger = createLogger(env.POWERTOOLS_SERVICE_NAME ?? 'export-api');
  const config = exportConfigFromEnv(env);
  return {
    service: buildExportService('export-api', logger, config),
    logger,
    downloadLinkSeconds: config.downloadLinkSeconds,
    authenticate: authenticatorFromEnv(env),
    embargoYears: embargoYearsFromEnv(env),
    audit: auditLogFromEnv(env),
  };
}
