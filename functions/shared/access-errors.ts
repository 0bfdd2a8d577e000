/**
 * The HTTP answer of an authentication or authorisation failure, the same in every API:
 * 401 + `WWW-Authenticate: Bearer` for a token that proves nothing or an anonymous caller refused,
 * 403 for a known caller the policy refuses, 503 + `Retry-After` when the issuer's keys cannot be
 * fetched (the token is not known to be bad). Undefined for any other error.
 */
import { CallerKind, type Caller } from '../../src/core/access/caller.js';
import { AccessDeniedError } from '../../src/core/access/errors.js';
import { IssuerUnavailableError, UnauthenticatedError } from '../../src/adapters/oidc-verifier.js';

export interface AccessFailure {
  statusCode: 401 | 403 | 503;
  headers: Record<string, string>;
  body: string;
}

export function accessFailure(error: unknown, caller: Caller | undefined): AccessFailure | undefined {
  const answer = (statusCode: 401 | 403 | 503, message: string, extra: Record<string, string> = {}): AccessFailure => ({
    statusCode,
    headers: { 'content-type': 'application/json', ...extra },
    body: JSON.stringify({ error: message }),
  });
  if (error instanceof IssuerUnavailableError) return answer(503, error.message, { 'retry-after': '30' });
  if (error instanceof UnauthenticatedError) {
    // A header value is a quoted ASCII string (RFC 6750 §3): a claim value quoted in the message could hold anything else.
    const description = error.message.replace(/"/g, "'").replace(/[^\x20-\x7e]/g, '?');
    return answer(401, error.message, { 'www-authenticate': `Bearer error="invalid_token", error_description="${description}"` });
  }
  if (error instanceof AccessDeniedError) {
    if (!caller || caller.kind === CallerKind.Anonymous)
      return answer(401, `${error.message}; sign in (beamline-archive login)`, { 'www-authenticate': 'Bearer' });
    return answer(403, error.message);
  }
  return undefined;
}
