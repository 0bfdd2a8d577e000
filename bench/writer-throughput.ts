/**
 * bench/writer-throughput: the scan writer (the real h5wasm adapter, src/adapters/h5wasm-scan-file-writer.ts)
 * against h5py writing the identical layout (same groups, datasets, dtypes, chunks, write slices) in
 * the same run (bench/h5py_writer_reference.py), from staged chunks already in memory (no S3).
 * Prints one JSON document.
 *
 *   npx tsx bench/writer-throughput.ts [--points 10000000] [--small-points 1000000] [--channels 20]
 *                                      [--frames 64] [--small-frames 8] [--image 2048x2048] [--repeat 1]
 *
 * Every case runs in a fresh process (ours: Node; reference: python), so each peak RSS is the
 * kernel's high-water mark of that writer alone (Node: process.resourceUsage().maxRSS, plus the
 * sampled external/arrayBuffers; python: resource.getrusage maxrss). MB/s counts channel data only.
 * `--frames 0` skips the image stack.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { H5wasmScanFileWriter, sha256File } from '../src/adapters/h5wasm-scan-file-writer.js';
import { syntheticScan, type SyntheticScanOptions } from './synthetic-scan.js';

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '10000000' },
    'small-points': { type: 'string', default: '1000000' },
    channels: { type: 'string', default: '20' },
    frames: { type: 'string', default: '64' },
    'small-frames': { type: 'string', default: '8' },
    image: { type: 'string', default: '2048x2048' },
    'chunk-bytes': { type: 'string', default: String(1024 * 1024) },
    repeat: { type: 'string', default: '1' },
    child: { type: 'string' },
  },
});
const root = fileURLToPath(new URL('..', import.meta.url));
const python = join(root, '.venv/bin/python');
const chunkBytes = Number(values['chunk-bytes']);
const [height, width] = values.image.split('x').map(Number) as [number, number];

interface Case { name: string; points: number; channels: number; image?: [number, number] }
interface Result { seconds: number; data_bytes: number; file_bytes: number; peak_rss_mb: number; [k: string]: unknown }

function scanOptions(c: Case, hdf5Version: string): SyntheticScanOptions {
  return { points: c.points, channels: c.channels, image: c.image, chunkBytes, hdf5Version };
}

function dataBytes(c: Case): number {
  return c.image ? c.points * c.image[0] * c.image[1] * 4 : c.points * c.channels * 8;
}

/** One write with our writer, in this (fresh) process. */
async function runOurs(c: Case): Promise<Result> {
  const writer = await H5wasmScanFileWriter.create();
  const scan = syntheticScan(scanOptions(c, writer.hdf5Version));
  const peak = { rss: 0, external: 0, arrayBuffers: 0, heapUsed: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    for (const k of Object.keys(peak) as (keyof typeof peak)[]) peak[k] = Math.max(peak[k], m[k]);
  };
  // Timers do not fire between synchronous writes: sample at every staged chunk as well.
  const slices = async function* (channel: Parameters<typeof scan.slices>[0]) {
    let n = 0;
    for await (const s of scan.slices(channel)) {
      if (n++ % 16 === 0) sample();
      yield s;
    }
  };
  const sampler = setInterval(sample, 20);
  const t0 = performance.now();
  const file = await writer.write(scan.plan, slices);
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  sample();
  const h0 = performance.now();
  await sha256File(file.path);
  const hashSeconds = (performance.now() - h0) / 1000;
  await file.dispose();
  return {
    seconds, seconds_sha256_pass: hashSeconds, data_bytes: dataBytes(c), file_bytes: file.bytes,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    sampled_peak_mb: Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, Math.round(v / 1024 / 1024)])),
    wasm_heap_mb: Math.round(writer.wasmHeapBytes() / 1024 / 1024),
    includes: 'layout, data, close (the sha256 is taken by the upload; seconds_sha256_pass: what a separate pass would cost)',
  };
}

/** The same layout written by h5py, in a python process. */
function runReference(c: Case, dir: string): Result {
  const scan = syntheticScan(scanOptions(c, 'h5py'));
  const planPath = join(dir, `${c.name}.plan.json`);
  writeFileSync(planPath, JSON.stringify({ ...scan.plan, chunkPoints: scan.chunkPoints, points: c.points }));
  const out = spawnSync(python, [join(root, 'bench/h5py_writer_reference.py'), planPath, join(dir, `${c.name}.h5py.h5`)], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`h5py reference failed: ${out.stderr}`);
  return { ...(JSON.parse(out.stdout) as Result), data_bytes: dataBytes(c) };
}

/**
 * This script bundled by esbuild for plain Node, h5wasm external: how Lambda runs the writer. (Under
 * tsx, importing h5wasm alone costs ~600 MB of RSS: tsx's loader on its 4 MB hdf5_util.js.)
 */
async function bundleForNode(): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = join(root, 'node_modules/.cache/beamline-bench/writer-throughput.mjs');
  await build({
    entryPoints: [fileURLToPath(import.meta.url)], bundle: true, platform: 'node', format: 'esm', target: 'node20',
    outfile, external: ['h5wasm', 'esbuild'], logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return outfile;
}

function runOursChild(c: Case, script: string): Result {
  const out = spawnSync(process.execPath, [...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), script, '--child', JSON.stringify(c), '--chunk-bytes', String(chunkBytes)], {
    encoding: 'utf8', cwd: root, env: { ...process.env, NODE_OPTIONS: '' },
  });
  if (out.status !== 0) throw new Error(`our writer failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as Result;
}

const mbs = (r: Result) => Math.round(r.data_bytes / 1e6 / r.seconds);

if (values.child) {
  process.stdout.write(JSON.stringify(await runOurs(JSON.parse(values.child) as Case)));
} else {
  const channels = Number(values.channels);
  const cases: Case[] = [
    { name: 'scalar-large', points: Number(values.points), channels },
    { name: 'scalar-small', points: Number(values['small-points']), channels },
  ];
  if (Number(values.frames) > 0) {
    cases.push({ name: 'image-large', points: Number(values.frames), channels: 1, image: [height, width] });
    cases.push({ name: 'image-small', points: Number(values['small-frames']), channels: 1, image: [height, width] });
  }
  const script = await bundleForNode();
  const dir = mkdtempSync(join(tmpdir(), 'writer-bench-'));
  const results: Record<string, unknown> = {};
  try {
    for (const c of cases) {
      const runs: { ours: Result; reference: Result }[] = [];
      for (let i = 0; i < Number(values.repeat); i += 1) {
        const ours = runOursChild(c, script);
        const reference = runReference(c, dir);
        rmSync(join(dir, `${c.name}.h5py.h5`), { force: true });
        runs.push({ ours, reference });
      }
      const best = (k: 'ours' | 'reference') => runs.map((r) => r[k]).sort((a, b) => a.seconds - b.seconds)[0]!;
      const ours = best('ours');
      const reference = best('reference');
      results[c.name] = {
        points: c.points, channels: c.channels, ...(c.image ? { image: c.image, dtype: '<u4' } : { dtype: '<f8' }),
        data_mb: Math.round(dataBytes(c) / 1e6),
        ours: { mb_s: mbs(ours), ...ours },
        h5py: { mb_s: mbs(reference), ...reference },
        ratio_ours_over_h5py: Math.round((reference.seconds / ours.seconds) * 100) / 100,
      };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ bench: 'writer-throughput', chunk_bytes: chunkBytes, repeat: Number(values.repeat), node: process.version, cases: results }, null, 2));
}
