/**
 * Bounds at the edge (docs/bridge.md "Limits"): what the scan writer could never take is refused by
 * the bridge at once with Run Failed naming the stream, the index, the value and the limit, and
 * nothing of it is staged, while the other scans keep flowing. Dtypes the writer cannot hold,
 * published by the real blissdata (`<f2`, `>f8`), are NOT refused: one bad channel never loses a
 * scan (issue 14 item 5), the bridge carries them and the writer refuses that channel alone
 * (test/integration/scan-fidelity.test.ts). Counts blissdata would never write as raw entries written with redis
 * (tools/blissdata-publisher/publish_special_scans.py hostile): a 7-byte JSON entry sealed at 5·10^7
 * points, a numeric seal of 10^12, shape [0] with `len` 10^8, an entry two million points ahead.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot, startRedis, venvPython, type RunningService } from '../../local/services.js';
import { connectionTo, startAwsEmulator, type AwsEmulator, uniqueName } from '../../local/aws-target.js';
import { initBlissDataStore, PUBLISHER, run } from '../../local/pipeline.js';
import { createAwsClients, type AwsClients, type AwsConnection } from '../../src/adapters/aws-clients.js';
import { validateEvent, type BusEvent } from '../../src/core/contract/validators.js';
import { startBridge, type RunningBridge } from '../../bridge/bridge.js';
import { REFUSED } from '../../bridge/bounds.js';
import { captureBridgeEvents, drainEvents } from './bridge-capture.js';

const BUCKET = uniqueName('bounds-data');
const BUS = uniqueName('bounds-bus');
const SPECIAL = join(projectRoot, 'tools', 'blissdata-publisher', 'publish_special_scans.py');

interface Hostile {
  run_uid: string;
  stream: string;
  points: number;
}

async function hostile(redisUrl: string, kase: string, number: number): Promise<Hostile> {
  const out = await run(venvPython, [SPECIAL, '--redis', redisUrl, '--number', String(number), '--points', '5', '--case', kase, 'hostile']);
  if (out.code !== 0) throw new Error(`publish_special_scans.py hostile ${kase}: ${out.stderr.slice(-2000)}`);
  return JSON.parse(out.stdout) as Hostile;
}

describe('bridge: bounds at the edge', () => {
  let redis: RunningService;
  let aws: AwsEmulator;
  let clients: AwsClients;
  let conn: AwsConnection;
  let queueUrl: string;
  let bridge: RunningBridge | undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'bridge-bounds-'));
  const events: BusEvent[] = [];
  const docsOf = (uid: string, type: string) =>
    events.filter((e) => {
      const d = e.detail as { uid?: string; run_start?: string; run_uid?: string; stream_resource?: string };
      return (
        (d.uid === uid || d.run_start === uid || d.run_uid === uid || d.stream_resource?.startsWith(`${uid}/`)) && e['detail-type'] === type
      );
    });

  before(async () => {
    [redis, aws] = await Promise.all([startRedis(), startAwsEmulator()]);
    conn = connectionTo(aws.url);
    clients = createAwsClients(conn);
    queueUrl = await captureBridgeEvents(clients, { bucket: BUCKET, bus: BUS, queue: uniqueName('bounds-capture') });
    await initBlissDataStore(redis.url);
  });

  after(async () => {
    await bridge?.stop();
    await Promise.all([redis?.stop(), aws?.stop()]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('refuses a seal of 5·10^7 on one JSON entry, a seal of 10^12, shape [0] with len 10^8 and a gap of 2·10^6 points at once; carries <f2 and >f8 (the writer refuses that channel alone); the good scans around them are archived', async () => {
    const cases: [string, RegExp][] = [
      [
        'json-seal',
        /stream env:events: its seal \(50000000 points\) leaves points \[1, 50000000\) missing, a gap of 49999999 points, above the limit of 1000000 \(--max-gap-points\)/,
      ],
      ['numeric-seal', /stream diode:bad: its seal claims 1000000000000 points, above the limit of 100000000 \(--max-stream-points\)/],
      ['zero-shape', /stream mca:empty: declared point shape \[0\] has a dimension of size 0/],
      [
        'gap',
        /stream diode:bad: the entry at index 2000002 leaves points \[2, 2000002\) missing, a gap of 2000000 points, above the limit of 1000000 \(--max-gap-points\)/,
      ],
    ];
    const good1 = JSON.parse((await run(venvPython, [PUBLISHER, '--redis', redis.url, '--points', '20', '--number', '1'])).stdout) as {
      run_uid: string;
    };
    const published: Hostile[] = [];
    for (const [i, [kase]] of cases.entries()) published.push(await hostile(redis.url, kase, 10 + i));
    const carried = [await hostile(redis.url, 'float16', 30), await hostile(redis.url, 'f8be', 31)];
    const good2 = JSON.parse((await run(venvPython, [PUBLISHER, '--redis', redis.url, '--points', '20', '--number', '2'])).stdout) as {
      run_uid: string;
    };

    bridge = await startBridge({
      redisUrl: redis.url,
      bucket: BUCKET,
      eventBusName: BUS,
      beamline: 'id00',
      limaRoots: [tmp],
      aws: conn,
      from: '0',
      flushIntervalMs: 200,
      logLevel: 'ERROR',
    });
    const status = await bridge.idle(120_000);
    await drainEvents(clients, queueUrl, events);
    for (const e of events) validateEvent(e);

    assert.equal(status.failed, cases.length, JSON.stringify(status.stats));
    assert.equal(status.stopped, 2 + carried.length);
    for (const good of [good1, good2]) assert.equal(docsOf(good.run_uid, 'RunStop').length, 1, 'the other scans keep flowing');
    for (const [i, p] of carried.entries()) {
      const dtype = ['<f2', '>f8'][i]!;
      assert.equal(docsOf(p.run_uid, 'Run Failed').length, 0, dtype);
      assert.equal(docsOf(p.run_uid, 'RunStop').length, 1, dtype);
      const resource = docsOf(p.run_uid, 'StreamResource')
        .map((e) => e.detail as { data_key: string; parameters: { dtype_numpy: string } })
        .find((r) => r.data_key === p.stream);
      assert.equal(
        resource?.parameters.dtype_numpy,
        dtype,
        'carried with the dtype as published: the writer names it when it refuses the channel',
      );
      assert.ok(
        docsOf(p.run_uid, 'StreamDatum').some((e) => (e.detail as { stream_resource: string }).stream_resource.endsWith(`/${p.stream}`)),
        dtype,
      );
    }
    for (const [i, [kase, message]] of cases.entries()) {
      const p = published[i]!;
      const failed = docsOf(p.run_uid, 'Run Failed').map(
        (e) => e.detail as { reason: string; errors: { stream?: string; index?: number; message: string }[] },
      );
      assert.equal(failed.length, 1, kase);
      assert.equal(failed[0]!.reason, REFUSED, kase);
      assert.equal(failed[0]!.errors[0]!.stream, p.stream, kase);
      assert.match(failed[0]!.errors[0]!.message, message, kase);
      assert.equal(docsOf(p.run_uid, 'RunStop').length, 0, kase);
      // At once: nothing of the refused stream was staged (no datum), whatever its counts claim.
      assert.deepEqual(
        docsOf(p.run_uid, 'StreamDatum')
          .map((e) => (e.detail as { stream_resource: string }).stream_resource)
          .filter((r) => r.endsWith(`/${p.stream}`)),
        [],
        kase,
      );
    }
    const indexed = Object.fromEntries(
      cases.map(([kase], i) => [
        kase,
        docsOf(published[i]!.run_uid, 'Run Failed').map((e) => (e.detail as { errors: { index?: number }[] }).errors[0]!.index)[0],
      ]),
    );
    assert.deepEqual(indexed, { 'json-seal': 1, 'numeric-seal': 3, 'zero-shape': undefined, gap: 2 });
  });
});
