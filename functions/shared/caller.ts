/**
 * Who sent a function-URL request. Each API function has two URLs (docs/adr/0008):
 *
 * - the IAM URL (AuthType AWS_IAM): Lambda checks the SigV4 signature and puts the principal into
 *   `requestContext.authorizer.iam`, which no client can forge → a service caller with the rights
 *   the IAM_CALLERS mapping gives its role (callerFromIam; none when it is not mapped);
 * - the people URL (AuthType NONE, on the `people` alias): no AWS check, so the handler verifies
 *   the `Authorization: Bearer <access token>` itself (jose, src/adapters/oidc-verifier.ts) → a person;
 *   without an Authorization header → anonymous (reads public, embargo-expired data only).
 *
 * Any other Authorization header, or a token that does not verify, is a 401: never silently anonymous.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ANONYMOUS, callerFromIam, parseIamCallerGrants, type Caller, type IamCallerGrant } from '../../src/core/access/caller.js';
import { createTokenVerifier, oidcSettingsFromEnv, UnauthenticatedError, type TokenVerifier } from '../../src/adapters/oidc-verifier.js';

export type Authenticate = (event: APIGatewayProxyEventV2) => Promise<Caller>;

/** The IAM principal Lambda put into a request to an AWS_IAM function URL, if any. */
export function iamPrincipalOf(event: APIGatewayProxyEventV2): string | undefined {
  const iam = (event.requestContext as { authorizer?: { iam?: { userArn?: unknown } } }).authorizer?.iam;
  return typeof iam?.userArn === 'string' && iam.userArn !== '' ? iam.userArn : undefined;
}

export function createAuthenticator(verifier: TokenVerifier | undefined, iamGrants: readonly IamCallerGrant[] = []): Authenticate {
  return async (event) => {
    const principal = iamPrincipalOf(event);
    if (principal) return callerFromIam(principal, iamGrants);
    const header = event.headers?.authorization ?? event.headers?.Authorization;
    if (header === undefined || header === '') return ANONYMOUS;
    const match = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(header);
    if (!match) throw new UnauthenticatedError('Authorization must be "Bearer <access token>"');
    if (!verifier)
      throw new UnauthenticatedError('this deployment has no OIDC issuer configured (OIDC_ISSUER): bearer tokens are not accepted');
    return verifier.verify(match[1]!);
  };
}

/** The authenticator of a deployed function: OIDC_ISSUER / OIDC_AUDIENCE / OIDC_JWKS_URI and IAM_CALLERS from the environment. */
export function authenticatorFromEnv(env: NodeJS.ProcessEnv): Authenticate {
  const settings = oidcSettingsFromEnv(env);
  return createAuthenticator(settings ? createTokenVerifier(settings) : undefined, parseIamCallerGrants(env.IAM_CALLERS));
}

export { UnauthenticatedError };
