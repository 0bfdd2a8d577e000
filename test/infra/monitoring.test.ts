// People are told, operators can act, staged data lives until its run ends (issue 14 items 1, 2, 4):
// alarm topic and its subscriptions from the context, every alarm's action, retained DLQs and log
// groups, the watchdog's schedule and grants, the notifier's rule, the staging lifecycle by tag.
// cdk-nag AwsSolutions runs during the synthesis (a finding fails it).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/bin/app.js';
import type { SQSEvent } from 'aws-lambda';
import { createHandler as createNotifier } from '../../functions/notifier/handler.js';
import { createLogger } from '../../src/adapters/logger.js';
import { createMetrics } from '../../src/adapters/metrics.js';
import { DetailType, EventSource } from '../../src/core/contract/detail-types.js';
import { Heartbeat } from '../../bridge/heartbeat.js';
import type { EventPublisher, OutgoingEvent } from '../../src/core/ports.js';

const outdir = mkdtempSync(join(tmpdir(), 'beamline-archive-monitoring-cdk-'));
const { app, storage, compute } = buildApp({
  outdir,
  nag: true,
  context: {
    'aws:cdk:bundling-stacks': [],
    alarmEmail: 'beamline-ops@example.org,data-team@example.org',
    watchdogRateMinutes: '10',
    stagingFailedDays: '45',
    beamlines: 'id00,id21',
  },
});
app.synth();
const storageTemplate = Template.fromStack(storage);
const computeTemplate = Template.fromStack(compute);
after(() => rmSync(outdir, { recursive: true, force: true }));

type Res = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string };
const all = () => computeTemplate.toJSON().Resources as Record<string, Res>;
const ofType = (type: string) => Object.entries(all()).filter(([, r]) => r.Type === type);
const topicId = () => {
  const ids = Object.keys(computeTemplate.findResources('AWS::SNS::Topic'));
  assert.equal(ids.length, 1);
  return ids[0]!;
};

describe('alarm topic and alarms', () => {
  it('subscribes the context e-mails to a KMS-encrypted topic', () => {
    const topic = all()[topicId()]!;
    assert.ok(topic.Properties.KmsMasterKeyId, 'encrypted with a customer key');
    const subs = ofType('AWS::SNS::Subscription').map(([, r]) => [
      r.Properties.Protocol,
      r.Properties.Endpoint,
      (r.Properties.TopicArn as { Ref: string }).Ref,
    ]);
    assert.deepEqual(subs.sort(), [
      ['email', 'beamline-ops@example.org', topicId()],
      ['email', 'data-team@example.org', topicId()],
    ]);
    const keys = computeTemplate.findResources('AWS::KMS::Key');
    const policy = JSON.stringify(Object.values(keys)[0]);
    assert.match(policy, /cloudwatch\.amazonaws\.com/, 'CloudWatch alarms may publish through the key');
  });

  it('gives every alarm (DLQ depth of every queue, stalled runs, bridge heartbeat, watchdog errors) the topic as action', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm');
    const dlqAlarms = alarms.filter(([, a]) => String(a.Properties.MetricName) === 'ApproximateNumberOfMessagesVisible');
    // run-recorder, scan-writer, dataset-recorder, export-worker, notifier and the bus rules' DLQ.
    assert.ok(dlqAlarms.length >= 6, `DLQ alarms: ${dlqAlarms.length}`);
    for (const [id, alarm] of alarms) {
      assert.deepEqual(alarm.Properties.AlarmActions, [{ Ref: topicId() }], `${id} notifies the topic`);
      assert.deepEqual(alarm.Properties.OKActions, [{ Ref: topicId() }], `${id} says when it is OK again`);
    }
    const byMetric = (name: string) => alarms.find(([, a]) => a.Properties.MetricName === name)?.[1].Properties;
    assert.deepEqual(
      [byMetric('RunsStalled')?.Namespace, byMetric('RunsStalled')?.ComparisonOperator, byMetric('RunsStalled')?.Threshold],
      ['BeamlineArchive', 'GreaterThanThreshold', 0],
    );
    const heartbeat = byMetric('BridgeHeartbeats');
    assert.deepEqual(
      [heartbeat?.Namespace, heartbeat?.Statistic, heartbeat?.ComparisonOperator, heartbeat?.Threshold, heartbeat?.TreatMissingData],
      ['BeamlineArchive', 'SampleCount', 'LessThanThreshold', 1, 'breaching'],
      'a bridge that stops sending heartbeats raises the alarm',
    );
    assert.ok(byMetric('Errors'), 'the watchdog failing raises an alarm');
  });

  it('watches, in the bridge alarm, the very metric the notifier emits for each heartbeat the bridge sends (namespace, name, dimensions)', async () => {
    // The heartbeat as the bridge builds it (bridge/heartbeat.ts), as the notifier's queue delivers it.
    const sent: OutgoingEvent[] = [];
    const publisher: EventPublisher = {
      publish: async (events) => {
        sent.push(...events);
        return { accepted: events.length, rejected: [] };
      },
    };
    const source = {
      status: () => ({ caughtUp: false, active: ['esrf:scan:x'], scans: [], bufferedBytes: 4096, redisReconnects: 0, uptimeSeconds: 5 }),
      healthy: () => ({ ok: true }),
    };
    const beat = new Heartbeat(publisher, source, createLogger('bridge', 'ERROR'), { beamline: 'id00', intervalSeconds: 60 });
    beat.start();
    await beat.stop();
    assert.equal(sent.length, 1, 'one heartbeat at start, none after stop');
    // As this beamline's bridge (docs/access.md, "The edge"), the source its role may send.
    assert.deepEqual([sent[0]!.source, sent[0]!.detailType], [`${EventSource.Bridge}.id00`, DetailType.BridgeHeartbeat]);
    const pattern = (ofType('AWS::Events::Rule').find(([, r]) =>
      JSON.stringify(r.Properties.EventPattern).includes('Bridge Heartbeat'),
    )?.[1].Properties.EventPattern ?? {}) as Record<string, Array<string | { prefix: string }>>;
    const sourceMatches = pattern.source!.some((m) =>
      typeof m === 'string' ? m === sent[0]!.source : sent[0]!.source.startsWith(m.prefix),
    );
    assert.ok(sourceMatches && pattern['detail-type']!.includes(sent[0]!.detailType), 'the notifier rule takes the bridge heartbeat');
    // The notifier as deployed: its service name (the metric's dimension) and namespace from its environment in the template.
    const notifier = ofType('AWS::Lambda::Function').find(([, f]) =>
      JSON.stringify(f.Properties.Environment ?? {}).includes('ALARM_TOPIC_ARN'),
    )?.[1];
    const env = (notifier?.Properties.Environment as { Variables: Record<string, string> }).Variables;
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      lines.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write;
    const saved = process.env.POWERTOOLS_METRICS_NAMESPACE;
    try {
      if (env.POWERTOOLS_METRICS_NAMESPACE) process.env.POWERTOOLS_METRICS_NAMESPACE = env.POWERTOOLS_METRICS_NAMESPACE;
      else delete process.env.POWERTOOLS_METRICS_NAMESPACE;
      const handler = createNotifier({
        notifier: { notify: async () => undefined },
        logger: createLogger(env.POWERTOOLS_SERVICE_NAME!, 'ERROR'),
        metrics: createMetrics(env.POWERTOOLS_SERVICE_NAME!),
      });
      const body = JSON.stringify({
        version: '0',
        id: 'x',
        'detail-type': sent[0]!.detailType,
        source: sent[0]!.source,
        account: '123456789012',
        time: new Date().toISOString(),
        region: 'eu-west-1',
        resources: [],
        detail: sent[0]!.detail,
      });
      const out = await handler({
        Records: [
          {
            messageId: 'm',
            receiptHandle: 'r',
            body,
            md5OfBody: '',
            messageAttributes: {},
            eventSource: 'aws:sqs',
            eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:q',
            awsRegion: 'eu-west-1',
            attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 't', ApproximateFirstReceiveTimestamp: '0' },
          },
        ],
      } as SQSEvent);
      assert.deepEqual(out.batchItemFailures, []);
    } finally {
      process.stdout.write = write;
      if (saved === undefined) delete process.env.POWERTOOLS_METRICS_NAMESPACE;
      else process.env.POWERTOOLS_METRICS_NAMESPACE = saved;
    }
    const emf = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.includes('"_aws"'))
      .map(
        (l) =>
          JSON.parse(l) as Record<string, unknown> & {
            _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
          },
      );
    const heartbeats = emf.filter((e) => e._aws.CloudWatchMetrics[0]!.Metrics.some((m) => m.Name === 'BridgeHeartbeats'));
    const emitted = heartbeats.find((e) => e._aws.CloudWatchMetrics[0]!.Dimensions[0]!.length === 1);
    assert.ok(emitted, `the notifier emitted BridgeHeartbeats: ${lines.join('')}`);
    const heartbeatAlarms = ofType('AWS::CloudWatch::Alarm')
      .filter(([, a]) => a.Properties.MetricName === 'BridgeHeartbeats')
      .map(([, a]) => a.Properties);
    const alarm = heartbeatAlarms.find((a) => (a.Dimensions as unknown[]).length === 1)!;
    const cw = emitted._aws.CloudWatchMetrics[0]!;
    assert.equal(alarm.Namespace, cw.Namespace, 'same namespace');
    assert.deepEqual(cw.Dimensions, [['service']], 'one dimension set: service');
    assert.deepEqual(
      alarm.Dimensions,
      [{ Name: 'service', Value: emitted.service }],
      'the alarm reads the dimension value the notifier writes',
    );
    assert.equal(emitted.BridgeHeartbeats, 1);
    // And per beamline: the id00 bridge's heartbeat counted with dimension beamline=id00 (from its source), which
    // the id00 alarm reads; id21's alarm reads id21's, which this heartbeat does not feed.
    const perBeamline = heartbeats.find((e) => e._aws.CloudWatchMetrics[0]!.Dimensions[0]!.includes('beamline'));
    assert.ok(perBeamline, 'the notifier emitted BridgeHeartbeats per beamline');
    assert.deepEqual(
      [perBeamline._aws.CloudWatchMetrics[0]!.Dimensions, perBeamline.service, perBeamline.beamline, perBeamline.BridgeHeartbeats],
      [[['service', 'beamline']], emitted.service, 'id00', 1],
    );
    assert.deepEqual(
      heartbeatAlarms.map((a) => JSON.stringify(a.Dimensions)).sort(),
      [
        [{ Name: 'service', Value: 'notifier' }],
        [
          { Name: 'beamline', Value: 'id00' },
          { Name: 'service', Value: 'notifier' },
        ],
        [
          { Name: 'beamline', Value: 'id21' },
          { Name: 'service', Value: 'notifier' },
        ],
      ]
        .map((d) => JSON.stringify(d))
        .sort(),
    );
    for (const a of heartbeatAlarms)
      assert.deepEqual(
        [a.Statistic, a.ComparisonOperator, a.Threshold, a.TreatMissingData],
        ['SampleCount', 'LessThanThreshold', 1, 'breaching'],
      );
  });

  it('routes Run Failed, Run Stalled and Bridge Heartbeat to the notifier, which may only publish to the topic', () => {
    const rule = ofType('AWS::Events::Rule').find(([, r]) => JSON.stringify(r.Properties.EventPattern).includes('Run Stalled'))?.[1];
    assert.deepEqual((rule?.Properties.EventPattern as Record<string, unknown>)['detail-type'], [
      'Run Failed',
      'Run Stalled',
      'Bridge Heartbeat',
    ]);
    const policies = JSON.stringify(
      computeTemplate.findResources('AWS::IAM::Policy', {
        Properties: { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'NotifyPeople' })]) } },
      }),
    );
    assert.match(policies, new RegExp(`"Action":"sns:Publish","Effect":"Allow","Resource":\\{"Ref":"${topicId()}"\\}`));
  });
});

describe('run-watchdog', () => {
  it('runs on the schedule from the context, with the stall limits in its environment', () => {
    const schedules = ofType('AWS::Events::Rule').filter(([, r]) => r.Properties.ScheduleExpression);
    assert.equal(schedules.length, 1);
    assert.equal(schedules[0]![1].Properties.ScheduleExpression, 'rate(10 minutes)');
    const targets = schedules[0]![1].Properties.Targets as { Arn: { 'Fn::GetAtt': [string, string] } }[];
    const fn = all()[targets[0]!.Arn['Fn::GetAtt'][0]]!;
    const vars = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
    assert.equal(vars.POWERTOOLS_SERVICE_NAME, 'run-watchdog');
    assert.deepEqual([vars.STALL_AFTER_STOP_SECONDS, vars.STALL_AFTER_START_SECONDS], ['7200', '86400']);
  });
});

describe('retention', () => {
  it('retains every dead-letter queue and every log group with the data', () => {
    const dlqIds = new Set(
      ofType('AWS::SQS::Queue').flatMap(([, q]) => {
        const arn = (q.Properties.RedrivePolicy as { deadLetterTargetArn?: { 'Fn::GetAtt': [string] } } | undefined)?.deadLetterTargetArn;
        return arn ? [arn['Fn::GetAtt'][0]] : [];
      }),
    );
    const ruleDlq = ofType('AWS::SQS::Queue')
      .filter(([id]) => id.startsWith('RuleDeadLetterQueue'))
      .map(([id]) => id);
    assert.equal(ruleDlq.length, 1);
    assert.ok(dlqIds.size >= 5);
    for (const id of [...dlqIds, ...ruleDlq]) {
      const q = all()[id]!;
      assert.deepEqual([q.DeletionPolicy, q.UpdateReplacePolicy], ['Retain', 'Retain'], `${id} retained`);
      assert.equal(q.Properties.MessageRetentionPeriod, 14 * 86400);
    }
    const groups = ofType('AWS::Logs::LogGroup');
    // Every function of the app has its own log group (infra/constructs/archive-function.ts).
    const functionGroups = groups.filter(([id]) => !id.startsWith('ArchiveTask'));
    assert.ok(functionGroups.length >= 9, `log groups: ${groups.map(([id]) => id).join(', ')}`);
    for (const [id, g] of functionGroups) {
      assert.deepEqual([g.DeletionPolicy, g.UpdateReplacePolicy], ['Retain', 'Retain'], `${id} retained`);
      assert.equal(g.Properties.RetentionInDays, 90);
    }
  });
});

describe('staged data lifecycle', () => {
  it('expires staged objects by the state their run ended in, untagged ones only after the safety time', () => {
    const bucket = Object.values(
      storageTemplate.findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: { Status: 'Enabled' } } }),
    )[0] as Res;
    const rules = (
      bucket.Properties.LifecycleConfiguration as {
        Rules: { Id: string; Prefix?: string; TagFilters?: { Key: string; Value: string }[]; ExpirationInDays?: number }[];
      }
    ).Rules;
    const staging = rules.filter((r) => r.Prefix === 'staging/').map((r) => [r.Id, r.TagFilters ?? [], r.ExpirationInDays]);
    assert.deepEqual(staging, [
      ['expire-staging-archived', [{ Key: 'run-state', Value: 'archived' }], 7],
      ['expire-staging-failed', [{ Key: 'run-state', Value: 'failed' }], 45],
      ['expire-staging-stalled', [{ Key: 'run-state', Value: 'stalled' }], 45],
      ['expire-staging-safety', [], 365],
    ]);
    assert.ok(45 > 14, 'FAILED/STALLED staged data outlives the DLQ retention');
  });

  it('refuses a FAILED retention shorter than the DLQ retention', () => {
    assert.throws(
      () => buildApp({ context: { 'aws:cdk:bundling-stacks': [], stagingFailedDays: '10' } }),
      /stagingFailedDays \(10\) must exceed the DLQ retention \(14 days\)/,
    );
  });
});
