/**
 * The authorization-code flow with PKCE (RFC 6749 §4.1, RFC 7636 S256) of the local OIDC issuer
 * (local/oidc-issuer.ts): the way a browser app (the portal) signs a person in, as it will with the
 * facility's Keycloak or UmbrellaID in AWS.
 *
 *   GET  /authorize?response_type=code&client_id=&redirect_uri=&code_challenge=&code_challenge_method=S256&state=&scope=openid[&nonce=]
 *        → a sign-in page listing the local users (no passwords: the issuer listens on 127.0.0.1 only)
 *   POST /authorize  (the page's form: the same parameters + username)
 *        → 302 <redirect_uri>?code=…&state=…   (or ?error=access_denied&state=… when cancelled)
 *   POST /token      grant_type=authorization_code&code=&redirect_uri=&client_id=&code_verifier=
 *        → the user the code was issued to (the issuer signs the tokens)
 *
 * Checked: the client is known and the redirect URI is one of its own (never redirected to
 * otherwise: an error page instead); PKCE S256 only (plain and no challenge refused); codes are
 * random (256 bits), single use, bound to client, redirect URI and challenge, and expire after a
 * minute.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { LocalUser } from './oidc-users.js';

/** The portal's client id at the local issuer (and the default of the CDK app's portal config). */
export const LOCAL_PORTAL_CLIENT_ID = 'beamline-archive-portal';

export interface OidcClient {
  clientId: string;
  /**
   * Exact redirect URIs. None: any loopback http(s) URI (127.0.0.1, localhost, [::1]; any port, RFC 8252
   * §7.3), as the local portal's port is chosen when it starts.
   */
  redirectUris?: string[];
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type Redeemed =
  | { ok: true; user: string; clientId: string; nonce?: string | undefined; scope: string }
  | { ok: false; error: 'invalid_request' | 'invalid_grant' | 'invalid_client'; description: string };

interface PendingCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  user: string;
  nonce?: string | undefined;
  scope: string;
  expiresAt: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
/** RFC 7636 §4.1: 43-128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function describeUser(user: LocalUser): string {
  const parts = [
    ...(user.proposals?.length ? [`member of ${user.proposals.join(', ')}`] : []),
    ...(user.beamlines?.length ? [`staff of ${user.beamlines.join(', ')}`] : []),
    ...(user.roles?.length ? [user.roles.join(', ')] : []),
  ];
  return parts.join('; ') || 'no proposal';
}

export class AuthorizationCodeFlow {
  private readonly codes = new Map<string, PendingCode>();
  private readonly clients: Map<string, OidcClient>;

  constructor(
    private readonly users: Record<string, LocalUser>,
    clients: OidcClient[] = [{ clientId: LOCAL_PORTAL_CLIENT_ID }],
    private readonly codeLifetimeMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {
    this.clients = new Map(clients.map((c) => [c.clientId, c]));
  }

  /** Adds (or replaces) a client, e.g. one with exact redirect URIs. */
  register(client: OidcClient): void {
    this.clients.set(client.clientId, client);
  }

  private redirectAllowed(client: OidcClient, redirectUri: string): boolean {
    if (client.redirectUris) return client.redirectUris.includes(redirectUri);
    let url: URL;
    try {
      url = new URL(redirectUri);
    } catch {
      return false;
    }
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      LOOPBACK.has(url.hostname) &&
      url.hash === '' &&
      url.username === '' &&
      url.password === ''
    );
  }

  /** GET /authorize (the sign-in page) and POST /authorize (the page's answer). */
  authorize(method: string, params: URLSearchParams): Answer {
    const clientId = params.get('client_id') ?? '';
    const redirectUri = params.get('redirect_uri') ?? '';
    const client = this.clients.get(clientId);
    // RFC 6749 §4.1.2.1: a bad client or redirect URI is shown, never redirected to.
    if (!client) return page(400, 'Sign-in refused', `<p>Unknown client ${escapeHtml(JSON.stringify(clientId))}.</p>`);
    if (!this.redirectAllowed(client, redirectUri)) {
      return page(
        400,
        'Sign-in refused',
        `<p>The redirect URI ${escapeHtml(JSON.stringify(redirectUri))} is not one of client ${escapeHtml(clientId)}'s.</p>`,
      );
    }
    const state = params.get('state');
    const back = (query: Record<string, string>): Answer => {
      const target = new URL(redirectUri);
      for (const [k, v] of Object.entries(query)) target.searchParams.set(k, v);
      if (state !== null) target.searchParams.set('state', state);
      return { status: 302, headers: { location: target.toString(), 'cache-control': 'no-store' }, body: '' };
    };
    if (params.get('response_type') !== 'code')
      return back({ error: 'unsupported_response_type', error_description: 'response_type=code only' });
    if (params.get('code_challenge_method') !== 'S256')
      return back({ error: 'invalid_request', error_description: 'PKCE with code_challenge_method=S256 is required' });
    const challenge = params.get('code_challenge') ?? '';
    if (!CHALLENGE.test(challenge))
      return back({
        error: 'invalid_request',
        error_description: 'code_challenge must be the base64url SHA-256 of the code verifier (43 characters)',
      });
    const scope = params.get('scope') ?? 'openid';
    const nonce = params.get('nonce') ?? undefined;

    if (method === 'GET') {
      const hidden = ['response_type', 'client_id', 'redirect_uri', 'code_challenge', 'code_challenge_method', 'state', 'scope', 'nonce']
        .filter((k) => params.get(k) !== null)
        .map((k) => `<input type="hidden" name="${k}" value="${escapeHtml(params.get(k)!)}">`)
        .join('');
      const buttons = Object.values(this.users)
        .map(
          (u) =>
            `<li><button type="submit" name="username" value="${escapeHtml(u.name)}">${escapeHtml(u.name)}</button> <span>${escapeHtml(describeUser(u))}</span></li>`,
        )
        .join('');
      return page(
        200,
        'Sign in',
        `
<p>Local OIDC issuer of beamline-archive (loopback only, for tests and demos): choose who you are to sign in to <b>${escapeHtml(clientId)}</b>.</p>
<form method="post" action="authorize" aria-label="choose a user">${hidden}<ul>${buttons}</ul>
<button type="submit" name="cancel" value="1">Cancel</button></form>`,
        new URL(redirectUri).origin,
      );
    }
    if (method !== 'POST') return page(405, 'Sign-in refused', '<p>GET or POST only.</p>');
    if (params.get('cancel')) return back({ error: 'access_denied', error_description: 'the person cancelled the sign-in' });
    const username = params.get('username') ?? '';
    if (!this.users[username]) return back({ error: 'access_denied', error_description: `unknown user ${JSON.stringify(username)}` });
    this.expire();
    const code = randomBytes(32).toString('base64url');
    this.codes.set(code, { clientId, redirectUri, challenge, user: username, nonce, scope, expiresAt: this.now() + this.codeLifetimeMs });
    return back({ code });
  }

  /** The code exchange of POST /token (grant_type=authorization_code): once per code, with its verifier. */
  redeem(form: URLSearchParams): Redeemed {
    const code = form.get('code') ?? '';
    const verifier = form.get('code_verifier') ?? '';
    if (!code) return { ok: false, error: 'invalid_request', description: 'code is required' };
    if (!VERIFIER.test(verifier))
      return { ok: false, error: 'invalid_request', description: 'code_verifier (43-128 unreserved characters) is required' };
    const pending = this.codes.get(code);
    // Single use: a second exchange of the same code is refused (RFC 6749 §4.1.2).
    this.codes.delete(code);
    if (!pending) return { ok: false, error: 'invalid_grant', description: 'unknown, used or expired code' };
    if (pending.expiresAt <= this.now()) return { ok: false, error: 'invalid_grant', description: 'the code expired' };
    if (form.get('client_id') !== pending.clientId)
      return { ok: false, error: 'invalid_grant', description: 'the code was issued to another client' };
    if (form.get('redirect_uri') !== pending.redirectUri)
      return { ok: false, error: 'invalid_grant', description: "redirect_uri differs from the authorization request's" };
    const computed = Buffer.from(createHash('sha256').update(verifier).digest('base64url'));
    const expected = Buffer.from(pending.challenge);
    if (computed.length !== expected.length || !timingSafeEqual(computed, expected)) {
      return { ok: false, error: 'invalid_grant', description: 'code_verifier does not match the code_challenge (PKCE S256)' };
    }
    return { ok: true, user: pending.user, clientId: pending.clientId, nonce: pending.nonce, scope: pending.scope };
  }

  private expire(): void {
    const now = this.now();
    for (const [code, pending] of this.codes) if (pending.expiresAt <= now) this.codes.delete(code);
  }
}

function page(status: number, title: string, content: string, formTarget?: string): Answer {
  // The form posts to the issuer, which redirects to the client: both are allowed form targets.
  const formAction = formTarget ? `'self' ${formTarget}` : `'self'`;
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action ${formAction}; frame-ancestors 'none'`,
      // Not no-referrer: with it the browser sends `Origin: null` on the form's POST, which the issuer refuses.
      'referrer-policy': 'same-origin',
    },
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;color:#1d2733}li{list-style:none;margin:.4rem 0}button{font-size:1rem;padding:.2rem .8rem}button:focus{outline:3px solid #1a73e8}</style></head>
<body><h1>${escapeHtml(title)}</h1>${content}</body></html>`,
  };
}
