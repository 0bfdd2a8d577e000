/**
 * bench/export-latency: time from an Export Requested event on the bus to the export's record being
 * COMPLETED (files published under exports/, provenance recorded), through the local pipeline
 * (emulator bus → export-worker queue → local runner → worker). One archived BLISS scan is exported
 * as csv and as nexus, `repeat` times each (new request ids). Prints one JSON document.
 *
 *   npx tsx bench/export-latency.ts [--points 10000] [--channels 10] [--repeat 3]
 *
 * Peak RSS is this Node process, which hosts the bridge, the local Lambda runner and the handlers.
 */
import { parseArgs } from 'node:util';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { startLocalPipeline } from '../local/pipeline.js';
import { DynamoDbExportCatalogue } from '../src/adapters/dynamodb-export-catalogue.js';
import { exportIdOf } from '../src/core/exports/export-request.js';

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '10000' },
    channels: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '3' },
  },
});
const points = Number(values.points);
const channels = Number(values.channels);
const repeat = Number(values.repeat);

const pipeline = await startLocalPipeline({ logLevel: 'ERROR' });
const exports = new DynamoDbExportCatalogue(pipeline.env.clients.dynamo, pipeline.env.resources.table.name);
const results: Record<string, { request_to_completed_ms: number; bytes: number; files: number }[]> = { csv: [], nexus: [] };
const peak = { rss: 0 };
const sampler = setInterval(() => {
  peak.rss = Math.max(peak.rss, process.memoryUsage().rss);
}, 50);
let scanBytes: number | undefined;
try {
  const scan = await pipeline.publish({ type: 'ascan', number: 1, points, counters: channels - 1, batch: 100, dtype: 'float64' });
  const run = await pipeline.waitForRun(scan.run_uid, { timeoutMs: 600_000 });
  if (run.state !== 'ARCHIVED') throw new Error(`scan ended ${run.state}`);
  scanBytes = run.file?.bytes ?? 0;
  for (let i = 0; i < repeat; i += 1) {
    for (const format of ['csv', 'nexus'] as const) {
      const requestId = `bench-${format}-${i}-${Date.now()}`;
      const t0 = Date.now();
      await pipeline.env.clients.events.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: pipeline.env.resources.bus.name,
              Source: 'beamline-archive.export-client',
              DetailType: 'Export Requested',
              Detail: JSON.stringify({ request_id: requestId, runs: [scan.run_uid], format }),
            },
          ],
        }),
      );
      for (;;) {
        const record = await exports.get(exportIdOf(requestId));
        if (record?.state === 'FAILED') throw new Error(`${format} export FAILED: ${record.reason}`);
        if (record?.state === 'COMPLETED') {
          results[format]!.push({
            request_to_completed_ms: Date.now() - t0,
            bytes: (record.files ?? []).reduce((s, f) => s + f.bytes, 0),
            files: record.files?.length ?? 0,
          });
          break;
        }
        if (Date.now() - t0 > 600_000) throw new Error(`${format} export not COMPLETED after 600 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
} finally {
  clearInterval(sampler);
  await pipeline.stop();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
process.stdout.write(
  `${JSON.stringify(
    {
      bench: 'export-latency',
      points,
      channels,
      scan_file_bytes: scanBytes,
      repeat,
      csv: { median_ms: median(results.csv!.map((r) => r.request_to_completed_ms)), runs: results.csv },
      nexus: { median_ms: median(results.nexus!.map((r) => r.request_to_completed_ms)), runs: results.nexus },
      peak_rss_mb: Math.round(peak.rss / 1024 / 1024),
      node: process.version,
    },
    null,
    2,
  )}\n`,
);
