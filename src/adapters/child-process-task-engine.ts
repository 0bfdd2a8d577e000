/**
 * The task engine on this machine (local runner, tests, benchmarks): each job runs the container's
 * entry point (functions/archive-task/main.ts, what infra/task/Dockerfile bundles) as a child
 * process of this host, with the job in TASK_JOB and the same environment as the function that
 * started it. The running tasks are kept in a process-wide registry so tests can wait for them.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { TaskEngine, TaskJob } from '../core/archive/ports.js';

/** The container's entry point, from the repository (the image runs its esbuild bundle). */
export const TASK_ENTRY = fileURLToPath(new URL('../../functions/archive-task/main.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface LocalTask {
  ref: string;
  job: TaskJob;
  pid: number | undefined;
  /** Exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

const REGISTRY = Symbol.for('beamline-archive.local-tasks');

/** Tasks started on this host (across module instances: the runner loads handlers through tsx). */
export function localTasks(): Map<string, LocalTask> {
  const g = globalThis as unknown as Record<symbol, Map<string, LocalTask> | undefined>;
  return (g[REGISTRY] ??= new Map());
}

export interface ChildProcessTaskEngineOptions {
  /** Entry module (default TASK_ENTRY). */
  entry?: string;
  /** Extra variables on top of this process's environment. */
  environment?: Record<string, string>;
}

export class ChildProcessTaskEngine implements TaskEngine {
  constructor(private readonly options: ChildProcessTaskEngineOptions = {}) {}

  start(job: TaskJob): Promise<{ ref: string }> {
    const ref = `local-task/${randomUUID()}`;
    const child = spawn(process.execPath, ['--import', 'tsx', this.options.entry ?? TASK_ENTRY], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...this.options.environment, TASK_JOB: JSON.stringify(job), BEAMLINE_ARCHIVE_TASK_REF: ref },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(-1));
    });
    localTasks().set(ref, { ref, job, pid: child.pid, exited });
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve({ ref }));
      child.once('error', (error) => reject(error));
    });
  }
}
