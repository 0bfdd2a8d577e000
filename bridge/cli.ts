#!/usr/bin/env node
/**
 * `beamline-archive bridge`: follows BLISS scans in Redis, stages their data in S3 and puts
 * their run documents on EventBridge. Configuration from options or the environment, validated
 * before anything starts.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { createServer, type Server } from 'node:http';
import { parseArgs } from 'node:util';
import { awsConnectionFromEnv } from '../src/adapters/aws-clients.js';
import { startBridge, type BridgeStatus, type RunningBridge } from './bridge.js';
import { defaultBridgeOptions, LIMA_ROOT_REQUIRED, type BridgeConfig } from './bridge-options.js';
import { parseBlueskyOptions } from './bluesky-config.js';
import { normaliseBeamline } from '../src/core/access/edge-source.js';

export const HELP = `Usage: beamline-archive bridge [options]

Follows blissdata scans in Redis and publishes them as run documents on an EventBridge bus,
with their data staged in S3.

Options (environment variable in brackets):
  --redis-url URL        Redis of BLISS, with RedisJSON (REDIS_URL)
  --bus NAME             EventBridge bus name or ARN (EVENT_BUS_NAME)
  --bucket NAME          S3 bucket for staged chunks (BUCKET_NAME)
  --beamline NAME        this bridge's beamline (BEAMLINE; id21: letters, digits, - and _): events go out as
                         beamline-archive.bridge.<beamline>, which only that beamline's bridge role may send; also
                         the data-policy beamline of a scan whose path does not name it (one that names another is refused)
  --from ID              _SCAN_HISTORY_ id to start after: $ = new scans only (default), 0 = all
  --chunk-points N       points per staged chunk at most (default ${defaultBridgeOptions.chunkPoints})
  --chunk-bytes N        bytes per staged chunk at most (default ${defaultBridgeOptions.chunkBytes})
  --flush-ms N           how long one blocking Redis read waits for new entries (default ${defaultBridgeOptions.flushIntervalMs});
                         chunks are staged when full (the grid), at a gap, or when the stream ends
  --read-bytes N         about this much data per Redis read of a scan, all its streams (default ${defaultBridgeOptions.readBytes})
  --checkpoint FILE      progress of every scan, to resume after a restart (BRIDGE_CHECKPOINT)
  --dead-letter FILE     JSONL of events the bus refused for good (BRIDGE_DEAD_LETTER)
  --health-port N        serve GET /health and GET /status on 127.0.0.1:N (BRIDGE_HEALTH_PORT)
  --max-buffered-bytes N pause reading Redis above this much unstaged data (default ${defaultBridgeOptions.maxBufferedBytes})
  --lima-root DIR        required: read Lima detector files only below DIR (repeatable, or DIR,DIR / DIR:DIR),
                         and below the scan's own folder and data-policy folder, which come from Redis; each
                         DIR must be an existing directory (BRIDGE_LIMA_ROOT). The bridge does not start without it
  --max-gap-points N     fail a run at once when one range of points is missing from Redis (trimmed
                         entries, a seal beyond the points received) above N points
                         (default ${defaultBridgeOptions.maxGapPoints}) (BRIDGE_MAX_GAP_POINTS)
  --max-stream-points N  fail a run at once when a stream claims more than N points (its seal, an
                         entry's index) (default ${defaultBridgeOptions.maxStreamPoints}) (BRIDGE_MAX_STREAM_POINTS)
  --lima-file-wait-ms N  how long a missing Lima file is waited for before the run fails naming it
                         (default ${defaultBridgeOptions.limaFileWaitMs}; 0 = not at all) (BRIDGE_LIMA_FILE_WAIT_MS)
  --heartbeat-seconds N  send a Bridge Heartbeat event (beamline, bridge id, version, lag) every N seconds
                         (default ${defaultBridgeOptions.heartbeatSeconds}; 0 = none); keep N well below the bridge alarm's
                         heartbeatAlarmMinutes (default 5 min) (BRIDGE_HEARTBEAT_SECONDS)
  --bluesky-stream KEY   also archive the Bluesky runs published to this Redis stream, e.g.
                         bluesky:documents (BLUESKY_STREAM; docs/bluesky.md)
  --bluesky-from ID      without a checkpoint, start the Bluesky stream after this entry id; 0 = the
                         whole stream (default)
  --bluesky-defaults K=V,...  data policy of Bluesky runs whose metadata does not give it: proposal,
                         session, collection, dataset (the beamline is --beamline)
  --config FILE          JSON file with any of these options (camelCase or as spelled here);
                         options given on the command line win, then the environment, then the file
  --log-level LEVEL      DEBUG, INFO, WARN, ERROR (LOG_LEVEL, default INFO)
  -h, --help             this help

  beamline-archive bridge status --health-port N   prints the status of a running bridge

AWS region, endpoint and credentials come from the SDK's usual sources (AWS_REGION, AWS_ENDPOINT_URL,
AWS_PROFILE, instance/role credentials). SIGTERM/SIGINT: stop reading, let chunks in flight finish,
write the checkpoint, exit 0. See docs/bridge.md.
`;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function positiveInt(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new ConfigError(`${option} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** The Lima roots as given (each value a `,`/`:`-separated list; empty entries dropped), each checked to be an existing directory. */
function limaRootsOf(lists: readonly string[] | undefined, problems: string[]): string[] | undefined {
  if (lists === undefined) {
    problems.push(LIMA_ROOT_REQUIRED);
    return undefined;
  }
  const roots = lists
    .flatMap((list) => list.split(/[,:]/))
    .map((r) => r.trim())
    .filter((r) => r.length > 0);
  if (roots.length === 0) {
    problems.push('--lima-root names no folder');
    return undefined;
  }
  for (const root of roots) {
    if (!isAbsolute(root)) {
      problems.push(`--lima-root ${root} must be an absolute path`);
      continue;
    }
    try {
      if (!statSync(root).isDirectory()) problems.push(`--lima-root ${root} is not a directory`);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problems.push(
        code === 'ENOENT' ? `--lima-root ${root} does not exist` : `--lima-root ${root} cannot be checked (${(error as Error).message})`,
      );
    }
  }
  return roots;
}

const OPTIONS = {
  'redis-url': { type: 'string' },
  bus: { type: 'string' },
  bucket: { type: 'string' },
  beamline: { type: 'string' },
  from: { type: 'string' },
  'chunk-points': { type: 'string' },
  'chunk-bytes': { type: 'string' },
  'read-bytes': { type: 'string' },
  'flush-ms': { type: 'string' },
  checkpoint: { type: 'string' },
  'dead-letter': { type: 'string' },
  'health-port': { type: 'string' },
  'max-buffered-bytes': { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  'bluesky-stream': { type: 'string' },
  'bluesky-from': { type: 'string' },
  'bluesky-defaults': { type: 'string' },
  'lima-root': { type: 'string', multiple: true },
  'lima-file-wait-ms': { type: 'string' },
  'max-gap-points': { type: 'string' },
  'max-stream-points': { type: 'string' },
  'heartbeat-seconds': { type: 'string' },
} as const;

type OptionName = Exclude<keyof typeof OPTIONS, 'help' | 'config'>;
/** Options that may be given several times (the config file then takes a list of strings, or one string). */
type ListOptionName = 'lima-root';
const isListOption = (name: string): name is ListOptionName => name === 'lima-root';

interface ConfigFileValues {
  values: Partial<Record<Exclude<OptionName, ListOptionName>, string>>;
  lists: Partial<Record<ListOptionName, string[]>>;
}

/** Reads a JSON config file into option values (keys as on the command line or camelCase). */
function readConfigFile(path: string): ConfigFileValues {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`--config ${path}: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`--config ${path}: not a JSON object`);
  const out: ConfigFileValues = { values: {}, lists: {} };
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const name = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`) as OptionName;
    if (!(name in OPTIONS) || name === ('help' as string) || name === ('config' as string)) {
      unknown.push(key);
      continue;
    }
    if (isListOption(name)) {
      if (typeof value === 'string') out.lists[name] = [value];
      else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) out.lists[name] = value;
      else throw new ConfigError(`--config ${path}: ${key} must be a string or a list of strings`);
      continue;
    }
    if (typeof value !== 'string' && typeof value !== 'number')
      throw new ConfigError(`--config ${path}: ${key} must be a string or a number`);
    out.values[name] = String(value);
  }
  if (unknown.length > 0) throw new ConfigError(`--config ${path}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  return out;
}

export interface BridgeCliConfig extends BridgeConfig {
  healthPort?: number;
}

/** Parses and validates the command line, environment and config file; throws ConfigError with every problem found. */
export function parseBridgeConfig(argv: string[], env: NodeJS.ProcessEnv): BridgeCliConfig | 'help' {
  const { values: cli } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  if (cli.help) return 'help';
  const file = cli.config ? readConfigFile(cli.config) : { values: {}, lists: {} };
  const fromEnv: Partial<Record<OptionName, string | undefined>> = {
    'redis-url': env.REDIS_URL,
    bus: env.EVENT_BUS_NAME,
    bucket: env.BUCKET_NAME,
    beamline: env.BEAMLINE,
    checkpoint: env.BRIDGE_CHECKPOINT,
    'dead-letter': env.BRIDGE_DEAD_LETTER,
    'health-port': env.BRIDGE_HEALTH_PORT,
    'log-level': env.LOG_LEVEL,
    'bluesky-stream': env.BLUESKY_STREAM,
    'lima-root': env.BRIDGE_LIMA_ROOT,
    'lima-file-wait-ms': env.BRIDGE_LIMA_FILE_WAIT_MS,
    'max-gap-points': env.BRIDGE_MAX_GAP_POINTS,
    'max-stream-points': env.BRIDGE_MAX_STREAM_POINTS,
    'heartbeat-seconds': env.BRIDGE_HEARTBEAT_SECONDS,
  };
  const values = (name: Exclude<OptionName, ListOptionName>): string | undefined =>
    cli[name] ?? (fromEnv[name] || undefined) ?? file.values[name];
  /** A repeatable option: every command-line value, else the environment's list, else the file's. */
  const lists = (name: ListOptionName): string[] | undefined =>
    cli[name] ?? (fromEnv[name] ? [fromEnv[name]] : undefined) ?? file.lists[name];
  const problems: string[] = [];
  const required = (name: Exclude<OptionName, ListOptionName>, variable: string): string => {
    const value = values(name);
    if (!value) problems.push(`--${name} (or ${variable}) is required`);
    return value ?? '';
  };
  const redisUrl = required('redis-url', 'REDIS_URL');
  const eventBusName = required('bus', 'EVENT_BUS_NAME');
  const bucket = required('bucket', 'BUCKET_NAME');
  const beamline = required('beamline', 'BEAMLINE');
  // The bus source and the IAM role are per beamline (docs/access.md, "The edge"): a name they can carry.
  if (beamline)
    try {
      normaliseBeamline(beamline);
    } catch (error) {
      problems.push(`--beamline: ${(error as Error).message}`);
    }
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl))
    problems.push(`--redis-url must be redis:// or rediss://, got ${JSON.stringify(redisUrl)}`);
  const from = values('from') ?? '$';
  if (!/^(\$|0|\d+-\d+|\d+)$/.test(from))
    problems.push(`--from must be $, 0 or a stream id like 1700000000000-0, got ${JSON.stringify(from)}`);
  const numbers: Partial<BridgeCliConfig> = {};
  for (const [option, key] of [
    ['chunk-points', 'chunkPoints'],
    ['chunk-bytes', 'chunkBytes'],
    ['read-bytes', 'readBytes'],
    ['flush-ms', 'flushIntervalMs'],
    ['max-buffered-bytes', 'maxBufferedBytes'],
    ['health-port', 'healthPort'],
    ['max-gap-points', 'maxGapPoints'],
    ['max-stream-points', 'maxStreamPoints'],
  ] as const) {
    try {
      const n = positiveInt(values(option), `--${option}`);
      if (n !== undefined) numbers[key] = n;
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (numbers.healthPort !== undefined && numbers.healthPort > 65535) problems.push('--health-port must be at most 65535');
  const limaWait = values('lima-file-wait-ms');
  if (limaWait !== undefined && (!/^\d+$/.test(limaWait) || !Number.isSafeInteger(Number(limaWait)))) {
    problems.push(`--lima-file-wait-ms must be a whole number of milliseconds (0 or more), got ${JSON.stringify(limaWait)}`);
  }
  const heartbeat = values('heartbeat-seconds');
  if (heartbeat !== undefined && (!/^\d+$/.test(heartbeat) || Number(heartbeat) > 86_400)) {
    problems.push(`--heartbeat-seconds must be a whole number of seconds from 0 (none) to 86400, got ${JSON.stringify(heartbeat)}`);
  }
  const limaRoots = limaRootsOf(lists('lima-root'), problems);
  const logLevel = values('log-level');
  if (logLevel && !['DEBUG', 'INFO', 'WARN', 'ERROR'].includes(logLevel.toUpperCase()))
    problems.push(`--log-level must be DEBUG, INFO, WARN or ERROR`);
  const checkpoint = values('checkpoint');
  const deadLetter = values('dead-letter');
  const bluesky = parseBlueskyOptions(values('bluesky-stream'), values('bluesky-from'), values('bluesky-defaults'), problems);
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return {
    redisUrl,
    eventBusName,
    bucket,
    beamline,
    from,
    aws: awsConnectionFromEnv(env),
    ...numbers,
    ...(checkpoint ? { checkpointPath: checkpoint } : {}),
    ...(deadLetter ? { deadLetterPath: deadLetter } : {}),
    ...(logLevel ? { logLevel: logLevel.toUpperCase() } : {}),
    ...(bluesky ? { bluesky } : {}),
    limaRoots: limaRoots ?? [],
    ...(limaWait !== undefined ? { limaFileWaitMs: Number(limaWait) } : {}),
    ...(heartbeat !== undefined ? { heartbeatSeconds: Number(heartbeat) } : {}),
  };
}

/** GET /health (200 or 503) and GET /status (the status view as JSON), loopback only. */
export function serveHealth(running: RunningBridge, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    if (req.method !== 'GET') return send(405, { error: 'GET only' });
    if (req.url === '/health') {
      const health = running.bridge.healthy();
      return send(health.ok ? 200 : 503, health);
    }
    if (req.url === '/status') return send(200, running.status());
    return send(404, { error: 'GET /health or /status' });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** `bridge status`: fetches /status from a running bridge and prints a short view. */
async function printStatus(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'health-port': { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const port = values['health-port'] ?? env.BRIDGE_HEALTH_PORT;
  if (!port) {
    process.stderr.write('beamline-archive bridge status: --health-port (or BRIDGE_HEALTH_PORT) is required\n');
    return 2;
  }
  let status: BridgeStatus;
  try {
    const response = await fetch(`http://127.0.0.1:${port}/status`);
    status = (await response.json()) as BridgeStatus;
  } catch (error) {
    process.stderr.write(`beamline-archive bridge status: no bridge answers on 127.0.0.1:${port} (${(error as Error).message})\n`);
    return 1;
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  }
  const s = status.stats;
  const lines = [
    `uptime ${status.uptimeSeconds} s, history at ${status.historyId}${status.caughtUp ? ' (caught up)' : ''}, checkpoint ${status.checkpoint ?? '-'}`,
    `scans: ${status.scans.length} in flight, ${status.stopped} stopped, ${status.failed} failed, ${status.skipped} skipped, ${status.resumed} resumed`,
    `points staged ${s.pointsStaged}, chunks ${s.chunksStaged}, events sent ${s.eventsSent}, PutEvents entries ${status.putEvents.entries}`,
    `retries: PutEvents ${s.putEventsRetries}, S3 ${s.s3Retries}; Redis reconnects ${status.redisReconnects}; errors ${s.errors}; dead letters ${s.deadLetters}; gaps ${s.gaps}`,
    `Redis reads ${s.reads} (${s.readsAhead} asked for ahead), largest ${(s.largestReadBytes / 2 ** 20).toFixed(1)} MiB; chunk buffers ${status.chunkBuffers.allocated} allocated, ${status.chunkBuffers.reused} reused, buffered ${(status.bufferedBytes / 2 ** 20).toFixed(1)} MiB`,
    ...(s.lastError ? [`last error: ${s.lastError}`] : []),
    ...(status.bluesky
      ? [
          `bluesky ${status.bluesky.stream}: at ${status.bluesky.cursor || '-'}${status.bluesky.caughtUp ? ' (caught up)' : ''}, ${status.bluesky.openRuns.length} runs open, ${status.bluesky.runsStopped} stopped, ${status.bluesky.runsFailed} failed, ${status.bluesky.resumed} resumed, ${status.bluesky.deadLetters} dead letters (${status.bluesky.failedRunDocuments} documents of failed runs summarised)`,
        ]
      : []),
    ...status.scans.map(
      (f) =>
        `  ${f.runUid} state ${f.state}: read ${f.pointsRead}, committed ${f.pointsCommitted}, lag ${f.lagPoints} points / ${f.lagSeconds} s, ${f.inflightChunks} chunks in flight`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

export async function main(argv = process.argv.slice(2), env = process.env): Promise<number> {
  if (argv[0] === 'bridge') argv = argv.slice(1);
  if (argv[0] === 'status') return printStatus(argv.slice(1), env);
  let config: BridgeCliConfig | 'help';
  try {
    config = parseBridgeConfig(argv, env);
  } catch (error) {
    process.stderr.write(`beamline-archive bridge: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (config === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const { healthPort, ...bridgeConfig } = config;
  const running = await startBridge(bridgeConfig);
  const server = healthPort ? await serveHealth(running, healthPort) : undefined;
  await new Promise<void>((resolve) => {
    const onSignal = () => resolve();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  server?.close();
  await running.stop();
  return 0;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`beamline-archive bridge: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
