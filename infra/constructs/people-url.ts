import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import { Alias, FunctionUrlAuthType, HttpMethod, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';

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
  /** Browser origins allowed to call the people URLs (CORS). @default ['*'] (bearer tokens, no cookies) */
  readonly corsOrigins?: string[];
  /** Years after a dataset's end before anyone may read it. @default 3 */
  readonly embargoYears?: number;
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
  if (issuer && !/^https?:\/\/[^\s]+$/.test(issuer)) throw new Error(`context oidcIssuer must be an http(s) URL, got ${JSON.stringify(issuer)}`);
  const embargo = read('embargoYears');
  if (embargo !== undefined && !/^\d+$/.test(embargo)) throw new Error(`context embargoYears must be a non-negative integer, got ${JSON.stringify(embargo)}`);
  const origins = read('corsOrigins');
  const audience = read('oidcAudience');
  const jwks = read('oidcJwksUri');
  return {
    ...(issuer ? { oidcIssuer: issuer } : {}),
    ...(audience ? { oidcAudience: audience } : {}),
    ...(jwks ? { oidcJwksUri: jwks } : {}),
    ...(origins ? { corsOrigins: origins.split(',').map((o) => o.trim()).filter(Boolean) } : {}),
    ...(embargo !== undefined ? { embargoYears: Number(embargo) } : {}),
  };
}

/** The variables the API functions read to authenticate and authorise (functions/shared/caller.ts). */
export function accessEnvironment(settings: AccessSettings): Record<string, string> {
  return {
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
  const url = alias.addFunctionUrl({
    authType: FunctionUrlAuthType.NONE,
    cors: {
      allowedOrigins: settings.corsOrigins ?? ['*'],
      allowedHeaders: ['authorization', 'content-type'],
      allowedMethods: [HttpMethod.GET, HttpMethod.POST, HttpMethod.PATCH, HttpMethod.DELETE],
      maxAge: Duration.hours(1),
    },
  });
  new CfnOutput(Stack.of(scope), outputName, { value: url.url, description: 'People URL (OIDC bearer tokens, checked by the function)' });
  return url;
}
