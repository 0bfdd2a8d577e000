/**
 * `beamline-archive dataset …`: the datasets' HTTP API (functions/dataset-api) from the command line,
 * every request carrying the signed-in person's token (`beamline-archive login`) or SigV4-signed with
 * the caller's AWS credentials.
 */
import { apiRequest, type SignedResponse } from '../src/adapters/signed-http.js';
import { apiAuthFromEnv, keyValuePairs, parseCommandLine, UsageError } from './cli-support.js';

export const HELP = `Usage: beamline-archive dataset <command> [arguments] [options]

Datasets and their ICAT metadata. <id> is <proposal>/<beamline>/<session>/<collection>/<dataset>.

Commands:
  open <id> [--technique T]... [--set NAME=VALUE]...   open a dataset (or add to an open one)
  add-technique <id> <TECHNIQUE>                      add a technique (SAXS, MX, EM, PTYCHO, FLUO, TOMO …)
  set <id> NAME=VALUE...                              write ICAT fields (values are strings)
  get <id> [NAME]                                     the dataset's ICAT metadata (or one field)
  missing <id>                                        mandatory and technique fields without a value
  close <id>                                          close: records what is missing, writes the master file
  list [--proposal P [--beamline B --session S]] [--sample S] [--from T --to T] [--open]
  show <id>                                           the whole dataset record
  scans <id>                                          the scans of the dataset
  audit --proposal P                                  who changed what and when (newest first)

Options:
  --url URL        the dataset API (function URL) (DATASET_API_URL)
  -h, --help       this help

Who calls: the token stored by \`beamline-archive login\` (people), else the AWS environment's
credentials (AWS_REGION, AWS_ACCESS_KEY_ID … or a profile; machines). See docs/access.md.
Output is JSON on stdout; errors go to stderr with exit code 1 (2 for usage errors).
`;

function idToPath(id: string | undefined): string {
  if (!id) throw new UsageError('a dataset id <proposal>/<beamline>/<session>/<collection>/<dataset> is required');
  if (id.split('/').length !== 5)
    throw new UsageError(`dataset id ${JSON.stringify(id)} is not <proposal>/<beamline>/<session>/<collection>/<dataset>`);
  return id.split('/').map(encodeURIComponent).join('/');
}

interface Request {
  method: string;
  path: string;
  body?: unknown;
  pick?: (json: unknown) => unknown;
}

function requestOf(command: string, args: string[], options: Record<string, string | boolean | string[] | undefined>): Request {
  const [id, ...rest] = args;
  switch (command) {
    case 'open': {
      const [proposal, beamline, session, collection, dataset] = idToPath(id).split('/').map(decodeURIComponent);
      return {
        method: 'POST',
        path: '/datasets',
        body: {
          dataset: { proposal, beamline, session, collection, dataset },
          techniques: options.technique ?? [],
          metadata: keyValuePairs((options.set as string[] | undefined) ?? [], 'NAME'),
        },
      };
    }
    case 'add-technique':
      if (!rest[0]) throw new UsageError('add-technique needs a technique, e.g. FLUO');
      return { method: 'POST', path: `/datasets/${idToPath(id)}/techniques`, body: { technique: rest[0] } };
    case 'set':
      if (rest.length === 0) throw new UsageError('set needs at least one NAME=VALUE');
      return {
        method: 'PATCH',
        path: `/datasets/${idToPath(id)}/metadata`,
        body: { fields: keyValuePairs(rest, 'NAME') },
        pick: (j) => (j as { metadata: unknown }).metadata,
      };
    case 'get':
      return {
        method: 'GET',
        path: `/datasets/${idToPath(id)}/metadata`,
        pick: (j) =>
          rest[0] ? ((j as { metadata: Record<string, string> }).metadata[rest[0]] ?? null) : (j as { metadata: unknown }).metadata,
      };
    case 'missing':
      return { method: 'GET', path: `/datasets/${idToPath(id)}/missing` };
    case 'close':
      return { method: 'POST', path: `/datasets/${idToPath(id)}/close` };
    case 'show':
      return { method: 'GET', path: `/datasets/${idToPath(id)}` };
    case 'scans':
      return { method: 'GET', path: `/datasets/${idToPath(id)}/scans`, pick: (j) => (j as { scans: unknown }).scans };
    case 'audit': {
      if (typeof options.proposal !== 'string') throw new UsageError('audit needs --proposal');
      return {
        method: 'GET',
        path: `/audit?proposal=${encodeURIComponent(options.proposal)}`,
        pick: (j) => (j as { entries: unknown }).entries,
      };
    }
    case 'list': {
      if (id !== undefined) throw new UsageError('list takes options, not arguments');
      const query = new URLSearchParams();
      for (const key of ['proposal', 'beamline', 'session', 'sample', 'from', 'to'] as const) {
        const value = options[key];
        if (typeof value === 'string') query.set(key, value);
      }
      if (options.open) query.set('open', 'true');
      if ([...query.keys()].length === 0) throw new UsageError('list needs --proposal, --sample, --from/--to or --open');
      return { method: 'GET', path: `/datasets?${query.toString()}`, pick: (j) => (j as { datasets: unknown }).datasets };
    }
    default:
      throw new UsageError(`unknown dataset command ${JSON.stringify(command)}`);
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const cli = parseCommandLine(
    'dataset',
    argv,
    {
      url: { type: 'string' },
      technique: { type: 'string', multiple: true },
      set: { type: 'string', multiple: true },
      proposal: { type: 'string' },
      beamline: { type: 'string' },
      session: { type: 'string' },
      sample: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      open: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
  );
  if ('exit' in cli) return cli.exit;
  const { command, args, values } = cli;
  const base = values.url ?? env.DATASET_API_URL;
  let request: Request;
  try {
    if (!base) throw new UsageError('--url (or DATASET_API_URL) is required: the dataset API function URL');
    request = requestOf(command, args, values);
  } catch (error) {
    process.stderr.write(`beamline-archive dataset: ${(error as Error).message}\n\nRun \`beamline-archive dataset --help\` for usage.\n`);
    return 2;
  }
  let response: SignedResponse;
  try {
    response = await apiRequest(
      {
        url: `${base.replace(/\/+$/, '')}${request.path}`,
        method: request.method,
        ...(request.body !== undefined ? { body: request.body } : {}),
      },
      await apiAuthFromEnv(env),
    );
  } catch (error) {
    process.stderr.write(`beamline-archive dataset: cannot reach ${base}: ${(error as Error).message}\n`);
    return 1;
  }
  if (response.status >= 400) {
    const json = response.json as { error?: string; Message?: string; suggestions?: string[] } | undefined;
    process.stderr.write(
      `beamline-archive dataset ${command}: ${json?.error ?? json?.Message ?? response.body} (HTTP ${response.status})\n`,
    );
    return 1;
  }
  const out = request.pick ? request.pick(response.json) : response.json;
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  return 0;
}
