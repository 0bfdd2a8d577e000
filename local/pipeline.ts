/**
 * The whole pipeline on this machine: embedded Redis + AWS emulator provisioned from the CDK
 * template, the edge bridge following Redis, and the local runner playing the Lambda service.
 * Used by the demo (`npm run demo`), the end-to-end test and the benchmarks.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDbRunCatalogue } from '../src/adapters/dynamodb-run-catalogue.js';
import type { RunRecord } from '../src/core/archive/ports.js';
import { tmpdir } from 'node:os';
import { startBridge, type RunningBridge } from '../bridge/bridge.js';
import { connectionTo } from './aws-target.js';
import { startLocalEnvironment, type LocalEnvironment } from './environment.js';
import type { LocalLambdaRunner } from './runner.js';
import { projectRoot, venvPython } from './services.js';

export interface PublishOptions {
  type?: 'ascan' | 'loopscan' | 'ct';
  points?: number;
  counters?: number;
  batch?: number;
  dtype?: string;
  spectrum?: number;
  number?: number;
  sampleName?: string;
  /** The data policy's proposal (default ihch123) and beamline (default id00). */
  proposal?: string;
  beamline?: string;
  collection?: string;
  dataset?: string;
  sleep?: number;
  endReason?: string;
  corrupt?: 'truncated' | 'dtype';
  /** Write every published channel's values to this .npz (for bit-for-bit checks). */
  dumpValues?: string;
}

/** What tools/blissdata-publisher/publish_scan.py prints. */
export interface PublishedScan {
  scan_key: string;
  run_uid: string;
  type: string;
  points: number;
  channels: Record<string, { dtype: string; shape: number[] }>;
  corrupt: { stream: string; kind: string; index: number } | null;
  dump?: string;
  /** Epoch seconds right after scan.close() returned (publisher's clock: this machine's). */
  closed_at: number;
  /** The same in milliseconds. */
  closedAtMs: number;
}

export const PUBLISHER = join(projectRoot, 'tools', 'blissdata-publisher', 'publish_scan.py');

/** Publishes one scan with the real blissdata package (in .venv). */
export async function publishScan(redisUrl: string, options: PublishOptions = {}): Promise<PublishedScan> {
  const args = [PUBLISHER, '--redis', redisUrl];
  const flag = (name: string, value: string | number | undefined) => {
    if (value !== undefined) args.push(`--${name}`, String(value));
  };
  flag('type', options.type);
  flag('points', options.points);
  flag('counters', options.counters);
  flag('batch', options.batch);
  flag('dtype', options.dtype);
  flag('spectrum', options.spectrum);
  flag('number', options.number);
  flag('sample-name', options.sampleName);
  flag('collection', options.collection);
  flag('proposal', options.proposal);
  flag('beamline', options.beamline);
  flag('dataset', options.dataset);
  flag('sleep', options.sleep);
  flag('end-reason', options.endReason);
  flag('corrupt', options.corrupt);
  flag('dump-values', options.dumpValues);
  const { stdout, stderr, code } = await run(venvPython, args);
  if (code !== 0) throw new Error(`publish_scan.py failed (exit ${code}): ${stderr.trim().split('\n').slice(-5).join('\n')}`);
  const summary = JSON.parse(stdout) as Omit<PublishedScan, 'closedAtMs'>;
  return { ...summary, closedAtMs: Math.round(summary.closed_at * 1000) };
}

/**
 * Creates blissdata's indexes in an empty Redis, as BLISS's Beacon server does once per database.
 * Publishers started at the same moment on an uninitialised database would race to do it.
 */
export async function initBlissDataStore(redisUrl: string): Promise<void> {
  const code = 'import sys\nfrom blissdata.redis_engine.store import DataStore\nDataStore(sys.argv[1], init_db=True)';
  const result = await run(venvPython, ['-c', code, redisUrl]);
  if (result.code !== 0) throw new Error(`blissdata could not initialise ${redisUrl}: ${result.stderr.trim().split('\n').pop()}`);
}

/** Runs a command to completion; killed (and reported as failed) after `timeoutMs`. */
/** Runs a command to its end (killed after `timeoutMs`); `env` is added to this process's environment. */
export function run(
  command: string,
  args: string[],
  timeoutMs = 300_000,
  env?: Record<string, string>,
): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      stderr += `\n${command} killed after ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code: code ?? 1 });
    });
  });
}

export interface LocalPipeline {
  env: LocalEnvironment;
  runner: LocalLambdaRunner;
  bridge: RunningBridge;
  redisUrl: string;
  bucket: string;
  catalogue: DynamoDbRunCatalogue;
  publish(options?: PublishOptions): Promise<PublishedScan>;
  /** Polls the catalogue until the run is ARCHIVED or FAILED (or the time is up). */
  waitForRun(runUid: string, options?: { timeoutMs?: number; states?: string[] }): Promise<RunRecord>;
  /** Copies an archived object to a local file. */
  download(key: string, path: string): Promise<void>;
  stop(): Promise<void>;
}

export interface PipelineOptions {
  beamline?: string;
  /** Points per staged chunk (bridge). */
  chunkPoints?: number;
  /** Log level of the functions and the bridge. */
  logLevel?: string;
  /** Folders the bridge reads Lima files from (--lima-root); default the system's temporary folder, where local Lima scans write. */
  limaRoots?: readonly string[];
}

export async function startLocalPipeline(options: PipelineOptions = {}): Promise<LocalPipeline> {
  const env = await startLocalEnvironment();
  try {
    const runner = await env.startRunner({
      log: () => undefined,
      ...(options.logLevel !== undefined ? { environment: { LOG_LEVEL: options.logLevel } } : {}),
    });
    const redisUrl = env.redisUrl!;
    if (env.started.redis) await initBlissDataStore(redisUrl);
    const bucket = env.resources.bucket.name;
    const bridge = await startBridge({
      redisUrl,
      bucket,
      eventBusName: env.resources.bus.name,
      beamline: options.beamline ?? 'id00',
      aws: connectionTo(env.awsEndpoint),
      from: '0',
      limaRoots: options.limaRoots ?? [tmpdir()],
      ...(options.chunkPoints !== undefined ? { chunkPoints: options.chunkPoints } : {}),
      ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
    });
    const catalogue = new DynamoDbRunCatalogue(env.clients.dynamo, env.resources.table.name);
    return {
      env,
      runner,
      bridge,
      redisUrl,
      bucket,
      catalogue,
      publish: (publishOptions) => publishScan(redisUrl, publishOptions),
      async waitForRun(runUid, { timeoutMs = 120_000, states = ['ARCHIVED', 'FAILED'] } = {}) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const record = await catalogue.getRun(runUid);
          if (record?.state && states.includes(record.state)) return record;
          if (Date.now() > deadline) {
            throw new Error(`run ${runUid} not ${states.join('/')} after ${timeoutMs} ms (state ${record?.state ?? 'none'})`);
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      async download(key, path) {
        const out = await env.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        await writeFile(path, await out.Body!.transformToByteArray());
      },
      async stop() {
        try {
          await bridge.stop();
        } finally {
          await env.stop();
        }
      },
    };
  } catch (error) {
    await env.stop();
    throw error;
  }
}
