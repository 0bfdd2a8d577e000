/**
 * The bridge against real blissdata scans (tools/blissdata-publisher) in a real Redis with
 * RedisJSON, and the AWS emulator (moto): a bucket, a custom bus and a rule delivering every
 * bridge event to an SQS queue the test reads.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { startRedis, venvPython, type RunningService } from '../../local/services.js';
import { initBlissDataStore, PUBLISHER, run } from '../../local/pipeline.js';
import { createAwsClients, type AwsClients, type AwsConnection } from '../../src/adapters/aws-clients.js';
import { validateEvent } from '../../src/core/contract/validators.js';
import { Bridge, startBridge, type RunningBridge } from '../../bridge/bridge.js';
import { defaultBridgeOptions } from '../../bridge/bridge-options.js';
import { captureBridgeEvents, drainEvents, dumpedBytes } from './bridge-capture.js';
import { RedisScanSource } from '../../src/adapters/redis-scan-source.js';
import { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge-publisher.js';
import { createLogger } from '../../src/adapters/logger.js';
import type { OutgoingEvent } from '../../src/core/ports.js';
import { connectionTo, startAwsEmulator, type AwsEmulator, uniqueName } from '../../local/aws-target.js';

const BUCKET = uniqueName('bridge-test-data');
const BUS = uniqueName('bridge-test-bus');

interface Published {
  scan_key: string;
  run_uid: string;
  points: number;
  channels: Record<string, { dtype: string; shape: number[] }>;
  corrupt: { stream: string; kind: string; index: number } | null;
}

async function publish(redisUrl: string, args: string[]): Promise<Published> {
  const out = await run(venvPython, [PUBLISHER, '--redis', redisUrl, ...args]);
  if (out.code !== 0) throw new Error(`publish_scan.py exited ${out.code}: ${out.stderr.slice(-2000)}`);
  return JSON.parse(out.stdout) as Published;
}

describe('bridge: blissdata scans → S3 chunks + run documents on the bus', () => {
  let redis: RunningService;
  let aws: AwsEmulator;
  let clients: AwsClients;
  let conn: AwsConnection;
  let queueUrl: string;
  let bridge: RunningBridge;
  const tmp = mkdtempSync(join(tmpdir(), 'bridge-it-'));

  before(async () => {
    [redis, aws] = await Promise.all([startRedis(), startAwsEmulator()]);
    conn = connectionTo(aws.url);
    clients = createAwsClients(conn);
    queueUrl = await captureBridgeEvents(clients, { bucket: BUCKET, bus: BUS, queue: uniqueName('bridge-test-capture') });
    // blissdata creates its indexes on the first (empty) database.
    await initBlissDataStore(redis.url);
    bridge = await startBridge({
      limaRoots: [tmp],
      redisUrl: redis.url,
      bucket: BUCKET,
      eventBusName: BUS,
      beamline: 'id00',
      aws: conn,
      from: '0',
      chunkPoints: 64,
      flushIntervalMs: 300,
      logLevel: 'WARN',
    });
  });

  after(async () => {
    await bridge?.stop();
    await Promise.all([redis?.stop(), aws?.stop()]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('archives two concurrent scans bit for bit and fails only the corrupt one', async () => {
    const t0 = Date.now();
    const [a, b, bad] = await Promise.all([
      publish(redis.url, [
        '--type',
        'ascan',
        '--points',
        '300',
        '--counters',
        '4',
        '--batch',
        '7',
        '--number',
        '1',
        '--spectrum',
        '16',
        '--dump-values',
        join(tmp, 'a.npz'),
      ]),
      publish(redis.url, [
        '--type',
        'loopscan',
        '--points',
        '250',
        '--counters',
        '3',
        '--batch',
        '25',
        '--dtype',
        'int16',
        '--number',
        '2',
        '--sleep',
        '0.002',
        '--dump-values',
        join(tmp, 'b.npz'),
      ]),
      publish(redis.url, [
        '--type',
        'ascan',
        '--points',
        '100',
        '--counters',
        '2',
        '--batch',
        '10',
        '--number',
        '3',
        '--corrupt',
        'truncated',
        '--corrupt-index',
        '40',
      ]),
    ]);
    const status = await bridge.idle(60_000);
    const elapsed = (Date.now() - t0) / 1000;
    assert.equal(status.stopped, 2, JSON.stringify(status));
    assert.equal(status.failed, 1, JSON.stringify(status));
    // Each followed scan had a Redis connection of its own: none is left once the scans are done (stopped or failed).
    const admin = new Redis(redis.url, { protocol: 2 });
    let scanConnections = -1;
    for (const deadline = Date.now() + 5_000; scanConnections !== 0 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      scanConnections = ((await admin.client('LIST')) as string)
        .split('\n')
        .filter((l) => / name=beamline-archive-bridge-scan /.test(l)).length;
    }
    admin.disconnect();
    assert.equal(scanConnections, 0, 'no scan connection left open');
    assert.equal(status.chunkBuffers.outstanding, 0, 'every chunk buffer given back');

    const events = await drainEvents(clients, queueUrl, [], 2);
    for (const event of events) validateEvent(event);
    const byRun = (uid: string) =>
      events.filter((e) => {
        const d = e.detail as { uid?: string; run_start?: string; run_uid?: string; stream_resource?: string };
        return d.uid === uid || d.run_start === uid || d.run_uid === uid || d.stream_resource?.startsWith(`${uid}/`);
      });

    for (const [scan, npz] of [
      [a, 'a.npz'],
      [b, 'b.npz'],
    ] as const) {
      const docs = byRun(scan.run_uid);
      const kinds = (t: string) => docs.filter((e) => e['detail-type'] === t);
      assert.equal(kinds('RunStart').length, 1);
      assert.equal(kinds('EventDescriptor').length, 1);
      assert.equal(kinds('RunStop').length, 1);
      assert.equal(kinds('Run Failed').length, 0);
      const channels = Object.keys(scan.channels);
      assert.equal(kinds('StreamResource').length, channels.length);
      const stop = kinds('RunStop')[0]!.detail as {
        exit_status: string;
        bliss: { points: Record<string, number>; documents: { stream_datum: number; stream_resource: number } };
      };
      assert.equal(stop.exit_status, 'success');
      for (const channel of channels) assert.equal(stop.bliss.points[channel], scan.points, channel);
      const datums = kinds('StreamDatum').map(
        (e) => e.detail as { stream_resource: string; indices: { start: number; stop: number }; chunk: { key: string; bytes: number } },
      );
      assert.equal(stop.bliss.documents.stream_datum, datums.length);
      assert.equal(stop.bliss.documents.stream_resource, channels.length);
      // RunStop was put on the bus after every datum: it is the last document of the run received.
      const times = docs.map((e) => Date.parse(e.time!));
      assert.ok(Date.parse(kinds('RunStop')[0]!.time!) >= Math.max(...times.filter((_, i) => docs[i]!['detail-type'] !== 'RunStop')));

      const expected = await dumpedBytes(join(tmp, npz));
      for (const channel of channels) {
        const chunks = datums
          .filter((d) => d.stream_resource === `${scan.run_uid}/resource/${channel}`)
          .sort((x, y) => x.indices.start - y.indices.start);
        let next = 0;
        const parts: Buffer[] = [];
        for (const chunk of chunks) {
          assert.equal(chunk.indices.start, next, `${channel}: chunks are contiguous`);
          next = chunk.indices.stop;
          const out = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: chunk.chunk.key }));
          const body = Buffer.from(await out.Body!.transformToByteArray());
          assert.equal(body.length, chunk.chunk.bytes);
          parts.push(body);
        }
        assert.equal(next, scan.points, `${channel}: every point staged`);
        assert.ok(Buffer.concat(parts).equals(expected.get(channel)!), `${channel}: staged bytes equal the published values`);
      }
      const info = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `staging/id00/${scan.run_uid}/scan_info.json` }));
      const scanInfo = JSON.parse(await info.Body!.transformToString()) as { end_reason?: string };
      assert.equal(scanInfo.end_reason, 'SUCCESS');
    }

    const badDocs = byRun(bad.run_uid);
    assert.equal(badDocs.filter((e) => e['detail-type'] === 'RunStop').length, 0);
    const failed = badDocs.filter((e) => e['detail-type'] === 'Run Failed');
    assert.equal(failed.length, 1);
    const failure = failed[0]!.detail as { stage: string; errors: { stream?: string; index?: number; message: string }[] };
    assert.equal(failure.stage, 'bridge');
    assert.equal(failure.errors[0]!.stream, bad.corrupt!.stream);
    assert.equal(failure.errors[0]!.index, bad.corrupt!.index);

    const points = 300 * 9 + 250 * 5;
    process.stdout.write(
      `# bridge throughput: ${events.length} events, ${points} channel points of 2 good scans in ${elapsed.toFixed(2)} s\n`,
    );
  });

  it('puts RunStop on the bus only after every datum was accepted; throughput of a large scan', async () => {
    await bridge.stop();
    const accepted: OutgoingEvent[] = [];
    const real = new EventBridgePublisher({ send: (c) => clients.events.send(c) }, { eventBusName: BUS });
    const recording = {
      async publish(events: readonly OutgoingEvent[]) {
        const out = await real.publish(events);
        const refused = new Set(out.rejected.map((r) => r.event));
        accepted.push(...events.filter((e) => !refused.has(e)));
        return out;
      },
    };
    const ordered = new Bridge(
      {
        source: new RedisScanSource(redis.url),
        store: new S3ObjectStore(clients.s3, BUCKET),
        publisher: recording,
        logger: createLogger('bridge', 'WARN'),
      },
      { ...defaultBridgeOptions, beamline: 'id00', limaRoots: [tmp], from: '$', checkpointPath: join(tmp, 'checkpoint') },
    );
    ordered.start();
    await new Promise((r) => setTimeout(r, 700));
    const t0 = Date.now();
    const big = await publish(redis.url, ['--type', 'loopscan', '--points', '20000', '--counters', '5', '--batch', '100', '--number', '4']);
    const status = await ordered.idle(120_000);
    const seconds = (Date.now() - t0) / 1000;
    await ordered.stop();
    assert.equal(status.stopped, 1, JSON.stringify(status));
    const kinds = accepted.map((e) => e.detailType);
    assert.equal(kinds[0], 'RunStart');
    assert.equal(kinds.at(-1), 'RunStop');
    assert.equal(kinds.filter((k) => k === 'RunStop').length, 1);
    const stop = accepted.at(-1)!.detail as { bliss: { documents: { stream_datum: number } }; num_events: { primary: number } };
    assert.equal(stop.bliss.documents.stream_datum, kinds.filter((k) => k === 'StreamDatum').length);
    assert.equal(stop.num_events.primary, big.points);
    const channelPoints = big.points * Object.keys(big.channels).length;
    const rate = Math.round(channelPoints / seconds);
    assert.ok(status.checkpoint, 'a checkpoint was recorded');
    process.stdout.write(
      `# bridge throughput (publish + bridge, wall clock): ${channelPoints} channel points in ${seconds.toFixed(2)} s = ${rate} points/s\n`,
    );
  });

  it('reads Redis in replies of about readBytes, the next one asked for ahead, into reused chunk buffers; bit for bit', async () => {
    // 8 channels of 1000-point entries (8 KB each): at the default count one read would bring the whole scan.
    const readBytes = 512 * 1024;
    const chunkBytes = 48 * 1024;
    const bounded = await startBridge({
      limaRoots: [tmp],
      redisUrl: redis.url,
      bucket: BUCKET,
      eventBusName: BUS,
      beamline: 'id00',
      aws: conn,
      from: '$',
      readBytes,
      chunkBytes,
      flushIntervalMs: 300,
      logLevel: 'WARN',
    });
    try {
      await new Promise((r) => setTimeout(r, 700));
      const scan = await publish(redis.url, [
        '--type',
        'loopscan',
        '--points',
        '30000',
        '--counters',
        '6',
        '--batch',
        '1000',
        '--number',
        '5',
        '--dump-values',
        join(tmp, 'big.npz'),
      ]);
      const status = await bounded.idle(120_000);
      assert.equal(status.stopped, 1, JSON.stringify(status));
      const channels = Object.keys(scan.channels);
      assert.equal(channels.length, 8);
      // A reply holds at most about readBytes, plus one entry per stream (the count is at least 1);
      // the first (4 entries per stream, sizes unknown yet) is 256 KiB here.
      const entryBytes = 1000 * 8 + 64;
      assert.ok(status.stats.largestReadBytes > 0);
      assert.ok(
        status.stats.largestReadBytes <= readBytes + channels.length * entryBytes,
        `largest read ${status.stats.largestReadBytes} bytes, readBytes ${readBytes}`,
      );
      assert.ok(status.stats.readsAhead > 0, `reads issued ahead were used: ${JSON.stringify(status.stats)}`);
      // 30,000 points × 8 B in 6,144-point chunks: 5 chunks per channel, 40 in all, from a few buffers.
      assert.equal(status.stats.chunksStaged, 40);
      assert.ok(status.chunkBuffers.reused > status.chunkBuffers.allocated, JSON.stringify(status.chunkBuffers));
      assert.equal(status.chunkBuffers.outstanding, 0);

      const events = await drainEvents(clients, queueUrl, [], 2);
      const datums = events
        .filter((e) => e['detail-type'] === 'StreamDatum')
        .map((e) => e.detail as { stream_resource: string; indices: { start: number; stop: number }; chunk: { key: string } })
        .filter((d) => d.stream_resource.startsWith(`${scan.run_uid}/`));
      assert.equal(datums.length, 40);
      const expected = await dumpedBytes(join(tmp, 'big.npz'));
      for (const channel of channels) {
        const chunks = datums
          .filter((d) => d.stream_resource === `${scan.run_uid}/resource/${channel}`)
          .sort((x, y) => x.indices.start - y.indices.start);
        const parts: Buffer[] = [];
        for (const chunk of chunks) {
          const out = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: chunk.chunk.key }));
          parts.push(Buffer.from(await out.Body!.transformToByteArray()));
        }
        assert.ok(Buffer.concat(parts).equals(expected.get(channel)!), `${channel}: staged bytes equal the published values`);
      }
    } finally {
      await bounded.stop();
    }
  });
});
