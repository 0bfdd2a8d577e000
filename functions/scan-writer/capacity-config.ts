/**
 * Capacity and task engine settings of the scan-writer and its task (src/core/archive/capacity.ts,
 * docs/big-scans.md), read from the environment once, at the edge. The CDK app sets the task
 * engine's variables (infra/constructs/archive-task.ts); the rates default to what bench/big-scan.ts
 * measured and are meant to be re-measured per deployment.
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `CAPACITY_FETCH_MBPS` | staged chunks read from S3, MB/s (10^6 bytes) | 60 |
 * | `CAPACITY_WRITE_MBPS` | HDF5 writes of uncompressed datasets to local disk, MB/s of data | MEASURED_RATES |
 * | `CAPACITY_GZIP_WRITE_MBPS` | HDF5 writes of gzip-compressed datasets, MB/s of data before compression | MEASURED_RATES |
 * | `CAPACITY_UPLOAD_MBPS` | upload + copy to the final key, MB/s of file | 60 |
 * | `CAPACITY_READBACK_MBPS` | the read-back check of uncompressed datasets (reopened, every dataset hashed), MB/s of data | MEASURED_RATES |
 * | `CAPACITY_GZIP_READBACK_MBPS` | the read-back check of compressed datasets (inflated, hashed), MB/s of data | MEASURED_RATES |
 * | `CAPACITY_INDEX_MBPS` | the file's index, MB/s of data | 300 |
 * | `CAPACITY_GZIP_RATIO` | file bytes per data byte of a compressed dataset (measure it on the beamline's data) | 1 (noise does not compress) |
 * | `CAPACITY_MARGIN` | safety factor on size and time (0.3: the estimate × 1.3 must fit) | 0.3 |
 * | `CAPACITY_OVERHEAD_BYTES` | bytes of a file beyond its channel data | 8388608 |
 * | `CAPACITY_LAMBDA_MAX_BYTES` | use at most this much of the function's /tmp (tests: small, to drive the big path) | (free space) |
 * | `TASK_ENGINE` | `ecs` (RunTask on Fargate), `process` (local runner: a child process), `none` | none |
 * | `TASK_MAX_BYTES` | bytes a task may write (its ephemeral storage less the image) | 190 GiB |
 * | `TASK_MAX_SECONDS` | longest write a task is given | 43200 |
 * | `TASK_CLUSTER_ARN`, `TASK_DEFINITION_ARN`, `TASK_CONTAINER_NAME`, `TASK_SUBNETS`, `TASK_SECURITY_GROUPS`, `TASK_ASSIGN_PUBLIC_IP` | where `ecs` runs its tasks | (required for ecs) |
 */
import type { CapacityConfig } from '../../src/core/archive/capacity.js';

export const GiB = 1024 ** 3;
const MB = 1_000_000;

/**
 * Rates in MB/s of data before compression (upload: of file), measured 2026-12-07 on the development
 * machine (shared 2 cores, load 5-9; docs/big-scans.md): plain write and read-back, gzip read-back by
 * bench/archive-passes.ts (256 MiB, `--gzip 0` / `--gzip 4`: 217, 423 and 119 MB/s, rounded down);
 * the gzip write by bench/big-scan.ts through the big path (5 GiB: the write phase, chunks fetched
 * from moto while writing, 11.4 MB/s; archive-passes alone: 24); index kept at the lowest measured
 * (300; 1500+ today). Fetch and upload: assumptions for S3 from Lambda (moto says nothing about them).
 * Re-measure per deployment.
 */
export const MEASURED_RATES = {
  fetchMBps: 60,
  writeMBps: 200,
  gzipWriteMBps: 11,
  uploadMBps: 60,
  readBackMBps: 400,
  gzipReadBackMBps: 110,
  indexMBps: 300,
} as const;

export type TaskEngineKind = 'ecs' | 'process' | 'none';

export interface EcsTaskSettings {
  clusterArn: string;
  taskDefinitionArn: string;
  containerName: string;
  subnets: string[];
  securityGroups: string[];
  assignPublicIp: 'ENABLED' | 'DISABLED';
}

export interface CapacitySettings {
  capacity: CapacityConfig;
  taskEngine: TaskEngineKind;
  /** Seconds a task may run (its `remainingMs`). */
  taskMaxSeconds: number;
  ecs?: EcsTaskSettings | undefined;
}

export class CapacityConfigError extends Error {
  override name = 'CapacityConfigError';
}

function positive(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
  options: { integer?: boolean; allowZero?: boolean } = {},
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.trim());
  const ok = Number.isFinite(value) && (options.allowZero ? value >= 0 : value > 0) && (!options.integer || Number.isInteger(value));
  if (!ok)
    throw new CapacityConfigError(
      `${name} must be a ${options.integer ? 'whole ' : ''}number ${options.allowZero ? '>= 0' : '> 0'}, got ${JSON.stringify(raw)}`,
    );
  return value;
}

/** A compression ratio: file bytes per data byte, > 0 and at most 1.1 (deflate never grows a chunk by more). */
function ratio(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number): number {
  const value = positive(env, name, fallback);
  if (value > 1.1)
    throw new CapacityConfigError(
      `${name} is file bytes per data byte of a compressed dataset (0 < ratio <= 1.1), got ${JSON.stringify(env[name])}`,
    );
  return value;
}

function list(env: Readonly<Record<string, string | undefined>>, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function capacitySettingsFromEnv(env: Readonly<Record<string, string | undefined>>): CapacitySettings {
  const engine = (env.TASK_ENGINE ?? 'none').trim() || 'none';
  if (engine !== 'ecs' && engine !== 'process' && engine !== 'none')
    throw new CapacityConfigError(`TASK_ENGINE must be ecs, process or none, got ${JSON.stringify(env.TASK_ENGINE)}`);
  const taskMaxSeconds = positive(env, 'TASK_MAX_SECONDS', 43_200, { integer: true });
  const lambdaMax = env.CAPACITY_LAMBDA_MAX_BYTES?.trim()
    ? positive(env, 'CAPACITY_LAMBDA_MAX_BYTES', 0, { integer: true, allowZero: true })
    : undefined;
  const capacity: CapacityConfig = {
    rates: {
      fetchBytesPerSecond: positive(env, 'CAPACITY_FETCH_MBPS', MEASURED_RATES.fetchMBps) * MB,
      writeBytesPerSecond: positive(env, 'CAPACITY_WRITE_MBPS', MEASURED_RATES.writeMBps) * MB,
      compressedWriteBytesPerSecond: positive(env, 'CAPACITY_GZIP_WRITE_MBPS', MEASURED_RATES.gzipWriteMBps) * MB,
      uploadBytesPerSecond: positive(env, 'CAPACITY_UPLOAD_MBPS', MEASURED_RATES.uploadMBps) * MB,
      readBackBytesPerSecond: positive(env, 'CAPACITY_READBACK_MBPS', MEASURED_RATES.readBackMBps) * MB,
      compressedReadBackBytesPerSecond: positive(env, 'CAPACITY_GZIP_READBACK_MBPS', MEASURED_RATES.gzipReadBackMBps) * MB,
      indexBytesPerSecond: positive(env, 'CAPACITY_INDEX_MBPS', MEASURED_RATES.indexMBps) * MB,
    },
    margin: positive(env, 'CAPACITY_MARGIN', 0.3, { allowZero: true }),
    compressionRatio: ratio(env, 'CAPACITY_GZIP_RATIO', 1),
    overheadBytes: positive(env, 'CAPACITY_OVERHEAD_BYTES', 8 * 1024 * 1024, { integer: true, allowZero: true }),
    ...(lambdaMax !== undefined ? { lambdaMaxBytes: lambdaMax } : {}),
    ...(engine !== 'none'
      ? { task: { maxBytes: positive(env, 'TASK_MAX_BYTES', 190 * GiB, { integer: true }), maxSeconds: taskMaxSeconds } }
      : {}),
  };
  let ecs: EcsTaskSettings | undefined;
  if (engine === 'ecs') {
    const missing = ['TASK_CLUSTER_ARN', 'TASK_DEFINITION_ARN', 'TASK_CONTAINER_NAME', 'TASK_SUBNETS'].filter((n) => !env[n]?.trim());
    if (missing.length) throw new CapacityConfigError(`TASK_ENGINE=ecs needs ${missing.join(', ')}`);
    const publicIp = (env.TASK_ASSIGN_PUBLIC_IP ?? 'DISABLED').trim();
    if (publicIp !== 'ENABLED' && publicIp !== 'DISABLED')
      throw new CapacityConfigError(`TASK_ASSIGN_PUBLIC_IP must be ENABLED or DISABLED, got ${JSON.stringify(publicIp)}`);
    ecs = {
      clusterArn: env.TASK_CLUSTER_ARN!.trim(),
      taskDefinitionArn: env.TASK_DEFINITION_ARN!.trim(),
      containerName: env.TASK_CONTAINER_NAME!.trim(),
      subnets: list(env, 'TASK_SUBNETS'),
      securityGroups: list(env, 'TASK_SECURITY_GROUPS'),
      assignPublicIp: publicIp,
    };
  }
  return { capacity, taskEngine: engine, taskMaxSeconds, ...(ecs ? { ecs } : {}) };
}
