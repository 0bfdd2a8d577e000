/**
 * `beamline-archive analysis …`: save derived data with its provenance and query lineage through
 * the analysis store's HTTP API (SigV4-signed with the usual AWS credentials).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { AnalysisApiError, AnalysisClient } from '../src/client/analysis-client.js';
import { apiAuthFromEnv, UsageError } from './cli-support.js';

export const HELP = `Usage: beamline-archive analysis <subcommand> [options]

Subcommands:
  save --request FILE            save derived data: FILE is JSON {metadata, data, writers, dtypes, units, provenance}
       [--provenance FILE]       (or give the provenance separately) ; --writer KEY=SPEC (repeatable)
  get RUN_UID [--data]           a derived run's documents (with --data, every key's values)
  record ENTITY --provenance FILE   record the provenance of a dataset, export or file
  provenance ENTITY              an entity's provenance record
  lineage ENTITY [--descendants] [--depth N]   ancestors (default) or descendants, to any depth
  prov ENTITY [--direction ancestors|descendants|both] [--depth N]   the lineage as W3C PROV-JSON

ENTITY is run:<uid>, dataset:<proposal>/<beamline>/<session>/<collection>/<dataset>,
file:s3://<bucket>/<key> or export:<id>. Specs: BA_NPY (default), BA_HDF5_ARRAY, BA_CSV.

Options (environment variable in brackets):
  --url URL        the analysis store's function URL (ANALYSIS_API_URL; stack output AnalysisApiUrl)
  -h, --help       this help

AWS region and credentials come from AWS_REGION and the usual provider chain. Output is JSON on
stdout; a refused request prints the reason (and every missing provenance item) on stderr, exit 1.
`;

async function readJson(path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch (error) {
    throw new UsageError(`${what} ${path}: ${(error as Error).message}`);
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        request: { type: 'string' },
        provenance: { type: 'string' },
        writer: { type: 'string', multiple: true },
        data: { type: 'boolean' },
        descendants: { type: 'boolean' },
        direction: { type: 'string' },
        depth: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
    if (values.help || positionals.length === 0) {
      process.stdout.write(HELP);
      return values.help ? 0 : 2;
    }
    const url = values.url ?? env.ANALYSIS_API_URL;
    if (!url) throw new UsageError('--url (or ANALYSIS_API_URL) is required');
    const depth = values.depth === undefined ? undefined : Number(values.depth);
    if (depth !== undefined && !(Number.isSafeInteger(depth) && depth >= 0)) throw new UsageError('--depth must be a non-negative integer');
    const client = new AnalysisClient(url, await apiAuthFromEnv(env));
    const [sub, target] = positionals;
    const needTarget = (what: string): string => {
      if (!target) throw new UsageError(`${sub} needs ${what}`);
      return target;
    };
    let result: unknown;
    switch (sub) {
      case 'save': {
        if (!values.request) throw new UsageError('save needs --request FILE');
        const request = (await readJson(values.request, '--request')) as Record<string, unknown>;
        if (values.provenance) request.provenance = await readJson(values.provenance, '--provenance');
        for (const pair of values.writer ?? []) {
          const [key, spec] = pair.split('=');
          if (!key || !spec) throw new UsageError(`--writer ${pair}: expected KEY=SPEC`);
          request.writers = { ...(request.writers as Record<string, string> | undefined), [key]: spec };
        }
        result = await client.save(request as unknown as Parameters<AnalysisClient['save']>[0]);
        break;
      }
      case 'get':
        result = await client.get(needTarget('a run uid'), { data: values.data ?? false });
        break;
      case 'record': {
        if (!values.provenance) throw new UsageError('record needs --provenance FILE');
        result = await client.recordProvenance(needTarget('an entity'), (await readJson(values.provenance, '--provenance')) as never);
        break;
      }
      case 'provenance':
        result = await client.provenance(needTarget('an entity'));
        break;
      case 'lineage':
        result = await client.lineage(needTarget('an entity'), values.descendants ? 'descendants' : 'ancestors', depth);
        break;
      case 'prov': {
        const direction = values.direction ?? 'both';
        if (!['ancestors', 'descendants', 'both'].includes(direction))
          throw new UsageError('--direction must be ancestors, descendants or both');
        result = await client.prov(needTarget('an entity'), direction as 'both', depth);
        break;
      }
      default:
        throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}`);
    }
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof AnalysisApiError) {
      process.stderr.write(
        `beamline-archive analysis: ${error.message}\n${[...error.missing, ...error.problems].map((m) => `  - ${m}\n`).join('')}`,
      );
      return 1;
    }
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`beamline-archive analysis: ${(error as Error).message}\n\n${HELP}`);
      return 2;
    }
    throw error;
  }
}
