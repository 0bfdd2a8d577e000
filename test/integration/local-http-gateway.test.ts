import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.js';
import type { HttpGateway } from '../../local/http-gateway.js';
import type { StackTemplate } from '../../local/cloudformation-template.js';
import { signedRequest } from '../../src/adapters/signed-http.js';

/** One function with an IAM-authorised URL, one without a URL. */
const templates: StackTemplate[] = [{
  stackName: 'GatewayTest',
  dependencies: [],
  template: {
    Resources: {
      EchoFunction: {
        Type: 'AWS::Lambda::Function',
        Metadata: { 'BeamlineArchive:Entry': 'test/support/handlers/echo-url-handler.ts' },
        Properties: { Handler: 'index.handler', Runtime: 'nodejs20.x', Environment: { Variables: { GREETING: 'hello' } } },
      },
      EchoUrl: { Type: 'AWS::Lambda::Url', Properties: { AuthType: 'AWS_IAM', TargetFunctionArn: { 'Fn::GetAtt': ['EchoFunction', 'Arn'] } } },
    },
  },
}];

describe('local HTTP gateway for function URLs', () => {
  let env: LocalEnvironment;
  let gateway: HttpGateway;
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

  before(async () => {
    env = await startLocalEnvironment({ templates, redis: false });
    gateway = await env.startHttpGateway();
  });
  after(async () => { await env?.stop(); });

  it('records the URL on its function and serves it under /fn/<name>/', () => {
    assert.deepEqual(env.resources.functions['echo-function']?.functionUrl, { authType: 'AWS_IAM' });
    assert.match(gateway.urlOf('echo-function'), /^http:\/\/127\.0\.0\.1:\d+\/fn\/echo-function\/$/);
  });

  const url = (path = '') => `${gateway.urlOf('echo-function')}${path}`;

  it('invokes the handler with a payload-2.0 event for a SigV4-signed request', async () => {
    const response = await signedRequest({ url: url('created?x=1'), method: 'POST', body: { a: [1, 2] } }, { region: env.region, credentials });
    assert.equal(response.status, 201);
    assert.equal(response.headers['x-echo'], 'yes');
    assert.deepEqual(response.json, { method: 'POST', rawPath: '/created', query: { x: '1' }, body: { a: [1, 2] }, greeting: 'hello' });
  });

  it('refuses unsigned requests, wrong secrets, unknown keys and other regions with 403', async () => {
    const unsigned = await fetch(url('x'));
    assert.equal(unsigned.status, 403);
    const wrongSecret = await signedRequest({ url: url('x') }, { region: env.region, credentials: { ...credentials, secretAccessKey: 'nope' } });
    assert.equal(wrongSecret.status, 403);
    assert.match(wrongSecret.body, /signature does not match/);
    const wrongKey = await signedRequest({ url: url('x') }, { region: env.region, credentials: { ...credentials, accessKeyId: 'AKIAOTHER' } });
    assert.equal(wrongKey.status, 403);
    const otherRegion = await signedRequest({ url: url('x') }, { region: 'us-east-1', credentials });
    assert.equal(otherRegion.status, 403);
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
