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
const BRIDGE_GRANT = { principal: 'arn:aws:iam::123456789012:role/bridge-id21', beamlines: ['id21'] };
const { app, compute, storage } = buildApp({
  outdir,
  nag: true,
  context: {
    'aws:cdk:bundling-stacks': [],
    oidcIssuer: ISSUER,
    oidcAudience: 'archive-api',
    corsOrigins: 'https://portal.example.org',
    embargoYears: '5',
    iamCallers: JSON.stringify([BRIDGE_GRANT]),
  },
});
app.synth();
const template = Template.fromStack(compute);
after(() => rmSync(outdir, { recursive: true, force: true }));

const API_FUNCTIONS = ['dataset-api', 'analysis-api', 'export-api'];
const resources = () => template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
const functionIdOf = (service: string): string => {
  const ids = Object.keys(
    template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: service }) } },
    }),
  );
  assert.equal(ids.length, 1, service);
  return ids[0]!;
};

describe('access: identity at the function URLs', () => {
  for (const service of API_FUNCTIONS) {
    it(`${service}: an IAM URL for machines and a people URL (NONE on the people alias, CORS for the portal's origin)`, () => {
      const id = functionIdOf(service);
      const urls = Object.values(
        template.findResources('AWS::Lambda::Url', { Properties: { TargetFunctionArn: { 'Fn::GetAtt': [id, 'Arn'] } } }),
      ).map(
        (u) =>
          (u as { Properties: { AuthType: string; Qualifier?: string; Cors?: { AllowOrigins: string[]; AllowHeaders: string[] } } })
            .Properties,
      );
      assert.deepEqual(urls.map((u) => [u.AuthType, u.Qualifier ?? '']).sort(), [
        ['AWS_IAM', ''],
        ['NONE', 'people'],
      ]);
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
    const open = Object.values(template.findResources('AWS::Lambda::Permission', { Properties: { Principal: '*' } })).map(
      (p) => (p as { Properties: Record<string, unknown> }).Properties,
    );
    assert.equal(open.length, API_FUNCTIONS.length * 2);
    for (const permission of open) {
      assert.ok(permission.FunctionUrlAuthType === 'NONE' || permission.InvokedViaFunctionUrl === true, JSON.stringify(permission));
      assert.ok(JSON.stringify(permission.FunctionName).includes('PeopleAlias'), JSON.stringify(permission.FunctionName));
    }
  });

  it('refuses an issuer that is not a URL and an embargo that is not a number of years', () => {
    assert.throws(
      () => buildApp({ context: { 'aws:cdk:bundling-stacks': [], oidcIssuer: 'sso.example.org' } }),
      /oidcIssuer must be an http\(s\) URL/,
    );
    assert.throws(() => buildApp({ context: { 'aws:cdk:bundling-stacks': [], embargoYears: 'three' } }), /embargoYears/);
  });

  it('refuses an http:// issuer or JWKS URL outside loopback, CORS origin *, and a malformed iamCallers mapping (review defects)', () => {
    const build = (context: Record<string, unknown>) => () => buildApp({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
    assert.throws(build({ oidcIssuer: 'http://sso.example.org/realms/facility' }), /oidcIssuer must be an https URL/);
    assert.throws(build({ oidcIssuer: ISSUER, oidcJwksUri: 'http://sso.example.org/certs' }), /oidcJwksUri must be an https URL/);
    assert.throws(build({ corsOrigins: '*' }), /corsOrigins must name origins/);
    assert.throws(build({ portalOrigin: 'https://portal.example.org/app' }), /portalOrigin must be an origin/);
    assert.throws(
      build({ iamCallers: '[{"principal": "*", "roles": ["archive-admin"]}]' }),
      /IAM_CALLERS\[0\]: principal must be an IAM role or user ARN/,
    );
  });

  it('the bucket lets only the configured origins read by presigned URL (CORS), never *', () => {
    const bucket = Object.values(
      Template.fromStack(storage).findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: Match.anyValue() } }),
    )[0] as { Properties: { CorsConfiguration?: { CorsRules: { AllowedOrigins: string[] }[] } } };
    assert.deepEqual(
      bucket.Properties.CorsConfiguration?.CorsRules.map((r) => r.AllowedOrigins),
      [['https://portal.example.org']],
    );
  });

  it('without corsOrigins: the portal origin when given, else no browser origin at all (people URLs and bucket)', () => {
    for (const [context, expected] of [
      [{}, undefined],
      [{ portalOrigin: 'https://d111.cloudfront.net' }, ['https://d111.cloudfront.net']],
    ] as const) {
      const built = buildApp({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
      const urls = Object.values(
        Template.fromStack(built.compute).findResources('AWS::Lambda::Url', { Properties: { AuthType: 'NONE' } }),
      ).map((u) => (u as { Properties: { Cors?: { AllowOrigins: string[] } } }).Properties.Cors?.AllowOrigins);
      assert.equal(urls.length, API_FUNCTIONS.length);
      for (const origins of urls) assert.deepEqual(origins, expected, JSON.stringify(context));
      const bucket = Object.values(
        Template.fromStack(built.storage).findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: Match.anyValue() } }),
      )[0] as { Properties: { CorsConfiguration?: { CorsRules: { AllowedOrigins: string[] }[] } } };
      assert.deepEqual(bucket.Properties.CorsConfiguration?.CorsRules.map((r) => r.AllowedOrigins)[0], expected, JSON.stringify(context));
    }
  });

  it('IAM callers: only the operator role is an administrator; the iamCallers context adds others with their own rights', () => {
    const roleId = Object.keys(
      template.findResources('AWS::IAM::Role', { Properties: { Description: Match.stringLikeRegexp('operators') } }),
    );
    assert.equal(roleId.length, 1);
    for (const service of API_FUNCTIONS) {
      const variables = (resources()[functionIdOf(service)]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      const mapping = JSON.stringify(variables.IAM_CALLERS);
      assert.ok(mapping.includes(roleId[0]!) && mapping.includes('archive-admin'), `${service}: ${mapping}`);
      assert.ok(mapping.includes(BRIDGE_GRANT.principal) && mapping.includes('id21'), `${service}: ${mapping}`);
    }
    // The operator role may invoke the three IAM URLs, nothing else of the functions.
    const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId[0] }] } }));
    const statements = policies.flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Condition: unknown }[] } } }).Properties
          .PolicyDocument.Statement,
    );
    assert.equal(statements.length, API_FUNCTIONS.length * 2, JSON.stringify(statements));
    for (const statement of statements) {
      // InvokeFunctionUrl on the IAM URL, and InvokeFunction only through a function URL (what Lambda now asks for both).
      assert.ok(
        (statement.Action === 'lambda:InvokeFunctionUrl' &&
          JSON.stringify(statement.Condition) === '{"StringEquals":{"lambda:FunctionUrlAuthType":"AWS_IAM"}}') ||
          (statement.Action === 'lambda:InvokeFunction' &&
            JSON.stringify(statement.Condition) === '{"Bool":{"lambda:InvokedViaFunctionUrl":true}}'),
        JSON.stringify(statement),
      );
    }
  });
});
