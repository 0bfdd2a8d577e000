/**
 * The local issuer's authorization-code flow with PKCE S256 (local/oidc-authorization-code.ts),
 * driven by oauth4webapi (the maintained client the portal uses in the browser) over loopback HTTP:
 * discovery, the sign-in page, the redirect with code and state, the code exchange, an access token
 * the archive's verifier accepts and an ID token for the client. Then what must be refused: a wrong
 * verifier, a second use of a code, another redirect URI or client, a non-loopback redirect URI (an
 * error page, never a redirect), plain PKCE, no challenge, an expired code.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { startOidcIssuer, type LocalOidcIssuer } from '../../local/oidc-issuer.js';
import { AuthorizationCodeFlow, LOCAL_PORTAL_CLIENT_ID } from '../../local/oidc-authorization-code.js';
import { createTokenVerifier } from '../../src/adapters/oidc-verifier.js';

const REDIRECT = 'http://127.0.0.1:5173/portal/';
const client: oauth.Client = { client_id: LOCAL_PORTAL_CLIENT_ID };
const insecure = { [oauth.allowInsecureRequests]: true };

describe('local issuer: authorization code + PKCE S256', () => {
  let issuer: LocalOidcIssuer;
  let as: oauth.AuthorizationServer;

  before(async () => {
    issuer = await startOidcIssuer();
    const url = new URL(issuer.issuer);
    as = await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, { algorithm: 'oidc', ...insecure }));
  });
  after(() => issuer?.stop());

  /** The authorization request; the person picks `user` on the sign-in page; the redirect's URL. */
  async function authorize(user: string, overrides: Record<string, string> = {}) {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: LOCAL_PORTAL_CLIENT_ID,
      redirect_uri: REDIRECT,
      scope: 'openid',
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...overrides,
    });
    const pageResponse = await fetch(`${as.authorization_endpoint!}?${params}`, { redirect: 'manual' });
    const html = await pageResponse.text();
    if (pageResponse.status !== 200) return { verifier, state, page: pageResponse, html, location: pageResponse.headers.get('location') };
    // The page's form: its hidden fields + the chosen user's button.
    const form = new URLSearchParams(
      [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m): [string, string] => [
        m[1]!,
        m[2]!.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))),
      ]),
    );
    form.set('username', user);
    // As a browser posts the issuer's own form: with the issuer's origin.
    const posted = await fetch(as.authorization_endpoint!, {
      method: 'POST',
      body: form,
      redirect: 'manual',
      headers: { origin: new URL(issuer.issuer).origin },
    });
    return { verifier, state, page: pageResponse, html, posted, location: posted.headers.get('location') };
  }

  const exchange = async (callback: URLSearchParams, verifier: string, redirect = REDIRECT) =>
    oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), callback, redirect, verifier, insecure),
    );

  it('discovery names the authorization endpoint, the code grant and S256', () => {
    assert.equal(as.authorization_endpoint, `${issuer.issuer}/authorize`);
    assert.ok(as.grant_types_supported?.includes('authorization_code'));
    assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
  });

  it('signs alice in: sign-in page, redirect with code and state, tokens the archive accepts', async () => {
    const flow = await authorize('alice');
    assert.equal(flow.page.status, 200);
    assert.match(flow.html, /<button type="submit" name="username" value="alice">alice<\/button> <span>member of p1<\/span>/);
    assert.match(flow.page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(flow.posted!.status, 302);
    const redirect = new URL(flow.location!);
    assert.equal(`${redirect.origin}${redirect.pathname}`, REDIRECT);
    const callback = oauth.validateAuthResponse(as, client, redirect, flow.state);
    const tokens = await exchange(callback, flow.verifier);
    assert.equal(tokens.token_type, 'bearer');
    const caller = await createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience }).verify(tokens.access_token);
    assert.equal(caller.name, 'alice');
    assert.deepEqual(caller.proposals, ['p1']);
    const claims = oauth.getValidatedIdTokenClaims(tokens)!;
    assert.equal(claims.aud, LOCAL_PORTAL_CLIENT_ID);
    assert.equal(claims.sub, 'user-alice');
  });

  it('refuses a wrong verifier, and the code is then spent', async () => {
    const flow = await authorize('bob');
    const callback = oauth.validateAuthResponse(as, client, new URL(flow.location!), flow.state);
    await assert.rejects(
      exchange(callback, oauth.generateRandomCodeVerifier()),
      (e: oauth.ResponseBodyError) => e.error === 'invalid_grant' && /code_verifier does not match/.test(e.error_description!),
    );
    await assert.rejects(
      exchange(callback, flow.verifier),
      (e: oauth.ResponseBodyError) => e.error === 'invalid_grant' && /unknown, used or expired/.test(e.error_description!),
    );
  });

  it('a code is used once; its redirect URI and client must match', async () => {
    const flow = await authorize('alice');
    const callback = oauth.validateAuthResponse(as, client, new URL(flow.location!), flow.state);
    await exchange(callback, flow.verifier);
    await assert.rejects(exchange(callback, flow.verifier), (e: oauth.ResponseBodyError) => e.error === 'invalid_grant');

    const other = await authorize('alice');
    const otherCallback = oauth.validateAuthResponse(as, client, new URL(other.location!), other.state);
    await assert.rejects(exchange(otherCallback, other.verifier, 'http://127.0.0.1:5173/elsewhere/'), (e: oauth.ResponseBodyError) =>
      /redirect_uri differs/.test(e.error_description!),
    );

    const third = await authorize('alice');
    const code = new URL(third.location!).searchParams.get('code')!;
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: 'someone-else',
      code_verifier: third.verifier,
    });
    const response = await fetch(as.token_endpoint!, { method: 'POST', body });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { error_description: string }).error_description, /another client/);
  });

  it("never redirects to a URI that is not the client's; an unknown client gets an error page", async () => {
    for (const redirect of [
      'https://evil.example/cb',
      'http://127.0.0.1.evil.example/cb',
      'http://user@127.0.0.1/cb',
      'http://127.0.0.1/cb#frag',
      'javascript:alert(1)',
    ]) {
      const flow = await authorize('alice', { redirect_uri: redirect });
      assert.equal(flow.page.status, 400, redirect);
      assert.equal(flow.location, null, `no redirect to ${redirect}`);
      assert.match(flow.html, /is not one of client beamline-archive-portal's/);
    }
    const unknown = await authorize('alice', { client_id: '<script>' });
    assert.equal(unknown.page.status, 400);
    assert.match(unknown.html, /Unknown client &#34;&#60;script&#62;&#34;/, 'escaped');
  });

  it('requires PKCE S256: plain or no challenge goes back as invalid_request', async () => {
    for (const overrides of [{ code_challenge_method: 'plain' }, { code_challenge: '' }] as Record<string, string>[]) {
      const flow = await authorize('alice', overrides);
      assert.equal(flow.page.status, 302);
      const back = new URL(flow.location!);
      assert.equal(back.searchParams.get('error'), 'invalid_request');
      assert.equal(back.searchParams.get('state'), flow.state);
    }
  });

  it('a registered client gets exactly its redirect URIs', async () => {
    issuer.registerClient({ clientId: LOCAL_PORTAL_CLIENT_ID, redirectUris: ['http://127.0.0.1:9/only'] });
    try {
      assert.equal((await authorize('alice')).page.status, 400);
      assert.equal((await authorize('alice', { redirect_uri: 'http://127.0.0.1:9/only' })).page.status, 200);
    } finally {
      issuer.registerClient({ clientId: LOCAL_PORTAL_CLIENT_ID });
    }
  });

  it("the sign-in page posts back to its issuer even when only another site's pages may call it", async () => {
    const strict = await startOidcIssuer({ allowedOrigins: ['https://portal.example.org'] });
    try {
      const url = new URL(strict.issuer);
      const params = new URLSearchParams({
        response_type: 'code',
        client_id: LOCAL_PORTAL_CLIENT_ID,
        redirect_uri: REDIRECT,
        state: 's',
        username: 'alice',
        code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
        code_challenge_method: 'S256',
      });
      const own = await fetch(`${strict.issuer}/authorize`, {
        method: 'POST',
        body: params,
        redirect: 'manual',
        headers: { origin: url.origin },
      });
      assert.equal(own.status, 302);
      assert.match(own.headers.get('location')!, /[?&]code=/);
      const other = await fetch(`${strict.issuer}/authorize`, {
        method: 'POST',
        body: params,
        redirect: 'manual',
        headers: { origin: 'http://127.0.0.1:1' },
      });
      assert.equal(other.status, 403, 'a page of another origin may not post it');
    } finally {
      await strict.stop();
    }
  });

  it('codes expire after their lifetime', () => {
    let now = 0;
    const flow = new AuthorizationCodeFlow({ alice: { name: 'alice' } }, undefined, 60_000, () => now);
    const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'; // RFC 7636 appendix B
    const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    const answer = flow.authorize(
      'POST',
      new URLSearchParams({
        response_type: 'code',
        client_id: LOCAL_PORTAL_CLIENT_ID,
        redirect_uri: REDIRECT,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        username: 'alice',
      }),
    );
    const code = new URL(answer.headers.location!).searchParams.get('code')!;
    now = 60_001;
    const redeemed = flow.redeem(
      new URLSearchParams({ code, code_verifier: verifier, client_id: LOCAL_PORTAL_CLIENT_ID, redirect_uri: REDIRECT }),
    );
    assert.deepEqual(redeemed, { ok: false, error: 'invalid_grant', description: 'the code expired' });
  });

  it('the RFC 7636 example verifier matches its challenge', () => {
    const flow = new AuthorizationCodeFlow({ alice: { name: 'alice' } });
    const answer = flow.authorize(
      'POST',
      new URLSearchParams({
        response_type: 'code',
        client_id: LOCAL_PORTAL_CLIENT_ID,
        redirect_uri: REDIRECT,
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        username: 'alice',
      }),
    );
    const code = new URL(answer.headers.location!).searchParams.get('code')!;
    const redeemed = flow.redeem(
      new URLSearchParams({
        code,
        code_verifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
        client_id: LOCAL_PORTAL_CLIENT_ID,
        redirect_uri: REDIRECT,
      }),
    );
    assert.equal(redeemed.ok && redeemed.user, 'alice');
  });
});
