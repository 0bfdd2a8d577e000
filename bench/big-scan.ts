/**
 * bench/big-scan: a big scan staged in the AWS emulator and archived through the big path (the
 * scan-writer Lambda entry hands it to the task engine, played locally by a child process running
 * the container entry point), measured from outside: wall time, peak RSS of the task (sampled from
 * /proc), peak temp disk of the task (its TMPDIR), the projection to 100 GB, and the file checked
 * (size, sha256 of the record against the object). Prints JSON.
 *
 *   npx tsx bench/big-scan.ts [--gib 5] [--chunk-mib 32]
 *
 * The scan: one motor (float64) and one MCA (uint32 × 4096 per point, 16 KiB) — an XRF map's
 * detector element. Chunks of --chunk-mib (the bridge's --chunk-bytes; 32 MiB keeps moto's objects
 * on disk instead of in its memory). Numbers measured on a shared 2-core machine with moto as S3:
 * noisy, and S3 in AWS is faster than moto; see docs/big-scans.md.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localTasks } from '../src/adapters/child-process-task-engine.js';
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
const GIB = 1024 ** 3;
const gib = arg('gib', 5);
const chunkBytes = arg('chunk-mib', 32) * 1024 * 1024;
const RUN = '01M80JDTHSB2YF8F4WA7YZ6BEN';
const MCA = 4096;
const pointBytes = MCA * 4 + 8;
const points = Math.floor((gib * GIB) / pointBytes);

const work = mkdtempSync(join(tmpdir(), 'ba-big-scan-'));
const taskTmp = mkdtempSync(join(tmpdir(), 'ba-big-scan-task-'));
const stack = await startArchiveStack({
  name: 'bench', start: startMoto,
  functionEnv: {
    LOG_LEVEL: 'ERROR', TASK_ENGINE: 'process', CAPACITY_LAMBDA_MAX_BYTES: String(64 * 1024 * 1024),
    // The task writes its file here (the child inherits it): its size is the peak temp disk.
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
    uid: RUN, time: 1795315657.285, scan_id: 1, plan_name: 'ascan', sample: 'sample1', data_policy: policy,
    bliss: {
      scan_key: `esrf:scan:${RUN}`, identity: { name: 'ascan', number: 1, session: 'demo_session', proposal: 'ihch123', collection: 'sample1', dataset: '0001' },
      title, type: 'ascan', npoints: points, count_time: 0.1, start_time: '2026-11-22T10:00:00.000000+01:00',
      scan_info: { title, type: 'ascan', npoints: points, count_time: 0.1 },
    },
    icat: { Sample_name: 'sample1' },
  } as unknown as RunStart;
  const channels = [{ name: 'axis:sy', dtype: '<f8', shape: [] as number[], row: 8 }, { name: 'mca1:spectrum', dtype: '<u4', shape: [MCA], row: MCA * 4 }];
  const descriptor: EventDescriptor = {
    uid: `${RUN}/descriptor/primary`, run_start: RUN, time: 1795315657.3, name: 'primary',
    data_keys: Object.fromEntries(channels.map((c) => [c.name, {
      dtype: c.shape.length ? 'array' : 'number', dtype_numpy: c.dtype, shape: c.shape, source: `bliss:esrf:stream:${c.name}`, external: 'STREAM:',
      object_name: c.name.split(':').pop()!, bliss_role: c.name.startsWith('axis:') ? 'positioner' : 'counter',
    }])),
    object_keys: {}, hints: {},
  } as EventDescriptor;
  await catalogue.runStarted(start);
  await catalogue.putDocument(RUN, DetailType.RunStart, RUN, start);
  await catalogue.putDocument(RUN, DetailType.EventDescriptor, descriptor.uid, descriptor);
  const stagingStarted = Date.now();
  let datums = 0;
  let stagedBytes = 0;
  for (const c of channels) {
    const resource: StreamResource = {
      uid: `${RUN}/resource/${c.name}`, run_start: RUN, data_key: c.name, mimetype: 'application/x-beamline-archive-chunks',
      uri: `s3://${bucket}/${stagingChannelPrefix(RUN, c.name)}`, parameters: { dtype_numpy: c.dtype, point_shape: c.shape },
    } as StreamResource;
    await catalogue.putDocument(RUN, DetailType.StreamResource, resource.uid, resource);
    const chunkPoints = Math.max(1, Math.floor(chunkBytes / c.row));
    for (let s = 0; s < points; s += chunkPoints) {
      const e = Math.min(points, s + chunkPoints);
      const bytes = new Uint8Array((e - s) * c.row);
      const view = new DataView(bytes.buffer);
      if (c.shape.length === 0) for (let i = s; i < e; i += 1) view.setFloat64((i - s) * 8, i / points, true);
      else for (let off = 0; off < bytes.byteLength; off += 4) view.setUint32(off, (s * 2654435761 + off) >>> 0, true);
      const key = stagingChunkKey(RUN, c.name, s, e);
      await store.put(key, bytes);
      const datum: StreamDatum = {
        uid: `${resource.uid}/${s}-${e}`, stream_resource: resource.uid, descriptor: descriptor.uid,
        indices: { start: s, stop: e }, seq_nums: { start: s + 1, stop: e + 1 },
        chunk: { bucket, key, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') },
      } as StreamDatum;
      await catalogue.putDocument(RUN, DetailType.StreamDatum, datum.uid, datum);
      datums += 1;
      stagedBytes += bytes.byteLength;
    }
  }
  const stop: RunStop = {
    uid: `${RUN}/stop`, run_start: RUN, time: 1795315659.0, exit_status: 'success', reason: 'SUCCESS', num_events: { primary: points },
    bliss: {
      end_reason: 'SUCCESS', end_time: '2026-11-22T10:00:02.000000+01:00',
      points: Object.fromEntries(channels.map((c) => [c.name, points])), documents: { descriptor: 1, stream_resource: channels.length, stream_datum: datums },
    },
  } as RunStop;
  await catalogue.putDocument(RUN, DetailType.RunStop, stop.uid, stop);
  await catalogue.runStopped(stop);
  const stagingSeconds = (Date.now() - stagingStarted) / 1000;

  // Archive: the scan-writer entry decides and hands over; the task writes and publishes.
  const { handler } = await import('../functions/scan-writer/handler.js');
  const event = sqsEvent([{ version: '0', id: 'bench', 'detail-type': 'RunStop', source: 'beamline-archive.bridge', account: '123456789012', time: new Date().toISOString(), region: REGION, resources: [], detail: stop }]);
  const archiveStarted = Date.now();
  const response = await handler(event);
  if (response.batchItemFailures.length) throw new Error(`the scan-writer failed the RunStop: ${JSON.stringify(response)}`);
  const task = [...localTasks().values()][0];
  if (!task?.pid) throw new Error('no task was started: the run was not handed over');
  let peakRss = 0;
  let peakDisk = 0;
  const diskOf = (dir: string): number => readdirSync(dir, { withFileTypes: true }).reduce((sum, d) => {
    const p = join(dir, d.name);
    try { return sum + (d.isDirectory() ? diskOf(p) : statSync(p).size); } catch { return sum; }
  }, 0);
  const sampler = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${task.pid}/status`, 'utf8');
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      peakRss = Math.max(peakRss, rss);
    } catch { /* exited */ }
    try { peakDisk = Math.max(peakDisk, diskOf(taskTmp)); } catch { /* cleaned */ }
  }, 250);
  const exitCode = await task.exited;
  clearInterval(sampler);
  const archiveSeconds = (Date.now() - archiveStarted) / 1000;
  const record = await catalogue.getRun(RUN);
  const head = record?.file ? await store.head(record.file.key) : undefined;
  const fileBytes = record?.file?.bytes ?? 0;
  process.stdout.write(`${JSON.stringify({
    benchmark: 'big-scan',
    machine: 'shared 2-core VM, moto as S3 (noisy; AWS S3 is faster than moto)',
    scan: { points, channels: ['axis:sy <f8', `mca1:spectrum <u4 [${MCA}]`], stagedBytes, stagedGiB: +(stagedBytes / GIB).toFixed(2), chunks: datums, chunkMiB: chunkBytes / 2 ** 20 },
    stagingSeconds,
    archive: {
      engine: record?.engine, state: record?.state, exitCode, fileBytes, objectBytesMatch: head?.bytes === fileBytes,
      wallSeconds: archiveSeconds, throughputMBps: +(stagedBytes / 1e6 / archiveSeconds).toFixed(1),
      peakTaskRssMiB: +(peakRss / 2 ** 20).toFixed(1), peakTempDiskGiB: +(peakDisk / GIB).toFixed(2),
      projected100GBSeconds: Math.round(archiveSeconds * (100e9 / stagedBytes)),
    },
    exports: 'not measured: streaming exports (issue 17 item 7) are not implemented yet',
  }, null, 2)}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
  rmSync(taskTmp, { recursive: true, force: true });
  await stack.stop();
}
