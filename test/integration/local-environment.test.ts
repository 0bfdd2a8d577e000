/**
 * The embedded local environment: the CDK app's own templates provisioned into the emulator, bus
 * routing as the rules say, and the local runner playing Lambda (deletes, partial failures,
 * whole-batch failures, DLQ after maxReceiveCount).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DescribeEventBusCommand, DescribeRuleCommand, ListTargetsByRuleCommand, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetBucketLifecycleConfigurationCommand, GetBucketVersioningCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.js';
import type { TemplateResource } from '../../local/cloudformation-template.js';
import { LocalLambdaRunner, type RunnerLogEntry } from '../../local/runner.js';
import { validateEvent } from '../../src/core/contract/validators.js';
import { calls, resetCalls } from '../support/handlers/scripted-handler.js';
import { queueDepth, receiveAll } from '../support/sqs-helpers.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const scriptedHandler = join(here, '..', 'support', 'handlers', 'scripted-handler.ts');
const samples = join(here, '..', '..', 'events', 'samples');

type Props = Record<string, unknown>;
const logicalOf = (v: unknown): string => {
  const getAtt = (v as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (getAtt) return getAtt[0];
  const ref = (v as { Ref?: string }).Ref;
  if (ref) return ref;
  throw new Error(`not a Ref/GetAtt: ${JSON.stringify(v)}`);
};

describe('local environment provisioned from the CDK app', () => {
  let env: LocalEnvironment;
  const resourcesOf = (type: string): Array<[string, TemplateResource]> =>
    env.templates.flatMap((t) => Object.entries(t.template.Resources ?? {}).filter(([, r]) => r.Type === type));

  before(async () => {
    env = await startLocalEnvironment({ prefix: `le${randomBytes(2).toString('hex')}` });
    process.stdout.write(`# environment ${JSON.stringify(env.timings)} moto=${env.started.moto} redis=${env.started.redis}\n`);
  });

  after(async () => {
    await env?.stop();
  });

  it('starts Redis with the modules blissdata needs', async () => {
    assert.ok(env.redisUrl, 'a Redis URL');
    const redis = new Redis(env.redisUrl);
    try {
      assert.equal(await redis.ping(), 'PONG');
      const modules = JSON.stringify(await redis.call('MODULE', 'LIST')).toLowerCase();
      assert.match(modules, /rejson|redisjson/);
      assert.match(modules, /search/);
    } finally {
      redis.disconnect();
    }
  });

  it('accounts for every resource of the templates: created, recorded or listed as skipped', () => {
    const r = env.resources;
    const handled = new Set([
      ...Object.keys(r.buckets),
      ...Object.keys(r.tables),
      ...Object.keys(r.eventBuses),
      ...Object.keys(r.queues),
      ...Object.keys(r.topics),
      ...Object.keys(r.rules),
      ...Object.values(r.functions).map((f) => f.logicalId),
      ...r.eventSourceMappings.map((m) => m.logicalId),
      ...r.skipped.map((s) => s.logicalId),
      // Function URLs are recorded on their function (functionUrl), served by local/http-gateway.ts.
      ...resourcesOf('AWS::Lambda::Url')
        .filter(([, u]) =>
          Object.values(r.functions).some((f) => f.functionUrl && f.logicalId === logicalOf((u.Properties as Props).TargetFunctionArn)),
        )
        .map(([id]) => id),
    ]);
    for (const t of env.templates) {
      for (const id of Object.keys(t.template.Resources ?? {}))
        assert.ok(handled.has(id), `${t.stackName}/${id} is neither provisioned nor skipped`);
    }
    const skippedTypes = new Set(r.skipped.map((s) => s.type));
    for (const type of ['AWS::IAM::Role', 'AWS::Events::Archive', 'AWS::CloudWatch::Alarm', 'AWS::Logs::LogGroup']) {
      if (resourcesOf(type).length) assert.ok(skippedTypes.has(type), `${type} listed as skipped`);
    }
    for (const s of r.skipped) assert.ok(s.reason.length > 0);
    assert.ok(Object.keys(r.outputs).length === env.templates.length);
  });

  it('creates the buckets with their versioning and lifecycle rules', async () => {
    const { s3 } = env.clients;
    const declared = resourcesOf('AWS::S3::Bucket');
    assert.ok(declared.length >= 1);
    for (const [id, resource] of declared) {
      const bucket = env.resources.buckets[id];
      assert.ok(bucket, `bucket ${id} provisioned`);
      assert.ok(bucket.name.startsWith(`${env.resources.prefix}-`));
      await s3.send(new HeadBucketCommand({ Bucket: bucket.name }));
      const props = resource.Properties as Props;
      const status = (props.VersioningConfiguration as { Status?: string } | undefined)?.Status;
      const versioning = await s3.send(new GetBucketVersioningCommand({ Bucket: bucket.name }));
      assert.equal(versioning.Status, status, `versioning of ${id}`);
      const rules = (props.LifecycleConfiguration as { Rules?: Array<{ Id?: string }> } | undefined)?.Rules ?? [];
      if (rules.length && !bucket.notes.some((n) => n.startsWith('lifecycle'))) {
        const lifecycle = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket.name }));
        assert.deepEqual((lifecycle.Rules ?? []).map((x) => x.ID).sort(), rules.map((x) => x.Id).sort());
      }
    }
    assert.equal(env.resources.bucket.versioning, 'Enabled', 'the archive bucket (BUCKET_NAME of the functions) is versioned');
  });

  it('creates the table with the key schema, billing and GSIs of the template', async () => {
    for (const [id, resource] of resourcesOf('AWS::DynamoDB::Table')) {
      const props = resource.Properties as Props;
      const table = env.resources.tables[id];
      assert.ok(table);
      const { Table: d } = await env.clients.dynamo.send(new DescribeTableCommand({ TableName: table.name }));
      assert.deepEqual(d?.KeySchema, props.KeySchema);
      const byName = (a: Array<{ AttributeName?: string }>) =>
        [...a].sort((x, y) => String(x.AttributeName).localeCompare(String(y.AttributeName)));
      assert.deepEqual(byName(d?.AttributeDefinitions ?? []), byName(props.AttributeDefinitions as Array<{ AttributeName?: string }>));
      if (props.BillingMode === 'PAY_PER_REQUEST') assert.equal(d?.BillingModeSummary?.BillingMode, 'PAY_PER_REQUEST');
      const declaredGsis = (props.GlobalSecondaryIndexes ?? []) as Array<{
        IndexName: string;
        KeySchema: unknown;
        Projection: { ProjectionType: string };
      }>;
      assert.deepEqual(
        (d?.GlobalSecondaryIndexes ?? [])
          .map((g) => ({ name: g.IndexName, keys: g.KeySchema, projection: g.Projection?.ProjectionType }))
          .sort((a, b) => String(a.name).localeCompare(String(b.name))),
        declaredGsis
          .map((g) => ({ name: g.IndexName, keys: g.KeySchema, projection: g.Projection.ProjectionType }))
          .sort((a, b) => a.name.localeCompare(b.name)),
      );
    }
    const catalogue = env.resources.table;
    assert.deepEqual(
      catalogue.keySchema.map((k) => k.AttributeName),
      ['pk', 'sk'],
    );
    assert.deepEqual(catalogue.globalSecondaryIndexes, ['gsi1', 'gsi2', 'gsi3', 'gsi4']); // gsi2, gsi3: datasets (docs/datasets.md); gsi4: runs by state
  });

  it('creates the bus, the rules with their patterns and SQS targets, and the queues with their redrive policy', async () => {
    const { events, sqs } = env.clients;
    for (const [id] of resourcesOf('AWS::Events::EventBus')) {
      const bus = env.resources.eventBuses[id];
      assert.ok(bus);
      const d = await events.send(new DescribeEventBusCommand({ Name: bus.name }));
      assert.equal(d.Arn, bus.arn);
    }
    const rules = resourcesOf('AWS::Events::Rule');
    assert.ok(rules.length >= 2);
    for (const [id, resource] of rules) {
      const props = resource.Properties as Props;
      const rule = env.resources.rules[id];
      assert.ok(rule);
      // A scheduled rule (the run-watchdog's) is on the account's default bus, as in AWS.
      assert.equal(rule.eventBusName, props.ScheduleExpression ? 'default' : env.resources.bus.name);
      const d = await events.send(new DescribeRuleCommand({ Name: rule.name, EventBusName: rule.eventBusName }));
      if (props.ScheduleExpression) assert.equal(d.ScheduleExpression, props.ScheduleExpression);
      else assert.deepEqual(JSON.parse(d.EventPattern ?? '{}'), props.EventPattern);
      assert.equal(d.State, props.State ?? 'ENABLED');
      // A scheduled rule's Lambda target is played by the local runner (the emulator runs no schedules).
      if (props.ScheduleExpression) {
        assert.ok(
          env.resources.schedules.some((sc) => sc.logicalId === id),
          `schedule of ${id} recorded for the runner`,
        );
        continue;
      }
      const targets = await events.send(new ListTargetsByRuleCommand({ Rule: rule.name, EventBusName: rule.eventBusName }));
      const declared = (props.Targets as Array<{ Id: string; Arn: unknown }>).map((t) => ({
        id: t.Id,
        arn: env.resources.queues[logicalOf(t.Arn)]?.arn,
      }));
      assert.deepEqual(
        (targets.Targets ?? []).map((t) => ({ id: t.Id, arn: t.Arn })),
        declared,
      );
    }
    for (const [id, resource] of resourcesOf('AWS::SQS::Queue')) {
      const props = resource.Properties as Props;
      const queue = env.resources.queues[id];
      assert.ok(queue);
      const { Attributes: a = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['All'] }));
      if (props.VisibilityTimeout !== undefined) assert.equal(Number(a.VisibilityTimeout), Number(props.VisibilityTimeout));
      if (props.MessageRetentionPeriod !== undefined) assert.equal(Number(a.MessageRetentionPeriod), Number(props.MessageRetentionPeriod));
      const redrive = props.RedrivePolicy as { deadLetterTargetArn: unknown; maxReceiveCount: number } | undefined;
      if (redrive) {
        const actual = JSON.parse(a.RedrivePolicy ?? '{}') as { deadLetterTargetArn: string; maxReceiveCount: number };
        assert.equal(Number(actual.maxReceiveCount), redrive.maxReceiveCount);
        assert.equal(actual.deadLetterTargetArn, env.resources.queues[logicalOf(redrive.deadLetterTargetArn)]?.arn);
      } else {
        assert.equal(a.RedrivePolicy, undefined);
      }
    }
  });

  it('records each function with its entry, resolved environment and event source mapping', () => {
    const r = env.resources;
    const functions = resourcesOf('AWS::Lambda::Function');
    const mappings = resourcesOf('AWS::Lambda::EventSourceMapping');
    assert.ok(functions.length >= 2);
    for (const [id, resource] of functions) {
      const fn = Object.values(r.functions).find((f) => f.logicalId === id);
      assert.ok(fn, `function ${id} recorded`);
      assert.equal(fn.entry, resource.Metadata?.['BeamlineArchive:Entry']);
      // Each resource a function is configured with resolves to the provisioned one (the notifier has no bucket).
      const variables =
        ((resource.Properties as Props).Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
      const expected = { BUCKET_NAME: r.bucket.name, TABLE_NAME: r.table.name, EVENT_BUS_NAME: r.bus.name };
      for (const [name, value] of Object.entries(expected))
        if (name in variables) assert.equal(fn.environment[name], value, `${id} ${name}`);
      assert.equal(fn.environment.POWERTOOLS_SERVICE_NAME, fn.name);
      if (fn.functionUrl) continue; // served by its function URL (dataset-api, analysis-api), not fed by a queue
      if (r.schedules.some((sc) => sc.functionArn === fn.arn)) continue; // run on its schedule by the local runner (run-watchdog)
      const [, esm] = mappings.find(([, m]) => logicalOf((m.Properties as Props).FunctionName) === id) ?? [];
      assert.ok(esm, `mapping of ${id}`);
      const props = esm.Properties as Props;
      const queue = r.queues[logicalOf(props.EventSourceArn)];
      assert.equal(fn.queueUrl, queue?.url);
      assert.equal(fn.dlqUrl, queue?.deadLetter?.url);
      assert.equal(fn.maxReceiveCount, queue?.deadLetter?.maxReceiveCount);
      assert.equal(fn.batchSize, props.BatchSize ?? 10);
      assert.equal(fn.reportBatchItemFailures, ((props.FunctionResponseTypes ?? []) as string[]).includes('ReportBatchItemFailures'));
    }
    assert.equal(r.eventSourceMappings.length, mappings.length);
  });

  it('routes an event on the bus to the queues whose rule matches it, and only those', async () => {
    const { events, sqs } = env.clients;
    const sample = (slug: string) =>
      JSON.parse(readFileSync(join(samples, `${slug}.json`), 'utf8')) as { source: string; 'detail-type': string; detail: unknown };
    const sent = [sample('run-start'), sample('run-stop'), { ...sample('run-stop'), source: 'somebody.else' }];
    const put = await events.send(
      new PutEventsCommand({
        Entries: sent.map((e) => ({
          EventBusName: env.resources.bus.name,
          Source: e.source,
          DetailType: e['detail-type'],
          Detail: JSON.stringify(e.detail),
        })),
      }),
    );
    assert.equal(put.FailedEntryCount ?? 0, 0);

    const matches = (pattern: Record<string, unknown> | undefined, e: { source: string; 'detail-type': string }) => {
      assert.ok(pattern && Object.keys(pattern).every((k) => k === 'source' || k === 'detail-type'), 'patterns on source/detail-type only');
      // A source is a value or a prefix ({ prefix }: the bridges' per-beamline sources).
      const sourceMatches = (m: unknown) =>
        typeof m === 'string' ? m === e.source : e.source.startsWith((m as { prefix: string }).prefix);
      return (
        (!pattern.source || (pattern.source as unknown[]).some(sourceMatches)) &&
        (!pattern['detail-type'] || (pattern['detail-type'] as string[]).includes(e['detail-type']))
      );
    };
    const queueUrls = [...new Set(Object.values(env.resources.rules).flatMap((r) => r.targets.map((t) => t.queueUrl ?? '')))];
    assert.ok(queueUrls.length >= 2);
    for (const url of queueUrls) {
      const expected = sent.filter((e) =>
        Object.values(env.resources.rules).some((r) => r.targets.some((t) => t.queueUrl === url) && matches(r.eventPattern, e)),
      );
      const got = (await receiveAll(sqs, url, { consume: true })).map((m) => JSON.parse(m.Body ?? '{}') as Record<string, unknown>);
      assert.deepEqual(
        got.map((b) => `${String(b.source)}/${String(b['detail-type'])}`).sort(),
        expected.map((e) => `${e.source}/${e['detail-type']}`).sort(),
        url,
      );
      for (const body of got) {
        // The SQS body is the whole EventBridge event, as AWS delivers it.
        for (const key of ['version', 'id', 'detail-type', 'source', 'time', 'region', 'resources', 'detail'])
          assert.ok(key in body, `${key} in the delivered event`);
        assert.equal(body.region, env.region);
        const original = expected.find((e) => e['detail-type'] === body['detail-type']);
        assert.deepEqual(body.detail, original?.detail);
        validateEvent(body);
      }
    }
  });

  describe('local Lambda runner', () => {
    const logs: RunnerLogEntry[] = [];
    const fn = () => {
      const f = env.resources.functions['run-recorder'];
      assert.ok(f?.queueUrl && f.dlqUrl && f.maxReceiveCount);
      return f as typeof f & { queueUrl: string; dlqUrl: string; maxReceiveCount: number };
    };
    const run = async (): Promise<LocalLambdaRunner> => {
      resetCalls();
      logs.length = 0;
      return env.startRunner({
        functions: ['run-recorder'],
        handlers: { 'run-recorder': scriptedHandler },
        retryVisibilityTimeoutSeconds: 0,
        waitTimeSeconds: 1,
        log: (e) => logs.push(e),
      });
    };
    const sendBatch = async (scripts: string[]) => {
      await env.clients.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: fn().queueUrl,
          Entries: scripts.map((script, i) => ({ Id: String(i), MessageBody: JSON.stringify({ script, n: i }) })),
        }),
      );
    };
    const invocations = () => logs.filter((l) => l.message === 'lambda invocation');

    it('invokes the handler with a real SQSEvent, context and environment, and deletes what succeeded', async () => {
      const f = fn();
      const before = { ...process.env };
      await env.clients.events.send(
        new PutEventsCommand({
          Entries: [1, 2, 3].map((n) => ({
            EventBusName: env.resources.bus.name,
            Source: 'beamline-archive.bridge',
            DetailType: 'RunStart',
            Detail: JSON.stringify({ script: 'ok', n }),
          })),
        }),
      );
      const runner = await run();
      await runner.waitForIdle({ timeoutMs: 15_000 });
      await runner.stop();

      assert.equal(calls.length, 3);
      for (const c of calls) {
        assert.equal(c.receiveCount, 1);
        assert.equal(c.eventSourceARN, f.queueArn);
        assert.equal(c.awsRegion, env.region);
        assert.equal(c.functionName, f.functionName);
        assert.equal(c.tableName, env.resources.table.name);
        assert.equal(c.bucketName, env.resources.bucket.name);
        assert.equal(c.endpoint, env.awsEndpoint);
        assert.ok(c.remainingMs > 0 && c.remainingMs <= f.timeoutSeconds * 1000);
        const body = JSON.parse(c.body) as Record<string, unknown>;
        assert.equal(body['detail-type'], 'RunStart');
        assert.deepEqual(
          Object.keys(body),
          ['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail'],
          'the envelope AWS delivers',
        );
        assert.equal(body.account, env.resources.accountId);
      }
      assert.equal(await queueDepth(env.clients.sqs, f.queueUrl), 0);
      assert.equal(await queueDepth(env.clients.sqs, f.dlqUrl), 0);
      assert.ok(invocations().every((l) => l.outcome === 'success' && l.failures === 0 && typeof l.durationMs === 'number'));
      assert.equal(
        invocations().reduce((n, l) => n + Number(l.batchSize), 0),
        3,
      );
      assert.equal(process.env.TABLE_NAME, before.TABLE_NAME, 'stop() restores process.env');
    });

    it('redelivers only the messages reported in batchItemFailures', async () => {
      const f = fn();
      await sendBatch(['ok', 'fail-once', 'ok']);
      const runner = await run();
      await runner.waitForIdle({ timeoutMs: 15_000 });
      await runner.stop();

      const byScript = (s: string) => calls.filter((c) => c.script === s);
      assert.equal(byScript('ok').length, 2, 'each ok message handled once');
      assert.deepEqual(
        byScript('fail-once').map((c) => c.receiveCount),
        [1, 2],
      );
      assert.equal(calls[0]?.batchSize, 3, 'the three messages came in one batch');
      const partial = invocations().filter((l) => l.outcome === 'partial');
      assert.equal(partial.length, 1);
      assert.equal(partial[0]?.failures, 1);
      assert.equal(await queueDepth(env.clients.sqs, f.queueUrl), 0);
      assert.equal(await queueDepth(env.clients.sqs, f.dlqUrl), 0);
    });

    it('fails the whole batch when the handler throws', async () => {
      await sendBatch(['throw-once', 'ok']);
      const runner = await run();
      await runner.waitForIdle({ timeoutMs: 15_000 });
      await runner.stop();
      assert.deepEqual(calls.map((c) => `${c.script}#${c.receiveCount}`).sort(), ['ok#1', 'ok#2', 'throw-once#1', 'throw-once#2']);
      assert.equal(invocations().filter((l) => l.outcome === 'error').length, 1);
      assert.equal(await queueDepth(env.clients.sqs, fn().queueUrl), 0);
    });

    it('lands a message that always fails in the DLQ after maxReceiveCount receives, moved once', async () => {
      const f = fn();
      await sendBatch(['fail-always', 'ok']);
      const runner = await run();
      await runner.waitForIdle({ timeoutMs: 20_000 });
      await runner.stop();

      const failing = calls.filter((c) => c.script === 'fail-always');
      assert.deepEqual(
        failing.map((c) => c.receiveCount),
        Array.from({ length: f.maxReceiveCount }, (_, i) => i + 1),
      );
      assert.equal(calls.filter((c) => c.script === 'ok').length, 1);
      assert.equal(await queueDepth(env.clients.sqs, f.queueUrl), 0);
      const dead = await receiveAll(env.clients.sqs, f.dlqUrl, { consume: true });
      assert.equal(dead.length, 1, 'exactly one copy in the DLQ');
      assert.equal(JSON.parse(dead[0]?.Body ?? '{}').script, 'fail-always');
      assert.equal(runner.stats['run-recorder']?.redriven, 0, 'the emulator redrove it; the runner did not move it a second time');
    });

    it("runs the app's own handler from the template's entry, configured by the template's environment", async () => {
      const f = fn();
      const sample = JSON.parse(readFileSync(join(samples, 'run-start.json'), 'utf8')) as {
        source: string;
        'detail-type': string;
        detail: { uid: string };
      };
      await env.clients.events.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: env.resources.bus.name,
              Source: sample.source,
              DetailType: sample['detail-type'],
              Detail: JSON.stringify(sample.detail),
            },
          ],
        }),
      );
      logs.length = 0;
      const runner = await env.startRunner({ functions: ['run-recorder'], retryVisibilityTimeoutSeconds: 0, log: (e) => logs.push(e) });
      await runner.waitForIdle({ timeoutMs: 20_000 });
      await runner.stop();
      assert.deepEqual(
        invocations().map((l) => [l.function, l.outcome, l.batchSize]),
        [['run-recorder', 'success', 1]],
      );
      const { Item: run } = await env.clients.dynamo.send(
        new GetCommand({ TableName: env.resources.table.name, Key: { pk: `RUN#${sample.detail.uid}`, sk: 'RUN' } }),
      );
      assert.equal(run?.state, 'RECORDING');
      assert.equal(await queueDepth(env.clients.sqs, f.queueUrl), 0);
    });

    it('moves an exhausted message to the DLQ itself when the emulator queue has no redrive policy', async () => {
      const { sqs } = env.clients;
      const p = env.resources.prefix;
      const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${p}-plain-dlq` }))).QueueUrl ?? '';
      const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${p}-plain` }))).QueueUrl ?? '';
      const attrs = async (url: string) =>
        (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? '';
      const [queueArn, dlqArn] = [await attrs(queueUrl), await attrs(dlqUrl)];
      const f = fn();
      const local = { ...f, name: 'plain', functionName: `${p}-plain` };
      let seen = 0;
      const runnerLogs: RunnerLogEntry[] = [];
      const runner = new LocalLambdaRunner({
        sqs,
        awsEndpoint: env.awsEndpoint,
        retryVisibilityTimeoutSeconds: 0,
        log: (e) => runnerLogs.push(e),
        resources: {
          region: env.region,
          accountId: env.resources.accountId,
          functions: { plain: local },
          queues: {
            Plain: {
              stackName: 'test',
              logicalId: 'Plain',
              name: `${p}-plain`,
              url: queueUrl,
              arn: queueArn,
              visibilityTimeoutSeconds: 30,
              deadLetter: { arn: dlqArn, url: dlqUrl, logicalId: 'PlainDlq', maxReceiveCount: 2 },
            },
          },
          eventSourceMappings: [
            {
              stackName: 'test',
              logicalId: 'Esm',
              functionLogicalId: local.logicalId,
              functionName: local.functionName,
              queueLogicalId: 'Plain',
              queueArn,
              queueUrl,
              batchSize: 10,
              maximumBatchingWindowInSeconds: 0,
              reportBatchItemFailures: true,
              enabled: true,
            },
          ],
        },
        handlers: {
          plain: async (event) => {
            seen += event.Records.length;
            return { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) };
          },
        },
      });
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'always failing' }));
      await runner.start();
      await runner.waitForIdle({ timeoutMs: 15_000 });
      await runner.stop();
      assert.equal(seen, 2);
      assert.equal(runner.stats.plain?.redriven, 1);
      const dead = await receiveAll(sqs, dlqUrl, { consume: true });
      assert.deepEqual(
        dead.map((m) => m.Body),
        ['always failing'],
      );
      assert.ok(runnerLogs.some((l) => l.message === 'moved to dead-letter queue by the runner'));
    });
  });
});
