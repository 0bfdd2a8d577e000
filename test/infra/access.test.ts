// Access (issue 15): each API function has its IAM URL and a people URL (AuthType NONE on the
// `people` alias, bearer tokens checked by the function); the OIDC issuer and audience come from the
// CDK context; cdk-nag AwsSolutions runs during the synthesis (a finding fails it).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/bin/app.js';

const outdir = mkdtempSync(join(tmpdir(), 'beamline-archive-access-cdk-'));
const ISSUER = 'https://sso.example.org/realms/facility';
const { app, compute } = buildApp({
  outdir, nag: true,
  context: { 'aws:cdk:bundling-stacks': [], oidcIssuer: ISSUER, oidcAudience: 'archive-api', corsOrigins: 'https://portal.example.org', embargoYears: '5' },
});
app.synth();
const template = Template.fromStack(compute);
after(() => rmSync(outdir, { recursive: true, force: true }));

const API_FUNCTIONS = ['dataset-api', 'analysis-api', 'export-api'];
const resources = () => template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
const functionIdOf = (service: string): string => {
  const ids = Object.keys(template.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: service }) } },
  }));
  assert.equal(ids.length, 1, service);
  return ids[0]!;
};

describe('access: identity at the function URLs', () => {
  for (const service of API_FUNCTIONS) {
    it(`${service}: an IAM URL for machines and a people URL (NONE on the people alias, CORS for the portal's origin)`, () => {
      const id = functionIdOf(service);
      const urls = Object.values(template.findResources('AWS::Lambda::Url', { Properties: { TargetFunctionArn: { 'Fn::GetAtt': [id, 'Arn'] } } }))
        .map((u) => (u as { Properties: { AuthType: string; Qualifier?: string; Cors?: { AllowOrigins: string[]; AllowHeaders: string[] } } }).Properties);
      assert.deepEqual(urls.map((u) => [u.AuthType, u.Qualifier ?? '']).sort(), [['AWS_IAM', ''], ['NONE', 'people']]);
      const people = urls.find((u) => u.AuthType === 'NONE')!;
      assert.deepEqual(people.Cors?.AllowOrigins, ['https://portal.example.org']);
      assert.ok(people.Cors?.AllowHeaders.includes('authorization'));
    });

    it(`${service}: trusts the issuer and audience of the context, with the embargo period`, () => {
      const variables = (resources()[functionIdOf(service)]!.Properties.Environment as { Variables: Record<string, string> }).Variables;
      assert.equal(variables.OIDC_ISSUER, ISSUER);
      assert.equal(variables.OIDC_AUDIENCE, 'archive-api');
      assert.equal(variables.EMBARGO_YEARS, '5');
    });
  }

  it('lets anyone invoke only the people alias, and only through its URL', () => {
    const open = Object.values(template.findResources('AWS::Lambda::Permission', { Properties: { Principal: '*' } }))
      .map((p) => (p as { Properties: Record<string, unknown> }).Properties);
    assert.equal(open.length, API_FUNCTIONS.length * 2);
    for (const permission of open) {
      assert.ok(permission.FunctionUrlAuthType === 'NONE' || permission.InvokedViaFunctionUrl === true, JSON.stringify(permission));
      assert.ok(JSON.stringify(permission.FunctionName).includes('PeopleAlias'), JSON.stringify(permission.FunctionName));
    }
  });

  it('refuses an issuer that is not a URL and an embargo that is not a number of years', () => {
    assert.throws(() => buildApp({ context: { 'aws:cdk:bundling-stacks': [], oidcIssuer: 'sso.example.org' } }), /oidcIssuer must be an http\(s\) URL/);
    assert.throws(() => buildApp({ context: { 'aws:cdk:bundling-stacks': [], embargoYears: 'three' } }), /embargoYears/);
  });
});
