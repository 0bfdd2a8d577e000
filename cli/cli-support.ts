/** What the `beamline-archive` subcommands share: the usage error (exit 2), KEY=VALUE options, how calls authenticate. */
import { loadAccessToken } from '../src/adapters/access-token-store.js';
import type { ApiAuth } from '../src/adapters/signed-http.js';

/** A command line the command cannot run: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** `KEY=VALUE` arguments as an object (the value may contain `=`); anything else is a UsageError. */
export function keyValuePairs(values: readonly string[], what = 'KEY'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of values) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`expected ${what}=VALUE, got ${JSON.stringify(item)}`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/**
 * How a command proves who calls: the signed-in person's token (`beamline-archive login`;
 * BEAMLINE_ARCHIVE_TOKEN or the token file) sent as a bearer token, else SigV4 with the AWS
 * credentials of the environment (a machine). BEAMLINE_ARCHIVE_AUTH=iam forces SigV4.
 */
export async function apiAuthFromEnv(env: NodeJS.ProcessEnv): Promise<ApiAuth> {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'eu-west-1';
  if (env.BEAMLINE_ARCHIVE_AUTH === 'iam') return { region };
  const token = await loadAccessToken(env);
  return token ? { token } : { region };
}
