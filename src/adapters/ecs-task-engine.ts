/**
 * The task engine on AWS: one ECS RunTask on Fargate per job, of the task definition the CDK app
 * builds (infra/constructs/archive-task.ts), with the job in the container's environment
 * (TASK_JOB). The client token makes a retried call start no second task for the same job.
 */
import { createHash } from 'node:crypto';
import { RunTaskCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { ArchiveError } from '../core/errors.js';
import type { TaskEngine, TaskJob } from '../core/archive/ports.js';

export interface EcsTaskEngineOptions {
  clusterArn: string;
  taskDefinitionArn: string;
  containerName: string;
  subnets: string[];
  securityGroups: string[];
  assignPublicIp: 'ENABLED' | 'DISABLED';
  /** Who starts the tasks (RunTask `startedBy`, at most 36 characters). */
  startedBy: string;
}

/** The environment variable carrying the job to the container (functions/archive-task/main.ts). */
export const TASK_JOB_ENV = 'TASK_JOB';

export class TaskStartError extends ArchiveError {
  override name = 'TaskStartError';
}

/** RunTask's client token: the job with its attempt number (an archive-run job without one is attempt 1). */
export function clientTokenOf(job: TaskJob): string {
  const keyed = job.kind === 'archive-run' ? { ...job, attempt: job.attempt ?? 1 } : job;
  return createHash('sha256').update(JSON.stringify(keyed)).digest('hex').slice(0, 64);
}

export class EcsTaskEngine implements TaskEngine {
  constructor(
    private readonly ecs: ECSClient,
    private readonly options: EcsTaskEngineOptions,
  ) {}

  async start(job: TaskJob): Promise<{ ref: string }> {
    const o = this.options;
    const body = JSON.stringify(job);
    const out = await this.ecs.send(
      new RunTaskCommand({
        cluster: o.clusterArn,
        taskDefinition: o.taskDefinitionArn,
        launchType: 'FARGATE',
        count: 1,
        startedBy: o.startedBy.slice(0, 36),
        // Idempotent for ~1 hour per job and attempt: a retried RunTask call does not start a second task, while
        // a new attempt (its own number in the job: the last task died, the run was retried) is never handed the dead one.
        clientToken: clientTokenOf(job),
        networkConfiguration: {
          awsvpcConfiguration: { subnets: o.subnets, securityGroups: o.securityGroups, assignPublicIp: o.assignPublicIp },
        },
        overrides: { containerOverrides: [{ name: o.containerName, environment: [{ name: TASK_JOB_ENV, value: body }] }] },
        propagateTags: 'TASK_DEFINITION',
      }),
    );
    const arn = out.tasks?.[0]?.taskArn;
    if (!arn) {
      const why =
        (out.failures ?? []).map((f) => `${f.reason ?? 'unknown'}${f.detail ? ` (${f.detail})` : ''}`).join('; ') ||
        'no task and no failure returned';
      throw new TaskStartError(`ECS RunTask did not start the ${job.kind} task: ${why}`, { job: body });
    }
    return { ref: arn };
  }
}
