/**
 * How the scan-writer stores channel datasets, read from its environment once (at the edge) and
 * passed inward as a typed StorageOptions. The CDK app sets these variables on the scan-writer
 * function from its context (infra/stacks/compute-stack.ts); docs/nexus-layout.md gives the defaults
 * and why.
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `NEXUS_GZIP` | gzip level 1-9 of every channel dataset of at least `NEXUS_GZIP_MIN_BYTES`, 0 = uncompressed | 4 |
 * | `NEXUS_GZIP_MIN_BYTES` | datasets smaller than this (uncompressed bytes) stay uncompressed | 1048576 |
 * | `NEXUS_GZIP_SPECTRA` | gzip level of 1D channels (MCA spectra), overriding `NEXUS_GZIP`; 0 = uncompressed | `NEXUS_GZIP` |
 * | `NEXUS_GZIP_IMAGES` | gzip level of 2D channels (images), overriding `NEXUS_GZIP`; 0 = uncompressed | `NEXUS_GZIP` |
 * | `NEXUS_MAX_CHUNK_BYTES` | upper bound of one HDF5 chunk (whole points per chunk, at least one) | 1048576 |
 *
 * Compressed by default like the ESRF writer (deflate level 4 over 1 MiB; shuffle is not available
 * through h5wasm, docs/adr/0015); scalar datasets (motor snapshots) and small channels stay plain.
 */
import { DEFAULT_STORAGE, type StorageOptions } from '../../src/core/nexus/writers/channel-writer.js';

export const STORAGE_ENV = {
  gzip: 'NEXUS_GZIP',
  gzipMinBytes: 'NEXUS_GZIP_MIN_BYTES',
  gzipSpectra: 'NEXUS_GZIP_SPECTRA',
  gzipImages: 'NEXUS_GZIP_IMAGES',
  maxChunkBytes: 'NEXUS_MAX_CHUNK_BYTES',
} as const;

/** Chunks below 4 KiB cost more in HDF5 index than they save; a write holds at least one whole chunk, so 64 MiB bounds its memory. */
export const CHUNK_BYTES_RANGE = { min: 4 * 1024, max: 64 * 1024 * 1024 } as const;

/** A setting of the scan-writer's environment that cannot be used; names the variable and what it accepts. */
export class StorageConfigError extends Error {
  override name = 'StorageConfigError';
  readonly variable: string;
  constructor(variable: string, message: string, options?: ErrorOptions) {
    super(`scan-writer: ${variable} ${message}`, options);
    this.variable = variable;
  }
}

/** The storage settings a deployment chooses (CDK context, environment). Absent: the default. */
export interface StorageSettings {
  gzip?: number | undefined;
  gzipMinBytes?: number | undefined;
  gzipSpectra?: number | undefined;
  gzipImages?: number | undefined;
  maxChunkBytes?: number | undefined;
}

function integerIn(variable: string, raw: string | undefined, min: number, max: number, what: string): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const text = raw.trim();
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new StorageConfigError(variable, `must be ${what} (an integer from ${min} to ${max}), got ${JSON.stringify(raw)}`);
  }
  return Number(text);
}

/** Checks settings from any source (environment, CDK context): throws StorageConfigError naming the variable. */
export function validateStorageSettings(settings: StorageSettings): StorageSettings {
  const check = (key: keyof StorageSettings, min: number, max: number, what: string) => {
    const value = settings[key];
    return value === undefined ? undefined : integerIn(STORAGE_ENV[key], String(value), min, max, what);
  };
  return {
    gzip: check('gzip', 0, 9, 'a gzip level, 0 for none'),
    gzipMinBytes: check('gzipMinBytes', 0, Number.MAX_SAFE_INTEGER, 'a size in bytes'),
    gzipSpectra: check('gzipSpectra', 0, 9, 'a gzip level, 0 for none'),
    gzipImages: check('gzipImages', 0, 9, 'a gzip level, 0 for none'),
    maxChunkBytes: check('maxChunkBytes', CHUNK_BYTES_RANGE.min, CHUNK_BYTES_RANGE.max, 'a chunk size in bytes'),
  };
}

/** The typed options the layout gets; unset variables keep DEFAULT_STORAGE. */
export function storageOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): StorageOptions {
  const settings = validateStorageSettings({
    gzip: integerIn(STORAGE_ENV.gzip, env[STORAGE_ENV.gzip], 0, 9, 'a gzip level, 0 for none'),
    gzipMinBytes: integerIn(STORAGE_ENV.gzipMinBytes, env[STORAGE_ENV.gzipMinBytes], 0, Number.MAX_SAFE_INTEGER, 'a size in bytes'),
    gzipSpectra: integerIn(STORAGE_ENV.gzipSpectra, env[STORAGE_ENV.gzipSpectra], 0, 9, 'a gzip level, 0 for none'),
    gzipImages: integerIn(STORAGE_ENV.gzipImages, env[STORAGE_ENV.gzipImages], 0, 9, 'a gzip level, 0 for none'),
    maxChunkBytes: integerIn(
      STORAGE_ENV.maxChunkBytes,
      env[STORAGE_ENV.maxChunkBytes],
      CHUNK_BYTES_RANGE.min,
      CHUNK_BYTES_RANGE.max,
      'a chunk size in bytes',
    ),
  });
  return {
    ...DEFAULT_STORAGE,
    ...(settings.maxChunkBytes !== undefined ? { maxChunkBytes: settings.maxChunkBytes } : {}),
    ...(settings.gzip !== undefined ? { gzip: settings.gzip } : {}),
    ...(settings.gzipMinBytes !== undefined ? { gzipMinBytes: settings.gzipMinBytes } : {}),
    ...(settings.gzipSpectra !== undefined ? { gzipSpectra: settings.gzipSpectra } : {}),
    ...(settings.gzipImages !== undefined ? { gzipImages: settings.gzipImages } : {}),
  };
}

/** The environment variables that give these settings (for the CDK app); unset settings are left out. */
export function storageEnvironment(settings: StorageSettings): Record<string, string> {
  const checked = validateStorageSettings(settings);
  const env: Record<string, string> = {};
  for (const key of Object.keys(STORAGE_ENV) as (keyof StorageSettings)[]) {
    const value = checked[key];
    if (value !== undefined) env[STORAGE_ENV[key]] = String(value);
  }
  return env;
}
