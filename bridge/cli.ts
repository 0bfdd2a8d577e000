#!/usr/bin/env node
/**
 * `beamline-archive bridge`: follows BLISS scans in Redis, stages their data in S3 and puts
 * their run documents on EventBridge. Configuration from options or the environment, validated
 * before anything starts.
 */
import { parseArgs } from 'node:util';
import { awsConnectionFromEnv } from '../src/adapters/aws-clients.js';
import { defaultBridgeOptions, startBridge, type BridgeConfig } from './bridge.js';

export const HELP = `Usage: beamline-archive bridge [options]

Follows blissdata scans in Redis and publishes them as run documents on an EventBridge bus,
with their data staged in S3.

Options (environment variable in brackets):
  --redis-url URL        Redis of BLISS, with RedisJSON (REDIS_URL)
  --bus NAME             EventBridge bus name or ARN (EVENT_BUS_NAME)
  --bucket NAME          S3 bucket for staged chunks (BUCKET_NAME)
  --beamline NAME        beamline, used when a scan's path does not name it (BEAMLINE)
  --from ID              _SCAN_HISTORY_ id to start after: $ = new scans only (default), 0 = all
  --chunk-points N       points per staged chunk at most (default ${defaultBridgeOptions.chunkPoints})
  --chunk-bytes N        bytes per staged chunk at most (default ${defaultBridgeOptions.chunkBytes})
  --flush-ms N           stage buffered points older than this (default ${defaultBridgeOptions.flushIntervalMs})
  --checkpoint FILE      write the last handled history id to FILE
  --log-level LEVEL      DEBUG, INFO, WARN, ERROR (LOG_LEVEL, default INFO)
  -h, --help             this help

AWS region and endpoint come from AWS_REGION / AWS_DEFAULT_REGION and AWS_ENDPOINT_URL.
SIGINT/SIGTERM stop reading, stage what is buffered and exit.
`;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function positiveInt(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new ConfigError(`${option} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Parses and validates the command line and environment; throws ConfigError with every problem found. */
export function parseBridgeConfig(argv: string[], env: NodeJS.ProcessEnv): BridgeConfig | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      'redis-url': { type: 'string' }, bus: { type: 'string' }, bucket: { type: 'string' }, beamline: { type: 'string' },
      from: { type: 'string' }, 'chunk-points': { type: 'string' }, 'chunk-bytes': { type: 'string' },
      'flush-ms': { type: 'string' }, checkpoint: { type: 'string' }, 'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const problems: string[] = [];
  const required = (value: string | undefined, option: string, variable: string): string => {
    if (!value) problems.push(`${option} (or ${variable}) is required`);
    return value ?? '';
  };
  const redisUrl = required(values['redis-url'] ?? env.REDIS_URL, '--redis-url', 'REDIS_URL');
  const eventBusName = required(values.bus ?? env.EVENT_BUS_NAME, '--bus', 'EVENT_BUS_NAME');
  const bucket = required(values.bucket ?? env.BUCKET_NAME, '--bucket', 'BUCKET_NAME');
  const beamline = required(values.beamline ?? env.BEAMLINE, '--beamline', 'BEAMLINE');
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) problems.push(`--redis-url must be redis:// or rediss://, got ${JSON.stringify(redisUrl)}`);
  const from = values.from ?? '$';
  if (!/^(\$|0|\d+-\d+|\d+)$/.test(from)) problems.push(`--from must be $, 0 or a stream id like 1700000000000-0, got ${JSON.stringify(from)}`);
  const numbers: Partial<BridgeConfig> = {};
  for (const [option, key] of [['chunk-points', 'chunkPoints'], ['chunk-bytes', 'chunkBytes'], ['flush-ms', 'flushIntervalMs']] as const) {
    try {
      const n = positiveInt(values[option], `--${option}`);
      if (n !== undefined) numbers[key] = n;
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  const logLevel = values['log-level'] ?? env.LOG_LEVEL;
  if (logLevel && !['DEBUG', 'INFO', 'WARN', 'ERROR'].includes(logLevel.toUpperCase())) problems.push(`--log-level must be DEBUG, INFO, WARN or ERROR`);
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return {
    redisUrl, eventBusName, bucket, beamline, from, aws: awsConnectionFromEnv(env), ...numbers,
    ...(values.checkpoint ? { checkpointPath: values.checkpoint } : {}),
    ...(logLevel ? { logLevel: logLevel.toUpperCase() } : {}),
  };
}

export async function main(argv = process.argv.slice(2), env = process.env): Promise<number> {
  if (argv[0] === 'bridge') argv = argv.slice(1);
  let config: BridgeConfig | 'help';
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
  const running = await startBridge(config);
  await new Promise<void>((resolve) => {
    const onSignal = () => resolve();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  await running.stop();
  return 0;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().then((code) => process.exit(code), (error: unknown) => {
    process.stderr.write(`beamline-archive bridge: ${String(error)}\n`);
    process.exit(1);
  });
}
