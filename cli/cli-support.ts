/** What the `beamline-archive` subcommands share: the usage error (exit 2) and KEY=VALUE options. */

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
