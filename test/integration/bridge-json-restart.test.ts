/**
 * A JSON stream survives bridge restarts like a numeric one: blissdata publishes a slow scan with a
 * JSON stream while the bridge (with a checkpoint file) is stopped and started again three times;
 * the NDJSON chunks on S3 then tile the stream on the grid (no gap, no overlap, one StreamDatum per
 * chunk) and hold exactly the published values, in order.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { projectRoot, startRedis, venvPython, type RunningService } from '../../local/services.js';
import { initBlissDataStore, run } from '../../local/pipeline.js';
import { createAwsClients, type AwsClients, type AwsConnection } from '../../src/adapters/aws-clients.js';
import { validateEvent } from '../../src/core/contract/validators.js';
import { startBridge } from '../../bridge/bridge.js';
import { captureBridgeEvents, drainEvents } from './bridge-capture.js';
import { connectionTo, startAwsEmulator, type AwsEmulator, uniqueName } from '../../local/aws-target.js';

const SPECIAL = join(projectRoot, 'tools', 'blissdata-publisher', 'publish_special_scans.py');
const BUCKET = uniqueName('json-restart');
const BUS = uniqueName('json-restart-bus');

interface Datum {
  uid: string;
  stream_resource: string;
  indices: { start: number; stop: number };
  chunk: { key: string; bytes: number };
}

describe('bridge: a JSON stream across restarts', () => {
  let redis: RunningService;
  let aws: AwsEmulator;
  let clients: AwsClients;
  let conn: AwsConnection;
  let queueUrl: string;
  const tmp = mkdtempSync(join(tmpdir(), 'bridge-json-restart-'));

  before(async () => {
    [redis, aws] = await Promise.all([startRedis(), startAwsEmulator()]);
    conn = connectionTo(aws.url);
    clients = createAwsClients(conn);
    queueUrl = await captureBridgeEvents(clients, { bucket: BUCKET, bus: BUS, queue: uniqueName('json-restart-capture') });
    await initBlissDataStore(redis.url);
  });

  after(async () => {
    await Promise.all([redis?.stop(), aws?.stop()]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('stages every value once, in order, through three stops and restarts', async () => {
    const options = {
      limaRoots: [tmp],
      redisUrl: redis.url,
      bucket: BUCKET,
      eventBusName: BUS,
      beamline: 'id00',
      aws: conn,
      from: '0',
      chunkPoints: 8,
      flushIntervalMs: 100,
      logLevel: 'ERROR',
      checkpointPath: join(tmp, 'checkpoint.json'),
    };
    const publishing = run(venvPython, [SPECIAL, '--redis', redis.url, '--number', '7', '--points', '90', '--sleep', '0.03', 'json']);
    let resumed = 0;
    for (let restart = 0; restart < 3; restart++) {
      const bridge = await startBridge(options);
      // Stop only once the scan is being followed (on a loaded machine the publisher can be slow to start).
      for (const deadline = Date.now() + 20_000; bridge.status().active.length === 0 && Date.now() < deadline;)
        await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 300 + 150 * restart));
      resumed += bridge.status().resumed;
      await bridge.stop();
    }
    const out = await publishing;
    assert.equal(out.code, 0, out.stderr);
    const published = JSON.parse(out.stdout) as { run_uid: string; points: number; json_channel: string; values: unknown[] };
    const bridge = await startBridge(options);
    const status = await bridge.idle(60_000);
    await bridge.stop();
    assert.equal(status.failed, 0, JSON.stringify(status.stats));
    assert.ok(resumed + status.resumed >= 2, `the scan was resumed from the checkpoint after restarts (${resumed + status.resumed})`);

    const events = (await drainEvents(clients, queueUrl, [], 2)).map((e) => validateEvent(e));
    const resource = `${published.run_uid}/resource/${published.json_channel}`;
    const datums = new Map<string, Datum>();
    for (const e of events) {
      const d = e.detail as Datum;
      if (e['detail-type'] === 'StreamDatum' && d.stream_resource === resource) datums.set(d.uid, d); // a re-sent datum has the same uid
    }
    const chunks = [...datums.values()].sort((a, b) => a.indices.start - b.indices.start);
    let next = 0;
    const lines: string[] = [];
    for (const c of chunks) {
      assert.equal(c.indices.start, next, 'contiguous, no overlap');
      assert.ok(
        c.indices.stop - c.indices.start <= 8 && (c.indices.stop % 8 === 0 || c.indices.stop === published.points),
        `on the grid: ${c.uid}`,
      );
      next = c.indices.stop;
      const body = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: c.chunk.key }));
      const text = await body.Body!.transformToString('utf8');
      assert.equal(Buffer.byteLength(text), c.chunk.bytes);
      lines.push(...text.slice(0, -1).split('\n'));
    }
    assert.equal(next, published.points);
    assert.deepEqual(
      lines.map((l) => JSON.parse(l) as unknown),
      published.values,
      'every published value once, in order',
    );
    const stops = events.filter(
      (e) => e['detail-type'] === 'RunStop' && (e.detail as { run_start: string }).run_start === published.run_uid,
    );
    assert.ok(stops.length >= 1);
    const stop = stops[0]!.detail as { bliss: { points: Record<string, number>; documents: { stream_datum: number } } };
    assert.equal(stop.bliss.points[published.json_channel], published.points);
  });
});
