/**
 * The provisioner on its own: cdk.out and in-process synthesis give the same templates, copies of
 * the app under different prefixes live side by side in one emulator and can be removed again, and
 * the intrinsic functions of a hand-written two-stack template resolve as CloudFormation would.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { buildApp } from '../../infra/bin/app.js';
import { createAwsClients, type AwsClients } from '../../src/adapters/aws-clients.js';
import { templatesFromAssembly, templatesFromCloudAssemblyDir, type StackTemplate } from '../../local/cloudformation-template.js';
import { applyEmulatorDefaults } from '../../local/environment.js';
import { deprovision, provisionFromTemplates, type ProvisionedResources } from '../../local/provision.js';
import { eventually, queueDepth, receiveAll } from '../support/sqs-helpers.js';
import { type AwsEmulator, emulatorCredentials, startAwsEmulator } from '../../local/aws-target.js';

describe('provisioning from templates', () => {
  let aws: AwsEmulator | undefined;
  let clients: AwsClients;
  let region: string;
  let appTemplates: StackTemplate[];
  const outdir = mkdtempSync(join(tmpdir(), 'ba-cdk-out-'));
  const run = Date.now().toString(36).slice(-4);

  before(async () => {
    region = applyEmulatorDefaults();
    const endpoint = (aws = await startAwsEmulator()).url;
    clients = createAwsClients({ region, endpoint, credentials: emulatorCredentials() });
    const assembly = buildApp({ outdir, context: { 'aws:cdk:bundling-stacks': [] } }).app.synth();
    appTemplates = templatesFromAssembly(assembly);
  });

  after(async () => {
    rmSync(outdir, { recursive: true, force: true });
    await aws?.stop();
  });

  it('reads the same templates from cdk.out as from the in-process assembly, dependencies first', () => {
    const fromDir = templatesFromCloudAssemblyDir(outdir);
    assert.deepEqual(fromDir, appTemplates);
    assert.deepEqual(
      fromDir.map((t) => t.stackName),
      ['BeamlineArchiveStorage', 'BeamlineArchiveCompute'],
    );
    assert.deepEqual(fromDir[1]?.dependencies, ['BeamlineArchiveStorage']);
  });

  it('keeps copies of the app under different prefixes apart in one emulator, and removes one', async () => {
    const a = await provisionFromTemplates(appTemplates, { clients, prefix: `pa${run}`, region });
    const b = await provisionFromTemplates(appTemplates, { clients, prefix: `pb${run}`, region });
    const names = (r: ProvisionedResources) =>
      [
        ...Object.values(r.buckets),
        ...Object.values(r.tables),
        ...Object.values(r.eventBuses),
        ...Object.values(r.queues),
        ...Object.values(r.rules),
      ].map((x) => x.name);
    const [na, nb] = [names(a), names(b)];
    assert.ok(na.every((n) => n.startsWith(`pa${run}-`)) && nb.every((n) => n.startsWith(`pb${run}-`)));
    assert.equal(new Set([...na, ...nb]).size, na.length + nb.length);
    assert.ok(a.bucket.name.length <= 63 && /^[a-z0-9-]+$/.test(a.bucket.name));

    await clients.events.send(
      new PutEventsCommand({
        Entries: [{ EventBusName: a.bus.name, Source: 'beamline-archive.bridge', DetailType: 'RunStop', Detail: '{}' }],
      }),
    );
    // The two functions RunStop is routed to (dataset-recorder takes RunStart/Run Archived; the APIs have no queue).
    const takeRunStop = (r: ProvisionedResources) =>
      Object.values(r.functions)
        .filter((f) => ['run-recorder', 'scan-writer'].includes(f.name))
        .map((f) => f.queueUrl ?? '');
    const aQueues = takeRunStop(a);
    const bQueues = takeRunStop(b);
    // Delivery from the bus to the queues is asynchronous on AWS and LocalStack (moto delivers inside PutEvents): poll.
    await eventually(
      async () => (await Promise.all(aQueues.map((u) => queueDepth(clients.sqs, u)))).every((d) => d === 1),
      15_000,
      "both of a's functions take RunStop",
    );
    assert.ok(
      (await Promise.all(bQueues.map((u) => queueDepth(clients.sqs, u)))).every((d) => d === 0),
      "b sees nothing of a's bus",
    );
    for (const u of aQueues) await receiveAll(clients.sqs, u, { consume: true });

    assert.deepEqual(await deprovision(b, clients), []);
    for (const q of Object.values(b.queues)) {
      await assert.rejects(
        clients.sqs.send(new GetQueueUrlCommand({ QueueName: q.name })),
        /does not exist|NonExistentQueue/,
        `${q.name} deleted`,
      );
    }
    assert.equal(await queueDepth(clients.sqs, aQueues[0] ?? ''), 0, 'a untouched');
    assert.deepEqual(await deprovision(a, clients), []);
  });

  it('resolves Ref, GetAtt, Join, Sub, Select, Split, conditions and cross-stack exports', async () => {
    const shared: StackTemplate = {
      stackName: 'Shared',
      dependencies: [],
      template: {
        Conditions: {
          InEu: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, region] },
          InMars: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'mars-1'] },
        },
        Resources: {
          Bus1A2B3C4D: { Type: 'AWS::Events::EventBus', Properties: { Name: 'custom' } },
          DeadLetters9F8E7D6C: { Type: 'AWS::SQS::Queue', Properties: { MessageRetentionPeriod: 1209600 } },
          Ordered: { Type: 'AWS::SQS::Queue', Properties: { FifoQueue: true, ContentBasedDeduplication: true } },
          MarsOnly: { Type: 'AWS::SQS::Queue', Condition: 'InMars' },
          Topic: { Type: 'AWS::SNS::Topic' },
        },
        Outputs: {
          BusArn: { Value: { 'Fn::GetAtt': ['Bus1A2B3C4D', 'Arn'] }, Export: { Name: 'Shared:BusArn' } },
          DlqArn: { Value: { 'Fn::GetAtt': ['DeadLetters9F8E7D6C', 'Arn'] }, Export: { Name: { 'Fn::Sub': '${AWS::StackName}:DlqArn' } } },
          Where: { Value: { 'Fn::If': ['InEu', 'eu', 'elsewhere'] } },
        },
      },
    };
    const busName = { 'Fn::Select': [1, { 'Fn::Split': ['/', { 'Fn::ImportValue': 'Shared:BusArn' }] }] };
    const work: StackTemplate = {
      stackName: 'Work',
      dependencies: ['Shared'],
      template: {
        Resources: {
          WorkQueue: {
            Type: 'AWS::SQS::Queue',
            Properties: {
              VisibilityTimeout: 42,
              RedrivePolicy: { deadLetterTargetArn: { 'Fn::ImportValue': 'Shared:DlqArn' }, maxReceiveCount: 3 },
            },
          },
          Rule: {
            Type: 'AWS::Events::Rule',
            Properties: {
              EventBusName: busName,
              EventPattern: { source: ['x'] },
              Targets: [{ Id: 'q', Arn: { 'Fn::GetAtt': ['WorkQueue', 'Arn'] } }],
            },
          },
          Fn: {
            Type: 'AWS::Lambda::Function',
            Metadata: { 'BeamlineArchive:Entry': 'functions/worker/handler.ts' },
            Properties: {
              Handler: 'index.handler',
              Timeout: 7,
              Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
              Environment: {
                Variables: {
                  QUEUE: { Ref: 'WorkQueue' },
                  QUEUE_NAME: { 'Fn::GetAtt': ['WorkQueue', 'QueueName'] },
                  BUS: busName,
                  SUB: {
                    'Fn::Sub': ['${AWS::Region}/${WorkQueue.QueueName}/${Extra}/${!Literal}', { Extra: { 'Fn::Join': ['-', ['a', 'b']] } }],
                  },
                  NOTHING: { Ref: 'AWS::NoValue' },
                },
              },
            },
          },
          Role: { Type: 'AWS::IAM::Role', Properties: {} },
          Esm: {
            Type: 'AWS::Lambda::EventSourceMapping',
            Properties: { EventSourceArn: { 'Fn::GetAtt': ['WorkQueue', 'Arn'] }, FunctionName: { Ref: 'Fn' }, BatchSize: 4 },
          },
        },
      },
    };
    const prefix = `px${run}`;
    const r = await provisionFromTemplates([work, shared].reverse(), { clients, prefix, region });
    assert.equal(r.bus.name, `${prefix}-custom`);
    const dlq = r.queues.DeadLetters9F8E7D6C;
    const q = r.queues.WorkQueue;
    assert.equal(dlq?.name, `${prefix}-dead-letters`, 'CDK hash dropped, kebab-case');
    assert.equal(r.queues.Ordered?.name, `${prefix}-ordered.fifo`);
    assert.equal(r.queues.MarsOnly, undefined);
    assert.deepEqual(q?.deadLetter, { arn: dlq?.arn, url: dlq?.url, logicalId: 'DeadLetters9F8E7D6C', maxReceiveCount: 3 });
    assert.equal(q?.visibilityTimeoutSeconds, 42);
    assert.equal(r.rules.Rule?.eventBusName, r.bus.name);
    assert.equal(r.rules.Rule?.targets[0]?.queueUrl, q?.url);
    const fn = r.functions.worker;
    assert.ok(fn);
    assert.deepEqual(fn.environment, { QUEUE: q?.url, QUEUE_NAME: q?.name, BUS: r.bus.name, SUB: `${region}/${q?.name}/a-b/\${Literal}` });
    assert.deepEqual(
      [fn.batchSize, fn.reportBatchItemFailures, fn.maxReceiveCount, fn.dlqUrl, fn.timeoutSeconds],
      [4, false, 3, dlq?.url, 7],
    );
    assert.deepEqual(r.outputs.Shared, { BusArn: r.bus.arn, DlqArn: dlq?.arn, Where: 'eu' });
    assert.deepEqual(r.exports, { 'Shared:BusArn': r.bus.arn, 'Shared:DlqArn': dlq?.arn });
    assert.deepEqual(r.skipped.map((s) => `${s.logicalId}:${s.type}`).sort(), ['MarsOnly:AWS::SQS::Queue', 'Role:AWS::IAM::Role']);
    assert.ok(r.topics.Topic, 'the SNS topic is created in the emulator');
    assert.throws(() => r.table, /declare 0 tables/);
    await assert.rejects(provisionFromTemplates([shared], { clients, prefix: 'Bad_Prefix', region }), /prefix/);
    assert.deepEqual(await deprovision(r, clients), []);
  });
});
