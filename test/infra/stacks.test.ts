// CDK assertions on the two stacks and cdk-nag's AwsSolutions pack, from one in-process synthesis.
// Run: node --import tsx --test test/infra/*.test.ts
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { buildApp, sourceRepositoryOf, STACK_NAMES, withoutCredentials } from '../../infra/bin/app.js';

// Arrange once for the whole file: nag on, so synthesis itself fails on an unacknowledged finding.
const outdir = mkdtempSync(join(tmpdir(), 'beamline-archive-cdk-'));
// Two beamlines, so that each has its own bridge role (docs/access.md, "The edge").
const { app, storage, compute } = buildApp({ outdir, nag: true, context: { beamlines: 'id21,id16b' } });
const assembly = app.synth();
const storageTemplate = Template.fromStack(storage);
const computeTemplate = Template.fromStack(compute);
after(() => rmSync(outdir, { recursive: true, force: true }));

type Resource = { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> };
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const logicalIdOf = (template: Template, type: string, props: Record<string, unknown>): string => {
  const ids = Object.keys(template.findResources(type, { Properties: props }));
  assert.equal(ids.length, 1, `expected one ${type} matching ${JSON.stringify(props)}, got ${ids.length}`);
  return ids[0]!;
};
const functionId = (name: string): string =>
  logicalIdOf(computeTemplate, 'AWS::Lambda::Function', {
    Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: name }) },
  });
const roleIdOf = (name: string): string => {
  const fn = computeTemplate.toJSON().Resources[functionId(name)] as Resource;
  return (fn.Properties?.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
};
const statementsOfRole = (roleId: string): Statement[] => {
  const policies = computeTemplate.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } });
  return Object.values(policies).flatMap(
    (p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
  );
};
const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
/** A resource rendered as text: `{"Fn::Join":["",[X,"/staging/*"]]}` ends with `/staging/*"]]}`. */
const resourceText = (resource: unknown): string => (typeof resource === 'string' ? resource : JSON.stringify(resource));

describe('source repository of provenance records', () => {
  it('never carries credentials of a git remote', () => {
    assert.equal(
      withoutCredentials('https://user:s3cret@git.example.org/beamline-archive.git'),
      'https://git.example.org/beamline-archive.git',
    );
    assert.equal(withoutCredentials('https://git.example.org/beamline-archive.git'), 'https://git.example.org/beamline-archive.git');
    assert.equal(
      withoutCredentials('git@git.example.org:facility/beamline-archive.git'),
      'git@git.example.org:facility/beamline-archive.git',
    );
  });

  it('names a clone of a local folder, or a checkout without origin, by a file URL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ba-origin-'));
    try {
      execFileSync('git', ['init', '-q', dir]);
      assert.equal(sourceRepositoryOf(dir), pathToFileURL(dir).href);
      execFileSync('git', ['-C', dir, 'remote', 'add', 'origin', '/srv/git/beamline-archive']);
      assert.equal(sourceRepositoryOf(dir), 'file:///srv/git/beamline-archive');
      execFileSync('git', ['-C', dir, 'remote', 'set-url', 'origin', 'https://ci:tok@git.example.org/ba.git']);
      assert.equal(sourceRepositoryOf(dir), 'https://git.example.org/ba.git');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('app', () => {
  it('synthesizes the three stacks under their fixed names', () => {
    assert.deepEqual(assembly.stacks.map((s) => s.stackName).sort(), [STACK_NAMES.compute, STACK_NAMES.portal, STACK_NAMES.storage].sort());
    assert.deepEqual(
      compute.dependencies.map((s) => s.stackName),
      [STACK_NAMES.storage],
    );
  });
});

describe('storage stack', () => {
  it('has exactly the stateful resources', () => {
    storageTemplate.resourceCountIs('AWS::S3::Bucket', 2);
    storageTemplate.resourceCountIs('AWS::DynamoDB::Table', 1);
    storageTemplate.resourceCountIs('AWS::Events::EventBus', 1);
    storageTemplate.resourceCountIs('AWS::Events::Archive', 1);
    // One bridge role and its policy per beamline, nothing else.
    storageTemplate.resourceCountIs('AWS::IAM::ManagedPolicy', 2);
    storageTemplate.resourceCountIs('AWS::IAM::Role', 2);
    storageTemplate.resourceCountIs('AWS::Lambda::Function', 0);
  });

  it('keeps a versioned, encrypted, private archive bucket that logs its access', () => {
    const logsId = logicalIdOf(storageTemplate, 'AWS::S3::Bucket', { LoggingConfiguration: Match.absent() });
    storageTemplate.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        LoggingConfiguration: { DestinationBucketName: { Ref: logsId }, LogFilePrefix: 'archive-bucket/' },
      }),
    });
  });

  it("expires staged objects by their run's end state (test/infra/monitoring.test.ts), tmp-tagged objects after 2, multipart leftovers after 1", () => {
    const bucketId = logicalIdOf(storageTemplate, 'AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
    const rules = (storageTemplate.toJSON().Resources[bucketId] as Resource).Properties?.LifecycleConfiguration as { Rules: unknown[] };
    assert.deepEqual(rules.Rules, [
      {
        Id: 'expire-staging-archived',
        Prefix: 'staging/',
        TagFilters: [{ Key: 'run-state', Value: 'archived' }],
        ExpirationInDays: 7,
        Status: 'Enabled',
      },
      {
        Id: 'expire-staging-failed',
        Prefix: 'staging/',
        TagFilters: [{ Key: 'run-state', Value: 'failed' }],
        ExpirationInDays: 60,
        Status: 'Enabled',
      },
      {
        Id: 'expire-staging-stalled',
        Prefix: 'staging/',
        TagFilters: [{ Key: 'run-state', Value: 'stalled' }],
        ExpirationInDays: 60,
        Status: 'Enabled',
      },
      { Id: 'expire-staging-safety', Prefix: 'staging/', ExpirationInDays: 365, Status: 'Enabled' },
      { Id: 'expire-abandoned-tmp', TagFilters: [{ Key: 'state', Value: 'tmp' }], ExpirationInDays: 2, Status: 'Enabled' },
      { Id: 'abort-incomplete-multipart-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
      {
        Id: 'expire-noncurrent-versions',
        NoncurrentVersionExpiration: { NoncurrentDays: 30 },
        ExpiredObjectDeleteMarker: true,
        Status: 'Enabled',
      },
    ]);
  });

  it('refuses plain HTTP on both buckets', () => {
    const policies = storageTemplate.findResources('AWS::S3::BucketPolicy');
    assert.equal(Object.keys(policies).length, 2);
    for (const policy of Object.values(policies)) {
      const statements = (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement;
      assert.ok(statements.some((s) => s.Effect === 'Deny' && JSON.stringify(s.Condition) === '{"Bool":{"aws:SecureTransport":"false"}}'));
    }
  });

  it('holds the catalogue table: pk/sk, gsi1, on demand, PITR, retained', () => {
    storageTemplate.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'gsi1pk', AttributeType: 'S' },
          { AttributeName: 'gsi1sk', AttributeType: 'S' },
        ]),
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        GlobalSecondaryIndexes: Match.arrayWith([
          {
            // + gsi2, gsi3 for datasets (test/infra/datasets.test.ts)
            IndexName: 'gsi1',
            KeySchema: [
              { AttributeName: 'gsi1pk', KeyType: 'HASH' },
              { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ]),
      },
    });
  });

  it('names the bus beamline-archive and archives every event of it', () => {
    const busId = logicalIdOf(storageTemplate, 'AWS::Events::EventBus', { Name: 'beamline-archive' });
    storageTemplate.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [busId, 'Arn'] },
      EventPattern: { account: [{ Ref: 'AWS::AccountId' }] },
      RetentionDays: 365,
    });
  });

  it("gives each beamline's bridge a role that publishes only as that beamline, stages under its own staging/<beamline>/ and uploads Lima files into that beamline's scan folders", () => {
    const busId = logicalIdOf(storageTemplate, 'AWS::Events::EventBus', { Name: 'beamline-archive' });
    const bucketId = logicalIdOf(storageTemplate, 'AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
    const bridgeDetailTypes = ['RunStart', 'EventDescriptor', 'StreamResource', 'StreamDatum', 'RunStop', 'Run Failed', 'Bridge Heartbeat'];
    for (const beamline of ['id21', 'id16b']) {
      const roleId = logicalIdOf(storageTemplate, 'AWS::IAM::Role', {
        Description: Match.stringLikeRegexp(`bridge of beamline ${beamline}:`),
      });
      // Assumed by the account's principals allowed to (the bridge host's), at most 12 hours a session.
      storageTemplate.hasResourceProperties('AWS::IAM::Role', {
        Description: Match.stringLikeRegexp(`bridge of beamline ${beamline}:`),
        MaxSessionDuration: 43200,
        AssumeRolePolicyDocument: {
          Statement: [Match.objectLike({ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { AWS: Match.anyValue() } })],
        },
      });
      storageTemplate.hasResourceProperties('AWS::IAM::ManagedPolicy', {
        Roles: [{ Ref: roleId }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'PublishAsThisBeamline',
              Effect: 'Allow',
              Action: 'events:PutEvents',
              Resource: { 'Fn::GetAtt': [busId, 'Arn'] },
              Condition: {
                StringEquals: { 'events:source': `beamline-archive.bridge.${beamline}`, 'events:detail-type': bridgeDetailTypes },
              },
            },
            {
              Sid: 'StageChunks',
              Effect: 'Allow',
              Action: 's3:PutObject',
              Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, `/staging/${beamline}/*`]] },
            },
            {
              Sid: 'UploadLimaFiles',
              Effect: 'Allow',
              Action: ['s3:PutObject', 's3:AbortMultipartUpload'],
              Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, `/archive/*/${beamline}/*/scan*/*`]] },
            },
          ],
        },
      });
    }
    // No role of the storage stack may publish as the plain source, or as a service.
    const statements = Object.values(storageTemplate.findResources('AWS::IAM::ManagedPolicy')).flatMap(
      (p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
    );
    for (const st of statements.filter((x) => asArray(x.Action).includes('events:PutEvents'))) {
      assert.match(
        String((st.Condition as { StringEquals: Record<string, string> }).StringEquals['events:source']),
        /^beamline-archive\.bridge\.(id21|id16b)$/,
      );
    }
  });

  it('outputs the names the functions and the bridge need', () => {
    const outputs = storageTemplate.toJSON().Outputs as Record<string, { Value: unknown }>;
    assert.deepEqual(
      Object.keys(outputs)
        .filter((k) => !k.startsWith('ExportsOutput'))
        .sort(),
      ['BridgeRoleArnid16b', 'BridgeRoleArnid21', 'BucketName', 'EventBusName', 'TableName'],
    );
    const bucketId = logicalIdOf(storageTemplate, 'AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
    assert.deepEqual(outputs.BucketName?.Value, { Ref: bucketId });
    assert.deepEqual(outputs.EventBusName?.Value, {
      Ref: logicalIdOf(storageTemplate, 'AWS::Events::EventBus', { Name: 'beamline-archive' }),
    });
  });
});

describe('compute stack', () => {
  it('has the functions, queues, rules, alarms and layer', () => {
    computeTemplate.resourceCountIs('AWS::Lambda::Function', 9); // + analysis-api (test/infra/analysis-store.test.ts), dataset-recorder, dataset-api (test/infra/datasets.test.ts), export-api, export-worker (test/infra/exports.test.ts), notifier, run-watchdog (test/infra/monitoring.test.ts)
    computeTemplate.resourceCountIs('AWS::Lambda::LayerVersion', 1);
    computeTemplate.resourceCountIs('AWS::Lambda::EventSourceMapping', 5); // + dataset-recorder, export-worker, notifier
    computeTemplate.resourceCountIs('AWS::SQS::Queue', 11); // 5 queues, 5 DLQs (with dataset-recorder's, export-worker's and notifier's), 1 rule-delivery DLQ
    computeTemplate.resourceCountIs('AWS::Events::Rule', 7); // + re-archive requests, dataset-recorder, export-worker, notifier, the watchdog's schedule
    computeTemplate.resourceCountIs('AWS::CloudWatch::Alarm', 11); // + dataset-recorder's, export-worker's and notifier's DLQs, stalled runs, bridge heartbeat (any bridge, and one per beamline: id21, id16b), watchdog errors
    computeTemplate.resourceCountIs('AWS::S3::Bucket', 0);
    computeTemplate.resourceCountIs('AWS::DynamoDB::Table', 0);
  });

  for (const [name, expected] of [
    ['run-recorder', { MemorySize: 512, Timeout: 60, EphemeralStorage: Match.absent(), layers: 0 }],
    ['scan-writer', { MemorySize: 3008, Timeout: 900, EphemeralStorage: { Size: 10240 }, layers: 1 }],
  ] as const) {
    it(`configures ${name}: nodejs24.x ESM bundle, sizes, environment, entry metadata`, () => {
      const fn = computeTemplate.toJSON().Resources[functionId(name)] as Resource;
      assert.deepEqual(fn.Metadata?.['BeamlineArchive:Entry'], `functions/${name}/handler.ts`);
      computeTemplate.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs24.x',
        Handler: 'index.handler',
        MemorySize: expected.MemorySize,
        Timeout: expected.Timeout,
        EphemeralStorage: expected.EphemeralStorage,
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: name, LOG_LEVEL: 'INFO' }) },
      });
      const variables = (fn.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;
      for (const key of ['BUCKET_NAME', 'TABLE_NAME', 'EVENT_BUS_NAME', 'POWERTOOLS_SERVICE_NAME', 'LOG_LEVEL']) {
        assert.ok(key in variables, `${name} lacks ${key}`);
      }
      assert.equal(asArray(fn.Properties?.Layers ?? []).length, expected.layers);
      // The bundle is ESM with `require` defined, and h5wasm / the AWS SDK are left out of it.
      const s3Key = (fn.Properties?.Code as { S3Key: string }).S3Key;
      const bundle = readFileSync(join(outdir, `asset.${s3Key.replace(/\.zip$/, '')}`, 'index.mjs'), 'utf8');
      assert.match(bundle, /createRequire/);
    });
  }

  // --- scan file storage (nexus engineer): compression and chunk size per deployment ---
  it('sets no NEXUS_* variable by default: the scan-writer keeps the documented defaults', () => {
    const variables = (computeTemplate.toJSON().Resources[functionId('scan-writer')] as Resource).Properties?.Environment as {
      Variables: Record<string, unknown>;
    };
    assert.deepEqual(
      Object.keys(variables.Variables).filter((k) => k.startsWith('NEXUS_')),
      [],
    );
  });

  it('passes the scan file storage context to the scan-writer only, and refuses a bad value at synthesis', () => {
    const context = {
      'aws:cdk:bundling-stacks': [],
      scanFileGzip: '0',
      scanFileGzipMinBytes: 65536,
      scanFileGzipSpectra: '4',
      scanFileGzipImages: 2,
      scanFileMaxChunkBytes: '2097152',
    };
    const configured = Template.fromStack(buildApp({ context }).compute).toJSON().Resources as Record<string, Resource>;
    const envOf = (name: string) =>
      Object.values(configured).find(
        (r) =>
          r.Type === 'AWS::Lambda::Function' &&
          (r.Properties?.Environment as { Variables: Record<string, unknown> }).Variables.POWERTOOLS_SERVICE_NAME === name,
      )!.Properties!.Environment as { Variables: Record<string, unknown> };
    assert.deepEqual(Object.fromEntries(Object.entries(envOf('scan-writer').Variables).filter(([k]) => k.startsWith('NEXUS_'))), {
      NEXUS_GZIP: '0',
      NEXUS_GZIP_MIN_BYTES: '65536',
      NEXUS_GZIP_SPECTRA: '4',
      NEXUS_GZIP_IMAGES: '2',
      NEXUS_MAX_CHUNK_BYTES: '2097152',
    });
    assert.deepEqual(
      Object.keys(envOf('run-recorder').Variables).filter((k) => k.startsWith('NEXUS_')),
      [],
    );
    assert.throws(
      () => buildApp({ context: { 'aws:cdk:bundling-stacks': [], scanFileGzipImages: '11' } }),
      /NEXUS_GZIP_IMAGES must be a gzip level/,
    );
    assert.throws(
      () => buildApp({ context: { 'aws:cdk:bundling-stacks': [], scanFileGzipSpectra: 'max' } }),
      /context scanFileGzipSpectra must be a non-negative integer, got "max"/,
    );
  });
  // --- end scan file storage ---

  it('stages h5wasm at nodejs/node_modules/h5wasm in the layer asset', () => {
    const layer = Object.values(computeTemplate.findResources('AWS::Lambda::LayerVersion'))[0] as Resource;
    assert.deepEqual(layer.Properties?.CompatibleRuntimes, ['nodejs24.x']);
    const s3Key = (layer.Properties?.Content as { S3Key: string }).S3Key;
    const pkg = join(outdir, `asset.${s3Key.replace(/\.zip$/, '')}`, 'nodejs', 'node_modules', 'h5wasm', 'package.json');
    assert.ok(existsSync(pkg), `missing ${pkg}`);
    assert.equal((JSON.parse(readFileSync(pkg, 'utf8')) as { name: string }).name, 'h5wasm');
  });

  for (const [name, timeout, batchSize] of [
    ['run-recorder', 60, 10],
    ['scan-writer', 900, 1],
  ] as const) {
    it(`feeds ${name} from an encrypted queue with a DLQ, partial batch failures and an alarm`, () => {
      const mapping = Object.values(
        computeTemplate.findResources('AWS::Lambda::EventSourceMapping', {
          Properties: { FunctionName: { Ref: functionId(name) } },
        }),
      )[0] as Resource | undefined;
      assert.ok(mapping, `no event source mapping for ${name}`);
      assert.equal(mapping.Properties?.BatchSize, batchSize);
      assert.deepEqual(mapping.Properties?.FunctionResponseTypes, ['ReportBatchItemFailures']);

      const queueId = (mapping.Properties?.EventSourceArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const queue = computeTemplate.toJSON().Resources[queueId] as Resource;
      assert.equal(queue.Properties?.VisibilityTimeout, timeout * 6);
      assert.equal(queue.Properties?.SqsManagedSseEnabled, true);
      const redrive = queue.Properties?.RedrivePolicy as {
        maxReceiveCount: number;
        deadLetterTargetArn: { 'Fn::GetAtt': [string, string] };
      };
      assert.equal(redrive.maxReceiveCount, 5);
      const dlqId = redrive.deadLetterTargetArn['Fn::GetAtt'][0];
      assert.equal((computeTemplate.toJSON().Resources[dlqId] as Resource).Properties?.SqsManagedSseEnabled, true);

      for (const id of [queueId, dlqId]) {
        computeTemplate.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: id }],
          PolicyDocument: {
            Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
          },
        });
      }
      computeTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    });
  }

  it("routes run documents and failures to run-recorder, RunStop and operators' re-archive requests to scan-writer, exactly", () => {
    const rules = Object.values(computeTemplate.findResources('AWS::Events::Rule')) as Resource[];
    const patterns = rules.map((r) => r.Properties?.EventPattern);
    assert.deepEqual(patterns, [
      // every beamline's bridge (beamline-archive.bridge.<beamline>), and the plain source too, refused by the functions with a reason
      {
        source: [{ prefix: 'beamline-archive.bridge' }, 'beamline-archive.scan-writer', 'beamline-archive.run-recorder'],
        'detail-type': ['RunStart', 'EventDescriptor', 'StreamResource', 'StreamDatum', 'RunStop', 'Run Failed'],
      },
      { source: [{ prefix: 'beamline-archive.bridge' }], 'detail-type': ['RunStop'] },
      // an explicit re-archive of an ARCHIVED run (docs/adr/0012-checked-writes-and-conditional-publish.md)
      { source: ['beamline-archive.operator'], 'detail-type': ['Rearchive Requested'] },
      // dataset-recorder: scans join their dataset (test/infra/datasets.test.ts)
      { source: [{ prefix: 'beamline-archive.bridge' }, 'beamline-archive.scan-writer'], 'detail-type': ['RunStart', 'Run Archived'] },
      // export-worker: exports asked for by the API or any client (test/infra/exports.test.ts)
      { source: ['beamline-archive.export-api', 'beamline-archive.export-client'], 'detail-type': ['Export Requested'] },
      // notifier: people are told; heartbeats counted (test/infra/monitoring.test.ts)
      {
        source: [
          { prefix: 'beamline-archive.bridge' },
          'beamline-archive.scan-writer',
          'beamline-archive.run-recorder',
          'beamline-archive.run-watchdog',
        ],
        'detail-type': ['Run Failed', 'Run Stalled', 'Bridge Heartbeat'],
      },
      // the run-watchdog's schedule (no pattern)
      undefined,
    ]);
    for (const [rule, name] of [
      [rules[0], 'run-recorder'],
      [rules[1], 'scan-writer'],
      [rules[2], 'scan-writer'],
    ] as const) {
      // On the storage stack's bus, imported.
      assert.match(JSON.stringify(rule?.Properties?.EventBusName), /Fn::ImportValue.*EventBus/);
      const targets = rule?.Properties?.Targets as { Arn: { 'Fn::GetAtt': [string, string] }; DeadLetterConfig?: unknown }[];
      assert.equal(targets.length, 1);
      const mapping = Object.values(
        computeTemplate.findResources('AWS::Lambda::EventSourceMapping', {
          Properties: { FunctionName: { Ref: functionId(name) } },
        }),
      )[0] as Resource;
      assert.deepEqual(targets[0]?.Arn, mapping.Properties?.EventSourceArn);
      assert.ok(targets[0]?.DeadLetterConfig, `${name} rule target has no DLQ`);
    }
  });

  it('routes undeliverable events to an alarmed rule DLQ', () => {
    // Rules fed by the bus (the watchdog's schedule rule invokes its function directly).
    const rules = (Object.values(computeTemplate.findResources('AWS::Events::Rule')) as Resource[]).filter(
      (r) => r.Properties?.EventPattern,
    );
    const dlqArns = rules.map((r) =>
      JSON.stringify((r.Properties?.Targets as { DeadLetterConfig: { Arn: unknown } }[])[0]?.DeadLetterConfig.Arn),
    );
    assert.equal(new Set(dlqArns).size, 1);
    const ruleDlqId = (JSON.parse(dlqArns[0]!) as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    computeTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ruleDlqId, 'QueueName'] } }],
    });
  });
});

describe('least privilege', () => {
  const allStatements = (): Statement[] =>
    Object.values(computeTemplate.findResources('AWS::IAM::Policy')).flatMap(
      (p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
    );

  it('uses no wildcard action and no AWS managed policy', () => {
    for (const statement of allStatements()) {
      for (const action of asArray(statement.Action)) assert.ok(!action.includes('*'), `wildcard action ${action}`);
    }
    for (const role of Object.values(computeTemplate.findResources('AWS::IAM::Role'))) {
      assert.equal((role as Resource).Properties?.ManagedPolicyArns, undefined);
    }
  });

  it('scopes DynamoDB to the catalogue table and its gsi1, never *', () => {
    const all = allStatements().filter((s) => asArray(s.Action).some((a) => a.startsWith('dynamodb:')));
    // The export functions get the table alone, no index (test/infra/exports.test.ts), and so do the
    // writes of analysis-api's own items (dynamodb:LeadingKeys, test/infra/least-privilege.test.ts).
    const exportsOnly = all.filter(
      (s) =>
        asArray(s.Resource)
          .map(resourceText)
          .every((r) => !r.includes('index')) && s.Sid !== 'StallRuns',
    );
    // export-api 2, export-worker 2, the archive task's export builds 2 (test/infra/exports.test.ts), analysis-api 1
    assert.equal(exportsOnly.length, 7, JSON.stringify(exportsOnly.map((s) => s.Sid)));
    for (const statement of exportsOnly)
      assert.deepEqual(
        asArray(statement.Resource)
          .map(resourceText)
          .filter((r) => r.includes('index')),
        [],
      );
    // The run-watchdog: the table and the runs-by-state index only (test/infra/monitoring.test.ts).
    const watchdog = all.filter((s) => s.Sid === 'StallRuns');
    assert.equal(watchdog.length, 1);
    assert.deepEqual(
      asArray(watchdog[0]!.Resource)
        .map(resourceText)
        .filter((r) => r.includes('index'))
        .map((r) => r.includes('/index/gsi4')),
      [true],
    );
    const dynamo = all.filter((s) => !exportsOnly.includes(s) && !watchdog.includes(s));
    assert.equal(dynamo.length, 6); // run-recorder, scan-writer, archive task, analysis-api, dataset-recorder, dataset-api
    for (const statement of dynamo) {
      const resources = asArray(statement.Resource).map(resourceText);
      assert.ok(resources.length === 2 || resources.length === 4); // datasets: + index/gsi2, index/gsi3
      assert.ok(
        resources.every((r) => r !== '*' && r.includes('Catalogue')),
        resources.join(' '),
      );
      assert.ok(
        resources.some((r) => r.endsWith('/index/gsi1"]]}')),
        resources.join(' '),
      );
    }
  });

  it('lets run-recorder only read and write catalogue items, tag staged objects of failed runs under staging/ (no read, no write) and announce Run Failed as itself', () => {
    const statements = statementsOfRole(roleIdOf('run-recorder'));
    const actions = statements.flatMap((s) => asArray(s.Action));
    assert.deepEqual(actions.filter((a) => a.startsWith('dynamodb:')).sort(), [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    assert.deepEqual(actions.filter((a) => a.startsWith('s3:')).sort(), ['s3:ListBucket', 's3:PutObjectTagging'], actions.join(' '));
    const s3 = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('s3:')));
    const tagging = s3.find((s) => asArray(s.Action).includes('s3:PutObjectTagging'))!;
    assert.ok(
      asArray(tagging.Resource).every((r) => resourceText(r).endsWith('/staging/*"]]}')),
      JSON.stringify(tagging.Resource),
    );
    const listing = s3.find((s) => asArray(s.Action).includes('s3:ListBucket'))!;
    assert.deepEqual(listing.Condition, { StringLike: { 's3:prefix': ['staging/*'] } });
    const events = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('events:')));
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]?.Condition, { StringEquals: { 'events:source': 'beamline-archive.run-recorder' } });
  });

  it('lets scan-writer read staging/, publish under archive/, put events on the bus only', () => {
    const statements = statementsOfRole(roleIdOf('scan-writer'));
    const objectStatements = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('s3:') && a !== 's3:ListBucket'));
    const byPrefix = (suffix: string) =>
      objectStatements
        .filter((s) => asArray(s.Resource).every((r) => resourceText(r).endsWith(`${suffix}"]]}`)))
        .flatMap((s) => asArray(s.Action))
        .sort();
    assert.deepEqual(byPrefix('/staging/*'), ['s3:GetObject', 's3:PutObjectTagging'], 'reads chunks, tags them when the run ends');
    assert.deepEqual(byPrefix('/archive/*'), ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject', 's3:PutObjectTagging']);
    assert.deepEqual(
      byPrefix('/archive/*.tmp'),
      ['s3:DeleteObject', 's3:DeleteObjectVersion'],
      'only objects under construction can be deleted (the version uploaded, for good)',
    );
    assert.equal(objectStatements.length, 3, 'every object statement is scoped to staging/ or archive/');

    const list = statements.find((s) => asArray(s.Action).includes('s3:ListBucket'));
    assert.deepEqual(list?.Condition, { StringLike: { 's3:prefix': ['staging/*', 'archive/*'] } });

    const events = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('events:')));
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]?.Action, 'events:PutEvents');
    assert.match(resourceText(events[0]?.Resource), /Fn::ImportValue.*EventBus/);
    assert.deepEqual(
      events[0]?.Condition,
      { StringEquals: { 'events:source': 'beamline-archive.scan-writer' } },
      'it speaks only as itself',
    );
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding across both stacks', () => {
    const report = new AwsSolutionsChecks().validateScope(app);
    const findings = report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    assert.deepEqual(findings, []);
    assert.equal(report.success, true);
  });

  it('leaves no error or warning annotation on either stack', () => {
    for (const stack of [storage, compute]) {
      const annotations = Annotations.fromStack(stack);
      assert.deepEqual(annotations.findError('*', Match.anyValue()), []);
      assert.deepEqual(annotations.findWarning('*', Match.anyValue()), []);
    }
  });

  it('acknowledges only the expected findings, each with a reason', () => {
    const acknowledged = new Map<string, string>();
    const visit = (node: IConstruct): void => {
      for (const entry of node.node.metadata) {
        if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
          for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
            acknowledged.set(`${node.node.path} ${id.replace(/^[^:]+::(?=AwsSolutions|CloudFormation)/, '')}`, reason);
          }
        }
      }
      node.node.children.forEach(visit);
    };
    visit(app);
    const ids = [...acknowledged.keys()]
      .map((k) => k.replace(/ExportsOutput\w+/, 'EXPORT').replace(/ArchiveBucket[0-9A-F]{8}/, 'ArchiveBucket'))
      .sort();
    assert.deepEqual(ids, [
      // Acknowledged by CDK's own Vpc/FlowLog constructs (the task engine's network).
      'BeamlineArchiveCompute CloudFormation-Validate::W3010',
      'BeamlineArchiveCompute/AnalysisStore/Role/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/analysis/*]',
      'BeamlineArchiveCompute/ArchiveTask/TaskDefinition AwsSolutions-ECS2',
      'BeamlineArchiveCompute/ArchiveTask/TaskDefinition/ExecutionRole/DefaultPolicy AwsSolutions-IAM5[Resource::*]',
      'BeamlineArchiveCompute/ArchiveTask/TaskDefinition/TaskRole/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/archive/*.tmp]',
      'BeamlineArchiveCompute/ArchiveTask/TaskDefinition/TaskRole/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/archive/*]',
      'BeamlineArchiveCompute/ArchiveTask/TaskDefinition/TaskRole/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/exports/*.tmp]',
      'BeamlineArchiveCompute/ArchiveTask/TaskDefinition/TaskRole/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/exports/*]',
      'BeamlineArchiveCompute/ArchiveTask/TaskDefinition/TaskRole/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/staging/*]',
      'BeamlineArchiveCompute/ArchiveTask/Vpc/all CloudFormation-Validate::F3002',
      'BeamlineArchiveCompute/ArchiveTask/Vpc/all CloudFormation-Validate::F3003',
      'BeamlineArchiveCompute/Datasets/ApiRole/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/archive/*.tmp]',
      'BeamlineArchiveCompute/Datasets/ApiRole/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/archive/*]',
      'BeamlineArchiveCompute/Exports/ApiRole/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/exports/*]',
      'BeamlineArchiveCompute/Exports/ExportWorker/Role/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/archive/*]',
      'BeamlineArchiveCompute/Exports/ExportWorker/Role/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/exports/*.tmp]',
      'BeamlineArchiveCompute/Exports/ExportWorker/Role/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/exports/*]',
      'BeamlineArchiveCompute/Monitoring/WatchdogRole/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/staging/*]',
      'BeamlineArchiveCompute/RuleDeadLetterQueue AwsSolutions-SQS3',
      'BeamlineArchiveCompute/RunRecorder/Role/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/staging/*]',
      'BeamlineArchiveCompute/ScanWriter/Role/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/archive/*.tmp]',
      'BeamlineArchiveCompute/ScanWriter/Role/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/archive/*]',
      'BeamlineArchiveCompute/ScanWriter/Role/DefaultPolicy AwsSolutions-IAM5[Resource::BeamlineArchiveStorage:EXPORT/staging/*]',
      'BeamlineArchivePortal/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C512MiB AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'BeamlineArchivePortal/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C512MiB AwsSolutions-IAM5[Action::s3:Abort*]',
      'BeamlineArchivePortal/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C512MiB AwsSolutions-IAM5[Action::s3:DeleteObject*]',
      'BeamlineArchivePortal/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C512MiB AwsSolutions-IAM5[Action::s3:GetBucket*]',
      'BeamlineArchivePortal/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C512MiB AwsSolutions-IAM5[Action::s3:GetObject*]',
      'BeamlineArchivePortal/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C512MiB AwsSolutions-IAM5[Action::s3:List*]',
      'BeamlineArchivePortal/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C512MiB AwsSolutions-IAM5[Resource::*]',
      'BeamlineArchivePortal/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C512MiB AwsSolutions-IAM5[Resource::<PortalSite62340F06.Arn>/*]',
      'BeamlineArchivePortal/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C512MiB AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]',
      'BeamlineArchivePortal/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C512MiB AwsSolutions-L1',
      'BeamlineArchivePortal/Portal AwsSolutions-CFR1',
      'BeamlineArchivePortal/Portal AwsSolutions-CFR2',
      'BeamlineArchivePortal/Portal AwsSolutions-CFR4',
      'BeamlineArchivePortal/PortalLogs AwsSolutions-S1',
      'BeamlineArchiveStorage/AccessLogsBucket AwsSolutions-S1',
      'BeamlineArchiveStorage/BridgeRoles/Bridge-id16b-Policy AwsSolutions-IAM5[Resource::<ArchiveBucket.Arn>/archive/*/id16b/*/scan*/*]',
      'BeamlineArchiveStorage/BridgeRoles/Bridge-id16b-Policy AwsSolutions-IAM5[Resource::<ArchiveBucket.Arn>/staging/id16b/*]',
      'BeamlineArchiveStorage/BridgeRoles/Bridge-id21-Policy AwsSolutions-IAM5[Resource::<ArchiveBucket.Arn>/archive/*/id21/*/scan*/*]',
      'BeamlineArchiveStorage/BridgeRoles/Bridge-id21-Policy AwsSolutions-IAM5[Resource::<ArchiveBucket.Arn>/staging/id21/*]',
    ]);
    for (const reason of acknowledged.values()) assert.ok(reason.length > 40, `reason too thin: ${reason}`);
  });
});

describe('task engine (infra/constructs/archive-task.ts)', () => {
  const resources = computeTemplate.toJSON().Resources as Record<string, Resource>;
  const [taskDefId, taskDef] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::ECS::TaskDefinition')!;
  const [clusterId] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::ECS::Cluster')!;

  it('defines a Fargate task with 200 GiB of ephemeral storage, its image an asset of this repository built at deploy, logs to its own group', () => {
    const props = taskDef.Properties as Record<string, unknown>;
    assert.deepEqual(props.RequiresCompatibilities, ['FARGATE']);
    assert.deepEqual(props.EphemeralStorage, { SizeInGiB: 200 });
    const [container] = props.ContainerDefinitions as Record<string, unknown>[];
    assert.match(JSON.stringify(container?.Image), /container-assets/);
    assert.equal((container?.LogConfiguration as { LogDriver: string }).LogDriver, 'awslogs');
    const env = Object.fromEntries((container?.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
    assert.equal(env.TASK_ENGINE, 'none', 'a task never hands a run over again');
    assert.ok(env.BUCKET_NAME && env.TABLE_NAME && env.EVENT_BUS_NAME, 'the scan-writer configuration');
  });

  it('stages the image context at synth without building it, and without node_modules, .venv or .local', () => {
    const manifest = JSON.parse(readFileSync(join(assembly.directory, `${STACK_NAMES.compute}.assets.json`), 'utf8')) as {
      dockerImages: Record<string, { source: { directory: string; dockerFile?: string } }>;
    };
    const images = Object.values(manifest.dockerImages);
    assert.equal(images.length, 1);
    const context = join(assembly.directory, images[0]!.source.directory);
    assert.equal(images[0]!.source.dockerFile, 'infra/task/Dockerfile');
    assert.ok(
      existsSync(join(context, 'infra/task/Dockerfile')) &&
        existsSync(join(context, 'functions/archive-task/main.ts')) &&
        existsSync(join(context, 'package-lock.json')),
    );
    for (const absent of ['node_modules', '.venv', '.local', '.git', 'test', 'cdk.out', 'web'])
      assert.equal(existsSync(join(context, absent)), false, `${absent} is not in the image context`);
  });

  it('lets the scan-writer start that task only (RunTask on its definition in its cluster, PassRole of its two roles to ECS)', () => {
    const statements = statementsOfRole(roleIdOf('scan-writer'));
    const run = statements.filter((s) => asArray(s.Action).includes('ecs:RunTask'));
    assert.equal(run.length, 1);
    assert.deepEqual(run[0]?.Resource, { Ref: taskDefId });
    assert.deepEqual(run[0]?.Condition, { ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': [clusterId, 'Arn'] } } });
    const pass = statements.filter((s) => asArray(s.Action).includes('iam:PassRole'));
    assert.equal(pass.length, 1);
    const props = taskDef.Properties as { TaskRoleArn: unknown; ExecutionRoleArn: unknown };
    assert.deepEqual(
      asArray(pass[0]?.Resource).map(resourceText).sort(),
      [props.TaskRoleArn, props.ExecutionRoleArn].map(resourceText).sort(),
    );
    assert.deepEqual(pass[0]?.Condition, { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
    const env = (resources[functionId('scan-writer')]!.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment
      .Variables;
    assert.equal(env.TASK_ENGINE, 'ecs');
    assert.deepEqual(env.TASK_DEFINITION_ARN, { Ref: taskDefId });
  });

  it('gives the task the data permissions of the scan-writer and of the export worker, and nothing to start tasks with', () => {
    const taskRoleId = (taskDef.Properties as { TaskRoleArn: { 'Fn::GetAtt': [string, string] } }).TaskRoleArn['Fn::GetAtt'][0];
    const sids = (id: string) =>
      statementsOfRole(id)
        .map((s) => s.Sid)
        .filter((s) => s !== undefined)
        .sort();
    // The export builds handed over to the task (test/infra/exports.test.ts asserts each export statement).
    const exportSids = [
      'AnnounceExports',
      'ListExportPrefixes',
      'PublishExports',
      'ReadArchivedScanFiles',
      'ReadCatalogue',
      'RemoveExportTmpObjects',
      'WriteExportItems',
    ];
    assert.deepEqual(
      sids(taskRoleId),
      [
        'AnnounceArchivedRuns',
        'CatalogueRuns',
        'ListOwnPrefixes',
        'PublishScanFiles',
        'ReadStagedChunks',
        'RemoveTmpObjects',
        ...exportSids,
      ].sort(),
    );
    assert.ok(!statementsOfRole(taskRoleId).some((s) => asArray(s.Action).some((a) => a.startsWith('ecs:') || a === 'iam:PassRole')));
  });
});
