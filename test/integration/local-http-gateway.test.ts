import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.js';
import type { HttpGateway } from '../../local/http-gateway.js';
import type { StackTemplate } from '../../local/cloudformation-template.js';
import { createHash } from 'node:crypto';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256, signedRequest } from '../../src/adapters/signed-http.js';
import { emulatorCredentials } from '../../local/aws-target.js';

/** One function with an IAM-authorised URL, one without a URL. */
const templates: StackTemplate[] = [
  {
    stackName: 'GatewayTest',
    dependencies: [],
    template: {
      Resources: {
        EchoFunction: {
          Type: 'AWS::Lambda::Function',
          Metadata: { 'BeamlineArchive:Entry': 'test/support/handlers/echo-url-handler.ts' },
          Properties: { Handler: 'index.handler', Runtime: 'nodejs24.x', Environment: { Variables: { GREETING: 'hello' } } },
        },
        EchoUrl: {
          Type: 'AWS::Lambda::Url',
          Properties: { AuthType: 'AWS_IAM', TargetFunctionArn: { 'Fn::GetAtt': ['EchoFunction', 'Arn'] } },
        },
      },
    },
  },
];

describe('local HTTP gateway for function URLs', () => {
  let env: LocalEnvironment;
  let gateway: HttpGateway;
  const credentials = emulatorCredentials();

  before(async () => {
    env = await startLocalEnvironment({ templates, redis: false });
    gateway = await env.startHttpGateway();
  });
  after(async () => {
    await env?.stop();
  });

  it('records the URL on its function and serves it under /fn/<name>/', () => {
    assert.deepEqual(env.resources.functions['echo-function']?.functionUrl, { authType: 'AWS_IAM' });
    assert.match(gateway.urlOf('echo-function'), /^http:\/\/127\.0\.0\.1:\d+\/fn\/echo-function\/$/);
  });

  const url = (path = '') => `${gateway.urlOf('echo-function')}${path}`;

  it('invokes the handler with a payload-2.0 event for a SigV4-signed request', async () => {
    const response = await signedRequest(
      { url: url('created?x=1'), method: 'POST', body: { a: [1, 2] } },
      { region: env.region, credentials },
    );
    assert.equal(response.status, 201);
    assert.equal(response.headers['x-echo'], 'yes');
    assert.deepEqual(response.json, { method: 'POST', rawPath: '/created', query: { x: '1' }, body: { a: [1, 2] }, greeting: 'hello' });
  });

  it('refuses unsigned requests, wrong secrets, unknown keys and other regions with 403', async () => {
    const unsigned = await fetch(url('x'));
    assert.equal(unsigned.status, 403);
    const wrongSecret = await signedRequest(
      { url: url('x') },
      { region: env.region, credentials: { ...credentials, secretAccessKey: 'nope' } },
    );
    assert.equal(wrongSecret.status, 403);
    assert.match(wrongSecret.body, /signature does not match/);
    const wrongKey = await signedRequest(
      { url: url('x') },
      { region: env.region, credentials: { ...credentials, accessKeyId: 'AKIAOTHER' } },
    );
    assert.equal(wrongKey.status, 403);
    const otherRegion = await signedRequest({ url: url('x') }, { region: 'us-east-1', credentials });
    assert.equal(otherRegion.status, 403);
  });

  /** Signs a request with the real client, then lets the test alter what is sent. */
  async function signHeaders(path: string, body: string, headerNames?: string[]): Promise<Record<string, string>> {
    const target = new URL(url(path));
    const signer = new SignatureV4({ credentials, region: env.region, service: 'lambda', sha256: NodeSha256 });
    const all: Record<string, string> = {
      host: target.host,
      'content-type': 'application/json',
      'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
    };
    const headers = headerNames ? Object.fromEntries(Object.entries(all).filter(([k]) => headerNames.includes(k))) : all;
    const signed = await signer.sign(
      new HttpRequest({
        protocol: 'http:',
        hostname: target.hostname,
        port: Number(target.port),
        method: 'POST',
        path: target.pathname,
        headers,
        body,
      }),
    );
    return Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k !== 'host'));
  }

  it('refuses a body other than the one signed, an unsigned host and a malformed date', async () => {
    const headers = await signHeaders('x', '{"a":1}');
    const genuine = await fetch(url('x'), { method: 'POST', headers, body: '{"a":1}' });
    assert.equal(genuine.status, 200);
    const tampered = await fetch(url('x'), { method: 'POST', headers, body: '{"a":2}' });
    assert.equal(tampered.status, 403);
    assert.match(await tampered.text(), /does not match the body/);
    const withoutBodyHash = Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'x-amz-content-sha256'));
    const tamperedUnclaimed = await fetch(url('x'), { method: 'POST', headers: withoutBodyHash, body: '{"a":2}' });
    assert.equal(tamperedUnclaimed.status, 403);
    const hostless = await signHeaders('x', '{}', ['x-amz-content-sha256']);
    const noHost = await fetch(url('x'), { method: 'POST', headers: hostless, body: '{}' });
    assert.equal(noHost.status, 403);
    assert.match(await noHost.text(), /host is not among the signed headers/);
    const badDate = await fetch(url('x'), { method: 'POST', headers: { ...headers, 'x-amz-date': 'yesterday' }, body: '{"a":1}' });
    assert.equal(badDate.status, 403);
    assert.match(await badDate.text(), /malformed x-amz-date/);
  });

  it('answers 502 without details when the handler throws, 404 for a function without URL', async () => {
    const failed = await signedRequest({ url: url('boom') }, { region: env.region, credentials });
    assert.equal(failed.status, 502);
    assert.doesNotMatch(failed.body, /secret detail/);
    const missing = await fetch(`${gateway.baseUrl}/fn/nothing/`);
    assert.equal(missing.status, 404);
    assert.throws(() => gateway.urlOf('nothing'), /has no function URL/);
  });
});
