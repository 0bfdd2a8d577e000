/**
 * `beamline-archive runs` and `dlq` (the operators' commands, run as a person would: the real
 * command in a child process with AWS credentials in its environment) against the local
 * environment provisioned from the CDK template (moto): a run failed by an invalid document is
 * listed and shown with its reason, its parked document is shown and redriven through the CLI back
 * to the run-recorder's queue, and a FAILED run is retried onto the scan-writer's queue.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.js';
import { projectRoot } from '../../local/services.js';
import type { LocalLambdaRunner } from '../../local/runner.js';
import { sampleScan } from '../unit/archive-fixtures.js';

function cli(env: LocalEnvironment, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(projectRoot, 'bin/beamline-archive.mjs'), ...args], {
      env: {
        ...process.env,
        AWS_ENDPOINT_URL: env.awsEndpoint,
        AWS_REGION: env.region,
        BEAMLINE_ARCHIVE_TABLE: env.resources.table.name,
        BEAMLINE_ARCHIVE_QUEUE_PREFIX: `${env.resources.prefix}-`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const depth = async (env: LocalEnvironment, url: string) => {
  const a =
    (
      await env.clients.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      )
    ).Attributes ?? {};
  return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
};

describe("operators' commands: runs and dlq (local environment)", () => {
  let env: LocalEnvironment;
  let runner: LocalLambdaRunner;
  const run = sampleScan(6, { runUid: '01M80JDTHSB2YF8F4WA7YZ6C11', scanId: 41 });
  const badDescriptor = { ...run.documents[1]!, detail: { ...run.documents[1]!.detail, data_keys: 'not an object' } };

  before(async () => {
    env = await startLocalEnvironment({ redis: false });
    // The run-recorder only: the scan-writer's queue keeps what is sent to it, for the test to read.
    runner = await env.startRunner({
      functions: ['run-recorder'],
      log: () => undefined,
      retryVisibilityTimeoutSeconds: 0,
      environment: { LOG_LEVEL: 'ERROR' },
    });
    for (const e of [run.documents[0]!, badDescriptor, run.stop]) {
      const out = await env.clients.events.send(
        new PutEventsCommand({
          Entries: [
            { EventBusName: env.resources.bus.name, Source: e.source, DetailType: e['detail-type'], Detail: JSON.stringify(e.detail) },
          ],
        }),
      );
      assert.equal(out.FailedEntryCount ?? 0, 0);
    }
    await runner.waitForIdle({ timeoutMs: 30_000 });
    await runner.stop();
  });

  after(async () => {
    await env?.stop();
  });

  it('has --help for both commands', async () => {
    for (const command of ['runs', 'dlq']) {
      const out = await cli(env, [command, '--help']);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, new RegExp(`^Usage: beamline-archive ${command} <command>`));
    }
    const top = await cli(env, ['--help']);
    assert.match(top.stdout, /runs +runs that need a person/);
    assert.match(top.stdout, /dlq +the dead-letter queues/);
  });

  it('lists the FAILED run and shows its reason, documents and chunks', async () => {
    const list = await cli(env, ['runs', 'list', '--state', 'failed', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const runs = JSON.parse(list.stdout) as { runUid: string; state: string; reason: string; scanId: number }[];
    assert.deepEqual(
      runs.map((r) => [r.runUid, r.state, r.scanId]),
      [[run.runUid, 'FAILED', 41]],
    );
    assert.match(runs[0]!.reason, /EventDescriptor document of the run cannot be recorded/);

    const show = await cli(env, ['runs', 'show', run.runUid]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`^run ${run.runUid}: FAILED`));
    assert.match(show.stdout, /FAILED at run-recorder: a EventDescriptor document of the run cannot be recorded/);
    assert.match(show.stdout, /documents: .*RunStart 1/);
    assert.match(show.stdout, /descriptors 0\/1 recorded/);
    const none = await cli(env, ['runs', 'show', 'NO-SUCH-RUN']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /run NO-SUCH-RUN is not in the catalogue/);
    const usage = await cli(env, ['runs', 'list', '--state', 'lost']);
    assert.equal(usage.code, 2);
  });

  it("lists every DLQ, shows why the document was parked, and redrives it to the run-recorder's queue", async () => {
    const list = await cli(env, ['dlq', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const dlqs = JSON.parse(list.stdout) as { name: string; url: string; messages: number; serves: string }[];
    const served = dlqs.map((d) => d.serves).join(' ');
    for (const fn of ['run-recorder', 'scan-writer', 'dataset-recorder', 'export-worker', 'notifier'])
      assert.ok(served.includes(fn), `${fn}'s DLQ listed: ${served}`);
    assert.ok(
      dlqs.some((d) => d.serves.startsWith('event bus rules')),
      "the bus rules' DLQ listed",
    );
    const recorderDlq = dlqs.find((d) => d.serves.includes('run-recorder'))!;
    assert.equal(recorderDlq.messages, 1);

    const show = await cli(env, ['dlq', 'show', 'run-recorder', '--json']);
    assert.equal(show.code, 0, show.stderr);
    const shown = JSON.parse(show.stdout) as {
      messages: { detailType: string; parked: { error: string; reason: string; function: string; runUid: string } }[];
    };
    assert.equal(shown.messages.length, 1);
    assert.deepEqual(
      [
        shown.messages[0]!.detailType,
        shown.messages[0]!.parked.error,
        shown.messages[0]!.parked.function,
        shown.messages[0]!.parked.runUid,
      ],
      ['EventDescriptor', 'ContractError', 'run-recorder', run.runUid],
    );
    assert.match(shown.messages[0]!.parked.reason, /data_keys must be object/);
    assert.equal(await depth(env, recorderDlq.url), 1, 'show leaves the message in the DLQ');

    const redrive = await cli(env, ['dlq', 'redrive', 'run-recorder']);
    assert.equal(redrive.code, 0, redrive.stderr);
    assert.match(redrive.stdout, /1 message\(s\) sent back from /);
    assert.match(redrive.stderr, /\] 1\/1 → .*run-recorder/, 'progress on stderr');
    assert.equal(await depth(env, recorderDlq.url), 0);
    const queue = env.resources.functions['run-recorder']!.queueUrl!;
    const back = await env.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queue, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    assert.equal(back.Messages?.length, 1);
    assert.equal(
      (JSON.parse(back.Messages![0]!.Body!) as { 'detail-type': string })['detail-type'],
      'EventDescriptor',
      'the original event, ready to be recorded once its cause is fixed',
    );
  });

  it("retries a FAILED run: RECORDING again, its RunStop on the scan-writer's queue", async () => {
    const writerQueue = env.resources.functions['scan-writer']!.queueUrl!;
    // The scan-writer queue already holds the bus's RunStop (no scan-writer runs here): drain it.
    for (let n = 1; n > 0;) {
      const out = await env.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: writerQueue, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 600 }),
      );
      n = out.Messages?.length ?? 0;
    }
    const retry = await cli(env, ['runs', 'retry', run.runUid, '--json']);
    assert.equal(retry.code, 0, retry.stderr);
    assert.deepEqual(JSON.parse(retry.stdout) as { previous: string; state: string }, {
      ...JSON.parse(retry.stdout),
      previous: 'FAILED',
      state: 'RECORDING',
    });
    const sent = await env.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: writerQueue, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    assert.equal(sent.Messages?.length, 1);
    const event = JSON.parse(sent.Messages![0]!.Body!) as { 'detail-type': string; source: string; detail: { run_start: string } };
    assert.deepEqual([event['detail-type'], event.source, event.detail.run_start], ['RunStop', 'beamline-archive.bridge.id00', run.runUid]);
    const again = await cli(env, ['runs', 'retry', run.runUid]);
    assert.equal(again.code, 1, 'a RECORDING run is not retried');
    assert.match(again.stderr, /only FAILED and STALLED runs are retried/);
    const recording = await cli(env, ['runs', 'list', '--state', 'recording', '--json']);
    assert.deepEqual(
      (JSON.parse(recording.stdout) as { runUid: string }[]).map((r) => r.runUid),
      [run.runUid],
    );
  });
});
