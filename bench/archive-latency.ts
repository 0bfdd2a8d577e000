/**
 * bench/archive-latency: time from a BLISS scan's close to its NeXus file being visible at the
 * final key, through the whole local pipeline (blissdata → Redis → bridge → emulator bus →
 * run-recorder + scan-writer → S3). Prints one JSON document.
 *
 *   npx tsx bench/archive-latency.ts [--points 10000] [--channels 20] [--repeat 3]
 *
 * "channels" counts the motor plus counters. Peak RSS is this Node process, which hosts the
 * bridge, the local Lambda runner and the handlers (Redis and moto run as their own processes).
 */
import { parseArgs } from 'node:util';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { startLocalPipeline } from '../local/pipeline.js';
import { scanFileKey } from '../src/core/object-keys.js';

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '10000' },
    channels: { type: 'string', default: '20' },
    batch: { type: 'string', default: '100' },
    repeat: { type: 'string', default: '3' },
  },
});
const points = Number(values.points);
const channels = Number(values.channels);
const repeat = Number(values.repeat);

const pipeline = await startLocalPipeline({ logLevel: 'ERROR' });
const policy = { proposal: 'ihch123', beamline: 'id00', session: '20261122', collection: 'sample1', dataset: '0001' };
const runs: { close_to_visible_ms: number; close_to_catalogued_ms: number; publish_ms: number; file_bytes: number }[] = [];
const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
const sample = () => {
  const m = process.memoryUsage();
  for (const k of Object.keys(peak) as (keyof typeof peak)[]) peak[k] = Math.max(peak[k], m[k]);
};
sample();
const sampler = setInterval(sample, 50);
try {
  for (let i = 0; i < repeat; i += 1) {
    const number = 100 + i;
    const key = scanFileKey(policy, number);
    const t0 = Date.now();
    // Poll for the final object from the start, so its first appearance is seen within ~20 ms.
    const visible = (async () => {
      for (;;) {
        try {
          const head = await pipeline.env.clients.s3.send(new HeadObjectCommand({ Bucket: pipeline.bucket, Key: key }));
          return { at: Date.now(), bytes: head.ContentLength ?? 0 };
        } catch {
          if (Date.now() - t0 > 600_000) throw new Error(`scan ${number} not archived after 600 s`);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    })();
    const scan = await pipeline.publish({
      type: 'ascan',
      number,
      points,
      counters: channels - 1,
      batch: Number(values.batch),
      dtype: 'float64',
    });
    const { at: visibleAt, bytes } = await visible;
    const record = await pipeline.waitForRun(scan.run_uid);
    runs.push({
      close_to_visible_ms: visibleAt - scan.closedAtMs,
      close_to_catalogued_ms: Date.now() - scan.closedAtMs,
      publish_ms: scan.closedAtMs - t0,
      file_bytes: bytes,
    });
    if (record.state !== 'ARCHIVED') throw new Error(`scan ${number} ended ${record.state}`);
  }
} finally {
  clearInterval(sampler);
  await pipeline.stop();
}
const sorted = runs.map((r) => r.close_to_visible_ms).sort((a, b) => a - b);
console.log(
  JSON.stringify(
    {
      bench: 'archive-latency',
      points,
      channels,
      values_per_scan: points * channels,
      repeat,
      close_to_visible_ms: { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1] },
      runs,
      peak_rss_mb: Math.round(peak.rss / 1024 / 1024),
      peak_heap_used_mb: Math.round(peak.heapUsed / 1024 / 1024),
      peak_external_mb: Math.round(peak.external / 1024 / 1024),
      peak_array_buffers_mb: Math.round(peak.arrayBuffers / 1024 / 1024),
      node: process.version,
    },
    null,
    2,
  ),
);
