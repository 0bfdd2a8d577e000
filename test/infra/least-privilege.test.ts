// Least privilege, tightened (issue 15 item 6), asserted on the synthesized compute stack (cdk-nag on):
// dataset-api deletes only *.tmp objects; analysis-api and export-worker write only their own item
// types (dynamodb:LeadingKeys); the heavy queue-fed functions (scan-writer, export-worker) have a
// maximum concurrency.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/bin/app.js';
import { SCAN_WRITER_MAX_CONCURRENCY } from '../../infra/stacks/compute-stack.js';
import { EXPORT_WORKER_MAX_CONCURRENCY } from '../../infra/constructs/exports.js';

const outdir = mkdtempSync(join(tmpdir(), 'beamline-archive-least-privilege-cdk-'));
const { app, compute } = buildApp({ outdir, nag: true, context: { 'aws:cdk:bundling-stacks': [] } });
app.synth();
const template = Template.fromStack(compute);
after(() => rmSync(outdir, { recursive: true, force: true }));

type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };
type Resource = { Type: string; Properties: Record<string, unknown> };
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
const statementsOf = (service: string): Statement[] => {
  const roleId = (resources()[functionIdOf(service)]!.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } });
  return Object.values(policies).flatMap(
    (p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
  );
};
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const text = (value: unknown) => JSON.stringify(value);
const WRITES = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:*'];

describe('least privilege (issue 15 item 6)', () => {
  it('dataset-api deletes only .tmp objects under archive/ (never a published master or scan file)', () => {
    const deletes = statementsOf('dataset-api').filter((s) => actions(s).some((a) => a.startsWith('s3:Delete') || a === 's3:*'));
    assert.equal(deletes.length, 1, text(deletes));
    assert.deepEqual(actions(deletes[0]!).sort(), ['s3:DeleteObject', 's3:DeleteObjectVersion']);
    assert.match(text(deletes[0]!.Resource), /\/archive\/\*\.tmp"\]\]\}$/);
  });

  for (const [service, keys] of [
    ['analysis-api', ['RUN#*', 'PROV#*', 'AUDIT#*']],
    ['export-worker', ['EXPORT#*', 'PROV#*']],
  ] as const) {
    it(`${service} writes only its own item types: every write action under a dynamodb:LeadingKeys condition (${keys.join(', ')})`, () => {
      const writes = statementsOf(service).filter((s) => actions(s).some((a) => WRITES.includes(a)));
      assert.ok(writes.length >= 1);
      for (const statement of writes) {
        assert.deepEqual(statement.Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...keys] } }, text(statement));
        assert.ok(!text(statement.Resource).includes('/index/'), 'no writes through an index');
      }
      assert.ok(!statementsOf(service).some((s) => actions(s).includes('dynamodb:DeleteItem')), `${service} deletes no item`);
    });
  }

  it('the heavy functions have a maximum concurrency on their queue (scan-writer, export-worker)', () => {
    for (const [service, maximum] of [
      ['scan-writer', SCAN_WRITER_MAX_CONCURRENCY],
      ['export-worker', EXPORT_WORKER_MAX_CONCURRENCY],
    ] as const) {
      const mappings = Object.values(
        template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { FunctionName: { Ref: functionIdOf(service) } } }),
      );
      assert.equal(mappings.length, 1, service);
      assert.deepEqual((mappings[0] as Resource).Properties.ScalingConfig, { MaximumConcurrency: maximum }, service);
    }
  });
});
