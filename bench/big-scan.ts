/**
 * bench/big-scan: a big scan staged in the AWS emulator and archived through the big path (the
 * scan-writer Lambda entry hands it to the task engine, played locally by a child process running
 * the container entry point), then exported to NeXus and CSV through the export-worker Lambda entry
 * (which hands both builds to the same task engine), each task measured from outside: wall time,
 * its RSS and temp disk sampled over time (from /proc and its TMPDIR: the series' min/max, the
 * kernel's high-water mark, and the series itself every few seconds), the projection to 100 GB
 * (with its arithmetic), and the file checked (size, sha256 of the record against the object).
 * Prints JSON; `--out <file>` writes it there too (bench/results/).
 *
 *   scripts/node --import tsx bench/big-scan.ts [--gib 5] [--chunk-mib 32] [--out bench/results/big-scan-5gib.json]
 *                                               [--exports nexus,csv | --no-exports]
 *
 * The JSON is written after the archive and after each export (a later failure keeps what was
 * measured). Between the archive and the exports the staged chunks are deleted (as the bucket's
 * lifecycle does in AWS): moto keeps objects in its memory, and a 5 GB scan's staging, file and a
 * 5 GB NeXus export in moto exceed this machine's 23 GB (measured: moto OOM-killed at 21.6 GB RSS
 * during the upload of a 5.4 GB NeXus export).
 *
 * The scan: one motor (float64), four counters (float64, the CSV export's columns) and one MCA
 * (uint32 × 4096 per point, 16 KiB) — an XRF map's detector element. Chunks of --chunk-mib (the
 * bridge's --chunk-bytes; 32 MiB keeps moto's objects on disk instead of in its memory). Numbers
 * measured on a shared 2-core machine with moto as S3: noisy, and S3 in AWS is faster than moto;
 * see docs/big-scans.md.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { localTasks, type LocalTask } from '../src/adapters/child-process-task-engine.js';
import { DynamoDbRunCatalogue } from '../src/adapters/dynamodb-run-catalogue.js';
import { DetailType } from '../src/core/contract/detail-types.js';
import type { EventDescriptor, RunStart, RunStop, StreamDatum, StreamResource } from '../src/core/contract/generated-types.js';
import { stagingChannelPrefix, stagingChunkKey } from '../src/core/object-keys.js';
import { startMoto } from '../local/services.js';
import { REGION, sqsEvent, startArchiveStack } from '../test/support/archive-stack.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const outAt = process.argv.indexOf('--out');
const out = outAt > 0 ? process.argv[outAt + 1] : undefined;
const exportsAt = process.argv.indexOf('--exports');
const exportFormats = process.argv.includes('--no-exports')
  ? []
  : (exportsAt > 0 ? process.argv[exportsAt + 1]! : 'nexus,csv').split(',').filter(Boolean);
const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const gib = arg('gib', 5);
const chunkBytes = arg('chunk-mib', 32) * MIB;
const RUN = '01M80JDTHSB2YF8F4WA7YZ6BEN';
const MCA = 4096;
const COUNTERS = 4;
const pointBytes = MCA * 4 + 8 + COUNTERS * 8;
const points = Math.floor((gib * GIB) / pointBytes);
const SAMPLE_MS = 250;
const SERIES_EVERY_MS = 5000;

/** Sizes of a folder's files, recursively (a file being written may vanish: counted as 0). */
const diskOf = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((sum, d) => {
    const p = join(dir, d.name);
    try {
      return sum + (d.isDirectory() ? diskOf(p) : statSync(p).size);
    } catch {
      return sum;
    }
  }, 0);

/**
 * A task watched from outside until it exits: RSS (VmRSS) and its temp disk every 250 ms; the
 * series' min/max over the whole task and over its steady part (after the first 10 % of its wall
 * time: start-up loads the code), the kernel's high-water mark (VmHWM, last read before exit), and
 * the series every 5 s. `diskPeakAtSeconds`: when the temp disk first reached its peak (for the
 * archive: the end of the HDF5 write; what follows is the read-back check, the upload and the index).
 */
async function watch(task: LocalTask, dir: string) {
  const started = Date.now();
  const samples: { t: number; rss: number; disk: number }[] = [];
  let hwm = 0;
  const sample = () => {
    let rss: number;
    try {
      const status = readFileSync(`/proc/${task.pid}/status`, 'utf8');
      rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      hwm = Math.max(hwm, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024);
    } catch {
      return; /* exited */
    }
    let disk = 0;
    try {
      disk = diskOf(dir);
    } catch {
      /* cleaned */
    }
    if (rss > 0) samples.push({ t: (Date.now() - started) / 1000, rss, disk });
  };
  const timer = setInterval(sample, SAMPLE_MS);
  const exitCode = await task.exited;
  clearInterval(timer);
  const wallSeconds = (Date.now() - started) / 1000;
  const mib = (b: number) => +(b / MIB).toFixed(1);
  const steady = samples.filter((x) => x.t >= wallSeconds * 0.1);
  const peakDisk = Math.max(0, ...samples.map((x) => x.disk));
  const series: { t: number; rssMiB: number; diskMiB: number }[] = [];
  let next = 0;
  for (const x of samples)
    if (x.t * 1000 >= next) {
      series.push({ t: +x.t.toFixed(1), rssMiB: mib(x.rss), diskMiB: mib(x.disk) });
      next = x.t * 1000 + SERIES_EVERY_MS;
    }
  return {
    exitCode,
    wallSeconds,
    samples: samples.length,
    rssMiB: {
      min: mib(Math.min(...samples.map((x) => x.rss))),
      max: mib(Math.max(...samples.map((x) => x.rss))),
      steadyMin: mib(Math.min(...steady.map((x) => x.rss))),
      steadyMax: mib(Math.max(...steady.map((x) => x.rss))),
      kernelHighWater: mib(hwm),
    },
    peakTempDiskMiB: mib(peakDisk),
    diskPeakAtSeconds: samples.find((x) => x.disk === peakDisk && peakDisk > 0)?.t,
    series,
  };
}

const load = () => loadavg().map((x) => +x.toFixed(2));
const loadAtStart = load();
const work = mkdtempSync(join(tmpdir(), 'ba-big-scan-'));
const taskTmp = mkdtempSync(join(tmpdir(), 'ba-big-scan-task-'));
const stack = await startArchiveStack({
  name: 'bench',
  start: startMoto,
  functionEnv: {
    LOG_LEVEL: 'ERROR',
    TASK_ENGINE: 'process',
    CAPACITY_LAMBDA_MAX_BYTES: String(64 * MIB),
    // The tasks write their files here (the child inherits it): its size is their temp disk.
    TMPDIR: taskTmp,
  },
});
try {
  const { bucket, table, store, clients } = stack;
  const catalogue = new DynamoDbRunCatalogue(clients.dynamo, table);

  // Documents and staged chunks, generated chunk by chunk (one buffer per chunk, never the scan).
  const policy = { proposal: 'ihch123', beamline: 'id00', session: '20261122', collection: 'sample1', dataset: '0001' };
  const title = `ascan sy 0 1 ${points - 1} 0.1`;
  const start: RunStart = {
    uid: RUN,
    time: 1795315657.285,
    scan_id: 1,
    plan_name: 'ascan',
    sample: 'sample1',
    data_policy: policy,
    bliss: {
      scan_key: `esrf:scan:${RUN}`,
      identity: { name: 'ascan', number: 1, session: 'demo_session', proposal: 'ihch123', collection: 'sample1', dataset: '0001' },
      title,
      type: 'ascan',
      npoints: points,
      count_time: 0.1,
      start_time: '2026-11-22T10:00:00.000000+01:00',
      scan_info: { title, type: 'ascan', npoints: points, count_time: 0.1 },
    },
    icat: { Sample_name: 'sample1' },
  } as unknown as RunStart;
  const channels = [
    { name: 'axis:sy', dtype: '<f8', shape: [] as number[], row: 8 },
    ...Array.from({ length: COUNTERS }, (_, k) => ({ name: `diode${k + 1}:value`, dtype: '<f8', shape: [] as number[], row: 8 })),
    { name: 'mca1:spectrum', dtype: '<u4', shape: [MCA], row: MCA * 4 },
  ];
  const descriptor: EventDescriptor = {
    uid: `${RUN}/descriptor/primary`,
    run_start: RUN,
    time: 1795315657.3,
    name: 'primary',
    data_keys: Object.fromEntries(
      channels.map((c) => [
        c.name,
        {
          dtype: c.shape.length ? 'array' : 'number',
          dtype_numpy: c.dtype,
          shape: c.shape,
          source: `bliss:esrf:stream:${c.name}`,
          external: 'STREAM:',
          object_name: c.name.split(':')[c.name.startsWith('axis:') ? 1 : 0]!,
          bliss_role: c.name.startsWith('axis:') ? 'positioner' : 'counter',
        },
      ]),
    ),
    object_keys: {},
    hints: {},
  } as EventDescriptor;
  await catalogue.runStarted(start);
  await catalogue.putDocument(RUN, DetailType.RunStart, RUN, start);
  await catalogue.putDocument(RUN, DetailType.EventDescriptor, descriptor.uid, descriptor);
  const stagingStarted = Date.now();
  let datums = 0;
  let stagedBytes = 0;
  for (const [ci, c] of channels.entries()) {
    const resource: StreamResource = {
      uid: `${RUN}/resource/${c.name}`,
      run_start: RUN,
      data_key: c.name,
      mimetype: 'application/x-beamline-archive-chunks',
      uri: `s3://${bucket}/${stagingChannelPrefix(policy.beamline, RUN, c.name)}`,
      parameters: { dtype_numpy: c.dtype, point_shape: c.shape },
    } as StreamResource;
    await catalogue.putDocument(RUN, DetailType.StreamResource, resource.uid, resource);
    const chunkPoints = Math.max(1, Math.floor(chunkBytes / c.row));
    for (let s = 0; s < points; s += chunkPoints) {
      const e = Math.min(points, s + chunkPoints);
      const bytes = new Uint8Array((e - s) * c.row);
      const view = new DataView(bytes.buffer);
      // Motor: a ramp; counters: a smooth signal with noise in its low bits; MCA: a ramp per chunk.
      if (ci === 0) for (let i = s; i < e; i += 1) view.setFloat64((i - s) * 8, i / points, true);
      else if (c.shape.length === 0)
        for (let i = s; i < e; i += 1)
          view.setFloat64((i - s) * 8, 1000 * ci * (1 + Math.sin(i * 1e-3)) + ((i * 2654435761) >>> 22) / 1024, true);
      else for (let off = 0; off < bytes.byteLength; off += 4) view.setUint32(off, (s * 2654435761 + off) >>> 0, true);
      const key = stagingChunkKey(policy.beamline, RUN, c.name, s, e);
      await store.put(key, bytes);
      const datum: StreamDatum = {
        uid: `${resource.uid}/${s}-${e}`,
        stream_resource: resource.uid,
        descriptor: descriptor.uid,
        indices: { start: s, stop: e },
        seq_nums: { start: s + 1, stop: e + 1 },
        chunk: { bucket, key, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') },
      } as StreamDatum;
      await catalogue.putDocument(RUN, DetailType.StreamDatum, datum.uid, datum);
      datums += 1;
      stagedBytes += bytes.byteLength;
    }
  }
  const stop: RunStop = {
    uid: `${RUN}/stop`,
    run_start: RUN,
    time: 1795315659.0,
    exit_status: 'success',
    reason: 'SUCCESS',
    num_events: { primary: points },
    bliss: {
      end_reason: 'SUCCESS',
      end_time: '2026-11-22T10:00:02.000000+01:00',
      points: Object.fromEntries(channels.map((c) => [c.name, points])),
      documents: { descriptor: 1, stream_resource: channels.length, stream_datum: datums },
    },
  } as RunStop;
  await catalogue.putDocument(RUN, DetailType.RunStop, stop.uid, stop);
  await catalogue.runStopped(stop);
  const stagingSeconds = (Date.now() - stagingStarted) / 1000;

  // Archive: the scan-writer entry decides and hands over; the task writes and publishes.
  const { handler } = await import('../functions/scan-writer/handler.js');
  const event = sqsEvent([
    {
      version: '0',
      id: 'bench',
      'detail-type': 'RunStop',
      source: 'beamline-archive.bridge.id00',
      account: '123456789012',
      time: new Date().toISOString(),
      region: REGION,
      resources: [],
      detail: stop,
    },
  ]);
  const loadBeforeArchive = load();
  const archiveStarted = Date.now();
  const response = await handler(event);
  if (response.batchItemFailures.length) throw new Error(`the scan-writer failed the RunStop: ${JSON.stringify(response)}`);
  const task = [...localTasks().values()][0];
  if (!task?.pid) throw new Error('no task was started: the run was not handed over');
  const archiveTask = await watch(task, taskTmp);
  const archiveSeconds = (Date.now() - archiveStarted) / 1000;
  const loadAfterArchive = load();
  const record = await catalogue.getRun(RUN);
  const head = record?.file ? await store.head(record.file.key) : undefined;
  const fileBytes = record?.file?.bytes ?? 0;
  let objectSha256: string | undefined;
  if (record?.file) {
    // The published object downloaded and hashed: what a reader gets is what the record says.
    const copy = join(work, 'published.h5');
    objectSha256 = (await store.downloadFile(record.file.key, copy)).sha256;
    rmSync(copy, { force: true });
  }
  const rate = stagedBytes / archiveSeconds;

  const exportsMeasured: Record<string, unknown>[] = [];
  const report = () => {
    const result = {
      benchmark: 'big-scan',
      date: new Date().toISOString(),
      machine: "shared 2-core VM (other engineers' tests running), moto as S3: noisy; AWS S3 is faster than moto",
      node: process.version,
      loadAverage: { atStart: loadAtStart, beforeArchive: loadBeforeArchive, afterArchive: loadAfterArchive, now: load() },
      scan: {
        points,
        channels: ['axis:sy <f8', ...Array.from({ length: COUNTERS }, (_, k) => `diode${k + 1}:value <f8`), `mca1:spectrum <u4 [${MCA}]`],
        stagedBytes,
        stagedGiB: +(stagedBytes / GIB).toFixed(2),
        chunks: datums,
        chunkMiB: chunkBytes / MIB,
      },
      stagingSeconds,
      archive: {
        engine: record?.engine,
        state: record?.state,
        exitCode: archiveTask.exitCode,
        fileBytes,
        compressedRatio: +(fileBytes / stagedBytes).toFixed(3),
        objectBytesMatch: head?.bytes === fileBytes,
        objectSha256Match: objectSha256 !== undefined && objectSha256 === record?.file?.sha256,
        wallSeconds: archiveSeconds,
        throughputMBps: +(rate / 1e6).toFixed(1),
        projected100GB: {
          seconds: Math.round(100e9 / rate),
          hours: +(100e9 / rate / 3600).toFixed(2),
          arithmetic: `100e9 B / (${stagedBytes} B / ${archiveSeconds} s = ${(rate / 1e6).toFixed(2)} MB/s) = ${Math.round(100e9 / rate)} s`,
        },
        task: archiveTask,
      },
      exports: exportFormats.length ? exportsMeasured : 'not measured (--no-exports)',
    };
    const text = `${JSON.stringify(result, null, 2)}\n`;
    if (out) {
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, text);
    }
    return text;
  };
  report();

  // Exports of the archived scan, requested on the export-worker entry as the bus delivers them; the
  // worker's capacity check (temp space capped like the scan writer's) hands each build to the task
  // engine, whose process is watched the same way.
  if (exportFormats.length && record?.state === 'ARCHIVED') {
    // The staged chunks are no longer needed (in AWS the bucket's lifecycle expires them): out of moto's memory.
    for (const c of channels) {
      for (let s = 0; s < points; s += Math.max(1, Math.floor(chunkBytes / c.row)))
        await store.delete(
          stagingChunkKey(policy.beamline, RUN, c.name, s, Math.min(points, s + Math.max(1, Math.floor(chunkBytes / c.row)))),
        );
    }
    const worker = (await import('../functions/export-worker/handler.js')).handler;
    const { exportIdOf } = await import('../src/core/exports/export-service.js');
    for (const format of exportFormats) {
      const requestId = `big-scan-${format}-${randomUUID()}`;
      const before = new Set(localTasks().keys());
      const loadBefore = load();
      const t0 = Date.now();
      const answer = await worker(
        sqsEvent([
          {
            version: '0',
            id: randomUUID(),
            'detail-type': 'Export Requested',
            source: 'beamline-archive.export-client',
            account: '123456789012',
            time: new Date().toISOString(),
            region: REGION,
            resources: [],
            detail: { request_id: requestId, runs: [RUN], format },
          },
        ]),
      );
      if (answer.batchItemFailures.length) throw new Error(`the export-worker failed the ${format} request: ${JSON.stringify(answer)}`);
      const started = [...localTasks().values()].filter((t) => !before.has(t.ref));
      const watched = started[0] ? await watch(started[0], taskTmp) : undefined;
      const seconds = (Date.now() - t0) / 1000;
      const item = await clients.dynamo.send(
        new (await import('@aws-sdk/lib-dynamodb')).GetCommand({
          TableName: table,
          Key: { pk: `EXPORT#${exportIdOf(requestId)}`, sk: 'EXPORT' },
          ConsistentRead: true,
        }),
      );
      const exported = item.Item as
        { state?: string; reason?: string; engine?: unknown; files?: { key: string; bytes: number }[] } | undefined;
      exportsMeasured.push({
        format,
        state: exported?.state,
        reason: exported?.reason,
        engine: exported?.engine,
        seconds,
        loadBefore,
        loadAfter: load(),
        exportBytes: exported?.files?.reduce((n, f) => n + f.bytes, 0),
        files: exported?.files?.length,
        task: watched ?? "not handed over: built in the function (its RSS is this process's)",
      });
      report();
      // Out of moto's memory before the next one.
      for (const f of exported?.files ?? []) await store.delete(f.key);
    }
  }

  process.stdout.write(report());
} finally {
  rmSync(work, { recursive: true, force: true });
  rmSync(taskTmp, { recursive: true, force: true });
  await stack.stop();
}
