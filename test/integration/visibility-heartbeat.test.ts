/**
 * A long write keeps its SQS message invisible for as long as it runs (ChangeMessageVisibility
 * heartbeat, src/adapters/sqs-visibility-heartbeat.ts), and the local runner honours it: with two
 * pollers on a queue whose visibility timeout is far shorter than the work, a handler that beats is
 * invoked once; the same handler without the heartbeat is handed the message a second time (the
 * control that shows the test can fail).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { createAwsClients } from '../../src/adapters/aws-clients.js';
import { queueUrlOfArn, SqsVisibilityHeartbeat } from '../../src/adapters/sqs-visibility-heartbeat.js';
import { LocalLambdaRunner } from '../../local/runner.js';
import type { LocalFunction } from '../../local/provision.js';
import { type AwsEmulator, emulatorCredentials, startAwsEmulator } from '../../local/aws-target.js';

const REGION = 'eu-west-1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('visibility heartbeat of long writes', () => {
  let aws: AwsEmulator | undefined;
  let sqs: SQSClient;
  let endpoint: string;

  before(async () => {
    endpoint = (aws = await startAwsEmulator()).url;
    sqs = createAwsClients({ region: REGION, endpoint, credentials: emulatorCredentials() }).sqs;
  });
  after(async () => {
    await aws?.stop();
  });

  /** Runs one message through a runner with two pollers on a queue with a 2 s visibility timeout; the handler works 6 s. */
  async function invocationsOfSlowHandler(withHeartbeat: boolean): Promise<{ invocations: number; beats: number }> {
    const name = `slow-${withHeartbeat ? 'beating' : 'silent'}-${Date.now()}`;
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '2' } }))).QueueUrl!;
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!
      .QueueArn!;
    const heartbeat = new SqsVisibilityHeartbeat(sqs, { timeoutSeconds: 2, everySeconds: 0.5 });
    let invocations = 0;
    let beats = 0;
    const fn: LocalFunction = {
      stackName: 'test',
      logicalId: 'Slow',
      name: 'slow',
      functionName: name,
      arn: `arn:aws:lambda:${REGION}:123456789012:function:${name}`,
      entry: undefined,
      entryPath: undefined,
      handlerExport: 'handler',
      timeoutSeconds: 60,
      memorySize: 128,
      environment: {},
    };
    const runner = new LocalLambdaRunner({
      sqs,
      awsEndpoint: endpoint,
      pollersPerMapping: 2,
      retryVisibilityTimeoutSeconds: 0,
      log: () => undefined,
      resources: {
        region: REGION,
        accountId: '123456789012',
        functions: { slow: fn },
        queues: { Slow: { stackName: 'test', logicalId: 'Slow', name, url: queueUrl, arn: queueArn, visibilityTimeoutSeconds: 2 } },
        eventSourceMappings: [
          {
            stackName: 'test',
            logicalId: 'Esm',
            functionLogicalId: 'Slow',
            functionName: name,
            queueLogicalId: 'Slow',
            queueArn,
            queueUrl,
            batchSize: 1,
            maximumBatchingWindowInSeconds: 0,
            reportBatchItemFailures: true,
            enabled: true,
          },
        ],
      },
      handlers: {
        slow: async (event: SQSEvent) => {
          invocations += 1;
          const beat = withHeartbeat ? heartbeat.start(event.Records[0]!) : undefined;
          await sleep(6_000);
          await beat?.stop();
          beats += beat?.beats ?? 0;
          return { batchItemFailures: [] };
        },
      },
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'a long write' }));
    await runner.start();
    await runner.waitForIdle({ timeoutMs: 30_000 });
    await runner.stop();
    return { invocations, beats };
  }

  it('a handler that beats is invoked once although it runs three times the visibility timeout', async () => {
    const { invocations, beats } = await invocationsOfSlowHandler(true);
    assert.equal(invocations, 1);
    assert.ok(beats >= 8, `${beats} beats in 6 s at one per 0.5 s`);
  });

  it('without the heartbeat the second poller gets the same message while the first still works on it', async () => {
    const { invocations } = await invocationsOfSlowHandler(false);
    assert.ok(invocations >= 2, `${invocations} invocation(s)`);
  });

  it('derives the queue URL from the record ARN', () => {
    assert.equal(
      queueUrlOfArn('arn:aws:sqs:eu-west-1:123456789012:scan-writer'),
      'https://sqs.eu-west-1.amazonaws.com/123456789012/scan-writer',
    );
    assert.throws(() => queueUrlOfArn('arn:aws:sns:eu-west-1:123456789012:topic'), /not an SQS queue ARN/);
  });
});
