/**
 * Composition root of the export builds: the export-worker function and the task engine's `export`
 * jobs (functions/archive-task/main.ts) build with the same service, configured from the same
 * environment. On top of the export functions' configuration (functions/shared/export-config.ts):
 * capacity before building (src/core/exports/export-capacity.ts) with the scan writer's rates and
 * task engine settings (functions/scan-writer/capacity-config.ts: CAPACITY_*, TASK_*), and
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `EXPORT_MEMORY_MB` | memory a build may use in the function | the function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE), else 3008 |
 * | `TASK_MEMORY_MB` | memory of the task | 16384 (infra/constructs/archive-task.ts) |
 * | `EXPORT_LEASE_SECONDS` | the function's time for one build (its timeout) | 900 |
 */
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { awsConnectionFromEnv, createAwsClients, createEcsClient } from '../../src/adapters/aws-clients.js';
import { ChildProcessTaskEngine } from '../../src/adapters/child-process-task-engine.js';
import { EcsTaskEngine } from '../../src/adapters/ecs-task-engine.js';
import type { Logger } from '../../src/adapters/logger.js';
import type { RunEngine, TaskEngine } from '../../src/core/archive/ports.js';
import type { ExportCapacityConfig } from '../../src/core/exports/export-capacity.js';
import { ExportService } from '../../src/core/exports/export-service.js';
import { sharedExportDeps } from '../shared/export-service-deps.js';
import { exportConfigFromEnv, type ExportConfig } from '../shared/export-config.js';
import { capacitySettingsFromEnv, CapacityConfigError, type CapacitySettings } from '../scan-writer/capacity-config.js';

const MiB = 1024 * 1024;

export interface ExportBuildConfig extends ExportConfig {
  capacity: CapacitySettings;
  export: ExportCapacityConfig;
  /** Memory a build may use here (the function's, or the task's). */
  memoryBytes: number;
}

function megabytes(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback * MiB;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new CapacityConfigError(`${name} must be a whole number of MB > 0, got ${JSON.stringify(env[name])}`);
  return value * MiB;
}

export function exportBuildConfigFromEnv(env: NodeJS.ProcessEnv, where: 'lambda' | 'task'): ExportBuildConfig {
  const base = exportConfigFromEnv(env);
  const capacity = capacitySettingsFromEnv(env);
  const taskMemory = megabytes(env, 'TASK_MEMORY_MB', 16_384);
  const lambdaMemory = megabytes(env, 'EXPORT_MEMORY_MB', Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE) || 3008);
  const { rates, margin, lambdaMaxBytes, task } = capacity.capacity;
  return {
    ...base,
    capacity,
    export: {
      rates,
      margin,
      ...(lambdaMaxBytes !== undefined ? { lambdaMaxBytes } : {}),
      ...(task ? { task: { ...task, memoryBytes: taskMemory } } : {}),
    },
    memoryBytes: where === 'task' ? taskMemory : lambdaMemory,
  };
}

function taskEngineOf(settings: CapacitySettings, env: NodeJS.ProcessEnv): TaskEngine | undefined {
  if (settings.taskEngine === 'ecs' && settings.ecs) {
    return new EcsTaskEngine(createEcsClient(awsConnectionFromEnv(env)), {
      ...settings.ecs,
      startedBy: env.AWS_LAMBDA_FUNCTION_NAME ?? 'export-worker',
    });
  }
  if (settings.taskEngine === 'process') return new ChildProcessTaskEngine();
  return undefined;
}

/** Bytes free in the temp folder the builds write in. */
async function freeTempBytes(dir = tmpdir()): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/**
 * The export service of a build: in the function (`engine.kind` lambda: capacity checked against the
 * function, the task engine for what does not fit) or in the task (checked against the task's limits).
 */
export function buildExportWorkerService(logger: Logger, engine: RunEngine, env: NodeJS.ProcessEnv = process.env): ExportService {
  const config = exportBuildConfigFromEnv(env, engine.kind);
  const clients = createAwsClients(awsConnectionFromEnv(env));
  const remainingMs = engine.kind === 'task' ? config.capacity.taskMaxSeconds * 1000 : config.leaseSeconds * 1000;
  return new ExportService({
    ...sharedExportDeps(clients, config, logger, env),
    engine,
    capacity: {
      config: config.export,
      here: async () => ({ kind: engine.kind, freeBytes: await freeTempBytes(), remainingMs, memoryBytes: config.memoryBytes }),
      ...(engine.kind === 'lambda' ? { taskEngine: taskEngineOf(config.capacity, env) } : {}),
    },
  });
}
