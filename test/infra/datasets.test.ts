// The datasets construct: its functions, function URL (AWS_IAM), bus rule, least-privilege grants,
// the catalogue indexes it queries; cdk-nag AwsSolutions runs during the synthesis (a finding fails it).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/bin/app.js';

const outdir = mkdtempSync(join(tmpdir(), 'beamline-archive-datasets-cdk-'));
const { app, storage, compute } = buildApp({ outdir, nag: true, context: { 'aws:cdk:bundling-stacks': [] } });
app.synth();
const storageTemplate = Template.fromStack(storage);
const computeTemplate = Template.fromStack(compute);
after(() => rmSync(outdir, { recursive: true, force: true }));

type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
const resources = () =>
  computeTemplate.toJSON().Resources as Record<
    string,
    { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> }
  >;
const functionIdOf = (service: string): string => {
  const ids = Object.keys(
    computeTemplate.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: service }) } },
    }),
  );
  assert.equal(ids.length, 1, service);
  return ids[0]!;
};
const statementsOf = (service: string): Statement[] => {
  const roleId = (resources()[functionIdOf(service)]!.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
  const policies = computeTemplate.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } });
  return Object.values(policies).flatMap(
    (p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
  );
};
const text = (value: unknown) => JSON.stringify(value);

describe('datasets construct', () => {
  it('has the dataset-api behind a function URL with AuthType AWS_IAM and the h5wasm layer', () => {
    const apiId = functionIdOf('dataset-api');
    computeTemplate.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM', TargetFunctionArn: { 'Fn::GetAtt': [apiId, 'Arn'] } });
    const api = resources()[apiId]!;
    assert.equal(api.Metadata?.['BeamlineArchive:Entry'], 'functions/dataset-api/handler.ts');
    assert.equal((api.Properties.Layers as unknown[]).length, 1);
    assert.ok(computeTemplate.toJSON().Outputs.DatasetApiUrl);
  });

  it('feeds the dataset-recorder with RunStart and Run Archived through its own queue', () => {
    const recorder = resources()[functionIdOf('dataset-recorder')]!;
    assert.equal(recorder.Metadata?.['BeamlineArchive:Entry'], 'functions/dataset-recorder/handler.ts');
    assert.equal(recorder.Properties.Layers, undefined, 'the recorder never writes HDF5');
    computeTemplate.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: [{ prefix: 'beamline-archive.bridge' }, 'beamline-archive.scan-writer'],
        'detail-type': ['RunStart', 'Run Archived'],
      },
    });
  });

  it('grants the API the table and the dataset indexes by name, archive/ objects only, and PutEvents on the bus', () => {
    const statements = statementsOf('dataset-api');
    const dynamo = statements.find((s) => s.Sid === 'CatalogueDatasets')!;
    assert.ok(!text(dynamo.Resource).includes('index/*'));
    for (const index of ['gsi1', 'gsi2', 'gsi3']) assert.ok(text(dynamo.Resource).includes(`/index/${index}`), index);
    assert.ok((dynamo.Action as string[]).includes('dynamodb:ConditionCheckItem'));
    const s3 = statements.find((s) => s.Sid === 'PublishMasterFiles')!;
    assert.match(text(s3.Resource), /\/archive\/\*"\]\]\}$/);
    assert.ok(statements.some((s) => s.Sid === 'AnnounceDatasets' && s.Action === 'events:PutEvents'));
    const recorder = statementsOf('dataset-recorder');
    assert.ok(!recorder.some((s) => text(s.Action).includes('s3:')), 'the recorder touches no object');
  });

  it('the storage table has the dataset indexes gsi2 (by sample) and gsi3 (by month)', () => {
    storageTemplate.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({
          IndexName: 'gsi2',
          KeySchema: [
            { AttributeName: 'gsi2pk', KeyType: 'HASH' },
            { AttributeName: 'gsi2sk', KeyType: 'RANGE' },
          ],
        }),
        Match.objectLike({
          IndexName: 'gsi3',
          KeySchema: [
            { AttributeName: 'gsi3pk', KeyType: 'HASH' },
            { AttributeName: 'gsi3sk', KeyType: 'RANGE' },
          ],
        }),
      ]),
    });
  });
});
