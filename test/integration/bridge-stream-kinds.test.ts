/**
 * Every kind of stream and scan end the bridge handles, each published by the real blissdata
 * (tools/blissdata-publisher): every numeric dtype blissdata allows, a free-shape channel
 * (shape (-1,), msgpack payloads), a trimmed stream (gap recorded, never invented), and every
 * path through the scan states CREATED → PREPARED → STARTED → STOPPED → CLOSED: a scan that never
 * starts (PREPARED → CLOSED, FAILURE), a scan aborted by the user after all its points
 * (USER_ABORT), aborted early and failed early (STARTED → CLOSED with fewer points than planned:
 * USER_ABORT → exit_status abort, FAILURE → fail, the published points archived), a scan deleted
 * while running (blissdata closes it: DELETION → fail), a scan running before the bridge starts
 * (catch-up with `from: '$'`), a scan closed before it (not archived without checkpoint).
 * JSON streams, scan sequences and changing shapes: bridge-json-streams.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { startRedis, venvPython, type RunningService } from '../../local/services.js';
import { initBlissDataStore, PUBLISHER, run } from '../../local/pipeline.js';
import { createAwsClients, type AwsClients, type AwsConnection } from '../../src/adapters/aws-clients.js';
import { validateEvent, type BusEvent } from '../../src/core/contract/validators.js';
import { startBridge, type RunningBridge } from '../../bridge/bridge.js';
import { parseElementType } from '../../src/core/nexus/dtypes.js';
import { captureBridgeEvents, drainEvents, dumpedBytes } from './bridge-capture.js';
import { connectionTo, startAwsEmulator, type AwsEmulator, uniqueName } from '../../local/aws-target.js';

const BUCKET = uniqueName('kinds-data');
const BUS = uniqueName('kinds-bus');
/** The dtype strings blissdata publishes for the dtypes of the first test. */
const DTYPE_STR: Record<string, string> = {
  bool: '|b1',
  int8: '|i1',
  uint16: '<u2',
  int32: '<i4',
  uint64: '<u8',
  float16: '<f2',
  float32: '<f4',
  complex64: '<c8',
  complex128: '<c16',
};
/** Whether the scan writer holds this dtype (its one definition): else it refuses that channel alone (the bridge carries it). */
function writerTakes(dtype: string): boolean {
  try {
    parseElementType(DTYPE_STR[dtype]!);
    return true;
  } catch {
    return false;
  }
}

interface Published {
  run_uid: string;
  points: number;
  channels?: Record<string, { dtype: string; shape: number[] }>;
  trimmed?: { stream: string; first: number };
}
interface Datum {
  uid: string;
  stream_resource: string;
  indices: { start: number; stop: number };
  chunk: { key: string; bytes: number };
}

async function publish(redisUrl: string, args: string[], npz?: string): Promise<Published> {
  const out = await run(venvPython, [PUBLISHER, '--redis', redisUrl, ...args, ...(npz ? ['--dump-values', npz] : [])]);
  if (out.code !== 0) throw new Error(`publish_scan.py ${args.join(' ')}: ${out.stderr.slice(-2000)}`);
  return JSON.parse(out.stdout) as Published;
}

describe('bridge: every stream kind and scan end, published by blissdata', () => {
  let redis: RunningService;
  let aws: AwsEmulator;
  let clients: AwsClients;
  let conn: AwsConnection;
  let queueUrl: string;
  let bridge: RunningBridge | undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'bridge-kinds-'));
  const events: BusEvent[] = [];
  const docsOf = (uid: string, type?: string) =>
    events.filter((e) => {
      const d = e.detail as { uid?: string; run_start?: string; run_uid?: string; stream_resource?: string };
      return (
        (d.uid === uid || d.run_start === uid || d.run_uid === uid || d.stream_resource?.startsWith(`${uid}/`)) &&
        (!type || e['detail-type'] === type)
      );
    });

  /** Checks a stopped run's chunks against the npz, per channel, over [from, points). */
  async function assertStaged(p: Published, npz: string, skip: Record<string, number> = {}): Promise<void> {
    const expected = await dumpedBytes(npz);
    const datums = docsOf(p.run_uid, 'StreamDatum').map((e) => e.detail as Datum);
    for (const channel of Object.keys(p.channels!)) {
      const chunks = datums
        .filter((d) => d.stream_resource === `${p.run_uid}/resource/${channel}`)
        .sort((a, b) => a.indices.start - b.indices.start);
      const from = skip[channel] ?? 0;
      let next = from;
      const parts: Buffer[] = [];
      for (const c of chunks) {
        assert.equal(c.indices.start, next, `${channel}: contiguous`);
        next = c.indices.stop;
        const out = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: c.chunk.key }));
        parts.push(Buffer.from(await out.Body!.transformToByteArray()));
      }
      assert.equal(next, p.points, `${channel}: up to the sealed count`);
      const all = expected.get(channel)!;
      const pointBytes = all.length / p.points;
      assert.ok(Buffer.concat(parts).equals(all.subarray(from * pointBytes)), `${channel}: bytes equal what blissdata published`);
    }
  }

  before(async () => {
    [redis, aws] = await Promise.all([startRedis(), startAwsEmulator()]);
    conn = connectionTo(aws.url);
    clients = createAwsClients(conn);
    queueUrl = await captureBridgeEvents(clients, { bucket: BUCKET, bus: BUS, queue: uniqueName('kinds-capture') });
    await initBlissDataStore(redis.url);
  });

  after(async () => {
    await bridge?.stop();
    await Promise.all([redis?.stop(), aws?.stop()]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('archives every dtype, free shapes and trimmed streams; carries aborted, never-started and closed-early scans', async () => {
    // Published before the bridge starts: catch-up from the whole history (from 0).
    const dtypes = ['bool', 'int8', 'uint16', 'int32', 'uint64', 'float16', 'float32', 'complex64', 'complex128'];
    const typed = await Promise.all(
      dtypes.map((dtype, i) =>
        publish(
          redis.url,
          ['--points', '37', '--batch', '4', '--counters', '1', '--dtype', dtype, '--number', String(10 + i)],
          join(tmp, `${dtype}.npz`),
        ),
      ),
    );
    const free = await publish(
      redis.url,
      ['--points', '50', '--batch', '3', '--free-spectrum', '7', '--spectrum', '5', '--number', '20'],
      join(tmp, 'free.npz'),
    );
    const trimmed = await publish(
      redis.url,
      ['--points', '100', '--batch', '10', '--trim-first', '40', '--number', '21'],
      join(tmp, 'trimmed.npz'),
    );
    const never = await publish(redis.url, ['--never-start', '--number', '22']);
    const aborted = await publish(redis.url, ['--points', '20', '--end-reason', 'USER_ABORT', '--number', '23'], join(tmp, 'aborted.npz'));
    const abortedEarly = await publish(
      redis.url,
      ['--points', '20', '--stop-after', '7', '--end-reason', 'USER_ABORT', '--number', '24'],
      join(tmp, 'aborted-early.npz'),
    );
    const failedEarly = await publish(
      redis.url,
      ['--points', '20', '--stop-after', '11', '--batch', '3', '--end-reason', 'FAILURE', '--number', '25'],
      join(tmp, 'failed-early.npz'),
    );

    bridge = await startBridge({
      limaRoots: [tmp],
      redisUrl: redis.url,
      bucket: BUCKET,
      eventBusName: BUS,
      beamline: 'id00',
      aws: conn,
      from: '0',
      chunkPoints: 16,
      flushIntervalMs: 200,
      logLevel: 'ERROR',
    });
    const status = await bridge.idle(90_000);
    // Dtypes the scan writer cannot hold (its own definition, parseElementType) are carried all the same:
    // the writer refuses that channel alone and archives the others (bridge/bounds.ts, issue 14 item 5).
    assert.ok(dtypes.some((d) => !writerTakes(d)) && dtypes.some((d) => writerTakes(d)), 'both kinds of dtype are published');
    assert.equal(status.failed, 0, JSON.stringify(status.stats));
    await drainEvents(clients, queueUrl, events);
    for (const e of events) validateEvent(e);

    for (const [i, p] of typed.entries()) {
      assert.equal(docsOf(p.run_uid, 'Run Failed').length, 0, dtypes[i]);
      assert.equal(docsOf(p.run_uid, 'RunStop').length, 1, dtypes[i]);
      await assertStaged(p, join(tmp, `${dtypes[i]}.npz`));
    }

    await assertStaged(free, join(tmp, 'free.npz'));
    const freeResource = docsOf(free.run_uid, 'StreamResource')
      .map((e) => e.detail as { data_key: string; parameters: { point_shape: number[]; dtype_numpy: string } })
      .find((r) => r.data_key === 'mca2:free_spectrum')!;
    assert.deepEqual(freeResource.parameters, { dtype_numpy: '<u2', point_shape: [7] });
    const descriptor = docsOf(free.run_uid, 'EventDescriptor')[0]!.detail as { data_keys: Record<string, { shape: (number | null)[] }> };
    assert.deepEqual(descriptor.data_keys['mca2:free_spectrum']!.shape, [null]);

    const gapStream = trimmed.trimmed!.stream;
    const first = trimmed.trimmed!.first;
    assert.equal(first, 40);
    await assertStaged(trimmed, join(tmp, 'trimmed.npz'), { [gapStream]: first });
    const trimmedStop = docsOf(trimmed.run_uid, 'RunStop')[0]!.detail as { bliss: { gaps?: unknown[]; points: Record<string, number> } };
    assert.deepEqual(trimmedStop.bliss.gaps, [{ stream: gapStream, start: 0, stop: first }]);
    assert.equal(trimmedStop.bliss.points[gapStream], 100, 'sealed count, gap included');

    const neverStop = docsOf(never.run_uid, 'RunStop');
    assert.equal(neverStop.length, 1);
    const ns = neverStop[0]!.detail as { exit_status: string; reason: string; bliss: { documents: { stream_datum: number } } };
    assert.equal(ns.exit_status, 'fail');
    assert.equal(ns.reason, 'FAILURE');
    assert.equal(ns.bliss.documents.stream_datum, 0);
    assert.equal(docsOf(never.run_uid, 'RunStart').length, 1);

    const ab = docsOf(aborted.run_uid, 'RunStop')[0]!.detail as { exit_status: string; bliss: { end_reason: string } };
    assert.equal(ab.exit_status, 'abort');
    assert.equal(ab.bliss.end_reason, 'USER_ABORT');

    // Ended early (STARTED → CLOSED before npoints): what was published is archived, the end reason carried.
    for (const [p, npz, exit, reason, points] of [
      [abortedEarly, 'aborted-early.npz', 'abort', 'USER_ABORT', 7],
      [failedEarly, 'failed-early.npz', 'fail', 'FAILURE', 11],
    ] as const) {
      assert.equal(p.points, points);
      await assertStaged(p, join(tmp, npz));
      const stops = docsOf(p.run_uid, 'RunStop').map(
        (e) => e.detail as { exit_status: string; reason: string; bliss: { end_reason: string; points: Record<string, number> } },
      );
      assert.equal(stops.length, 1, reason);
      assert.equal(stops[0]!.exit_status, exit);
      assert.equal(stops[0]!.reason, reason);
      assert.equal(stops[0]!.bliss.end_reason, reason);
      for (const n of Object.values(stops[0]!.bliss.points)) assert.equal(n, points);
      assert.equal(docsOf(p.run_uid, 'Run Failed').length, 0);
    }
  });

  it('archives a scan deleted while running as failed (DELETION), and catches up a scan that started before the bridge', async () => {
    await bridge!.stop();
    events.length = 0;
    // A scan closed before the bridge starts is not archived when there is no checkpoint and from is $ …
    const closedEarly = await publish(redis.url, ['--points', '10', '--number', '30']);
    // … but one still running is caught up.
    const running = publish(redis.url, ['--points', '60', '--batch', '2', '--sleep', '0.05', '--number', '31'], join(tmp, 'running.npz'));
    await new Promise((r) => setTimeout(r, 1200));
    bridge = await startBridge({
      limaRoots: [tmp],
      redisUrl: redis.url,
      bucket: BUCKET,
      eventBusName: BUS,
      beamline: 'id00',
      aws: conn,
      from: '$',
      chunkPoints: 16,
      flushIntervalMs: 200,
      goneCheckMs: 300,
      logLevel: 'ERROR',
      checkpointPath: join(tmp, 'cp.json'),
    });
    const caughtUp = await running;
    await new Promise((r) => setTimeout(r, 500));
    const deleted = await publish(redis.url, [
      '--points',
      '200',
      '--batch',
      '2',
      '--sleep',
      '0.05',
      '--delete-after',
      '40',
      '--number',
      '32',
    ]);
    const status = await bridge.idle(60_000);
    await drainEvents(clients, queueUrl, events);

    assert.deepEqual(
      docsOf(closedEarly.run_uid).map((e) => e['detail-type']),
      [],
      'closed before the bridge: not archived',
    );
    assert.equal(docsOf(caughtUp.run_uid, 'RunStop').length, 1);
    await assertStaged(caughtUp, join(tmp, 'running.npz'));
    // blissdata's delete_scan(force) closes a running scan with end_reason DELETION (sealing its
    // streams) and only then lets the keys expire: what was published is archived, exit_status fail.
    assert.equal(docsOf(deleted.run_uid, 'RunStart').length, 1);
    assert.equal(docsOf(deleted.run_uid, 'Run Failed').length, 0, JSON.stringify(status.stats));
    const stops = docsOf(deleted.run_uid, 'RunStop').map(
      (e) => e.detail as { exit_status: string; reason: string; bliss: { points: Record<string, number> } },
    );
    assert.equal(stops.length, 1);
    assert.equal(stops[0]!.exit_status, 'fail');
    assert.equal(stops[0]!.reason, 'DELETION');
    for (const points of Object.values(stops[0]!.bliss.points)) assert.equal(points, deleted.points);
  });
});
