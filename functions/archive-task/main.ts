/**
 * The archive task: the container entry point of the task engine (infra/task/Dockerfile bundles this
 * file; locally the runner's ChildProcessTaskEngine runs it as a process). It runs the SAME use
 * case as the scan-writer function (src/core/archive/archive-run.ts) for a run the function handed
 * over because its file did not fit the function's temp space or time (docs/big-scans.md).
 *
 * Input: TASK_JOB = {"kind":"archive-run","runUid":"…","attempt":n,"rearchive"?:{"reason","requestedBy"}}
 * (RunTask container override); the RunStop is read from the catalogue. A re-archive is carried
 * through (If-Match on the final object's ETag, the old version kept), and the task writes the
 * file's `<file>.index.json` like the function does. Or {"kind":"export","exportId":"…"}: an export
 * the export-worker handed over (export-job.ts). The same environment as the scan-writer (BUCKET_NAME, TABLE_NAME,
 * EVENT_BUS_NAME, BEAMLINE_ARCHIVE_REPOSITORY, NEXUS_*, CAPACITY_*, TASK_MAX_*).
 * Transient errors are retried a few times inside the task; what outlives them, and every
 * permanent error, ends the run FAILED with the reason. Exit code 0 when the run ended (ARCHIVED or
 * FAILED recorded), 1 when even that could not be recorded (the watchdog finds the run).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/adapters/logger.js';
import { createMetrics, MetricName, MetricUnit } from '../../src/adapters/metrics.js';
import { archiveRun, recordRunFailure, type ArchiveOutcome } from '../../src/core/archive/archive-run.js';
import type { RunEngine, TaskJob } from '../../src/core/archive/ports.js';
import { DetailType } from '../../src/core/contract/detail-types.js';
import type { RunStop } from '../../src/core/contract/generated-types.js';
import { validateDetail } from '../../src/core/contract/validators.js';
import { composeArchive, CREATOR, freeTempBytes } from '../scan-writer/compose.js';
import { h5wasmFileIndexer } from '../../src/adapters/h5wasm-file-indexer.js';
import { runExportTask } from './export-job.js';

const ATTEMPTS = 3;

export function parseTaskJob(raw: string | undefined): TaskJob {
  let job: unknown;
  try {
    job = JSON.parse(raw ?? '');
  } catch {
    throw new Error(`TASK_JOB must be the JSON of a job, got ${JSON.stringify(raw)}`);
  }
  const j = job as Partial<Record<string, unknown>>;
  if (j?.kind === 'archive-run' && typeof j.runUid === 'string' && j.runUid) {
    const attempt = j.attempt;
    if (attempt !== undefined && !(Number.isInteger(attempt) && (attempt as number) >= 1))
      throw new Error(`TASK_JOB attempt must be a whole number >= 1: ${JSON.stringify(raw)}`);
    const r = j.rearchive as Partial<Record<string, unknown>> | undefined;
    if (
      r !== undefined &&
      !(
        typeof r === 'object' &&
        r !== null &&
        typeof r.reason === 'string' &&
        r.reason &&
        typeof r.requestedBy === 'string' &&
        r.requestedBy
      )
    ) {
      throw new Error(`TASK_JOB rearchive must say reason and requestedBy: ${JSON.stringify(raw)}`);
    }
    return {
      kind: 'archive-run',
      runUid: j.runUid,
      ...(attempt !== undefined ? { attempt: attempt as number } : {}),
      ...(r ? { rearchive: { reason: r.reason as string, requestedBy: r.requestedBy as string } } : {}),
    };
  }
  if (j?.kind === 'export' && typeof j.exportId === 'string' && j.exportId) return { kind: 'export', exportId: j.exportId };
  throw new Error(`TASK_JOB is not a job this task runs: ${JSON.stringify(raw)}`);
}

/** The task's ARN from the ECS task metadata endpoint (v4), else the reference the local engine gave. */
async function taskRef(env: NodeJS.ProcessEnv): Promise<string> {
  const metadata = env.ECS_CONTAINER_METADATA_URI_V4;
  if (metadata) {
    const response = await fetch(`${metadata}/task`);
    const body = (await response.json()) as { TaskARN?: string };
    if (body.TaskARN) return body.TaskARN;
  }
  return env.BEAMLINE_ARCHIVE_TASK_REF ?? 'task';
}

export async function runArchiveTask(
  runUid: string,
  env: NodeJS.ProcessEnv = process.env,
  job: { rearchive?: { reason: string; requestedBy: string } | undefined } = {},
): Promise<ArchiveOutcome> {
  const logger = createLogger(env.POWERTOOLS_SERVICE_NAME ?? 'archive-task');
  const composed = await composeArchive(env);
  const { config } = composed;
  const engine: RunEngine = { kind: 'task', ref: await taskRef(env) };
  const log = (message: string, fields: Record<string, unknown>) => logger.info(message, { ...fields, task: engine.ref });
  const stopDoc = (await composed.catalogue.listDocuments(runUid)).find((d) => d.detailType === DetailType.RunStop);
  if (!stopDoc) throw new Error(`run ${runUid}: no RunStop in the catalogue; the scan-writer hands a run over only after it is recorded`);
  const stop = validateDetail(DetailType.RunStop, stopDoc.body) as RunStop;
  try {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const outcome = await archiveRun(stop, {
          catalogue: composed.catalogue,
          store: composed.store,
          writer: composed.writer,
          publisher: composed.publisher,
          creator: CREATOR,
          now: () => new Date(),
          storage: config.storage,
          engine,
          log,
          indexer: h5wasmFileIndexer,
          ...(job.rearchive ? { rearchive: job.rearchive } : {}),
          capacity: {
            config: config.capacity.capacity,
            here: async () => ({ kind: 'task', freeBytes: await freeTempBytes(), remainingMs: config.capacity.taskMaxSeconds * 1000 }),
          },
        });
        log(`run ${outcome.status}`, { runUid });
        if (outcome.status === 'archived' && outcome.indexMissing) {
          logger.error('run ARCHIVED without its index: the portal reads the file whole', {
            runUid,
            reason: outcome.indexMissing,
            task: engine.ref,
          });
          const metrics = createMetrics(env.POWERTOOLS_SERVICE_NAME ?? 'archive-task');
          metrics.addMetric(MetricName.IndexesMissing, MetricUnit.Count, 1);
          metrics.publishStoredMetrics();
        }
        return outcome;
      } catch (error) {
        if (attempt >= ATTEMPTS) {
          log('giving up after retries; the run is recorded FAILED', { runUid, attempt, error: String(error) });
          return await recordRunFailure(
            stop,
            new Error(`the archive task ${engine.ref} gave up after ${ATTEMPTS} attempts: ${(error as Error).message}`, { cause: error }),
            { ...composed, log },
          );
        }
        log('archive attempt failed; retrying', { runUid, attempt, error: String(error) });
        await sleep(2000 * attempt);
      }
    }
  } finally {
    // Only this task's claim: a later attempt (this one expired, the run was retried) keeps its own.
    await composed.runs.endHandOver(runUid, engine.ref);
  }
}

async function main(): Promise<number> {
  const job = parseTaskJob(process.env.TASK_JOB);
  if (job.kind === 'export') {
    // An export handed over by the export-worker (functions/archive-task/export-job.ts).
    const record = await runExportTask(job.exportId, await taskRef(process.env));
    return record.state === 'COMPLETED' || record.state === 'FAILED' ? 0 : 1;
  }
  const outcome = await runArchiveTask(job.runUid, process.env, job);
  return outcome.status === 'archived' || outcome.status === 'failed' ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `${JSON.stringify({ level: 'ERROR', message: 'archive task failed', error: String(error), stack: (error as Error).stack })}\n`,
    );
    process.exitCode = 1;
  },
);
