/**
 * The run watchdog in the local environment provisioned from the CDK template (moto): runs left
 * RECORDING are marked STALLED with what is missing, their staged objects are tagged, Run Stalled
 * goes on the bus, and the notifier tells people through the alarm topic (SNS in moto, read here
 * by an SQS queue subscribed to it). The scan-writer is not run: its RunStop stays queued, the run
 * stays RECORDING, as when the writer is down or a document is lost.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { SubscribeCommand } from '@aws-sdk/client-sns';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.js';
import type { LocalLambdaRunner } from '../../local/runner.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import type { StreamDatum } from '../../src/core/contract/generated-types.js';
import type { WatchdogResult } from '../../functions/run-watchdog/handler.js';
import { sampleScan } from '../unit/archive-fixtures.js';

describe('run watchdog (local environment)', () => {
  let env: LocalEnvironment;
  let runner: LocalLambdaRunner;
  let catalogue: DynamoDbRunCatalogue;
  let inbox: string;

  before(async () => {
    env = await startLocalEnvironment({ redis: false });
    catalogue = new DynamoDbRunCatalogue(env.clients.dynamo, env.resources.table.name);
    // A person's mailbox: an SQS queue subscribed to the alarm topic (moto delivers SNS → SQS).
    const topic = Object.values(env.resources.topics).find((t) => t.logicalId.startsWith('MonitoringAlarmTopic'));
    assert.ok(topic, `alarm topic provisioned: ${Object.keys(env.resources.topics).join(', ')}`);
    inbox = (await env.clients.sqs.send(new CreateQueueCommand({ QueueName: `${env.resources.prefix}-inbox` }))).QueueUrl!;
    const inboxArn = (await env.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: inbox, AttributeNames: ['QueueArn'] })))
      .Attributes!.QueueArn!;
    await env.clients.sns.send(
      new SubscribeCommand({ TopicArn: topic.arn, Protocol: 'sqs', Endpoint: inboxArn, Attributes: { RawMessageDelivery: 'false' } }),
    );
    runner = await env.startRunner({
      functions: ['run-recorder', 'notifier', 'run-watchdog'],
      schedules: 'on-demand',
      log: () => undefined,
      retryVisibilityTimeoutSeconds: 0,
      // Stalled as soon as the watchdog looks (the template says 2 h after RunStop, 24 h after the start).
      environment: { STALL_AFTER_STOP_SECONDS: '0', STALL_AFTER_START_SECONDS: '0', LOG_LEVEL: 'ERROR' },
    });
  });

  after(async () => {
    await env?.stop();
  });

  it('is played by the local runner from the template schedule', () => {
    const schedule = env.resources.schedules.find((s) => s.functionArn === env.resources.functions['run-watchdog']?.arn);
    assert.equal(schedule?.scheduleExpression, 'rate(15 minutes)');
    assert.deepEqual(runner.scheduledFunctionNames, ['run-watchdog']);
  });

  it('marks runs left RECORDING STALLED with what is missing, tags their staged data, announces and notifies', async () => {
    const bucket = env.resources.bucket.name;
    const store = new S3ObjectStore(env.clients.s3, bucket);
    // Run A: RunStop recorded, but one StreamDatum never arrived (lost on the way).
    const a = sampleScan(9, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ6W0A', scanId: 31 });
    const lost = a.documents.find(
      (d) => d['detail-type'] === 'StreamDatum' && (d.detail as StreamDatum).stream_resource.endsWith('diode1'),
    )!;
    // Run B: the bridge never finished it (no RunStop).
    const b = sampleScan(6, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ6W0B', scanId: 32 });
    for (const c of [...a.chunks, ...b.chunks]) await store.put(c.key, c.bytes);
    const events = [...a.documents.filter((d) => d !== lost), a.stop, ...b.documents];
    for (let i = 0; i < events.length; i += 10) {
      const out = await env.clients.events.send(
        new PutEventsCommand({
          Entries: events.slice(i, i + 10).map((e) => ({
            EventBusName: env.resources.bus.name,
            Source: e.source,
            DetailType: e['detail-type'],
            Detail: JSON.stringify(e.detail),
          })),
        }),
      );
      assert.equal(out.FailedEntryCount ?? 0, 0);
    }
    await runner.waitForIdle({ timeoutMs: 30_000 });
    assert.equal((await catalogue.getRun(a.runUid))?.state, 'RECORDING');
    assert.equal((await catalogue.getRun(b.runUid))?.state, 'RECORDING');

    const report = (await runner.invokeScheduled('run-watchdog')) as WatchdogResult;
    assert.deepEqual([...report.stalled].sort(), [a.runUid, b.runUid]);

    const ra = await catalogue.getRun(a.runUid);
    assert.equal(ra?.state, 'STALLED');
    const { indices } = lost.detail as StreamDatum;
    assert.deepEqual(
      ra?.stalled?.missing.map((m) => [m.kind, m.stream, m.ranges]),
      [
        ['StreamDatum', undefined, undefined],
        ['chunks', 'simulation_diode_sampling_controller:diode1', [[indices.start, indices.stop]]],
      ],
    );
    assert.match(ra?.stalled?.reason ?? '', /stream datums \d+\/\d+ recorded/);
    const rb = await catalogue.getRun(b.runUid);
    assert.equal(rb?.state, 'STALLED');
    assert.deepEqual(
      rb?.stalled?.missing.map((m) => m.kind),
      ['RunStop'],
    );
    assert.deepEqual((await catalogue.listRunsByState('STALLED')).map((r) => r.runUid).sort(), [a.runUid, b.runUid]);

    for (const c of [a.chunks[0]!, b.chunks[0]!]) {
      const tags = await env.clients.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: c.key }));
      assert.deepEqual(tags.TagSet, [{ Key: 'run-state', Value: 'stalled' }], `${c.key} tagged for the STALLED lifecycle`);
    }

    // Run Stalled → notifier → alarm topic → the subscribed inbox.
    await runner.waitForIdle({ timeoutMs: 30_000 });
    const messages: { Subject: string; Message: string }[] = [];
    for (let i = 0; i < 10 && messages.length < 2; i++) {
      const out = await env.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: inbox, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of out.Messages ?? []) messages.push(JSON.parse(m.Body!) as { Subject: string; Message: string });
    }
    const bySubject = new Map(messages.map((m) => [m.Subject, m.Message]));
    const toA = bySubject.get(`[beamline-archive] run ${a.runUid} STALLED`);
    assert.ok(toA, `a message about run A: ${[...bySubject.keys()].join(' | ')}`);
    assert.match(
      toA,
      new RegExp(`points \\[${indices.start}, ${indices.stop}\\) of simulation_diode_sampling_controller:diode1 have no StreamDatum`),
    );
    assert.match(toA, new RegExp(`beamline-archive runs show ${a.runUid}`));
    assert.match(bySubject.get(`[beamline-archive] run ${b.runUid} STALLED`) ?? '', /no RunStop: the bridge never finished the run/);

    // A second pass finds nothing new: STALLED runs are not RECORDING any more.
    const again = (await runner.invokeScheduled('run-watchdog')) as WatchdogResult;
    assert.deepEqual(again.stalled, []);
  });
});
