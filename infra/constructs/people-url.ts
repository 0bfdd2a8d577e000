import { Annotations, CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import { Alias, FunctionUrlAuthType, HttpMethod, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { assertSecureIssuerUrl } from '../../src/adapters/oidc-verifier.js';
import { parseIamCallerGrants } from '../../src/core/access/caller.js';

/**
 * How people reach the APIs (docs/adr/0008, docs/access.md): their tokens come from the facility's
 * OIDC issuer; the functions verify them. Set with `cdk deploy -c oidcIssuer=https://… -c
 * oidcAudience=… -c corsOrigins=https://portal.example.org`.
 */
export interface AccessSettings {
  /** The issuer (`iss`) of the access tokens accepted; without it bearer tokens are refused (401) and people see only public data. */
  readonly oidcIssuer?: string;
  /** The audience (`aud`) the tokens must name. @default 'beamline-archive' */
  readonly oidcAudience?: string;
  /** JWKS URL when the issuer has no discovery document. */
  readonly oidcJwksUri?: string;
  /**
   * Browser origins allowed to call the people URLs and to read the archive bucket by presigned URL
   * (CORS). @default [portalOrigin] when that is set, else none: no web page may call the APIs
   * (a synthesis warning says so). Never `*` by default: a page of any site could otherwise drive
   * a signed-in person's browser against the archive.
   */
  readonly corsOrigins?: string[];
  /** The portal's origin (`https://portal.example.org`, or the CloudFront domain the portal stack printed). */
  readonly portalOrigin?: string;
  /** Years after a dataset's end before anyone may read it. @default 3 */
  readonly embargoYears?: number;
  /**
   * What IAM principals are in the archive (JSON, IAM_CALLERS of the functions, src/core/access/caller.ts):
   * `[{"principal": "<role ARN>", "roles": ["archive-admin"]}, {"principal": …, "beamlines": ["id21"]}]`.
   * The stack's operator role is added as an administrator. @default only the operator role
   */
  readonly iamCallers?: string;
}

export const DEFAULT_AUDIENCE = 'beamline-archive';
export const DEFAULT_EMBARGO_YEARS = 3;
/** Name of the alias carrying the people URL. */
export const PEOPLE_ALIAS = 'people';

/** The access settings from the CDK context (`oidcIssuer`, `oidcAudience`, `oidcJwksUri`, `corsOrigins` comma-separated, `embargoYears`). */
export function accessSettingsFromContext(scope: Construct): AccessSettings {
  const read = (key: string): string | undefined => {
    const value: unknown = scope.node.tryGetContext(key);
    return value === undefined || value === null || String(value).trim() === '' ? undefined : String(value).trim();
  };
  const issuer = read('oidcIssuer');
  if (issuer && !/^https?:\/\/[^\s]+$/.test(issuer))
    throw new Error(`context oidcIssuer must be an http(s) URL, got ${JSON.stringify(issuer)}`);
  // Tokens fetched over plain http can be read and replayed: https, except on loopback (local issuer).
  if (issuer) secureUrl('oidcIssuer', issuer);
  const portal = read('portalOrigin');
  if (portal !== undefined && !/^https?:\/\/[^/\s]+$/.test(portal))
    throw new Error(`context portalOrigin must be an origin (https://host[:port], no path), got ${JSON.stringify(portal)}`);
  const iamCallers = read('iamCallers');
  if (iamCallers !== undefined) parseIamCallerGrants(iamCallers);
  const embargo = read('embargoYears');
  if (embargo !== undefined && !/^\d+$/.test(embargo))
    throw new Error(`context embargoYears must be a non-negative integer, got ${JSON.stringify(embargo)}`);
  const origins = read('corsOrigins');
  const audience = read('oidcAudience');
  const jwks = read('oidcJwksUri');
  if (jwks) secureUrl('oidcJwksUri', jwks);
  const corsOrigins = origins
    ?.split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  if (corsOrigins?.includes('*')) throw new Error('context corsOrigins must name origins (https://portal.example.org), not *');
  return {
    ...(issuer ? { oidcIssuer: issuer } : {}),
    ...(audience ? { oidcAudience: audience } : {}),
    ...(jwks ? { oidcJwksUri: jwks } : {}),
    ...(corsOrigins?.length ? { corsOrigins } : {}),
    ...(portal ? { portalOrigin: portal } : {}),
    ...(iamCallers ? { iamCallers } : {}),
    ...(embargo !== undefined ? { embargoYears: Number(embargo) } : {}),
  };
}

function secureUrl(name: string, value: string): void {
  assertSecureIssuerUrl(`context ${name}`, value);
}

/** The origins browsers may call the people URLs and read the bucket from: corsOrigins, else the portal's origin, else none. */
export function allowedOrigins(settings: AccessSettings): string[] {
  return settings.corsOrigins ?? (settings.portalOrigin ? [settings.portalOrigin] : []);
}

/** The variables the API functions read to authenticate and authorise (functions/shared/caller.ts). */
export function accessEnvironment(settings: AccessSettings): Record<string, string> {
  return {
    ...(settings.iamCallers ? { IAM_CALLERS: settings.iamCallers } : {}),
    OIDC_AUDIENCE: settings.oidcAudience ?? DEFAULT_AUDIENCE,
    EMBARGO_YEARS: String(settings.embargoYears ?? DEFAULT_EMBARGO_YEARS),
    ...(settings.oidcIssuer ? { OIDC_ISSUER: settings.oidcIssuer } : {}),
    ...(settings.oidcJwksUri ? { OIDC_JWKS_URI: settings.oidcJwksUri } : {}),
  };
}

/**
 * The people URL of an API function: a function URL with AuthType NONE on the `people` alias. AWS
 * does not check these requests; the handler does, on every request: the bearer token against the
 * issuer's keys, then the authorisation policy (src/core/access/policy.ts). The unqualified URL
 * keeps AuthType AWS_IAM for machines.
 */
export function addPeopleUrl(scope: Construct, fn: NodejsFunction, settings: AccessSettings, outputName: string): FunctionUrl {
  const alias = new Alias(scope, `${fn.node.id}PeopleAlias`, { aliasName: PEOPLE_ALIAS, version: fn.currentVersion });
  const origins = allowedOrigins(settings);
  if (origins.length === 0) {
    Annotations.of(alias).addInfo(
      'No browser origin may call this people URL: set -c portalOrigin=https://<the portal> (or -c corsOrigins=…) so the portal can.',
    );
  }
  const url = alias.addFunctionUrl({
    authType: FunctionUrlAuthType.NONE,
    ...(origins.length
      ? {
          cors: {
            allowedOrigins: origins,
            allowedHeaders: ['authorization', 'content-type'],
            allowedMethods: [HttpMethod.GET, HttpMethod.POST, HttpMethod.PATCH, HttpMethod.DELETE],
            maxAge: Duration.hours(1),
          },
        }
      : {}),
  });
  new CfnOutput(Stack.of(scope), outputName, { value: url.url, description: 'People URL (OIDC bearer tokens, checked by the function)' });
  return url;
}
