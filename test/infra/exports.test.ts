// The exports construct: export-api behind an IAM function URL, export-worker fed by a bus rule
// through its queue + DLQ + alarm, least-privilege grants; cdk-nag AwsSolutions runs during the synthesis.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/bin/app.js';
import { exportPk } from '../../src/adapters/dynamodb-export-catalogue.js';

const outdir = mkdtempSync(join(tmpdir(), 'beamline-archive-exports-cdk-'));
const { app, compute } = buildApp({ outdir, nag: true, context: { 'aws:cdk:bundling-stacks': [] } });
app.synth();
const template = Template.fromStack(compute);
after(() => rmSync(outdir, { recursive: true, force: true }));

type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
type Resource = { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> };
const resources = () => template.toJSON().Resources as Record<string, Resource>;
const functionIdOf = (service: string): string => {
  const ids = Object.keys(
    template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: service }) } },
    }),
  );
  assert.equal(ids.length, 1, service);
  return ids[0]!;
};
const statementsOfRole = (roleId: string): Statement[] => {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } });
  return Object.values(policies).flatMap(
    (p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
  );
};
const statementsOf = (service: string): Statement[] =>
  statementsOfRole((resources()[functionIdOf(service)]!.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0]);
const text = (value: unknown) => JSON.stringify(value);
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('exports construct', () => {
  it('serves export-api through a function URL with AuthType AWS_IAM', () => {
    const apiId = functionIdOf('export-api');
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM', TargetFunctionArn: { 'Fn::GetAtt': [apiId, 'Arn'] } });
    assert.equal(resources()[apiId]!.Metadata?.['BeamlineArchive:Entry'], 'functions/export-api/handler.ts');
    assert.ok(template.toJSON().Outputs.ExportApiUrl);
  });

  it('feeds export-worker with Export Requested from the API and clients, through its queue with a DLQ and an alarm', () => {
    const workerId = functionIdOf('export-worker');
    const worker = resources()[workerId]!;
    assert.equal(worker.Metadata?.['BeamlineArchive:Entry'], 'functions/export-worker/handler.ts');
    assert.equal((worker.Properties.Layers as unknown[]).length, 1, 'the worker reads and writes HDF5 (h5wasm layer)');
    assert.equal(worker.Properties.Timeout, 900);
    assert.equal((worker.Properties.Environment as { Variables: Record<string, unknown> }).Variables.EXPORT_LEASE_SECONDS, '900');
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['beamline-archive.export-api', 'beamline-archive.export-client'], 'detail-type': ['Export Requested'] },
    });
    const mapping = Object.values(
      template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { FunctionName: { Ref: workerId } } }),
    );
    assert.equal(mapping.length, 1);
    assert.equal((mapping[0] as Resource).Properties.BatchSize, 1);
    assert.deepEqual((mapping[0] as Resource).Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
    const queueId = ((mapping[0] as Resource).Properties.EventSourceArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    const queue = resources()[queueId]!;
    assert.equal(queue.Properties.VisibilityTimeout, 5400);
    const dlqId = (queue.Properties.RedrivePolicy as { deadLetterTargetArn: { 'Fn::GetAtt': [string] } }).deadLetterTargetArn[
      'Fn::GetAtt'
    ][0];
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    assert.ok(
      Object.values(alarms).some((a) => text(a).includes(dlqId)),
      'an alarm watches the worker DLQ',
    );
  });

  it('grants the worker archive/ read, exports/ write, deletion of exports/*.tmp only, and PutEvents as beamline-archive.exports', () => {
    const statements = statementsOf('export-worker');
    const read = statements.find((s) => s.Sid === 'ReadArchivedScanFiles')!;
    assert.deepEqual(actions(read), ['s3:GetObject']);
    assert.match(text(read.Resource), /\/archive\/\*"\]\]\}$/);
    const write = statements.find((s) => s.Sid === 'PublishExports')!;
    assert.ok(!actions(write).includes('s3:DeleteObject'));
    assert.match(text(write.Resource), /\/exports\/\*"\]\]\}$/);
    const deletes = statements.filter((s) => actions(s).includes('s3:DeleteObject'));
    assert.equal(deletes.length, 1);
    assert.match(text(deletes[0]!.Resource), /\/exports\/\*\.tmp"\]\]\}$/);
    assert.ok(
      !statements.some((s) => actions(s).some((a) => a.startsWith('s3:Put')) && text(s.Resource).includes('/archive/')),
      'the worker never writes under archive/',
    );
    const events = statements.filter((s) => actions(s).includes('events:PutEvents'));
    assert.deepEqual(
      events.map((s) => s.Condition),
      [{ StringEquals: { 'events:source': 'beamline-archive.exports' } }],
    );
    const dynamo = statements.filter((s) => actions(s).some((a) => a.startsWith('dynamodb:')));
    assert.equal(dynamo.length, 2, 'reads, and writes of its own items (test/infra/least-privilege.test.ts)');
    for (const statement of dynamo) {
      assert.ok(!text(statement.Resource).includes('index'), 'no index access');
      assert.ok(!actions(statement).includes('dynamodb:DeleteItem'));
    }
  });

  it('grants the API what it needs: records, read of exports/ for the links, PutEvents as beamline-archive.export-api', () => {
    const statements = statementsOf('export-api');
    const s3 = statements.filter((s) => actions(s).some((a) => a.startsWith('s3:')));
    assert.deepEqual(
      s3.map((s) => actions(s)),
      [['s3:GetObject']],
    );
    assert.match(text(s3[0]!.Resource), /\/exports\/\*"\]\]\}$/);
    const events = statements.filter((s) => actions(s).includes('events:PutEvents'));
    assert.deepEqual(
      events.map((s) => s.Condition),
      [{ StringEquals: { 'events:source': 'beamline-archive.export-api' } }],
    );
    assert.deepEqual(actions(statements.find((s) => s.Sid === 'CatalogueExports')!), ['dynamodb:GetItem']);
    const writes = statements.filter((s) => actions(s).some((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a)));
    assert.deepEqual(
      writes.map((s) => [actions(s), s.Condition]),
      [[['dynamodb:PutItem'], { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${exportPk('')}*`, 'AUDIT#*'] } }]],
      'the API creates export records and audit entries only (pk EXPORT#…, AUDIT#…), never another catalogue item',
    );
  });

  describe('exports too big for the worker go to the task engine (docs/adr/0017)', () => {
    const [taskDefId, taskDef] = Object.entries(resources()).find(([, r]) => r.Type === 'AWS::ECS::TaskDefinition')!;
    const [clusterId] = Object.entries(resources()).find(([, r]) => r.Type === 'AWS::ECS::Cluster')!;
    const taskProps = taskDef.Properties as {
      TaskRoleArn: { 'Fn::GetAtt': [string, string] };
      ExecutionRoleArn: { 'Fn::GetAtt': [string, string] };
      ContainerDefinitions: { Name: string; Environment: { Name: string; Value: unknown }[] }[];
    };
    const taskRoleId = taskProps.TaskRoleArn['Fn::GetAtt'][0];
    const taskStatements = () => statementsOfRole(taskRoleId);
    const sid = (statements: Statement[], name: string): Statement => {
      const found = statements.filter((s) => s.Sid === name);
      assert.equal(found.length, 1, name);
      return found[0]!;
    };

    it("tells the worker where the task engine runs (the scan-writer's variables) and how much memory a task has", () => {
      const env = (resources()[functionIdOf('export-worker')]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      assert.equal(env.TASK_ENGINE, 'ecs');
      assert.deepEqual(env.TASK_DEFINITION_ARN, { Ref: taskDefId });
      assert.deepEqual(env.TASK_CLUSTER_ARN, { 'Fn::GetAtt': [clusterId, 'Arn'] });
      assert.equal(env.TASK_CONTAINER_NAME, taskProps.ContainerDefinitions[0]!.Name);
      assert.ok(env.TASK_SUBNETS && env.TASK_SECURITY_GROUPS, 'the network of the task');
      assert.equal(env.TASK_ASSIGN_PUBLIC_IP, 'ENABLED');
      assert.equal(env.TASK_MAX_BYTES, String(190 * 1024 ** 3));
      assert.equal(env.TASK_MEMORY_MB, '16384');
      const scanWriterEnv = (resources()[functionIdOf('scan-writer')]!.Properties.Environment as { Variables: Record<string, unknown> })
        .Variables;
      for (const name of [
        'TASK_ENGINE',
        'TASK_DEFINITION_ARN',
        'TASK_CLUSTER_ARN',
        'TASK_CONTAINER_NAME',
        'TASK_SUBNETS',
        'TASK_SECURITY_GROUPS',
        'TASK_MAX_BYTES',
      ]) {
        assert.deepEqual(env[name], scanWriterEnv[name], `${name}: the same engine as the scan-writer's`);
      }
      const taskEnv = Object.fromEntries(taskProps.ContainerDefinitions[0]!.Environment.map((e) => [e.Name, e.Value]));
      assert.equal(taskEnv.TASK_MEMORY_MB, '16384', "an export build in the task is checked against the task's memory");
    });

    it('lets the worker start that task only: RunTask on its definition in its cluster, PassRole of its two roles to ECS', () => {
      const statements = statementsOf('export-worker');
      const run = statements.filter((s) => actions(s).some((a) => a.startsWith('ecs:')));
      assert.equal(run.length, 1);
      assert.deepEqual(actions(run[0]!), ['ecs:RunTask']);
      assert.deepEqual(run[0]!.Resource, { Ref: taskDefId });
      assert.deepEqual(run[0]!.Condition, { ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': [clusterId, 'Arn'] } } });
      const pass = statements.filter((s) => actions(s).includes('iam:PassRole'));
      assert.equal(pass.length, 1);
      assert.deepEqual(actions(pass[0]!), ['iam:PassRole']);
      const roles = (Array.isArray(pass[0]!.Resource) ? pass[0]!.Resource : [pass[0]!.Resource]).map(text).sort();
      assert.deepEqual(roles, [taskProps.TaskRoleArn, taskProps.ExecutionRoleArn].map(text).sort());
      assert.deepEqual(pass[0]!.Condition, { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
    });

    it("gives the task role the worker's export grants: archive/ read, exports/ write, exports/*.tmp delete, own items only, PutEvents as beamline-archive.exports", () => {
      const statements = taskStatements();
      const read = sid(statements, 'ReadArchivedScanFiles');
      assert.deepEqual(actions(read), ['s3:GetObject']);
      assert.match(text(read.Resource), /\/archive\/\*"\]\]\}$/);
      const write = sid(statements, 'PublishExports');
      assert.deepEqual(actions(write), ['s3:PutObject', 's3:GetObject', 's3:PutObjectTagging', 's3:AbortMultipartUpload']);
      assert.match(text(write.Resource), /\/exports\/\*"\]\]\}$/);
      const remove = sid(statements, 'RemoveExportTmpObjects');
      assert.deepEqual(actions(remove), ['s3:DeleteObject']);
      assert.match(text(remove.Resource), /\/exports\/\*\.tmp"\]\]\}$/);
      const exportDeletes = statements.filter(
        (s) => actions(s).some((a) => a.startsWith('s3:Delete')) && text(s.Resource).includes('/exports/'),
      );
      assert.deepEqual(exportDeletes, [remove], 'no published export can be deleted');
      const list = sid(statements, 'ListExportPrefixes');
      assert.deepEqual(actions(list), ['s3:ListBucket']);
      assert.deepEqual(list.Condition, { StringLike: { 's3:prefix': ['archive/*', 'exports/*'] } });
      const records = sid(statements, 'WriteExportItems');
      assert.deepEqual(actions(records), ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem']);
      assert.deepEqual(records.Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${exportPk('')}*`, 'PROV#*'] } });
      assert.ok(!text(records.Resource).includes('index'));
      const catalogue = sid(statements, 'ReadCatalogue');
      assert.deepEqual(actions(catalogue), ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem']);
      const events = sid(statements, 'AnnounceExports');
      assert.deepEqual(actions(events), ['events:PutEvents']);
      assert.deepEqual(events.Condition, { StringEquals: { 'events:source': 'beamline-archive.exports' } });
    });
  });
});
