/**
 * Fault injection: real blissdata scans (tools/blissdata-publisher) followed by the bridge CLI as
 * a child process that is SIGKILLed at random moments and restarted, while Redis is restarted
 * (append-only file, same port) and a fault proxy (tools/fault-proxy) in front of moto fails a
 * share of the PutEvents entries and of the S3 requests. Then every run is checked against what
 * blissdata published: chunks contiguous from 0 to the sealed count, no overlap, bytes equal bit
 * for bit, sha256 as announced, no staged object that no datum names, RunStop counts exact.
 *
 * One of the scans has point shapes that change mid-stream (publish_special_scans.py reshape with a
 * shape schedule drawn from the seed: a uint16 spectrum and a float32 image, each changing shape
 * about 30 times, up to points larger than a chunk's bytes); the bridge is killed several times
 * while it is published. Its chunks must also each hold points of one shape (cut at every change),
 * carry that shape as `point_shape`, stay within --chunk-bytes unless one point is larger, and be
 * exactly the cuts of an uninterrupted bridge.
 *
 * FAULT_SEED=<n> replays a run with the same injected faults and the same shape schedule (kill
 * times stay random).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { freePort, projectRoot, startMoto, startRedis, venvPython, type RunningService } from '../../local/services.js';
import { initBlissDataStore, publishScan, run, type PublishedScan, type PublishOptions } from '../../local/pipeline.js';
import { createAwsClients, type AwsClients } from '../../src/adapters/aws-clients.js';
import { validateEvent, type BusEvent } from '../../src/core/contract/validators.js';
import { captureBridgeEvents, drainEvents, dumpedBytes } from '../integration/bridge-capture.js';
import { startFaultProxy, type FaultProxy } from '../../tools/fault-proxy/fault-proxy.js';
import { credentialsEnvironment, emulatorCredentials } from '../../local/aws-target.js';

const BUCKET = 'faults-data';
const CHUNK_POINTS = 40;
/** Small enough that the reshape scan's larger points are cut by bytes (and some exceed it alone). */
const CHUNK_BYTES = 12 * 1024;
const SPECIAL = join(projectRoot, 'tools', 'blissdata-publisher', 'publish_special_scans.py');
const BUS = 'faults-bus';
const SEED = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 1e6));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Datum {
  uid: string;
  stream_resource: string;
  indices: { start: number; stop: number };
  chunk: { key: string; bytes: number; sha256: string };
  point_shape?: number[];
}
interface Resource {
  uid: string;
  parameters: { point_shape?: number[] };
}
interface Stop {
  exit_status: string;
  bliss: {
    points: Record<string, number>;
    documents: { descriptor: number; stream_resource: number; stream_datum: number };
    gaps?: unknown[];
  };
}
interface ReshapeScan {
  scan_key: string;
  run_uid: string;
  points: number;
  changes: Record<string, number[]>;
  stream: string;
  image_stream: string;
}
/** A variable-shape stream as published: every point's values flattened and concatenated, and each point's shape. */
interface PublishedShapes {
  values: Buffer;
  shapes: number[][];
  itemsize: number;
}

/** The bridge CLI as a child process, killed and restarted at will. */
class BridgeProcess {
  private child?: ChildProcess;
  kills = 0;
  starts = 0;
  stderr = '';
  constructor(
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  start(): void {
    this.starts++;
    const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'bridge', 'cli.ts'), ...this.args], {
      cwd: projectRoot,
      env: this.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
    this.child = child;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill(signal);
    if (signal === 'SIGKILL') this.kills++;
    return exited;
  }

  alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }
}

/** The reshape scan's dump (publish_special_scans.py --dump-values): per stream, the values' bytes and the points' shapes. */
async function dumpedShapes(npz: string): Promise<Map<string, PublishedShapes>> {
  const script =
    'import sys,json,base64,numpy as np\nd=np.load(sys.argv[1])\nout={}\n' +
    'for k in d.files:\n  name, part = k.rsplit(".", 1)\n  e = out.setdefault(name.replace("__", ":"), {})\n' +
    '  if part == "values": e.update(values=base64.b64encode(np.ascontiguousarray(d[k]).tobytes()).decode(), itemsize=d[k].dtype.itemsize)\n' +
    '  else: e["shapes"] = d[k].tolist()\nprint(json.dumps(out))';
  const out = await run(venvPython, ['-c', script, npz]);
  if (out.code !== 0) throw new Error(out.stderr);
  const parsed = JSON.parse(out.stdout) as Record<string, { values: string; shapes: number[][]; itemsize: number }>;
  return new Map(
    Object.entries(parsed).map(([k, v]) => [k, { values: Buffer.from(v.values, 'base64'), shapes: v.shapes, itemsize: v.itemsize }]),
  );
}

/**
 * The chunks an uninterrupted bridge cuts from these points ([start, stop) each): a grid of n points
 * fixed by the first point's bytes, a chunk ending at the grid boundary, at `chunkBytes` counted from
 * its start (at least one point), at a change of shape or at the end (docs/bridge.md, "Point shapes
 * that change mid-stream").
 */
function expectedCuts(shapes: number[][], itemsize: number, chunkPoints: number, chunkBytes: number): [number, number][] {
  const bytesOf = (i: number) => itemsize * shapes[i]!.reduce((a, b) => a * b, 1);
  const same = (i: number, j: number) => shapes[i]!.join() === shapes[j]!.join();
  const grid = Math.max(1, Math.min(chunkPoints, bytesOf(0) > 0 ? Math.floor(chunkBytes / bytesOf(0)) : Infinity));
  const cuts: [number, number][] = [];
  for (let start = 0; start < shapes.length;) {
    const cap = bytesOf(start) > 0 ? Math.max(1, Math.floor(chunkBytes / bytesOf(start))) : Infinity;
    let stop = Math.min((Math.floor(start / grid) + 1) * grid, start + cap, shapes.length);
    for (let i = start + 1; i < stop; i++) if (!same(i, start)) stop = i;
    cuts.push([start, stop]);
    start = stop;
  }
  return cuts;
}

/**
 * A channel's chunks (its distinct datums, sorted): contiguous from 0 to `points` (no gap, no
 * overlap), each object in S3 as its datum announces it (size, sha256), no other object staged for
 * the channel. Returns the objects' bodies in order.
 */
async function stagedChunks(clients: AwsClients, label: string, chunks: Datum[], points: number): Promise<Buffer[]> {
  let next = 0;
  const bodies: Buffer[] = [];
  for (const chunk of chunks) {
    assert.equal(chunk.indices.start, next, `${label}: chunk at ${chunk.indices.start} follows ${next} (no gap, no overlap)`);
    next = chunk.indices.stop;
    const out = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: chunk.chunk.key }));
    const body = Buffer.from(await out.Body!.transformToByteArray());
    assert.equal(body.length, chunk.chunk.bytes);
    assert.equal(createHash('sha256').update(body).digest('hex'), chunk.chunk.sha256);
    bodies.push(body);
  }
  assert.equal(next, points, `${label}: every point staged`);
  const prefix = chunks[0]!.chunk.key.slice(0, chunks[0]!.chunk.key.lastIndexOf('/') + 1);
  const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  assert.deepEqual(
    (listed.Contents ?? []).map((o) => o.Key).sort(),
    chunks.map((c) => c.chunk.key).sort(),
    `${label}: no staged chunk outside the announced ones`,
  );
  return bodies;
}

describe(`bridge under faults (seed ${SEED})`, () => {
  let redis: RunningService;
  let moto: RunningService;
  let proxy: FaultProxy;
  let clients: AwsClients;
  let queueUrl: string;
  let bridge: BridgeProcess;
  const tmp = mkdtempSync(join(tmpdir(), 'bridge-faults-'));
  const redisDir = join(tmp, 'redis');
  const deadLetter = join(tmp, 'dead-letter.jsonl');
  const events: BusEvent[] = [];

  before(async () => {
    rmSync(redisDir, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(redisDir);
    [redis, moto] = await Promise.all([startRedis({ dataDir: redisDir }), startMoto()]);
    clients = createAwsClients({ region: 'eu-west-1', endpoint: moto.url, credentials: emulatorCredentials() });
    queueUrl = await captureBridgeEvents(clients, { bucket: BUCKET, bus: BUS, queue: 'faults-capture' });
    await initBlissDataStore(redis.url);
    proxy = await startFaultProxy({
      target: moto.url,
      seed: SEED,
      rates: { putEventsEntryFail: 0.15, putEventsRequestFail: 0.03, s3Fail: 0.15, s3Delay: 0.03, s3DelayMs: 300 },
    });
    const healthPort = await freePort();
    bridge = new BridgeProcess(
      [
        '--redis-url',
        redis.url,
        '--bus',
        BUS,
        '--bucket',
        BUCKET,
        '--beamline',
        'id00',
        '--from',
        '0',
        '--checkpoint',
        join(tmp, 'checkpoint.json'),
        '--dead-letter',
        deadLetter,
        '--chunk-points',
        String(CHUNK_POINTS),
        '--chunk-bytes',
        String(CHUNK_BYTES),
        '--flush-ms',
        '200',
        '--log-level',
        'WARN',
        '--health-port',
        String(healthPort),
        '--lima-root',
        tmp,
      ],
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_ENDPOINT_URL: proxy.url,
        AWS_REGION: 'eu-west-1',
        ...credentialsEnvironment(),
        AWS_MAX_ATTEMPTS: '2',
      },
    );
    process.stdout.write(`# fault seed ${SEED} (FAULT_SEED=${SEED} replays the injected AWS faults)\n`);
  });

  after(async () => {
    await bridge?.kill('SIGTERM');
    await proxy?.stop();
    await Promise.all([redis?.stop(), moto?.stop()]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('archives every point once, bit for bit, through SIGKILLs, a Redis restart and AWS faults', async () => {
    const scans: { published: PublishedScan; npz: string }[] = [];
    const publish = async (name: string, options: PublishOptions) => {
      const npz = join(tmp, `${name}.npz`);
      const published = await publishScan(redis.url, { ...options, dumpValues: npz });
      scans.push({ published, npz });
      return published;
    };

    // The scan whose point shapes change: 300 points in batches of 1 to 4, over about ten seconds.
    let reshape: { scan: ReshapeScan; npz: string; kills: number } | undefined;
    const publishReshape = async () => {
      const npz = join(tmp, 'reshape.npz');
      const killsBefore = bridge.kills;
      const out = await run(venvPython, [
        SPECIAL,
        '--redis',
        redis.url,
        '--number',
        '6',
        '--shape-seed',
        String(SEED),
        '--points',
        '300',
        '--max-batch',
        '4',
        '--sleep',
        '0.035',
        '--dump-values',
        npz,
        'reshape',
      ]);
      if (out.code !== 0) throw new Error(`publish_special_scans.py reshape: ${out.stderr.slice(-2000)}`);
      reshape = { scan: JSON.parse(out.stdout) as ReshapeScan, npz, kills: bridge.kills - killsBefore };
    };

    // The captured events are read all along: read only at the end, the ~1,200 of them took most of
    // the wait for the RunStops (ten messages a receive).
    let collecting = true;
    let collectorError: unknown;
    const collector = (async () => {
      while (collecting) {
        await drainEvents(clients, queueUrl, events);
        await sleep(300);
      }
    })().catch((error: unknown) => {
      collectorError = error;
    });

    // Phase 1: four scans published at once, over several seconds; the bridge is killed at random
    // moments (including during its own start) and restarted at once.
    bridge.start();
    let publishing = true;
    const phase1 = Promise.all([
      publish('a', { type: 'ascan', points: 1200, counters: 3, batch: 5, sleep: 0.02, spectrum: 8, number: 1 }),
      publish('b', { type: 'loopscan', points: 900, counters: 2, batch: 1, sleep: 0.005, dtype: 'int16', number: 2 }),
      publish('c', { type: 'ascan', points: 700, counters: 2, batch: 20, sleep: 0.1, dtype: 'float32', number: 3 }),
      publishReshape(),
    ]).finally(() => {
      publishing = false;
    });
    while (publishing) {
      await sleep(700 + Math.random() * 2000);
      await bridge.kill();
      bridge.start();
    }
    await phase1;
    // A few more kills while the bridge works through what is left.
    for (let i = 0; i < 2; i++) {
      await sleep(800 + Math.random() * 1500);
      await bridge.kill();
      bridge.start();
    }

    // Phase 2: a scan published at full speed while S3 is slow, then Redis restarted under the
    // bridge (and the bridge killed once while Redis is down); a last scan after Redis is back.
    proxy.rates.s3Delay = 1;
    proxy.rates.s3DelayMs = 150;
    await publish('d', { type: 'loopscan', points: 2000, counters: 4, batch: 50, number: 4 });
    await sleep(1500);
    await redis.stop();
    await sleep(500);
    await bridge.kill();
    bridge.start();
    await sleep(1000);
    redis = await startRedis({ port: redis.port, dataDir: redisDir });
    await sleep(1500);
    proxy.rates.s3Delay = 0.03;
    proxy.rates.s3DelayMs = 300;
    await publish('e', { type: 'ct', counters: 2, number: 5 });
    await bridge.kill();
    bridge.start();

    // Wait for a RunStop of every scan.
    const deadline = Date.now() + 150_000;
    const stopped = () =>
      new Set(events.filter((e) => e['detail-type'] === 'RunStop').map((e) => (e.detail as { run_start: string }).run_start));
    const runUids = [...scans.map((s) => s.published.run_uid), reshape!.scan.run_uid];
    for (;;) {
      if (collectorError) throw collectorError;
      if (runUids.every((uid) => stopped().has(uid))) break;
      assert.ok(
        Date.now() < deadline,
        `not every scan stopped within the time: ${JSON.stringify([...stopped()])}\n${bridge.stderr.slice(-3000)}`,
      );
      await sleep(500);
    }
    await sleep(1000);
    assert.equal(await bridge.kill('SIGTERM'), 0, 'SIGTERM: graceful exit 0');
    collecting = false;
    await collector;
    if (collectorError) throw collectorError;
    await drainEvents(clients, queueUrl, events);

    // The faults really happened.
    process.stdout.write(
      `# kills ${bridge.kills}, starts ${bridge.starts}, proxy ${JSON.stringify(proxy.stats)}, events ${events.length}\n`,
    );
    assert.ok(bridge.kills >= 6, `bridge killed ${bridge.kills} times`);
    assert.ok(
      proxy.stats.putEventsEntriesFailed > 0 && proxy.stats.s3Failed > 0 && proxy.stats.s3FailedAfterWrite > 0,
      JSON.stringify(proxy.stats),
    );
    assert.ok(!existsSync(deadLetter) || readFileSync(deadLetter, 'utf8') === '', 'no event was dead-lettered (none was malformed)');

    for (const event of events) validateEvent(event);
    /** A run's distinct datums and resources; checks no Run Failed, documents re-sent identically, and the RunStop's counts. */
    const runDocuments = (uid: string, channels: string[], points: number) => {
      const docs = events.filter((e) => {
        const d = e.detail as { uid?: string; run_start?: string; run_uid?: string; stream_resource?: string };
        return d.uid === uid || d.run_start === uid || d.run_uid === uid || d.stream_resource?.startsWith(`${uid}/`);
      });
      assert.equal(docs.filter((e) => e['detail-type'] === 'Run Failed').length, 0, `${uid}: no Run Failed`);
      // A document sent again after a restart carries the same uid and the same content (an overwrite).
      const byUid = new Map<string, unknown>();
      for (const d of docs.filter((e) => e['detail-type'] === 'StreamDatum' || e['detail-type'] === 'StreamResource')) {
        const detail = d.detail as { uid: string };
        if (byUid.has(detail.uid)) assert.deepEqual(detail, byUid.get(detail.uid), `${detail.uid} re-sent identically`);
        byUid.set(detail.uid, detail);
      }
      const datums = [...byUid.values()].filter((d) => (d as Datum).chunk) as Datum[];
      const resources = [...byUid.values()].filter((d) => !(d as Datum).chunk) as Resource[];
      assert.equal(resources.length, channels.length, `${uid}: one resource per channel`);
      const stops = docs.filter((e) => e['detail-type'] === 'RunStop').map((e) => e.detail as Stop);
      assert.ok(stops.length > 0, `${uid}: RunStop`);
      for (const stop of stops) {
        assert.equal(stop.exit_status, 'success');
        assert.equal(stop.bliss.documents.stream_datum, datums.length, `${uid}: RunStop counts every distinct datum`);
        assert.equal(stop.bliss.documents.stream_resource, channels.length);
        assert.equal(stop.bliss.gaps, undefined);
        for (const channel of channels) assert.equal(stop.bliss.points[channel], points, `${uid} ${channel}: points`);
      }
      const chunksOf = (channel: string) =>
        datums.filter((d) => d.stream_resource === `${uid}/resource/${channel}`).sort((x, y) => x.indices.start - y.indices.start);
      const resourceOf = (channel: string) => resources.find((r) => r.uid === `${uid}/resource/${channel}`)!;
      return { chunksOf, resourceOf };
    };

    for (const { published, npz } of scans) {
      const uid = published.run_uid;
      const channels = Object.keys(published.channels);
      const { chunksOf } = runDocuments(uid, channels, published.points);
      const expected = await dumpedBytes(npz);
      for (const channel of channels) {
        const parts = await stagedChunks(clients, `${uid} ${channel}`, chunksOf(channel), published.points);
        assert.ok(Buffer.concat(parts).equals(expected.get(channel)!), `${uid} ${channel}: staged bytes equal the published values`);
      }
    }

    // The scan whose point shapes change, killed several times while it was published.
    const { scan, npz, kills } = reshape!;
    process.stdout.write(
      `# reshape scan: ${scan.points} points, changes ${JSON.stringify(Object.fromEntries(Object.entries(scan.changes).map(([k, v]) => [k, v.length])))}, ${kills} kills while published\n`,
    );
    assert.ok(kills >= 3, `bridge killed ${kills} times while the reshape scan was published`);
    const uid = scan.run_uid;
    const channels = [scan.stream, scan.image_stream];
    const { chunksOf, resourceOf } = runDocuments(uid, channels, scan.points);
    const published = await dumpedShapes(npz);
    for (const channel of channels) {
      const label = `${uid} ${channel}`;
      const { values, shapes, itemsize } = published.get(channel)!;
      assert.equal(shapes.length, scan.points);
      assert.ok(scan.changes[channel]!.length >= 10, `${label}: the shape changes ${scan.changes[channel]!.length} times`);
      const chunks = chunksOf(channel);
      const parts = await stagedChunks(clients, label, chunks, scan.points);
      assert.ok(Buffer.concat(parts).equals(values), `${label}: staged bytes equal the published values`);
      // The resource announces the first point's shape, even when re-sent after a restart.
      assert.deepEqual(resourceOf(channel).parameters.point_shape, shapes[0], `${label}: resource announces the first shape`);
      for (const chunk of chunks) {
        const { start, stop } = chunk.indices;
        const range = `${label} [${start}, ${stop})`;
        for (let i = start; i < stop; i++)
          assert.deepEqual(chunk.point_shape, shapes[i], `${range}: point_shape is point ${i}'s shape (no chunk mixes shapes)`);
        const pointBytes = itemsize * shapes[start]!.reduce((a, b) => a * b, 1);
        assert.equal(chunk.chunk.bytes, (stop - start) * pointBytes, `${range}: bytes`);
        assert.ok(
          chunk.chunk.bytes <= CHUNK_BYTES || stop - start === 1,
          `${range}: ${chunk.chunk.bytes} bytes over --chunk-bytes ${CHUNK_BYTES} with more than one point`,
        );
      }
      const starts = new Set(chunks.map((c) => c.indices.start));
      for (const change of scan.changes[channel]!)
        assert.ok(starts.has(change), `${label}: a chunk starts at the shape change at ${change}`);
      // Restarts cut exactly the chunks an uninterrupted bridge cuts (same keys, same datum uids).
      assert.deepEqual(
        chunks.map((c) => [c.indices.start, c.indices.stop]),
        expectedCuts(shapes, itemsize, CHUNK_POINTS, CHUNK_BYTES),
        `${label}: the cuts of an uninterrupted bridge`,
      );
    }
  });
});
