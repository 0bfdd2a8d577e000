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
  const ids = Object.keys(template.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: service }) } },
  }));
  assert.equal(ids.length, 1, service);
  return ids[0]!;
};
const statementsOf = (service: string): Statement[] => {
  const roleId = (resources()[functionIdOf(service)]!.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } });
  return Object.values(policies).flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement);
};
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
    const mapping = Object.values(template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { FunctionName: { Ref: workerId } } }));
    assert.equal(mapping.length, 1);
    assert.equal((mapping[0] as Resource).Properties.BatchSize, 1);
    assert.deepEqual((mapping[0] as Resource).Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
    const queueId = ((mapping[0] as Resource).Properties.EventSourceArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    const queue = resources()[queueId]!;
    assert.equal(queue.Properties.VisibilityTimeout, 5400);
    const dlqId = ((queue.Properties.RedrivePolicy as { deadLetterTargetArn: { 'Fn::GetAtt': [string] } }).deadLetterTargetArn)['Fn::GetAtt'][0];
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    assert.ok(Object.values(alarms).some((a) => text(a).includes(dlqId)), 'an alarm watches the worker DLQ');
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
    assert.ok(!statements.some((s) => actions(s).some((a) => a.startsWith('s3:Put')) && text(s.Resource).includes('/archive/')), 'the worker never writes under archive/');
    const events = statements.filter((s) => actions(s).includes('events:PutEvents'));
    assert.deepEqual(events.map((s) => s.Condition), [{ StringEquals: { 'events:source': 'beamline-archive.exports' } }]);
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
    assert.deepEqual(s3.map((s) => actions(s)), [['s3:GetObject']]);
    assert.match(text(s3[0]!.Resource), /\/exports\/\*"\]\]\}$/);
    const events = statements.filter((s) => actions(s).includes('events:PutEvents'));
    assert.deepEqual(events.map((s) => s.Condition), [{ StringEquals: { 'events:source': 'beamline-archive.export-api' } }]);
    assert.deepEqual(actions(statements.find((s) => s.Sid === 'CatalogueExports')!), ['dynamodb:GetItem']);
    const writes = statements.filter((s) => actions(s).some((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a)));
    assert.deepEqual(writes.map((s) => [actions(s), s.Condition]), [[['dynamodb:PutItem'], { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${exportPk('')}*`, 'AUDIT#*'] } }]],
      'the API creates export records and audit entries only (pk EXPORT#…, AUDIT#…), never another catalogue item');
  });
});
