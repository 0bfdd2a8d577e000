/**
 * The bridge's heartbeat (issue 14 item 2; bridge/heartbeat.ts): a bridge process (startBridge)
 * against a real Redis with RedisJSON and the AWS emulator sends a `Bridge Heartbeat` on the bus
 * every --heartbeat-seconds, valid against the contract, naming its beamline, its bridge id (host:pid)
 * and version, with its lag while a blissdata scan is followed; once stopped, it sends no more.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis, venvPython, type RunningService } from '../../local/services.js';
import { initBlissDataStore, PUBLISHER, run } from '../../local/pipeline.js';
import { createAwsClients, type AwsClients } from '../../src/adapters/aws-clients.js';
import { validateEvent, type BusEvent } from '../../src/core/contract/validators.js';
import type { BridgeHeartbeat } from '../../src/core/contract/generated-types.js';
import { startBridge, type RunningBridge } from '../../bridge/bridge.js';
import { captureBridgeEvents, drainEvents } from './bridge-capture.js';
import { connectionTo, startAwsEmulator, type AwsEmulator, uniqueName } from '../../local/aws-target.js';

const BUCKET = uniqueName('bridge-heartbeat-data');
const BUS = uniqueName('bridge-heartbeat-bus');
const beatsOf = (events: BusEvent[]) =>
  events.filter((e) => e['detail-type'] === 'Bridge Heartbeat').map((e) => validateEvent(e).detail as BridgeHeartbeat);

describe('bridge heartbeat: liveness and lag on the bus while the bridge runs, none once it stopped', () => {
  let redis: RunningService;
  let aws: AwsEmulator;
  let clients: AwsClients;
  let queueUrl: string;
  let bridge: RunningBridge | undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'bridge-heartbeat-'));

  before(async () => {
    [redis, aws] = await Promise.all([startRedis(), startAwsEmulator()]);
    clients = createAwsClients(connectionTo(aws.url));
    queueUrl = await captureBridgeEvents(clients, { bucket: BUCKET, bus: BUS, queue: uniqueName('bridge-heartbeat-capture') });
    await initBlissDataStore(redis.url);
  });

  after(async () => {
    await bridge?.stop();
    await Promise.all([redis?.stop(), aws?.stop()]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('beats every second with beamline, bridge id, version and the scans in flight, and stops with the bridge', async () => {
    const started = Date.now();
    bridge = await startBridge({
      limaRoots: [tmp],
      redisUrl: redis.url,
      bucket: BUCKET,
      eventBusName: BUS,
      beamline: 'id00',
      aws: connectionTo(aws.url),
      from: '0',
      chunkPoints: 50,
      flushIntervalMs: 200,
      logLevel: 'WARN',
      heartbeatSeconds: 1,
    });
    // A scan of about 4 s (40 batches, 0.1 s apart): heartbeats fall while it is followed.
    const out = await run(venvPython, [
      PUBLISHER,
      '--redis',
      redis.url,
      '--type',
      'loopscan',
      '--points',
      '400',
      '--counters',
      '3',
      '--batch',
      '10',
      '--sleep',
      '0.1',
      '--number',
      '1',
    ]);
    assert.equal(out.code, 0, out.stderr.slice(-2000));
    const scan = JSON.parse(out.stdout) as { run_uid: string };
    const status = await bridge.idle(60_000);
    assert.equal(status.stopped, 1, JSON.stringify(status));
    await new Promise((r) => setTimeout(r, 2_500)); // idle beats
    // Stopped before the queue is read: while it runs, a beat a second keeps the queue from ever being quiet.
    await bridge.stop();
    const stoppedAt = Date.now();
    bridge = undefined;
    const events = await drainEvents(clients, queueUrl, [], 2);
    const beats = beatsOf(events);
    const seconds = (stoppedAt - started) / 1000;

    assert.ok(beats.length >= 4, `${beats.length} heartbeats in ${seconds.toFixed(1)} s`);
    assert.ok(beats.length <= Math.ceil(seconds) + 1, `at most one a second: ${beats.length} in ${seconds.toFixed(1)} s`);
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    for (const beat of beats) {
      assert.deepEqual(
        [beat.beamline, beat.bridge_id, beat.version, beat.interval_seconds, beat.healthy],
        ['id00', `${hostname()}:${process.pid}`, version, 1, true],
      );
    }
    const times = beats.map((b) => Date.parse(b.sent_at));
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 800, `beats about a second apart: ${times.join(', ')}`);
    assert.ok(
      times.every((t) => t <= stoppedAt),
      'nothing sent after stop() resolved',
    );
    assert.ok(
      beats.some((b) => b.lag.active_scans === 1),
      `a beat while scan ${scan.run_uid} was followed: ${JSON.stringify(beats.map((b) => b.lag))}`,
    );
    const last = beats.at(-1)!;
    assert.deepEqual(
      [last.lag.active_scans, last.lag.caught_up, last.lag.unacknowledged_points, last.lag.behind_seconds, last.lag.buffered_bytes],
      [0, true, 0, 0, 0],
      'idle: nothing in flight, nothing behind',
    );
    assert.ok(
      events.some((e) => e['detail-type'] === 'RunStop'),
      'the scan itself was archived meanwhile',
    );

    await new Promise((r) => setTimeout(r, 3_000));
    assert.deepEqual(beatsOf(await drainEvents(clients, queueUrl, [], 2)), [], 'a stopped bridge sends no heartbeat');
  });
});
