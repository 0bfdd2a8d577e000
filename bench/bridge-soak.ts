/**
 * Bridge soak, printed as JSON: one bridge (in this process, with a checkpoint file) follows
 * `--rounds` × `--scans` blissdata scans published one round after another (each round by one
 * Python process, tools/blissdata-publisher/publish_many.py) into a real Redis, staging to the S3
 * emulator (moto) and putting the documents on its EventBridge. After each round, once the bridge is
 * idle, it samples what would grow if something leaked over months of scans:
 *
 * - RSS and V8 heap after a full GC (run with `node --expose-gc`, as `npm run bench:soak` does);
 * - the process's active handles and requests (sockets, timers, …);
 * - Redis connections named by the bridge (`CLIENT LIST`): one per followed scan while it runs, none after;
 * - the chunk buffer pool (held, idle bytes), buffered bytes, the checkpoint file's size and its scans;
 * - the bridge's counters (runs stopped and failed, errors, dead letters).
 *
 * `growth` compares the last round with the second (the first one warms JIT, pools and sockets).
 *
 *   npx tsx --expose-gc bench/bridge-soak.ts [--rounds 6] [--scans 40] [--points 200] [--counters 6] [--batch 10]
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateEventBusCommand } from '@aws-sdk/client-eventbridge';
import { projectRoot, startMoto, startRedis, venvPython } from '../local/services.js';
import { initBlissDataStore, run } from '../local/pipeline.js';
import { createAwsClients } from '../src/adapters/aws-clients.js';
import { startBridge } from '../bridge/bridge.js';
import { emulatorCredentials } from '../local/aws-target.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string' },
    scans: { type: 'string' },
    points: { type: 'string' },
    counters: { type: 'string' },
    batch: { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds ?? 6);
const SCANS = Number(values.scans ?? 40);
const PUBLISH_MANY = join(projectRoot, 'tools', 'blissdata-publisher', 'publish_many.py');

const [redis, moto] = await Promise.all([startRedis(), startMoto()]);
const tmp = mkdtempSync(join(tmpdir(), 'bridge-soak-'));
const checkpointPath = join(tmp, 'checkpoint.json');
try {
  const aws = { region: 'eu-west-1', endpoint: moto.url, credentials: emulatorCredentials() };
  const clients = createAwsClients(aws);
  await clients.s3.send(new CreateBucketCommand({ Bucket: 'soak-data', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
  await clients.events.send(new CreateEventBusCommand({ Name: 'soak-bus' }));
  clients.s3.destroy();
  clients.events.destroy();
  await initBlissDataStore(redis.url);
  const admin = new Redis(redis.url, { protocol: 2 });
  const bridgeConnections = async () => {
    const list = (await admin.client('LIST')) as string;
    return list.split('\n').filter((l) => / name=beamline-archive-bridge-/.test(l)).length;
  };
  const bridge = await startBridge({
    limaRoots: [tmp],
    redisUrl: redis.url,
    bucket: 'soak-data',
    eventBusName: 'soak-bus',
    beamline: 'id00',
    aws,
    from: '$',
    checkpointPath,
    logLevel: 'ERROR',
  });
  await new Promise((r) => setTimeout(r, 700));
  const rounds: Record<string, unknown>[] = [];
  let published = 0;
  const t0 = performance.now();
  for (let round = 1; round <= ROUNDS; round++) {
    const out = await run(
      venvPython,
      [
        PUBLISH_MANY,
        '--redis',
        redis.url,
        '--scans',
        String(SCANS),
        '--first-number',
        String(published + 1),
        '--',
        '--type',
        'loopscan',
        '--points',
        values.points ?? '200',
        '--counters',
        values.counters ?? '6',
        '--batch',
        values.batch ?? '10',
      ],
      600_000,
    );
    if (out.code !== 0) throw new Error(`publish_many failed: ${out.stderr.slice(-2000)}`);
    published += SCANS;
    for (const deadline = Date.now() + 300_000; bridge.status().stopped + bridge.status().failed < published;) {
      if (Date.now() > deadline) throw new Error(`bridge not done with round ${round}: ${JSON.stringify(bridge.status().stats)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const status = await bridge.idle(120_000);
    await new Promise((r) => setTimeout(r, 300)); // connections of finished scans closing
    global.gc?.();
    const memory = process.memoryUsage();
    const checkpoint = JSON.parse(readFileSync(checkpointPath, 'utf8')) as { scans?: Record<string, unknown> };
    rounds.push({
      round,
      scans: published,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
      stopped: status.stopped,
      failed: status.failed,
      errors: status.stats.errors,
      deadLetters: status.stats.deadLetters,
      rssMiB: Math.round(memory.rss / 2 ** 20),
      heapUsedMiB: Math.round(memory.heapUsed / 2 ** 20),
      externalMiB: Math.round(memory.external / 2 ** 20),
      activeResources: process.getActiveResourcesInfo().length,
      redisConnections: await bridgeConnections(),
      chunkBuffers: status.chunkBuffers,
      bufferedBytes: status.bufferedBytes,
      checkpointBytes: statSync(checkpointPath).size,
      checkpointScans: Object.keys(checkpoint.scans ?? {}).length,
    });
    process.stderr.write(`round ${round}: ${JSON.stringify(rounds.at(-1))}\n`);
  }
  await bridge.stop();
  admin.disconnect();
  const first = rounds[Math.min(1, rounds.length - 1)]!;
  const last = rounds.at(-1)!;
  const growth = Object.fromEntries(
    ['rssMiB', 'heapUsedMiB', 'externalMiB', 'activeResources', 'redisConnections', 'checkpointBytes'].map((k) => [
      k,
      (last[k] as number) - (first[k] as number),
    ]),
  );
  process.stdout.write(
    `${JSON.stringify({ bench: 'bridge-soak', node: process.version, scansPerRound: SCANS, rounds, growth, comparedRounds: [first.round, last.round] }, null, 2)}\n`,
  );
} finally {
  await Promise.all([redis.stop(), moto.stop()]);
  rmSync(tmp, { recursive: true, force: true });
}
