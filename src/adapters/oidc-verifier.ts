/**
 * Verifies OIDC access tokens (JWT) with `jose`: the signature against the issuer's published keys
 * (JWKS, found through the issuer's discovery document and cached by jose, refetched when a token
 * names an unknown key), the issuer, the audience, the expiry (with a small clock tolerance) and the
 * algorithm (asymmetric only: a token signed with `none` or an HMAC key never passes).
 *
 * Only **access tokens** pass (docs/adr/0016): a token typed `at+jwt` (RFC 9068) is one; a token of
 * another declared type, or one carrying what only ID tokens carry (`nonce`, `at_hash`,
 * `c_hash`, `token_use: id`, Keycloak's `typ: ID`), is refused, so an ID token handed to a web page
 * for its own sign-in cannot be replayed against the APIs even where its `aud` matches.
 *
 * The issuer (and a JWKS URL) must be https, except on loopback (the local issuer of the tests).
 * An issuer that cannot be reached (discovery or JWKS down, timing out, answering garbage) is an
 * IssuerUnavailableError (HTTP 503): the caller's token is not known to be bad.
 */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ArchiveError } from '../core/errors.js';
import { callerFromClaims, type Caller } from '../core/access/caller.js';

/** A token that does not prove who the caller is: HTTP 401. */
export class UnauthenticatedError extends ArchiveError {
  override name = 'UnauthenticatedError';
}

/** The issuer's discovery document or keys could not be fetched: HTTP 503 (retry), not 401. */
export class IssuerUnavailableError extends ArchiveError {
  override name = 'IssuerUnavailableError';
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** https, or http on a loopback host only; throws with the setting's name otherwise. */
export function assertSecureIssuerUrl(name: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} must be an https URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return;
  throw new Error(`${name} must be an https URL (http only on loopback, 127.0.0.1/localhost), got ${JSON.stringify(value)}`);
}

/** Header `typ` values of an access token: RFC 9068's, and the plain `JWT` most issuers (Keycloak) write. */
const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt', 'jwt']);

/** Why this verified token is not an access token (an ID token, a logout token …); undefined when it is one. */
export function notAnAccessToken(header: { typ?: unknown }, payload: Record<string, unknown>): string | undefined {
  const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : undefined;
  if (typ !== undefined && !ACCESS_TOKEN_TYPES.has(typ))
    return `the token's type is ${JSON.stringify(header.typ)}, not an access token (at+jwt)`;
  if (typ === 'at+jwt' || typ === 'application/at+jwt') return undefined;
  // Keycloak types its tokens in the payload: `Bearer` (access, which may carry the nonce of the sign-in) or `ID`.
  if (typeof payload.typ === 'string')
    return payload.typ.toLowerCase() === 'bearer'
      ? undefined
      : `the token's typ claim is ${JSON.stringify(payload.typ)}: not an access token`;
  for (const claim of ['nonce', 'at_hash', 'c_hash']) {
    if (payload[claim] !== undefined) return `the token carries ${claim}: it is an ID token, not an access token`;
  }
  if (payload.token_use !== undefined && payload.token_use !== 'access')
    return `the token's token_use is ${JSON.stringify(payload.token_use)}, not access`;
  return undefined;
}

export interface OidcSettings {
  /** The issuer URL exactly as tokens carry it in `iss`. */
  issuer: string;
  /** The audience the tokens must name in `aud`. */
  audience: string;
  /** The JWKS URL; default: `jwks_uri` of `<issuer>/.well-known/openid-configuration`. */
  jwksUri?: string;
  /** Timeout of the discovery and JWKS requests. @default 5000 */
  timeoutMs?: number;
  /** Accepted clock skew. @default 30 */
  clockToleranceSeconds?: number;
}

export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** OIDC settings from OIDC_ISSUER, OIDC_AUDIENCE (default `beamline-archive`) and OIDC_JWKS_URI; undefined without an issuer. */
export function oidcSettingsFromEnv(env: NodeJS.ProcessEnv): OidcSettings | undefined {
  const issuer = env.OIDC_ISSUER?.trim();
  if (!issuer) return undefined;
  assertSecureIssuerUrl('OIDC_ISSUER', issuer);
  if (env.OIDC_JWKS_URI?.trim()) assertSecureIssuerUrl('OIDC_JWKS_URI', env.OIDC_JWKS_URI.trim());
  return {
    issuer,
    audience: env.OIDC_AUDIENCE?.trim() || 'beamline-archive',
    ...(env.OIDC_JWKS_URI ? { jwksUri: env.OIDC_JWKS_URI.trim() } : {}),
  };
}

export interface TokenVerifier {
  /** The caller the token names; UnauthenticatedError when it proves nothing. */
  verify(token: string): Promise<Caller>;
}

async function discoverJwksUri(settings: OidcSettings): Promise<string> {
  const url = `${settings.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let document: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(settings.timeoutMs ?? 5000) });
    if (!response.ok) throw new Error(`answered ${response.status}`);
    document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  } catch (error) {
    throw new IssuerUnavailableError(
      `the sign-in service is unavailable: OIDC discovery ${url} failed (${(error as Error).message}); try again shortly`,
      {},
      { cause: error },
    );
  }
  if (document.issuer !== settings.issuer)
    throw new IssuerUnavailableError(`OIDC discovery ${url} names issuer ${JSON.stringify(document.issuer)}, expected ${settings.issuer}`);
  if (typeof document.jwks_uri !== 'string') throw new IssuerUnavailableError(`OIDC discovery ${url} has no jwks_uri`);
  assertSecureIssuerUrl('the discovered jwks_uri', document.jwks_uri);
  return document.jwks_uri;
}

export function createTokenVerifier(settings: OidcSettings): TokenVerifier {
  assertSecureIssuerUrl('the OIDC issuer', settings.issuer);
  if (settings.jwksUri) assertSecureIssuerUrl('the OIDC JWKS URL', settings.jwksUri);
  let keys: Promise<JWTVerifyGetKey> | undefined;
  const keySet = () => {
    keys ??= (settings.jwksUri ? Promise.resolve(settings.jwksUri) : discoverJwksUri(settings)).then((uri) => {
      const remote = createRemoteJWKSet(new URL(uri), { timeoutDuration: settings.timeoutMs ?? 5000, cooldownDuration: 30_000 });
      // A key the JWKS does not have is the token's fault (401); a JWKS that cannot be fetched is not (503).
      const getKey: JWTVerifyGetKey = async (header, token) => {
        try {
          return await remote(header, token);
        } catch (error) {
          if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) throw error;
          throw new IssuerUnavailableError(
            `the sign-in service is unavailable: its keys (${uri}) could not be fetched (${(error as Error).message}); try again shortly`,
            {},
            { cause: error },
          );
        }
      };
      return getKey;
    });
    keys.catch(() => {
      keys = undefined;
    });
    return keys;
  };
  return {
    async verify(token) {
      let payload: Record<string, unknown>;
      let header: { typ?: unknown };
      try {
        ({ payload, protectedHeader: header } = await jwtVerify(token, await keySet(), {
          issuer: settings.issuer,
          audience: settings.audience,
          algorithms: ACCEPTED_ALGORITHMS,
          clockTolerance: settings.clockToleranceSeconds ?? 30,
          requiredClaims: ['sub', 'exp'],
        }));
      } catch (error) {
        if (error instanceof joseErrors.JOSEError) {
          const reason =
            error instanceof joseErrors.JWTExpired
              ? 'the token has expired'
              : error instanceof joseErrors.JWTClaimValidationFailed
                ? `the token's ${error.claim} claim is not accepted (${error.reason})`
                : error instanceof joseErrors.JWKSNoMatchingKey
                  ? 'the token is not signed by a key of the issuer'
                  : error instanceof joseErrors.JWSSignatureVerificationFailed
                    ? 'the token signature does not verify'
                    : 'the token is not a valid access token of the issuer';
          throw new UnauthenticatedError(reason, {}, { cause: error });
        }
        throw error;
      }
      const wrongType = notAnAccessToken(header, payload);
      if (wrongType) throw new UnauthenticatedError(wrongType);
      try {
        return callerFromClaims(payload, settings.issuer);
      } catch (error) {
        throw new UnauthenticatedError((error as Error).message, {}, { cause: error });
      }
    },
  };
}
