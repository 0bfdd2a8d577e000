/**
 * The RunTask client token (src/adapters/ecs-task-engine.ts): the same job and attempt give the same
 * token (a retried RunTask call starts no second task), a new attempt of the same run another (ECS
 * never hands a retried run the dead task of its last attempt). Sent to a real ECS client whose
 * requests are captured before they leave (no network).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ECSClient } from '@aws-sdk/client-ecs';
import { clientTokenOf, EcsTaskEngine } from '../../src/adapters/ecs-task-engine.js';
import { emulatorCredentials } from '../../local/aws-target.js';

describe('ECS task engine: the client token is per job and attempt', () => {
  it('same job and attempt: same token; another attempt, a re-archive or another run: another token', () => {
    const first = clientTokenOf({ kind: 'archive-run', runUid: 'R1', attempt: 1 });
    assert.equal(clientTokenOf({ kind: 'archive-run', runUid: 'R1', attempt: 1 }), first);
    assert.equal(clientTokenOf({ kind: 'archive-run', runUid: 'R1' }), first, 'no attempt is attempt 1');
    assert.notEqual(clientTokenOf({ kind: 'archive-run', runUid: 'R1', attempt: 2 }), first);
    assert.notEqual(clientTokenOf({ kind: 'archive-run', runUid: 'R1', attempt: 1, rearchive: { reason: 'r', requestedBy: 'x' } }), first);
    assert.notEqual(clientTokenOf({ kind: 'archive-run', runUid: 'R2', attempt: 1 }), first);
    assert.ok(first.length <= 64);
  });

  it('RunTask carries the job (attempt, re-archive) in TASK_JOB and the per-attempt token', async () => {
    const ecs = new ECSClient({ region: 'eu-west-1', credentials: emulatorCredentials() });
    const sent: Record<string, unknown>[] = [];
    ecs.middlewareStack.add(
      (_next, context) => async (args) => {
        sent.push({ command: context.commandName, input: args.input });
        return { output: { tasks: [{ taskArn: 'arn:aws:ecs:eu-west-1:1:task/c/t1' }], $metadata: {} }, response: {} } as never;
      },
      { step: 'initialize' },
    );
    const engine = new EcsTaskEngine(ecs, {
      clusterArn: 'c',
      taskDefinitionArn: 'td',
      containerName: 'archive',
      subnets: ['s'],
      securityGroups: ['g'],
      assignPublicIp: 'ENABLED',
      startedBy: 'scan-writer',
    });
    const job = { kind: 'archive-run', runUid: 'R1', attempt: 3, rearchive: { reason: 'upgrade', requestedBy: 'op' } } as const;
    assert.deepEqual(await engine.start(job), { ref: 'arn:aws:ecs:eu-west-1:1:task/c/t1' });
    const input = sent[0]!.input as {
      clientToken: string;
      overrides: { containerOverrides: { environment: { name: string; value: string }[] }[] };
    };
    assert.equal(sent[0]!.command, 'RunTaskCommand');
    assert.equal(input.clientToken, clientTokenOf(job));
    assert.deepEqual(JSON.parse(input.overrides.containerOverrides[0]!.environment.find((e) => e.name === 'TASK_JOB')!.value), job);
  });
});
