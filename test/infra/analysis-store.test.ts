// The analysis store in the compute stack: an IAM-authorised function URL, and a role that touches
// objects under analysis/ only and the catalogue table (+ gsi1) only.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/bin/app.js';

const outdir = mkdtempSync(join(tmpdir(), 'beamline-archive-analysis-cdk-'));
const { compute } = buildApp({ outdir, nag: true, context: { 'aws:cdk:bundling-stacks': [] } });
const template = Template.fromStack(compute);
after(() => rmSync(outdir, { recursive: true, force: true }));

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };
const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
const functionId = (): string => {
  const ids = Object.keys(
    template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'analysis-api' }) } },
    }),
  );
  assert.equal(ids.length, 1);
  return ids[0]!;
};

describe('analysis store', () => {
  it('is the analysis-api function with the h5wasm layer, its entry metadata and the common environment', () => {
    const fn = template.toJSON().Resources[functionId()] as {
      Metadata: Record<string, unknown>;
      Properties: { Layers: unknown[]; Environment: { Variables: Record<string, unknown> }; Runtime: string };
    };
    assert.equal(fn.Metadata['BeamlineArchive:Entry'], 'functions/analysis-api/handler.ts');
    assert.equal(fn.Properties.Layers.length, 1);
    assert.equal(fn.Properties.Runtime, 'nodejs24.x');
    for (const key of ['BUCKET_NAME', 'TABLE_NAME', 'EVENT_BUS_NAME', 'LOG_LEVEL'])
      assert.ok(key in fn.Properties.Environment.Variables, key);
  });

  it('is reachable through a function URL with AuthType AWS_IAM and the people URL (NONE, on the people alias; tokens checked by the function), and nothing else', () => {
    const urls = Object.values(
      template.findResources('AWS::Lambda::Url', { Properties: { TargetFunctionArn: { 'Fn::GetAtt': [functionId(), 'Arn'] } } }),
    ).map((u) => (u as { Properties: { AuthType: string; Qualifier?: string } }).Properties);
    assert.deepEqual(urls.map((u) => [u.AuthType, u.Qualifier ?? '']).sort(), [
      ['AWS_IAM', ''],
      ['NONE', 'people'],
    ]);
    assert.equal(
      Object.keys(template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { FunctionName: { Ref: functionId() } } }))
        .length,
      0,
    );
    const outputs = Object.keys(template.toJSON().Outputs as object);
    assert.ok(
      outputs.some((o) => o.includes('AnalysisApiUrl')),
      outputs.join(' '),
    );
  });

  it('lets its role write and read objects under analysis/ only, list that prefix only, and use the table and gsi1 only', () => {
    const fn = template.toJSON().Resources[functionId()] as { Properties: { Role: { 'Fn::GetAtt': [string, string] } } };
    const roleId = fn.Properties.Role['Fn::GetAtt'][0];
    const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } });
    const statements = Object.values(policies).flatMap(
      (p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
    );
    const actions = statements.flatMap((s) => asArray(s.Action));
    assert.ok(!actions.some((a) => a.includes('*') || a.startsWith('events:') || a === 's3:DeleteObject'), actions.join(' '));
    const objects = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('s3:') && a !== 's3:ListBucket'));
    assert.equal(objects.length, 1);
    assert.deepEqual(asArray(objects[0]!.Action).sort(), ['s3:GetObject', 's3:PutObject']);
    assert.match(JSON.stringify(objects[0]!.Resource), /\/analysis\/\*"\]\]\}$/);
    const list = statements.find((s) => asArray(s.Action).includes('s3:ListBucket'));
    assert.deepEqual(list?.Condition, { StringLike: { 's3:prefix': ['analysis/*'] } });
    const dynamo = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('dynamodb:')));
    // Reads of the table and gsi1; writes of its own items only, on the table (test/infra/least-privilege.test.ts).
    assert.equal(dynamo.length, 2);
    const resources = asArray(dynamo[0]!.Resource).map((r) => JSON.stringify(r));
    assert.equal(resources.length, 2);
    assert.ok(resources.every((r) => r.includes('Catalogue')) && resources.some((r) => r.endsWith('/index/gsi1"]]}')), resources.join(' '));
    const writes = asArray(dynamo[1]!.Resource).map((r) => JSON.stringify(r));
    assert.ok(writes.length === 1 && writes[0]!.includes('Catalogue') && !writes[0]!.includes('index'), writes.join(' '));
  });
});
