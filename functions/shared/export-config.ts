/**
 * The export functions' configuration (export-api, export-worker; each composes its service in its
 * own compose.ts): the environment validated once, failing fast with the missing names.
 */
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
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`export functions: ${name} must be a positive whole number of seconds, got ${JSON.stringify(raw)}`);
    return value;
  };
  return {
    bucketName: env.BUCKET_NAME!,
    tableName: env.TABLE_NAME!,
    eventBusName: env.EVENT_BUS_NAME!,
    sourceRepository: env.BEAMLINE_ARCHIVE_REPOSITORY!,
    leaseSeconds: seconds('EXPORT_LEASE_SECONDS', 900),
    downloadLinkSeconds: seconds('DOWNLOAD_LINK_SECONDS', 900),
  };
}

export const CREATOR = `beamline-archive ${pkg.version}`;
