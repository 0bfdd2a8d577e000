/**
 * bench/export-memory: peak RSS of an export build against the size of the scan file it reads
 * (issue 17 item 7). Two scan files per format, N and 10 × N MB (default 50 and 500), written by h5py
 * and put in the AWS emulator's S3; each export is built in a fresh process (the export service as
 * the worker runs it: the scan file streamed from S3 to disk, read by slices with h5wasm, the export
 * written to disk, uploaded as `.tmp`, checked, published), and that process's peak RSS is read from
 * the kernel (`process.resourceUsage().maxRSS`); the process runs this script bundled by esbuild on
 * plain Node, as Lambda runs the worker. Prints JSON.
 *
 *   npx tsx bench/export-memory.ts [--mb 50] [--factor 10] [--formats nexus,csv,nxstxm] (also: nxstxm-mca)
 *
 * The scans: for `nexus`, a motor (float64), two counters (float32) and an MCA (uint32 × 1024 per
 * point); for `csv` (a table holds scalars only), a motor and 15 counters (float64); for `nxstxm`,
 * a sample image stack of 500 × 500 points per energy (as many energies as the size asks), a
 * counter (uint32) and the energy, sample_x and sample_y positioners read at every point (float64),
 * with the run's `stxm` metadata in its RunStart (docs/exports.md); `nxstxm-mca`, a stack
 * of 100 × 100 images with an MCA of 256 uint32 channels as its detector (NXdata holds each point's sum). The catalogue
 * and bus are the in-memory adapters (src/adapters/memory/: tiny records, no effect on memory);
 * S3, h5wasm, the workspace and the writers are the real ones. Measured on a shared 2-core machine
 * with moto as S3: times are noisy, RSS is not.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { createAwsClients } from '../src/adapters/aws-clients.js';
import { S3ObjectStore } from '../src/adapters/s3-object-store.js';
import { credentialsEnvironment, emulatorCredentials } from '../local/aws-target.js';
import { startMoto, venvPython } from '../local/services.js';

const REGION = 'eu-west-1';
const MB = 1_000_000;
/** The image of one energy of the NXstxm case. */
const STXM_X = 500;
const STXM_Y = 500;
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};

/** A scan layout: channels (name, dtype, point shape) and the bytes of one point. */
interface Layout {
  channels: { name: string; dtype: '<f8' | '<f4' | '<u4'; shape: number[] }[];
  pointsPerBlock?: number;
  /** The export format, when the layout's name is not one (`nxstxm-mca`). */
  format?: string;
  /** NXstxm: the detector's data key and the image of one energy (x, y points). */
  stxmDetector?: string;
  stxmImage?: [number, number];
}
const LAYOUTS: Record<string, Layout> = {
  nexus: {
    channels: [
      { name: 'axis:sy', dtype: '<f8', shape: [] },
      { name: 'c:diode1', dtype: '<f4', shape: [] },
      { name: 'c:diode2', dtype: '<f4', shape: [] },
      { name: 'mca1:spectrum', dtype: '<u4', shape: [1024] },
    ],
  },
  csv: {
    channels: [
      { name: 'axis:sy', dtype: '<f8', shape: [] },
      ...Array.from({ length: 15 }, (_, i) => ({ name: `c:counter${i + 1}`, dtype: '<f8' as const, shape: [] })),
    ],
  },
  nxstxm: {
    channels: [
      { name: 'c:counter0', dtype: '<u4', shape: [] },
      { name: 'axis:energy', dtype: '<f8', shape: [] },
      { name: 'axis:sx', dtype: '<f8', shape: [] },
      { name: 'axis:sy', dtype: '<f8', shape: [] },
    ],
    // One energy's image: the stack has as many of them as the size asks.
    pointsPerBlock: STXM_X * STXM_Y,
    stxmDetector: 'c:counter0',
    stxmImage: [STXM_X, STXM_Y],
  },
  // A stack of 100 × 100 images read by a fluorescence detector: an MCA of 256 channels (uint32) per point, summed per point into NXdata.
  'nxstxm-mca': {
    channels: [
      { name: 'mca:spectrum', dtype: '<u4', shape: [256] },
      { name: 'axis:energy', dtype: '<f8', shape: [] },
      { name: 'axis:sx', dtype: '<f8', shape: [] },
      { name: 'axis:sy', dtype: '<f8', shape: [] },
    ],
    pointsPerBlock: 100 * 100,
    stxmDetector: 'mca:spectrum',
    stxmImage: [100, 100],
    format: 'nxstxm',
  },
};

/** The RunStart metadata of a scan (NXstxm: the `stxm` object, docs/exports.md). */
function startMetadata(layout: Layout, points: number): Record<string, unknown> {
  if (!layout.stxmDetector || !layout.stxmImage) return {};
  const [x, y] = layout.stxmImage;
  return {
    stxm: {
      scan_type: 'sample_image_stack',
      detector: layout.stxmDetector,
      energies: points / (x * y),
      regions: [{ x_points: x, y_points: y }],
      positioners: { energy: 'axis:energy', sample_x: 'axis:sx', sample_y: 'axis:sy' },
      source: { name: 'bench' },
    },
  };
}
const itemBytes = { '<f8': 8, '<f4': 4, '<u4': 4 } as const;
const pointBytes = (l: Layout) => l.channels.reduce((n, c) => n + itemBytes[c.dtype] * c.shape.reduce((a, b) => a * b, 1), 0);
const datasetPath = (name: string) => `/1.1/measurement/${name.replace(/[^A-Za-z0-9_]/g, '_')}`;

interface ChildJob {
  format: string;
  layout: Layout;
  points: number;
  key: string;
  bytes: number;
  sha256: string;
  bucket: string;
  start: Record<string, unknown>;
}

/** The child: one export built by the export service, as in the worker; prints its peak RSS. */
async function child(job: ChildJob): Promise<void> {
  const { MemoryExportCatalogue } = await import('../src/adapters/memory/export-catalogue.js');
  const { MemoryRunCatalogue } = await import('../src/adapters/memory/run-catalogue.js');
  const { MemoryEventBus } = await import('../src/adapters/memory/event-bus.js');
  const { MemoryProvenanceStore } = await import('../src/adapters/memory/analysis-stores.js');
  const { H5wasmArchivedChannelReader } = await import('../src/adapters/h5wasm-archived-channel-reader.js');
  const { createLocalExportWorkspace } = await import('../src/adapters/local-export-workspace.js');
  const { ExportService } = await import('../src/core/exports/export-service.js');
  const { RunState } = await import('../src/core/archive/ports.js');
  const { DetailType, EventSource } = await import('../src/core/contract/detail-types.js');
  const clients = createAwsClients({ region: REGION, endpoint: process.env.AWS_ENDPOINT_URL!, credentials: emulatorCredentials() });
  const store = new S3ObjectStore(clients.s3, job.bucket);
  const runUid = '01M80JDTHSB2YF8F4WA7YZ6MEM';
  const runs = new MemoryRunCatalogue();
  runs.runs.set(runUid, {
    runUid,
    state: RunState.Archived,
    file: { bucket: job.bucket, key: job.key, bytes: job.bytes, sha256: job.sha256 },
    channelPaths: Object.fromEntries(job.layout.channels.map((c) => [c.name, datasetPath(c.name)])),
    points: Object.fromEntries(job.layout.channels.map((c) => [c.name, job.points])),
  });
  runs.documents.set(runUid, [
    {
      detailType: DetailType.RunStart,
      uid: runUid,
      body: { uid: runUid, time: 1_790_000_000, scan_id: 1, plan_name: 'ascan', title: 'bench', ...job.start },
    },
    {
      detailType: DetailType.EventDescriptor,
      uid: `${runUid}/primary`,
      body: {
        uid: `${runUid}/primary`,
        run_start: runUid,
        time: 1_790_000_000,
        name: 'primary',
        data_keys: Object.fromEntries(
          job.layout.channels.map((c) => [
            c.name,
            {
              dtype: c.shape.length ? 'array' : 'number',
              dtype_numpy: c.dtype,
              shape: c.shape,
              source: c.name,
              external: 'STREAM:',
              bliss_role: c.name.startsWith('axis:') ? 'positioner' : c.shape.length ? 'spectrum' : 'counter',
            },
          ]),
        ),
      },
    },
    {
      detailType: DetailType.RunStop,
      uid: `${runUid}/stop`,
      body: { uid: `${runUid}/stop`, run_start: runUid, time: 1_790_000_100, exit_status: 'success' },
    },
  ]);
  const service = new ExportService({
    exports: new MemoryExportCatalogue(),
    runs,
    store,
    reader: new H5wasmArchivedChannelReader(),
    workspace: (fileTime) => createLocalExportWorkspace({ fileTimeMs: fileTime.getTime() }),
    publisher: new MemoryEventBus(),
    provenance: {
      store: new MemoryProvenanceStore(() => true),
      software: { name: 'beamline-archive', version: 'bench', repository: 'https://example.org/beamline-archive' },
    },
    creator: 'beamline-archive bench',
    now: () => new Date(),
    leaseMs: 3600_000,
  });
  const started = performance.now();
  const record = await service.handleRequested(
    { request_id: `bench-${job.format}-${job.points}`, runs: [runUid] as [string], format: job.format },
    EventSource.ExportClient,
  );
  const seconds = (performance.now() - started) / 1000;
  if (record.state !== 'COMPLETED') throw new Error(`export ${record.state}: ${record.reason}`);
  process.stdout.write(
    `${JSON.stringify({
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      seconds: Number(seconds.toFixed(1)),
      export_bytes: record.files!.reduce((n, f) => n + f.bytes, 0),
      files: record.files!.length,
    })}\n`,
  );
}

/**
 * This script bundled by esbuild for plain Node, h5wasm external: how Lambda runs the worker. (Under
 * tsx, importing h5wasm alone costs ~600 MB of RSS: tsx's loader on its 4 MB hdf5_util.js; plain
 * Node: ~80 MB.)
 */
async function bundleForNode(): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = fileURLToPath(new URL('../node_modules/.cache/beamline-bench/export-memory.mjs', import.meta.url));
  await build({
    entryPoints: [fileURLToPath(import.meta.url)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    outfile,
    external: ['h5wasm', 'esbuild'],
    logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return outfile;
}

async function main(): Promise<void> {
  const baseMb = Number(arg('mb', '50'));
  const factor = Number(arg('factor', '10'));
  const formats = arg('formats', 'nexus,csv,nxstxm').split(',');
  const moto = await startMoto();
  const work = mkdtempSync(join(tmpdir(), 'ba-export-memory-'));
  try {
    const bucket = `bench-${Date.now()}`;
    Object.assign(process.env, { AWS_ENDPOINT_URL: moto.url, AWS_REGION: REGION, ...credentialsEnvironment(), LOG_LEVEL: 'ERROR' });
    const clients = createAwsClients({ region: REGION, endpoint: moto.url, credentials: emulatorCredentials() });
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
    const store = new S3ObjectStore(clients.s3, bucket);
    const script = await bundleForNode();
    const results: Record<string, unknown>[] = [];
    for (const format of formats) {
      const layout = LAYOUTS[format]!;
      // The big scan has exactly `factor` times the points of the small one (NXstxm: whole images of the stack).
      const block = layout.pointsPerBlock ?? 1;
      const basePoints = Math.max(1, Math.round((baseMb * MB) / pointBytes(layout) / block)) * block;
      for (const [mb, points] of [
        [baseMb, basePoints],
        [baseMb * factor, basePoints * factor],
      ] as const) {
        const path = join(work, `${format}-${mb}.h5`);
        // The scan file, written by h5py (chunked like the archive's, in blocks: bounded memory).
        const made = spawnSync(
          venvPython,
          [
            '-c',
            `
import sys, json, h5py, numpy as np
path, points, channels = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
rng = np.random.default_rng(7)
block = 65536
with h5py.File(path, 'w') as f:
    for c in channels:
        shape = (points, *c['shape'])
        d = f.create_dataset(c['path'], shape=shape, dtype=c['dtype'], chunks=(min(points, max(1, 1048576 // (np.dtype(c['dtype']).itemsize * int(np.prod(c['shape'] or [1]))))), *c['shape']))
        for start in range(0, points, block):
            n = min(block, points - start)
            if np.dtype(c['dtype']).kind == 'f':
                d[start:start + n] = rng.standard_normal((n, *c['shape'])).astype(c['dtype'])
            else:
                d[start:start + n] = rng.integers(0, 2**20, (n, *c['shape'])).astype(c['dtype'])
`,
            path,
            String(points),
            JSON.stringify(layout.channels.map((c) => ({ path: datasetPath(c.name), dtype: c.dtype, shape: c.shape }))),
          ],
          { encoding: 'utf8' },
        );
        if (made.status !== 0) throw new Error(`h5py: ${made.stderr}`);
        const bytes = statSync(path).size;
        const hash = createHash('sha256');
        for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
        const key = `archive/bench/${format}-${mb}.h5`;
        await store.uploadFile(key, path, 'application/x-hdf5');
        rmSync(path);
        const job: ChildJob = {
          format: layout.format ?? format,
          layout,
          points,
          key,
          bytes,
          sha256: hash.digest('hex'),
          bucket,
          start: startMetadata(layout, points),
        };
        const out = spawnSync(process.execPath, [script, '--child', JSON.stringify(job)], {
          encoding: 'utf8',
          env: { ...process.env, NODE_OPTIONS: '' },
          maxBuffer: 1 << 20,
        });
        if (out.status !== 0) throw new Error(`child ${format} ${mb} MB: ${out.stderr}`);
        const measured = JSON.parse(out.stdout.trim().split('\n').pop()!) as {
          peak_rss_mb: number;
          seconds: number;
          export_bytes: number;
          files: number;
        };
        results.push({ format, scan_file_mb: Number((bytes / MB).toFixed(1)), points, ...measured });
        await store.delete(key);
      }
    }
    const flat = formats.map((format) => {
      const [small, big] = results.filter((r) => r.format === format) as { peak_rss_mb: number; scan_file_mb: number; points: number }[];
      return {
        format,
        points_ratio: Number((big!.points / small!.points).toFixed(1)),
        input_ratio: Number((big!.scan_file_mb / small!.scan_file_mb).toFixed(1)),
        rss_ratio: Number((big!.peak_rss_mb / small!.peak_rss_mb).toFixed(2)),
        rss_growth_mb: big!.peak_rss_mb - small!.peak_rss_mb,
      };
    });
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'export-memory',
          machine: 'shared 2-core, moto as S3 (times noisy, RSS not)',
          slice_bytes: 4 * 1024 * 1024,
          results,
          flat,
          before: 'issue 17: about 1 GB of RSS for a 40 MB NXstxm (whole scan file, every channel and the table in memory)',
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
    await moto.stop();
  }
}

const childAt = process.argv.indexOf('--child');
if (childAt > 0) await child(JSON.parse(process.argv[childAt + 1]!) as ChildJob);
else await main();
