/**
 * The task engine's `export` jobs (TASK_JOB = {"kind":"export","exportId":"…"}): an export the
 * export-worker handed over because it did not fit the function (src/core/exports/export-capacity.ts)
 * is built here by the same service, configured from the same environment
 * (functions/export-worker/compose.ts), against the task's limits. The record then names the task.
 */
import { createLogger } from '../../src/adapters/logger.js';
import type { RunEngine } from '../../src/core/archive/ports.js';
import type { ExportRecord } from '../../src/core/exports/ports.js';
import { buildExportWorkerService } from '../export-worker/compose.js';

export async function runExportTask(exportId: string, ref: string, env: NodeJS.ProcessEnv = process.env): Promise<ExportRecord> {
  const logger = createLogger(env.POWERTOOLS_SERVICE_NAME ?? 'archive-task');
  const engine: RunEngine = { kind: 'task', ref };
  const service = buildExportWorkerService(logger, engine, env);
  const record = await service.buildHandedOver(exportId);
  logger.info(`export ${record.state}`, { exportId, task: ref, ...(record.reason ? { reason: record.reason } : {}) });
  return record;
}
