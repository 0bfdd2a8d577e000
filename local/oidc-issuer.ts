/**
 * A local OIDC issuer on loopback, for the local environment, the tests and the portal: a signing
 * key pair generated at start (RS256, never written to disk), the discovery document
 * (`/.well-known/openid-configuration`), the JWKS (`/jwks`) and a token endpoint (`/token`) that
 * issues access tokens for named test users (no password: this issuer only listens on 127.0.0.1
 * and exists for tests and demos; a facility's Keycloak or UmbrellaID takes its place in AWS).
 *
 *   POST /token  grant_type=password&username=alice   → {access_token, token_type: "Bearer", expires_in}
 *
 * Browser apps (the portal) sign in with the authorization-code flow and PKCE S256 instead
 * (local/oidc-authorization-code.ts: `GET|POST /authorize`, then `POST /token
 * grant_type=authorization_code` → {access_token, id_token, token_type, expires_in}).
 *
 * Tokens carry the claims src/core/access/caller.ts reads (docs/access.md).
 *
 *   npx tsx local/oidc-issuer.ts [--port 8700]      serves until interrupted, prints its issuer URL
 */
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { AuthorizationCodeFlow, LOCAL_PORTAL_CLIENT_ID, type OidcClient } from './oidc-authorization-code.js';

export { LOCAL_USERS, type LocalUser } from './oidc-users.js';
import { LOCAL_USERS, type LocalUser } from './oidc-users.js';

/** The audience of the tokens this issuer makes unless told otherwise (and the functions' default). */
export const LOCAL_AUDIENCE = 'beamline-archive';

export interface TokenOptions {
  /** Lifetime in seconds from `issuedAt`. @default 3600 */
  expiresIn?: number;
  /** @default now */
  issuedAt?: Date;
  audience?: string;
  /** More claims (tests: an ID token's `nonce`). */
  claims?: Record<string, unknown>;
  /** The header `typ`. @default 'at+jwt' (an access token, RFC 9068) */
  type?: string;
}

export interface LocalOidcIssuer {
  /** The issuer URL (`iss`), e.g. http://127.0.0.1:34567 */
  issuer: string;
  audience: string;
  users: Record<string, LocalUser>;
  /** Signs an access token for a user (a name of `users`, or a user given in full). */
  token(user: string | LocalUser, options?: TokenOptions): Promise<string>;
  /** Adds a client of the authorization-code flow (the default one, `beamline-archive-portal`, takes any loopback redirect URI). */
  registerClient(client: OidcClient): void;
  stop(): Promise<void>;
}

export interface LocalOidcIssuerOptions {
  port?: number;
  users?: Record<string, LocalUser>;
  audience?: string;
  /** Lifetime of the tokens the token endpoint issues. @default 3600 */
  tokenLifetimeSeconds?: number;
  /** Clients of the authorization-code flow. @default [{clientId: 'beamline-archive-portal'}] (any loopback redirect URI) */
  clients?: OidcClient[];
  /**
   * Browser origins whose pages may call the issuer (CORS), exact or with `*` for any port/characters
   * (`http://127.0.0.1:*`). @default loopback pages only (http://127.0.0.1:*, http://localhost:*): the
   * local portal. A page of any other site gets no CORS answer and its token request is refused (403):
   * the token endpoint has no password, so it must never answer `*`.
   */
  allowedOrigins?: string[];
}

export const LOOPBACK_ORIGINS = ['http://127.0.0.1:*', 'http://localhost:*', 'http://[::1]:*'];

/** An allowed origin, exact or with `*` standing for any characters except `/`. */
export function originAllowed(origin: string, allowed: readonly string[]): boolean {
  return allowed.some((pattern) =>
    pattern.includes('*')
      ? new RegExp(
          `^${pattern
            .split('*')
            .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
            .join('[^/]*')}$`,
        ).test(origin)
      : pattern === origin,
  );
}

export async function startOidcIssuer(options: LocalOidcIssuerOptions = {}): Promise<LocalOidcIssuer> {
  const users = options.users ?? LOCAL_USERS;
  const audience = options.audience ?? LOCAL_AUDIENCE;
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const kid = randomUUID();
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  let issuer = '';
  const codeFlow = new AuthorizationCodeFlow(users, options.clients ?? [{ clientId: LOCAL_PORTAL_CLIENT_ID }]);

  /** The ID token of the authorization-code flow: for the client (aud), with the request's nonce. */
  const idToken = async (name: string, clientId: string, nonce: string | undefined, lifetime: number): Promise<string> => {
    const issuedAt = Math.floor(Date.now() / 1000);
    return new SignJWT({ preferred_username: name, ...(nonce ? { nonce } : {}) })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(clientId)
      .setSubject(`user-${name}`)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + lifetime)
      .sign(privateKey);
  };

  const sign = async (user: string | LocalUser, tokenOptions: TokenOptions = {}): Promise<string> => {
    const u = typeof user === 'string' ? users[user] : user;
    if (!u) throw new Error(`unknown local user ${JSON.stringify(user)} (known: ${Object.keys(users).join(', ')})`);
    const issuedAt = Math.floor((tokenOptions.issuedAt ?? new Date()).getTime() / 1000);
    return new SignJWT({
      preferred_username: u.name,
      proposals: u.proposals ?? [],
      beamlines: u.beamlines ?? [],
      roles: u.roles ?? [],
      ...tokenOptions.claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid, typ: tokenOptions.type ?? 'at+jwt' })
      .setIssuer(issuer)
      .setAudience(tokenOptions.audience ?? audience)
      .setSubject(`user-${u.name}`)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + (tokenOptions.expiresIn ?? options.tokenLifetimeSeconds ?? 3600))
      .setJti(randomUUID())
      .sign(privateKey);
  };

  const allowedOrigins = options.allowedOrigins ?? LOOPBACK_ORIGINS;
  const server: Server = createServer((req, res) => {
    // CORS for the pages allowed only (never `*`); a request from another page's script is refused outright.
    const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined;
    const corsAllowed = origin !== undefined && originAllowed(origin, allowedOrigins);
    const cors: Record<string, string> = corsAllowed ? { 'access-control-allow-origin': origin, vary: 'origin' } : {};
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...cors });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', issuer);
    // The issuer's own sign-in page posts its form back to it (same origin, whatever the allowed pages).
    if (origin !== undefined && !corsAllowed && !(origin === issuer && url.pathname === '/authorize')) {
      return reply(403, { error: 'access_denied', error_description: `pages of ${origin} may not call this issuer` });
    }
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      return reply(200, {
        issuer,
        jwks_uri: `${issuer}/jwks`,
        token_endpoint: `${issuer}/token`,
        authorization_endpoint: `${issuer}/authorize`,
        grant_types_supported: ['password', 'authorization_code'],
        token_endpoint_auth_methods_supported: ['none'],
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        scopes_supported: ['openid'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        claims_supported: ['sub', 'preferred_username', 'proposals', 'beamlines', 'roles'],
      });
    }
    if (req.method === 'GET' && url.pathname === '/jwks') return reply(200, { keys: [jwk] });
    if (url.pathname === '/authorize' && (req.method === 'GET' || req.method === 'POST')) {
      const answer = (params: URLSearchParams) => {
        const out = codeFlow.authorize(req.method!, params);
        res.writeHead(out.status, out.headers);
        res.end(out.body);
      };
      if (req.method === 'GET') return answer(url.searchParams);
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => {
        if (parts.length < 64) parts.push(c);
      });
      req.on('end', () => answer(new URLSearchParams(Buffer.concat(parts).toString('utf8'))));
      return undefined;
    }
    if (req.method === 'OPTIONS' && url.pathname === '/token') {
      res.writeHead(204, { ...cors, 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type' });
      return res.end();
    }
    if (req.method === 'POST' && url.pathname === '/token') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => {
        if (chunks.length < 64) chunks.push(c);
      });
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        if (form.get('grant_type') === 'authorization_code') {
          const redeemed = codeFlow.redeem(form);
          if (!redeemed.ok) return reply(400, { error: redeemed.error, error_description: redeemed.description });
          const lifetime = options.tokenLifetimeSeconds ?? 3600;
          Promise.all([
            sign(redeemed.user, { expiresIn: lifetime }),
            idToken(redeemed.user, redeemed.clientId, redeemed.nonce, lifetime),
          ]).then(
            ([access, id]) =>
              reply(200, { access_token: access, id_token: id, token_type: 'Bearer', expires_in: lifetime, scope: redeemed.scope }),
            (error: Error) => reply(500, { error: 'server_error', error_description: error.message }),
          );
          return undefined;
        }
        if (form.get('grant_type') !== 'password')
          return reply(400, { error: 'unsupported_grant_type', error_description: 'grant_type=password or authorization_code expected' });
        const username = form.get('username') ?? '';
        if (!users[username]) return reply(400, { error: 'invalid_grant', error_description: `unknown user ${JSON.stringify(username)}` });
        const lifetime = options.tokenLifetimeSeconds ?? 3600;
        sign(username, { expiresIn: lifetime }).then(
          (token) => reply(200, { access_token: token, token_type: 'Bearer', expires_in: lifetime }),
          (error: Error) => reply(500, { error: 'server_error', error_description: error.message }),
        );
      });
      return undefined;
    }
    return reply(404, { error: `no ${req.method} ${url.pathname}` });
  });
  await new Promise<void>((done) => server.listen(options.port ?? 0, '127.0.0.1', done));
  const address = server.address();
  issuer = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    issuer,
    audience,
    users,
    token: sign,
    registerClient: (client) => codeFlow.register(client),
    stop: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const portFlag = process.argv.indexOf('--port');
  const port = portFlag > 0 ? Number(process.argv[portFlag + 1]) : 0;
  const issuer = await startOidcIssuer({ port });
  process.stdout.write(`${JSON.stringify({ issuer: issuer.issuer, audience: issuer.audience, users: Object.keys(issuer.users) })}\n`);
  process.on('SIGINT', () => {
    void issuer.stop().then(() => process.exit(0));
  });
  process.on('SIGTERM', () => {
    void issuer.stop().then(() => process.exit(0));
  });
}
