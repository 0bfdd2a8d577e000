/**
 * Bridge throughput, printed as JSON: a blissdata scan of 20 float64 channels (18 counters + 2
 * timers) is published into Redis first, then, in the same run, for 10-point and 1000-point batches:
 *
 * 1. `bareReadDecode`: a bare ioredis XREAD + decode loop reads every stream to its seal (no upload);
 * 2. `bareReadDecodeUpload`: the same loop that also puts the same chunks (1 MiB, up to 8 in
 *    flight, as the bridge's defaults) to the same S3 emulator: what any bridge must at least do,
 *    and the fair reference for the bridge, whose rate is otherwise bounded by the emulator's PUTs;
 * 3. `bridge`: the bridge (in this process, from `0`) forwards the same scan to moto (S3 +
 *    EventBridge); its time runs from start to the scan's RunStop accepted (`seconds`), and to the
 *    bridge reporting idle (`idleSeconds`, which adds its history poll of up to 500 ms).
 *
 * 4. `bridgeS3Sink`: the same bridge forwarding the same scan again, its S3 writes and PutEvents
 *    answered by a loopback sink in a process of its own that reads and drops each body (bench/s3-sink-proxy.ts): the
 *    bridge's own rate when no emulator bounds it, for `ratioToBareS3Sink`.
 *
 * The contract's JSON Schemas are compiled before the bridge's clock starts (a one-time start-up
 * cost of the daemon, ≈0.5 s, that the first version of this bench counted as forwarding time).
 *
 * Also: PutEvents entries and bytes per million points, the RSS sampled as the scan is forwarded,
 * and the process CPU time the bridge used (`cpuSeconds`: its own work, the rest is waiting on
 * Redis and the emulator).
 *
 *   npx tsx bench/bridge-throughput.ts [--points10 100000] [--points1000 1000000]
 *   BENCH_TIMELINE=1 …   also prints the bridge's points staged every 100 ms (`timeline`)
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateEventBusCommand } from '@aws-sdk/client-eventbridge';
import { startMoto, startRedis } from '../local/services.js';
import { initBlissDataStore, publishScan } from '../local/pipeline.js';
import { createAwsClients } from '../src/adapters/aws-clients.js';
import { RedisScanSource } from '../src/adapters/redis-scan-source.js';
import { codecOf, decodeEntry } from '../src/core/bliss/stream-decoding.js';
import { S3ObjectStore } from '../src/adapters/s3-object-store.js';
import { stagingChunkKey } from '../src/core/object-keys.js';
import type { ObjectStore } from '../src/core/ports.js';
import { readFileSync } from 'node:fs';
import { samplePath } from '../src/core/contract/schema-files.js';
import { validateEvent } from '../src/core/contract/validators.js';
import type { NumericEncoding } from '../src/core/bliss/scan-model.js';
import { startBridge } from '../bridge/bridge.js';
import { startS3SinkProcess } from './s3-sink-proxy.js';

const { values } = parseArgs({ options: { points10: { type: 'string' }, points1000: { type: 'string' } } });
const CHANNELS = 20;

const CHUNK_BYTES = 1024 * 1024;
const INFLIGHT = 8;

/**
 * Reads every data stream of a scan to its seal with XREAD COUNT 1000 and decodes each entry; with
 * `upload`, also cuts each stream into 1 MiB chunks and puts them (up to 8 at once) to the store.
 */
async function bareLoop(redisUrl: string, scanKey: string, upload?: ObjectStore): Promise<{ points: number; seconds: number }> {
  const source = new RedisScanSource(redisUrl);
  const scan = (await source.readScan(scanKey))!;
  await source.close();
  const redis = new Redis(redisUrl, { protocol: 2 });
  const codecs = new Map(scan.streams.map((s) => [s.key, codecOf(s.name, s.encoding as NumericEncoding)]));
  const cursors = new Map([...codecs.keys()].map((k) => [k, '0-0']));
  const pending = new Map<string, { parts: Buffer[]; bytes: number; start: number; points: number }>();
  const inflight = new Set<Promise<unknown>>();
  const put = async (key: string, stream: string, last: boolean) => {
    const p = pending.get(key);
    if (!upload || !p || (!last && p.bytes < CHUNK_BYTES) || p.points === 0) return;
    const body = Buffer.concat(p.parts, p.bytes);
    pending.set(key, { parts: [], bytes: 0, start: p.start + p.points, points: 0 });
    while (inflight.size >= INFLIGHT) await Promise.race(inflight);
    const task = upload.put(stagingChunkKey('bench-bare', stream, p.start, p.start + p.points), body);
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
  };
  let points = 0;
  const t0 = performance.now();
  while (cursors.size > 0) {
    const keys = [...cursors.keys()];
    const raw = (await redis.callBuffer('XREAD', 'COUNT', 1000, 'STREAMS', ...keys, ...keys.map((k) => cursors.get(k)!))) as [Buffer, [Buffer, Buffer[]][]][] | null;
    for (const [keyBuf, entries] of raw ?? []) {
      const key = keyBuf.toString();
      const codec = codecs.get(key)!;
      for (const [idBuf, flat] of entries) {
        const id = idBuf.toString('latin1');
        const fields = new Map<string, Buffer>();
        for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!.toString(), flat[i + 1]!);
        const decoded = decodeEntry(codec, id, fields);
        cursors.set(key, id);
        if (decoded.kind === 'seal') {
          cursors.delete(key);
          await put(key, codec.stream, true);
        } else {
          points += decoded.count;
          if (upload) {
            const p = pending.get(key) ?? { parts: [], bytes: 0, start: decoded.start, points: 0 };
            p.parts.push(decoded.bytes);
            p.bytes += decoded.bytes.length;
            p.points += decoded.count;
            pending.set(key, p);
            await put(key, codec.stream, false);
          }
        }
      }
    }
  }
  await Promise.all(inflight);
  const seconds = (performance.now() - t0) / 1000;
  redis.disconnect();
  return { points, seconds };
}

async function measure(batch: number, npoints: number) {
  const [redis, moto] = await Promise.all([startRedis(), startMoto()]);
  try {
    const aws = { region: 'eu-west-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    const clients = createAwsClients(aws);
    await clients.s3.send(new CreateBucketCommand({ Bucket: 'bench-data', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
    await clients.events.send(new CreateEventBusCommand({ Name: 'bench-bus' }));
    await initBlissDataStore(redis.url);
    const t0 = performance.now();
    const published = await publishScan(redis.url, { type: 'loopscan', points: npoints, counters: CHANNELS - 2, batch });
    const publishSeconds = (performance.now() - t0) / 1000;
    const total = npoints * Object.keys(published.channels).length;

    const bare = await bareLoop(redis.url, published.scan_key);
    const bareUpload = await bareLoop(redis.url, published.scan_key, new S3ObjectStore(clients.s3, 'bench-data'));

    // One-time process warm-up, not throughput: the contract's JSON Schemas are compiled on the first
    // validation (≈0.5 s). The bridge is a daemon that pays it once at start; compile them here.
    validateEvent(JSON.parse(readFileSync(samplePath('run-start'), 'utf8')));
    const run = await runBridge(redis.url, aws);
    const sink = await startS3SinkProcess(moto.url);
    let sinkRun: Awaited<ReturnType<typeof runBridge>>;
    try {
      sinkRun = await runBridge(redis.url, { ...aws, endpoint: sink.url });
    } finally {
      await sink.stop();
    }
    clients.s3.destroy();
    clients.events.destroy();
    const { status, bridgeSeconds, idleSeconds, cpu, samples, rssBefore, peak } = run;
    // RSS at each quarter of the scan forwarded: flat means bounded memory.
    const quarters = [0.25, 0.5, 0.75, 1].map((q) => {
      const s = samples.find((x) => x.staged >= q * total) ?? samples.at(-1);
      return { fraction: q, rssMiB: s?.rssMiB ?? null };
    });
    const million = total / 1e6;
    return {
      batchPoints: batch,
      scanPoints: npoints,
      channels: Object.keys(published.channels).length,
      channelPoints: total,
      publishSeconds: round(publishSeconds),
      bareReadDecode: { seconds: round(bare.seconds), pointsPerSecond: Math.round(bare.points / bare.seconds), points: bare.points },
      bareReadDecodeUpload: { seconds: round(bareUpload.seconds), pointsPerSecond: Math.round(bareUpload.points / bareUpload.seconds), points: bareUpload.points },
      bridge: {
        seconds: round(bridgeSeconds),
        idleSeconds: round(idleSeconds),
        cpuSeconds: round((cpu.user + cpu.system) / 1e6),
        pointsPerSecond: Math.round(status.stats.pointsStaged / bridgeSeconds),
        pointsStaged: status.stats.pointsStaged,
        chunks: status.stats.chunksStaged,
        putEventsRequests: status.putEvents.requests,
        putEventsEntries: status.putEvents.entries,
        putEventsEntriesPerMillionPoints: round(status.putEvents.entries / million),
        putEventsBytesPerMillionPoints: Math.round(status.putEvents.bytes / million),
      },
      ratioToBare: round((status.stats.pointsStaged / bridgeSeconds) / (bare.points / bare.seconds)),
      ratioToBareWithUpload: round((status.stats.pointsStaged / bridgeSeconds) / (bareUpload.points / bareUpload.seconds)),
      bridgeS3Sink: {
        seconds: round(sinkRun.bridgeSeconds),
        cpuSeconds: round((sinkRun.cpu.user + sinkRun.cpu.system) / 1e6),
        pointsPerSecond: Math.round(sinkRun.status.stats.pointsStaged / sinkRun.bridgeSeconds),
        pointsStaged: sinkRun.status.stats.pointsStaged,
        sinkPuts: sink.stats.puts,
        sinkMiB: round(sink.stats.bytes / 2 ** 20),
        sinkPutEventsEntries: sink.stats.putEventsEntries,
      },
      ratioToBareS3Sink: round((sinkRun.status.stats.pointsStaged / sinkRun.bridgeSeconds) / (bare.points / bare.seconds)),
      ...(process.env.BENCH_TIMELINE ? { timeline: samples.map((x) => x.staged) } : {}),
      rss: { beforeMiB: Math.round(rssBefore / 2 ** 20), peakMiB: Math.round(peak / 2 ** 20), byFractionForwarded: quarters },
    };
  } finally {
    await Promise.all([redis.stop(), moto.stop()]);
  }
}

/** Starts a bridge on the published scan (from `0`, fresh state), waits until it is idle, and stops it. */
async function runBridge(redisUrl: string, aws: { region: string; endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } }) {
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const samples: { staged: number; rssMiB: number }[] = [];
  let peak = rssBefore;
  const bridge = await startBridge({ redisUrl, bucket: 'bench-data', eventBusName: 'bench-bus', beamline: 'id00', aws, from: '0', logLevel: 'ERROR' });
  const b0 = performance.now();
  const cpu0 = process.cpuUsage();
  let stoppedAt: number | undefined;
  const timer = setInterval(() => {
    const rss = process.memoryUsage().rss;
    peak = Math.max(peak, rss);
    samples.push({ staged: bridge.status().stats.pointsStaged, rssMiB: Math.round(rss / 2 ** 20) });
  }, 100);
  // The scan is forwarded once its RunStop is accepted (the follower ends 'stopped').
  const watch = setInterval(() => { if (stoppedAt === undefined && bridge.status().stopped >= 1) stoppedAt = performance.now(); }, 5);
  const status = await bridge.idle(600_000);
  const idleSeconds = (performance.now() - b0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(watch);
  const bridgeSeconds = ((stoppedAt ?? performance.now()) - b0) / 1000;
  clearInterval(timer);
  await bridge.stop();
  return { status, bridgeSeconds, idleSeconds, cpu, samples, rssBefore, peak };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

const results = [
  await measure(10, Number(values.points10 ?? 100_000)),
  await measure(1000, Number(values.points1000 ?? 1_000_000)),
];
process.stdout.write(`${JSON.stringify({ bench: 'bridge-throughput', node: process.version, results }, null, 2)}\n`);
