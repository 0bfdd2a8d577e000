/**
 * `beamline-archive export …`: exports through the export API (functions/export-api), every request
 * SigV4-signed with the caller's AWS credentials. Downloads go through the presigned links the API
 * returns, each file checked against the size and sha256 of the export record.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { apiRequest, type SignedResponse } from '../src/adapters/signed-http.js';
import { apiAuthFromEnv, keyValuePairs, parseCommandLine, UsageError } from './cli-support.js';

export const HELP = `Usage: beamline-archive export <command> [arguments] [options]

Exports of archived runs: nxstxm (NXstxm application definition), nexus (one file, one entry per
run), csv (one table per stream). Built by the archive, published when complete, recorded with
their provenance.

Commands:
  request --runs UID[,UID...] --format nxstxm|nexus|csv [--request-id ID] [--option KEY=VALUE]...
          [--wait] [--download DIR] [--timeout SECONDS]
                            ask for an export; prints the export record (JSON). The same request id
                            always names the same export: repeat it safely. --wait prints progress
                            lines (state, step, elapsed) on stderr until the export is COMPLETED or
                            FAILED; --download DIR waits, then downloads every file into DIR.
  status <export id>        the export record: state, progress, files (size, sha256), reason
  download <export id> [DIR]  downloads every file of a COMPLETED export into DIR (default .), checked
                            against its size and sha256

Options:
  --url URL        the export API (function URL) (EXPORT_API_URL)
  --interval S     seconds between status polls while waiting (default 1)
  -h, --help       this help

Credentials and region come from the AWS environment (AWS_REGION, AWS_ACCESS_KEY_ID … or a profile).
Output is JSON on stdout, progress on stderr; errors go to stderr with exit code 1 (2 for usage errors).

Examples:
  beamline-archive export request --runs 01JD3Q5W9K7Z3X2C8M4N6P0R1S --format nexus --download ./out
  beamline-archive export request --runs A,B --format csv --request-id my-csv-1 --wait
  beamline-archive export status exp-3f9a0c2e41d7b5a6c8e9f012
`;

class CommandError extends Error {
  override name = 'CommandError';
}

interface ExportView {
  export_id: string;
  state: string;
  reason?: string;
  errors?: { message: string }[];
  progress?: { step: string; done: number; total: number; detail?: string };
  files?: { name: string; key: string; bytes: number; sha256: string }[];
}

interface Link {
  name: string;
  key: string;
  bytes: number;
  sha256: string;
  url: string;
}

const TERMINAL = new Set(['COMPLETED', 'FAILED']);

function seconds(value: string | undefined, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${what} must be a positive number of seconds, got ${JSON.stringify(value)}`);
  return n;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const cli = parseCommandLine(
    'export',
    argv,
    {
      url: { type: 'string' },
      runs: { type: 'string' },
      format: { type: 'string' },
      'request-id': { type: 'string' },
      option: { type: 'string', multiple: true },
      wait: { type: 'boolean' },
      download: { type: 'string' },
      timeout: { type: 'string' },
      interval: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
  );
  if ('exit' in cli) return cli.exit;
  const { command, args, values: v } = cli;
  const base = (v.url ?? env.EXPORT_API_URL)?.replace(/\/+$/, '');
  let run: () => Promise<number>;
  try {
    if (!base) throw new UsageError('--url (or EXPORT_API_URL) is required: the export API function URL');
    const interval = seconds(v.interval, '--interval', 1);
    const auth = await apiAuthFromEnv(env);
    const api = async (method: string, path: string, body?: unknown): Promise<SignedResponse> => {
      try {
        return await apiRequest({ url: `${base}${path}`, method, ...(body !== undefined ? { body } : {}) }, auth);
      } catch (error) {
        throw new CommandError(`cannot reach ${base}: ${(error as Error).message}`);
      }
    };
    const expect = (response: SignedResponse, what: string): unknown => {
      if (response.status >= 400) {
        const json = response.json as { error?: string; Message?: string } | undefined;
        throw new CommandError(`${what}: ${json?.error ?? json?.Message ?? response.body} (HTTP ${response.status})`);
      }
      return response.json;
    };
    switch (command) {
      case 'request': {
        if (args.length > 0) throw new UsageError(`request takes options, not arguments (${args.join(' ')})`);
        if (!v.runs) throw new UsageError('request needs --runs UID[,UID...]');
        if (!v.format) throw new UsageError('request needs --format nxstxm|nexus|csv');
        const runs = v.runs
          .split(',')
          .map((r) => r.trim())
          .filter(Boolean);
        const body = {
          request_id: v['request-id'] ?? `cli-${randomUUID()}`,
          runs,
          format: v.format,
          ...(v.option?.length ? { options: keyValuePairs(v.option) } : {}),
        };
        const timeoutMs = seconds(v.timeout, '--timeout', 900) * 1000;
        run = async () => {
          const record = expect(await api('POST', '/exports', body), 'export request') as ExportView;
          process.stderr.write(`export ${record.export_id} (request ${body.request_id}): ${record.state}\n`);
          if (!v.wait && v.download === undefined) {
            process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
            return 0;
          }
          const final = await waitFor(record.export_id, api, expect, interval, timeoutMs);
          process.stdout.write(`${JSON.stringify(final, null, 2)}\n`);
          if (final.state !== 'COMPLETED') return 1;
          if (v.download !== undefined) await download(final.export_id, v.download, api, expect);
          return 0;
        };
        break;
      }
      case 'status': {
        const id = exportIdArg(args[0]);
        run = async () => {
          process.stdout.write(`${JSON.stringify(expect(await api('GET', `/exports/${id}`), `export ${id}`), null, 2)}\n`);
          return 0;
        };
        break;
      }
      case 'download': {
        const id = exportIdArg(args[0]);
        run = async () => {
          await download(id, args[1] ?? '.', api, expect);
          return 0;
        };
        break;
      }
      default:
        throw new UsageError(`unknown export command ${JSON.stringify(command)} (request, status, download)`);
    }
  } catch (error) {
    process.stderr.write(`beamline-archive export: ${(error as Error).message}\n\nRun \`beamline-archive export --help\` for usage.\n`);
    return 2;
  }
  try {
    return await run();
  } catch (error) {
    process.stderr.write(`beamline-archive export ${command}: ${(error as Error).message}\n`);
    return 1;
  }
}

function exportIdArg(id: string | undefined): string {
  if (!id) throw new UsageError('an export id (exp-…) is required');
  if (!/^[A-Za-z0-9-]+$/.test(id)) throw new UsageError(`${JSON.stringify(id)} is not an export id (exp-…)`);
  return id;
}

type Api = (method: string, path: string, body?: unknown) => Promise<SignedResponse>;
type Expect = (response: SignedResponse, what: string) => unknown;

/** Polls the record, printing a line on stderr at each change of state or progress, until COMPLETED or FAILED. */
async function waitFor(exportId: string, api: Api, expect: Expect, intervalS: number, timeoutMs: number): Promise<ExportView> {
  const started = Date.now();
  let last = '';
  for (;;) {
    const record = expect(await api('GET', `/exports/${exportId}`), `export ${exportId}`) as ExportView;
    const p = record.progress;
    const line = `${record.state}${p && !TERMINAL.has(record.state) ? ` ${p.step} ${p.done}/${p.total}${p.detail ? ` ${p.detail}` : ''}` : ''}`;
    if (line !== last) {
      process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${exportId} ${line}\n`);
      last = line;
    }
    if (record.state === 'FAILED') {
      process.stderr.write(`export ${exportId} FAILED: ${record.reason ?? 'no reason recorded'}\n`);
      return record;
    }
    if (record.state === 'COMPLETED') return record;
    if (Date.now() - started > timeoutMs) {
      throw new CommandError(
        `export ${exportId} is still ${record.state} after ${Math.round(timeoutMs / 1000)} s; check later with \`beamline-archive export status ${exportId}\``,
      );
    }
    await new Promise((r) => setTimeout(r, intervalS * 1000));
  }
}

/** The local name of a downloaded file: the key's last segment, refused unless it is one plain file name inside DIR. */
function localNameOf(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1);
  if (!/^[A-Za-z0-9._~-]+$/.test(name) || /^\.+$/.test(name)) {
    throw new CommandError(
      `the export names a file ${JSON.stringify(key)} whose name ${JSON.stringify(name)} is not a plain file name; nothing written for it`,
    );
  }
  return name;
}

/**
 * Fetches every file through its presigned link into `dir`, streamed to `<name>.part` (bounded
 * memory, whatever the file's size) while its bytes and sha256 are counted, renamed when they
 * match the export record, removed when they do not.
 */
async function download(exportId: string, dir: string, api: Api, expect: Expect): Promise<void> {
  const { files } = expect(await api('GET', `/exports/${exportId}/download`), `download of ${exportId}`) as { files: Link[] };
  const names = files.map((file) => localNameOf(file.key));
  await mkdir(dir, { recursive: true });
  for (const [i, file] of files.entries()) {
    const response = await fetch(file.url);
    if (!response.ok || !response.body) throw new CommandError(`${file.key}: HTTP ${response.status} from the download link`);
    const target = join(dir, names[i]!);
    const part = `${target}.part`;
    const hash = createHash('sha256');
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        bytes += chunk.byteLength;
        done(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), count, createWriteStream(part));
    } catch (error) {
      await rm(part, { force: true });
      throw new CommandError(`${file.key}: the download stopped: ${(error as Error).message}`);
    }
    const sha256 = hash.digest('hex');
    if (bytes !== file.bytes || sha256 !== file.sha256) {
      await rm(part, { force: true });
      throw new CommandError(
        `${file.key}: downloaded ${bytes} bytes with sha256 ${sha256}, the export record says ${file.bytes} bytes, ${file.sha256}`,
      );
    }
    await rename(part, target);
    process.stderr.write(`downloaded ${target} (${bytes} bytes, sha256 ${sha256.slice(0, 12)}…)\n`);
  }
}
