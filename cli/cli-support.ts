/** What the `beamline-archive` subcommands share: their command line, the usage error (exit 2), KEY=VALUE options, how calls authenticate. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadAccessToken } from '../src/adapters/access-token-store.js';
import type { ApiAuth } from '../src/adapters/signed-http.js';

/** A command line the command cannot run: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type CommandOptions = NonNullable<ParseArgsConfig['options']> & { help: { type: 'boolean'; short: 'h' } };
type ParsedCommandLine<T extends CommandOptions> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
>;

/**
 * The command line of `beamline-archive <name>` (node:util parseArgs: strict, positionals allowed):
 * its command word (the first positional), the positionals after it and the options; or, when
 * there is nothing to run, the exit code: 2 after a bad option (the message and the help on
 * stderr) or without a command word (the help on stdout), 0 after -h/--help (the help on stdout).
 */
export function parseCommandLine<T extends CommandOptions>(
  name: string,
  argv: string[],
  options: T,
  help: string,
): { exit: number } | { command: string; args: string[]; values: ParsedCommandLine<T>['values'] } {
  let parsed: ParsedCommandLine<T>;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (error) {
    process.stderr.write(`beamline-archive ${name}: ${(error as Error).message}

${help}`);
    return { exit: 2 };
  }
  const [command, ...args] = parsed.positionals;
  const asked = (parsed.values as { help?: boolean }).help === true;
  if (asked || command === undefined) {
    process.stdout.write(help);
    return { exit: asked ? 0 : 2 };
  }
  return { command, args, values: parsed.values };
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
