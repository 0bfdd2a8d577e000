/**
 * Bridge throughput, printed as JSON: a blissdata scan of 20 float64 channels (18 counters + 2
 * timers) is published into Redis first, then, in the same run, for 10-point and 1000-point batches:
 *
 * 1. `bareReadDecode`: a bare ioredis XREAD + decode loop reads every stream to its seal (no
 *    upload), twice: `cold` (first read of the scan, as a bridge meets it) and `warm`; the ratios
 *    use the faster;
 * 2. `bareReadDecodeUpload`: the same loop that also puts the same chunks (1 MiB, up to 8 in
 *    flight, as the bridge's defaults) with the same S3 adapter: to the S3 emulator (`moto`), and
 *    to a loopback sink (`sink`, below): what any SDK-based forwarder must at least do;
 * 3. `bridge`: the bridge (in this process, from `0`) forwards the same scan to moto (S3 +
 *    EventBridge); its time runs from start to the scan's RunStop accepted (`seconds`), and to the
 *    bridge reporting idle (`idleSeconds`, which adds its history poll of up to 500 ms), and its
 *    rate between 10 % and 90 % of the points read from Redis (`steadyPointsPerSecond`: start-up —
 *    history, scan JSON, RunStart — and the end — last chunks, scan_info, RunStop — left out);
 * 4. `bridgeS3Sink`: the same bridge forwarding the same scan again, its S3 writes and PutEvents
 *    answered by a loopback sink in a process of its own that reads and drops each body
 *    (bench/s3-sink-proxy.ts): the bridge's own rate when no emulator bounds it.
 *
 * CPU: every configuration reports the CPU seconds it cost Redis (INFO cpu), this process (all
 * its threads) and the sink process; their sum over the machine's cores is the shortest time
 * that configuration could take here (`cpuBoundSeconds`), whatever the code did.
 *
 * The contract's JSON Schemas are compiled before the bridge's clock starts (a one-time start-up
 * cost of the daemon, ≈0.5 s, that the first version of this bench counted as forwarding time).
 *
 * Also: PutEvents entries and bytes per million points, the RSS sampled as the scan is forwarded,
 * XREADs (and those issued ahead) and the largest reply.
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
import { availableParallelism, tmpdir } from 'node:os';
import { samplePath } from '../src/core/contract/schema-files.js';
import { validateEvent } from '../src/core/contract/validators.js';
import type { NumericEncoding } from '../src/core/bliss/scan-model.js';
import { startBridge } from '../bridge/bridge.js';
import { startS3SinkProcess, type S3Sink } from './s3-sink-proxy.js';
import { emulatorCredentials } from '../local/aws-target.js';

const { values } = parseArgs({ options: { points10: { type: 'string' }, points1000: { type: 'string' } } });
const CHANNELS = 20;

const CHUNK_BYTES = 1024 * 1024;
const INFLIGHT = 8;

/**
 * Reads every data stream of a scan to its seal with XREAD COUNT 1000 and decodes each entry; with
 * `upload`, also cuts each stream into 1 MiB chunks and puts them (up to 8 at once) to the store.
 */
async function bareLoop(
  redisUrl: string,
  scanKey: string,
  upload?: ObjectStore,
): Promise<{ points: number; seconds: number; cpuSeconds: number }> {
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
    const task = upload.put(stagingChunkKey('id00', 'bench-bare', stream, p.start, p.start + p.points), body);
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
  };
  let points = 0;
  await redis.ping();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  while (cursors.size > 0) {
    const keys = [...cursors.keys()];
    const raw = (await redis.callBuffer('XREAD', 'COUNT', 1000, 'STREAMS', ...keys, ...keys.map((k) => cursors.get(k)!))) as
      [Buffer, [Buffer, Buffer[]][]][] | null;
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
  const cpu = process.cpuUsage(cpu0);
  redis.disconnect();
  return { points, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** Redis's CPU seconds so far (user + system). */
async function redisCpuSeconds(redisUrl: string): Promise<number> {
  const redis = new Redis(redisUrl, { protocol: 2 });
  try {
    const info = await redis.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
    return field('used_cpu_user') + field('used_cpu_sys');
  } finally {
    redis.disconnect();
  }
}

const CORES = availableParallelism();

interface Cost {
  seconds: number;
  cpu: { redis: number; process: number; sink: number; total: number; cpuBoundSeconds: number };
}

/** Runs `work`, and what it cost in CPU: Redis, this process, the sink. */
async function costed<T extends { seconds: number; cpuSeconds: number }>(
  redisUrl: string,
  sink: S3Sink | undefined,
  work: () => Promise<T>,
): Promise<T & Cost> {
  const [r0, s0] = [await redisCpuSeconds(redisUrl), (await sink?.read())?.cpuSeconds ?? 0];
  const out = await work();
  const [r1, s1] = [await redisCpuSeconds(redisUrl), (await sink?.read())?.cpuSeconds ?? 0];
  const cpu = { redis: round(r1 - r0), process: round(out.cpuSeconds), sink: round(s1 - s0), total: 0, cpuBoundSeconds: 0 };
  cpu.total = round(cpu.redis + cpu.process + cpu.sink);
  cpu.cpuBoundSeconds = round(cpu.total / CORES);
  return { ...out, cpu };
}

function rateOf(x: { points: number; seconds: number }) {
  return Math.round(x.points / x.seconds);
}

async function measure(batch: number, npoints: number) {
  const [redis, moto] = await Promise.all([startRedis(), startMoto()]);
  try {
    const aws = { region: 'eu-west-1', endpoint: moto.url, credentials: emulatorCredentials() };
    const clients = createAwsClients(aws);
    await clients.s3.send(
      new CreateBucketCommand({ Bucket: 'bench-data', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }),
    );
    await clients.events.send(new CreateEventBusCommand({ Name: 'bench-bus' }));
    await initBlissDataStore(redis.url);
    const t0 = performance.now();
    const published = await publishScan(redis.url, { type: 'loopscan', points: npoints, counters: CHANNELS - 2, batch });
    const publishSeconds = (performance.now() - t0) / 1000;
    const total = npoints * Object.keys(published.channels).length;

    const cold = await costed(redis.url, undefined, () => bareLoop(redis.url, published.scan_key));
    const warm = await costed(redis.url, undefined, () => bareLoop(redis.url, published.scan_key));
    const bare = cold.seconds <= warm.seconds ? cold : warm;
    const bareUpload = await costed(redis.url, undefined, () =>
      bareLoop(redis.url, published.scan_key, new S3ObjectStore(clients.s3, 'bench-data')),
    );

    // One-time process warm-up, not throughput: the contract's JSON Schemas are compiled on the first
    // validation (≈0.5 s). The bridge is a daemon that pays it once at start; compile them here.
    validateEvent(JSON.parse(readFileSync(samplePath('run-start'), 'utf8')));
    const run = await costed(redis.url, undefined, () => runBridge(redis.url, aws, total));
    const sink = await startS3SinkProcess(moto.url);
    let sinkRun: Awaited<ReturnType<typeof runBridge>> & Cost;
    let bareSink: Awaited<ReturnType<typeof bareLoop>> & Cost;
    try {
      const sinkClients = createAwsClients({ ...aws, endpoint: sink.url });
      bareSink = await costed(redis.url, sink, () =>
        bareLoop(redis.url, published.scan_key, new S3ObjectStore(sinkClients.s3, 'bench-data')),
      );
      sinkClients.s3.destroy();
      sinkClients.events.destroy();
      sinkRun = await costed(redis.url, sink, () => runBridge(redis.url, { ...aws, endpoint: sink.url }, total));
    } finally {
      await sink.stop();
    }
    clients.s3.destroy();
    clients.events.destroy();
    const { status, idleSeconds, samples, rssBefore, peak } = run;
    // RSS at each quarter of the scan forwarded: flat means bounded memory.
    const quarters = [0.25, 0.5, 0.75, 1].map((q) => {
      const s = samples.find((x) => x.staged >= q * total) ?? samples.at(-1);
      return { fraction: q, rssMiB: s?.rssMiB ?? null };
    });
    const million = total / 1e6;
    const bareRate = rateOf(bare);
    const bridgeRate = Math.round(status.stats.pointsStaged / run.seconds);
    const sinkRate = Math.round(sinkRun.status.stats.pointsStaged / sinkRun.seconds);
    return {
      batchPoints: batch,
      scanPoints: npoints,
      channels: Object.keys(published.channels).length,
      channelPoints: total,
      cores: CORES,
      publishSeconds: round(publishSeconds),
      bareReadDecode: {
        cold: { seconds: round(cold.seconds), pointsPerSecond: rateOf(cold), cpu: cold.cpu },
        warm: { seconds: round(warm.seconds), pointsPerSecond: rateOf(warm), cpu: warm.cpu },
        points: bare.points,
      },
      bareReadDecodeUpload: {
        moto: { seconds: round(bareUpload.seconds), pointsPerSecond: rateOf(bareUpload), cpu: bareUpload.cpu },
        sink: { seconds: round(bareSink.seconds), pointsPerSecond: rateOf(bareSink), cpu: bareSink.cpu },
      },
      bridge: {
        seconds: round(run.seconds),
        idleSeconds: round(idleSeconds),
        pointsPerSecond: bridgeRate,
        steadyPointsPerSecond: run.steadyPointsPerSecond,
        cpu: run.cpu,
        pointsStaged: status.stats.pointsStaged,
        chunks: status.stats.chunksStaged,
        reads: status.stats.reads,
        readsAhead: status.stats.readsAhead,
        largestReadMiB: round(status.stats.largestReadBytes / 2 ** 20),
        chunkBuffers: status.chunkBuffers,
        putEventsRequests: status.putEvents.requests,
        putEventsEntries: status.putEvents.entries,
        putEventsEntriesPerMillionPoints: round(status.putEvents.entries / million),
        putEventsBytesPerMillionPoints: Math.round(status.putEvents.bytes / million),
      },
      bridgeS3Sink: {
        seconds: round(sinkRun.seconds),
        pointsPerSecond: sinkRate,
        steadyPointsPerSecond: sinkRun.steadyPointsPerSecond,
        cpu: sinkRun.cpu,
        pointsStaged: sinkRun.status.stats.pointsStaged,
        sinkPuts: sink.stats.puts,
        sinkMiB: round(sink.stats.bytes / 2 ** 20),
        sinkPutEventsEntries: sink.stats.putEventsEntries,
      },
      ratioToBare: round(bridgeRate / bareRate),
      ratioToBareS3Sink: round(sinkRate / bareRate),
      steadyRatioToBare: run.steadyPointsPerSecond === null ? null : round(run.steadyPointsPerSecond / bareRate),
      steadyRatioToBareS3Sink: sinkRun.steadyPointsPerSecond === null ? null : round(sinkRun.steadyPointsPerSecond / bareRate),
      ratioToBareUploadMoto: round(bridgeRate / rateOf(bareUpload)),
      ratioToBareUploadSink: round(sinkRate / rateOf(bareSink)),
      ...(process.env.BENCH_TIMELINE ? { timeline: samples.map((x) => x.staged) } : {}),
      rss: { beforeMiB: Math.round(rssBefore / 2 ** 20), peakMiB: Math.round(peak / 2 ** 20), byFractionForwarded: quarters },
    };
  } finally {
    await Promise.all([redis.stop(), moto.stop()]);
  }
}

/** Starts a bridge on the published scan (from `0`, fresh state), waits until it is idle, and stops it. */
async function runBridge(
  redisUrl: string,
  aws: { region: string; endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } },
  total: number,
) {
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const samples: { staged: number; rssMiB: number }[] = [];
  let peak = rssBefore;
  // No Lima streams in this scan; the bridge requires a Lima root all the same.
  const bridge = await startBridge({
    redisUrl,
    bucket: 'bench-data',
    eventBusName: 'bench-bus',
    beamline: 'id00',
    limaRoots: [tmpdir()],
    aws,
    from: '0',
    logLevel: 'ERROR',
  });
  const b0 = performance.now();
  const cpu0 = process.cpuUsage();
  let stoppedAt: number | undefined;
  const timer = setInterval(() => {
    const rss = process.memoryUsage().rss;
    peak = Math.max(peak, rss);
    samples.push({ staged: bridge.status().stats.pointsStaged, rssMiB: Math.round(rss / 2 ** 20) });
  }, 100);
  // The scan is forwarded once its RunStop is accepted (the follower ends 'stopped').
  // Also when 10 % and 90 % of the points were taken from Redis: the rate while forwarding, start-up
  // and the end left out. Read, not staged: at 10-point batches a 100,000-point scan fills one chunk
  // per channel, all staged at the seal; the bridge holds at most a chunk per channel + 8 in flight.
  let at10: number | undefined;
  let at90: number | undefined;
  const watch = setInterval(() => {
    const now = bridge.status();
    const read = now.scans.reduce((n, f) => n + f.pointsRead, 0);
    if (at10 === undefined && read >= 0.1 * total) at10 = performance.now();
    if (at90 === undefined && read >= 0.9 * total) at90 = performance.now();
    if (stoppedAt === undefined && now.stopped >= 1) stoppedAt = performance.now();
  }, 5);
  const status = await bridge.idle(600_000);
  const idleSeconds = (performance.now() - b0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(watch);
  const seconds = ((stoppedAt ?? performance.now()) - b0) / 1000;
  clearInterval(timer);
  await bridge.stop();
  const steadyPointsPerSecond =
    at10 !== undefined && at90 !== undefined && at90 > at10 ? Math.round((0.8 * total) / ((at90 - at10) / 1000)) : null;
  return { status, seconds, idleSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, samples, rssBefore, peak, steadyPointsPerSecond };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

const results = [await measure(10, Number(values.points10 ?? 100_000)), await measure(1000, Number(values.points1000 ?? 1_000_000))];
process.stdout.write(`${JSON.stringify({ bench: 'bridge-throughput', node: process.version, results }, null, 2)}\n`);
