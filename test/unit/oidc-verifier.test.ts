/**
 * Token verification defects of the issue 15 review (src/adapters/oidc-verifier.ts), against real
 * HTTP issuers on loopback (discovery + JWKS served here, keys generated here):
 * - an ID token (nonce, at_hash, Keycloak `typ: ID`, Cognito `token_use: id`, another header typ) is
 *   refused even when its issuer, audience and signature are right; access tokens pass;
 * - an http:// issuer or JWKS URL outside loopback is refused at configuration;
 * - an issuer whose discovery or keys cannot be fetched is a 503 (IssuerUnavailableError), not a 401;
 * - the local issuer answers CORS to loopback pages only and refuses other pages' token requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import {
  createTokenVerifier,
  IssuerUnavailableError,
  oidcSettingsFromEnv,
  UnauthenticatedError,
} from '../../src/adapters/oidc-verifier.js';
import { accessFailure } from '../../functions/shared/access-errors.js';
import { startOidcIssuer, type LocalOidcIssuer } from '../../local/oidc-issuer.js';

const AUDIENCE = 'beamline-archive';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

describe('OIDC token verification (review defects)', () => {
  let issuer = '';
  let server: Server;
  let privateKey: CryptoKey;
  let local: LocalOidcIssuer;
  const hanging: Server[] = [];

  before(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
      else res.end(JSON.stringify({ keys: [jwk] }));
    });
    issuer = await listen(server);
    local = await startOidcIssuer();
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
    for (const s of hanging) {
      s.closeAllConnections();
      await new Promise((done) => s.close(done));
    }
    await local.stop();
  });

  const token = (claims: Record<string, unknown>, typ?: string) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', ...(typ ? { typ } : {}) })
      .setIssuer(issuer)
      .setAudience(AUDIENCE)
      .setSubject('user-alice')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);

  it('accepts access tokens: typ at+jwt (RFC 9068), Keycloak typ Bearer, a plain JWT without ID-token claims', async () => {
    const verifier = createTokenVerifier({ issuer, audience: AUDIENCE });
    for (const t of [
      await token({ proposals: ['p1'], nonce: 'n' }, 'at+jwt'),
      await token({ proposals: ['p1'], typ: 'Bearer', nonce: 'n', azp: 'portal' }, 'JWT'),
      await token({ proposals: ['p1'] }),
      await token({ proposals: ['p1'], token_use: 'access' }, 'JWT'),
    ]) {
      assert.deepEqual((await verifier.verify(t)).proposals, ['p1']);
    }
  });

  it('refuses ID tokens and other token types signed by the right issuer for the right audience', async () => {
    const verifier = createTokenVerifier({ issuer, audience: AUDIENCE });
    const cases: [string, RegExp][] = [
      [await token({ nonce: 'abc', proposals: ['p1'] }), /nonce: it is an ID token/],
      [await token({ at_hash: 'x' }, 'JWT'), /at_hash: it is an ID token/],
      [await token({ typ: 'ID', roles: ['archive-admin'] }, 'JWT'), /typ claim is "ID"/],
      [await token({ token_use: 'id' }), /token_use is "id"/],
      [await token({}, 'logout+jwt'), /type is "logout\+jwt"/],
    ];
    for (const [t, reason] of cases) {
      await assert.rejects(verifier.verify(t), (e: Error) => e instanceof UnauthenticatedError && reason.test(e.message), String(reason));
    }
  });

  it('refuses an http:// issuer or JWKS URL outside loopback (https required), allows loopback http', () => {
    assert.throws(() => createTokenVerifier({ issuer: 'http://sso.example.org/realms/facility', audience: AUDIENCE }), /https/);
    assert.throws(
      () => createTokenVerifier({ issuer: 'https://sso.example.org', audience: AUDIENCE, jwksUri: 'http://sso.example.org/jwks' }),
      /https/,
    );
    assert.throws(() => oidcSettingsFromEnv({ OIDC_ISSUER: 'http://10.0.0.5:8080/realms/x' }), /OIDC_ISSUER must be an https URL/);
    assert.throws(
      () => oidcSettingsFromEnv({ OIDC_ISSUER: 'https://sso.example.org', OIDC_JWKS_URI: 'http://sso.example.org/certs' }),
      /OIDC_JWKS_URI/,
    );
    assert.equal(oidcSettingsFromEnv({ OIDC_ISSUER: 'https://sso.example.org' })?.issuer, 'https://sso.example.org');
    assert.equal(oidcSettingsFromEnv({ OIDC_ISSUER: 'http://127.0.0.1:8700' })?.issuer, 'http://127.0.0.1:8700');
    assert.equal(oidcSettingsFromEnv({ OIDC_ISSUER: 'http://localhost:8700' })?.issuer, 'http://localhost:8700');
  });

  it('an issuer that cannot be reached is a 503 with Retry-After, not a 401', async () => {
    // Keys refused (nothing listens), keys hanging past the timeout, discovery answering 500.
    const closed = createServer();
    const closedUrl = await listen(closed);
    await new Promise((done) => closed.close(done));
    const hang = createServer(() => {
      /* never answers */
    });
    hanging.push(hang);
    const hangUrl = await listen(hang);
    const broken = createServer((_req, res) => {
      res.writeHead(500);
      res.end('down');
    });
    hanging.push(broken);
    const brokenUrl = await listen(broken);
    const t = await token({ proposals: ['p1'] }, 'at+jwt');
    for (const settings of [
      { issuer, audience: AUDIENCE, jwksUri: `${closedUrl}/jwks` },
      { issuer, audience: AUDIENCE, jwksUri: `${hangUrl}/jwks`, timeoutMs: 300 },
      { issuer, audience: AUDIENCE, jwksUri: `${brokenUrl}/jwks` },
      { issuer: brokenUrl, audience: AUDIENCE },
      { issuer: closedUrl, audience: AUDIENCE },
    ]) {
      const error = await createTokenVerifier(settings)
        .verify(t)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(error instanceof IssuerUnavailableError, `${JSON.stringify(settings)}: ${String(error)}`);
      const answer = accessFailure(error, undefined);
      assert.equal(answer?.statusCode, 503);
      assert.equal(answer?.headers['retry-after'], '30');
      assert.match(answer?.body ?? '', /sign-in service is unavailable|discovery/);
    }
    // A key the JWKS does not have stays the token's fault.
    const other = await generateKeyPair('RS256');
    const unknownKey = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'other' })
      .setIssuer(issuer)
      .setAudience(AUDIENCE)
      .setSubject('mallory')
      .setExpirationTime('1h')
      .sign(other.privateKey);
    await assert.rejects(createTokenVerifier({ issuer, audience: AUDIENCE }).verify(unknownKey), UnauthenticatedError);
  });

  it('the local issuer answers CORS to loopback pages only; a token request from another page is refused', async () => {
    const body = 'grant_type=password&username=admin';
    const headers = (origin: string) => ({ origin, 'content-type': 'application/x-www-form-urlencoded' });
    const evil = await fetch(`${local.issuer}/token`, { method: 'POST', headers: headers('https://evil.example'), body });
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
    assert.equal(((await evil.json()) as { access_token?: string }).access_token, undefined);
    const preflight = await fetch(`${local.issuer}/token`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    const portal = await fetch(`${local.issuer}/token`, { method: 'POST', headers: headers('http://127.0.0.1:5173'), body });
    assert.equal(portal.status, 200);
    assert.equal(portal.headers.get('access-control-allow-origin'), 'http://127.0.0.1:5173');
    const cli = await fetch(`${local.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    assert.equal(cli.status, 200, 'a client that is not a page (no Origin) keeps working');
  });
});
