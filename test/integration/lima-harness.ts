/**
 * What the Lima and Lima2 integration tests share: the local environment with the Lambda runner,
 * an in-process bridge that waits briefly for Lima files, and helpers to wait for a run to end and
 * to read objects back from the bucket.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Bridge, startBridge, type RunningBridge } from '../../bridge/bridge.js';
import { defaultBridgeOptions, type BridgeOptions } from '../../bridge/bridge-options.js';
import { initBlissDataStore } from '../../local/pipeline.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge-publisher.js';
import { createLogger } from '../../src/adapters/logger.js';
import { RedisScanSource } from '../../src/adapters/redis-scan-source.js';
import { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import type { ObjectStore } from '../../src/core/ports.js';
import type { RunRecord } from '../../src/core/archive/ports.js';
import { emulatorCredentials } from '../../local/aws-target.js';

/**
 * Where the Lima publishers write under `base`: the scan's data-policy folder, as the ESRF data policy
 * lays it out (`<proposal>/<beamline>/<session>/RAW_DATA/<collection>/<collection>_<dataset>`, the
 * publishers' identity). The bridge reads Lima files only below it.
 */
export function datasetFolderOf(base: string, proposal = 'ihch123'): string {
  return join(base, proposal, 'id00', '20261122', 'RAW_DATA', 'sample1', 'sample1_0001');
}

export interface LimaHarness {
  env: LocalEnvironment;
  /** The in-process bridge; a test that replaces it by a child process stops it and sets undefined. */
  bridge: RunningBridge | undefined;
  catalogue: DynamoDbRunCatalogue;
  bucket: string;
  /** A private temporary folder, removed by stop(). */
  tmp: string;
  /**
   * Replaces the bridge by one following only the scans published from now on (`--from $`, no checkpoint), with these
   * options and its S3 store passed through `wrapStore` (to act between the bridge's checks and its reads).
   */
  restartBridge(options?: Partial<BridgeOptions>, wrapStore?: (store: ObjectStore) => ObjectStore): Promise<void>;
  /** Waits until the run is ARCHIVED or FAILED. */
  waitForRun(runUid: string, timeoutMs?: number): Promise<RunRecord>;
  getObject(key: string): Promise<Uint8Array>;
  listKeys(prefix: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startLimaHarness(tmpPrefix: string): Promise<LimaHarness> {
  const env = await startLocalEnvironment();
  await env.startRunner({ log: () => undefined, environment: { LOG_LEVEL: 'ERROR' } });
  if (env.started.redis) await initBlissDataStore(env.redisUrl!);
  const bucket = env.resources.bucket.name;
  const catalogue = new DynamoDbRunCatalogue(env.clients.dynamo, env.resources.table.name);
  const tmp = mkdtempSync(join(tmpdir(), tmpPrefix));
  const harness: LimaHarness = {
    env,
    catalogue,
    bucket,
    tmp,
    bridge: await startBridge({
      limaRoots: [tmp],
      redisUrl: env.redisUrl!,
      bucket,
      eventBusName: env.resources.bus.name,
      beamline: 'id00',
      aws: { region: env.region, endpoint: env.awsEndpoint, credentials: emulatorCredentials() },
      from: '0',
      chunkPoints: 64,
      flushIntervalMs: 200,
      logLevel: 'ERROR',
      limaFileWaitMs: 1_500,
    }),
    async restartBridge(options = {}, wrapStore = (store) => store) {
      await harness.bridge?.stop();
      harness.bridge = undefined;
      // startBridge's composition, with the environment's clients and the store wrapped.
      const bridge = new Bridge(
        {
          source: new RedisScanSource(env.redisUrl!),
          store: wrapStore(new S3ObjectStore(env.clients.s3, bucket)),
          publisher: new EventBridgePublisher(
            { send: (command) => env.clients.events.send(command) },
            { eventBusName: env.resources.bus.name },
          ),
          logger: createLogger('bridge', 'ERROR'),
        },
        {
          ...defaultBridgeOptions,
          chunkPoints: 64,
          flushIntervalMs: 200,
          limaFileWaitMs: 1_500,
          beamline: 'id00',
          limaRoots: [tmp],
          ...options,
          from: '$',
        },
      );
      bridge.start();
      harness.bridge = { bridge, stop: () => bridge.stop(), idle: (timeoutMs) => bridge.idle(timeoutMs), status: () => bridge.status() };
      // The history's end is resolved before anything is published: every later scan is followed.
      for (let i = 0; bridge.status().historyId === '' && i < 200; i++) await new Promise((r) => setTimeout(r, 50));
    },
    async waitForRun(runUid, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const record = await catalogue.getRun(runUid);
        if (record?.state === 'ARCHIVED' || record?.state === 'FAILED') return record;
        if (Date.now() > deadline)
          throw new Error(`run ${runUid} not ARCHIVED/FAILED after ${timeoutMs} ms (state ${record?.state ?? 'none'})`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async getObject(key) {
      const out = await env.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return out.Body!.transformToByteArray();
    },
    async listKeys(prefix) {
      const out = await env.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (out.Contents ?? []).map((o) => o.Key!).sort();
    },
    async stop() {
      await harness.bridge?.stop();
      await env.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
  return harness;
}
