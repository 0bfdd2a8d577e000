/**
 * Verifies OIDC access tokens (JWT) with `jose`: the signature against the issuer's published keys
 * (JWKS, found through the issuer's discovery document and cached by jose, refetched when a token
 * names an unknown key), the issuer, the audience, the expiry (with a small clock tolerance) and the
 * algorithm (asymmetric only: a token signed with `none` or an HMAC key never passes).
 */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ArchiveError } from '../core/errors.js';
import { callerFromClaims, type Caller } from '../core/access/caller.js';

/** A token that does not prove who the caller is: HTTP 401. */
export class UnauthenticatedError extends ArchiveError {
  override name = 'UnauthenticatedError';
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
  return { issuer, audience: env.OIDC_AUDIENCE?.trim() || 'beamline-archive', ...(env.OIDC_JWKS_URI ? { jwksUri: env.OIDC_JWKS_URI.trim() } : {}) };
}

export interface TokenVerifier {
  /** The caller the token names; UnauthenticatedError when it proves nothing. */
  verify(token: string): Promise<Caller>;
}

async function discoverJwksUri(settings: OidcSettings): Promise<string> {
  const url = `${settings.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const response = await fetch(url, { signal: AbortSignal.timeout(settings.timeoutMs ?? 5000) });
  if (!response.ok) throw new Error(`OIDC discovery ${url} answered ${response.status}`);
  const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (document.issuer !== settings.issuer) throw new Error(`OIDC discovery ${url} names issuer ${JSON.stringify(document.issuer)}, expected ${settings.issuer}`);
  if (typeof document.jwks_uri !== 'string') throw new Error(`OIDC discovery ${url} has no jwks_uri`);
  return document.jwks_uri;
}

export function createTokenVerifier(settings: OidcSettings): TokenVerifier {
  let keys: Promise<JWTVerifyGetKey> | undefined;
  const keySet = () => {
    keys ??= (settings.jwksUri ? Promise.resolve(settings.jwksUri) : discoverJwksUri(settings))
      .then((uri) => createRemoteJWKSet(new URL(uri), { timeoutDuration: settings.timeoutMs ?? 5000, cooldownDuration: 30_000 }));
    keys.catch(() => { keys = undefined; });
    return keys;
  };
  return {
    async verify(token) {
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, await keySet(), {
          issuer: settings.issuer,
          audience: settings.audience,
          algorithms: ACCEPTED_ALGORITHMS,
          clockTolerance: settings.clockToleranceSeconds ?? 30,
          requiredClaims: ['sub', 'exp'],
        }));
      } catch (error) {
        if (error instanceof joseErrors.JOSEError) {
          const reason = error instanceof joseErrors.JWTExpired ? 'the token has expired'
            : error instanceof joseErrors.JWTClaimValidationFailed ? `the token's ${error.claim} claim is not accepted (${error.reason})`
            : error instanceof joseErrors.JWKSNoMatchingKey ? 'the token is not signed by a key of the issuer'
            : error instanceof joseErrors.JWSSignatureVerificationFailed ? 'the token signature does not verify'
            : 'the token is not a valid access token of the issuer';
          throw new UnauthenticatedError(reason, {}, { cause: error });
        }
        throw error;
      }
      try {
        return callerFromClaims(payload, settings.issuer);
      } catch (error) {
        throw new UnauthenticatedError((error as Error).message, {}, { cause: error });
      }
    },
  };
}
