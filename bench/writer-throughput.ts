/**
 * bench/writer-throughput: the scan writer (the real h5wasm adapter, src/adapters/h5wasm-scan-file-writer.ts)
 * against h5py writing the identical layout (same groups, datasets, dtypes, chunks, write slices) in
 * the same run (bench/h5py_writer_reference.py), from staged chunks already in memory (no S3).
 * Prints one JSON document.
 *
 *   npx tsx bench/writer-throughput.ts [--points 10000000] [--small-points 1000000] [--channels 20]
 *                                      [--frames 64] [--small-frames 8] [--image 2048x2048] [--repeat 1]
 *                                      [--cases scalar-large,scalar-small,image-large,image-small]
 *                                      [--blisswriter-points 1000000] [--gzip 4]
 *
 * For reference, the ESRF writer on the same scan: an ascan of `--blisswriter-points` points and
 * the same number of float64 channels (sy, elapsed_time, epoch and counters) published with the
 * real blissdata into a fresh Redis (tools/blissdata-publisher/publish_scan.py), then written by
 * blisswriter 2.0.0's NexusScanSubscriber (test/support/blisswriter-write.py). Its seconds run from
 * the subscriber's start to its end: reading the closed scan from Redis and writing the file
 * (ours and h5py start from staged chunks in memory, so this is a reference, not a like-for-like
 * ratio). It is attached to the scalar case with as many points; 0 skips it. blisswriter writes no
 * image data (Lima frames stay in Lima files), so image cases have no blisswriter figure.
 *
 * Every case runs in a fresh process (ours: Node; reference: python), so each peak RSS is the
 * kernel's high-water mark of that writer alone (Node: process.resourceUsage().maxRSS, plus the
 * sampled external/arrayBuffers; python: resource.getrusage maxrss). MB/s counts channel data only.
 * `--frames 0` skips the image stack.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { H5wasmScanFileWriter, sha256File } from '../src/adapters/h5wasm-scan-file-writer.js';
import { DEFAULT_STORAGE } from '../src/core/nexus/writers/channel-writer.js';
import { syntheticScan, type PublishedChannel, type SyntheticScanOptions } from './synthetic-scan.js';

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '10000000' },
    'small-points': { type: 'string', default: '1000000' },
    channels: { type: 'string', default: '20' },
    frames: { type: 'string', default: '64' },
    'small-frames': { type: 'string', default: '8' },
    image: { type: 'string', default: '2048x2048' },
    'chunk-bytes': { type: 'string', default: String(1024 * 1024) },
    // gzip level of the channel datasets (from 1 MiB, as the scan-writer's default); 0: uncompressed.
    gzip: { type: 'string', default: String(DEFAULT_STORAGE.gzip ?? 0) },
    repeat: { type: 'string', default: '1' },
    cases: { type: 'string', default: 'scalar-large,scalar-small,image-large,image-small' },
    'blisswriter-points': { type: 'string' },
    child: { type: 'string' },
  },
});
const root = fileURLToPath(new URL('..', import.meta.url));
const python = join(root, '.venv/bin/python');
const chunkBytes = Number(values['chunk-bytes']);
const [height, width] = values.image.split('x').map(Number) as [number, number];

interface Case {
  name: string;
  points: number;
  channels: number;
  image?: [number, number];
}
interface Result {
  seconds: number;
  data_bytes: number;
  file_bytes: number;
  peak_rss_mb: number;
  [k: string]: unknown;
}

const gzip = Number(values.gzip);
function scanOptions(c: Case, hdf5Version: string): SyntheticScanOptions {
  return { points: c.points, channels: c.channels, image: c.image, chunkBytes, hdf5Version, storage: { ...DEFAULT_STORAGE, gzip } };
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
  const cpu0 = process.cpuUsage();
  const file = await writer.write(scan.plan, slices);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  sample();
  const h0 = performance.now();
  await sha256File(file.path);
  const hashSeconds = (performance.now() - h0) / 1000;
  await file.dispose();
  return {
    seconds,
    seconds_sha256_pass: hashSeconds,
    data_bytes: dataBytes(c),
    file_bytes: file.bytes,
    // Where the time went: in this process (JS, wasm) or in the kernel (the writes to the page cache).
    cpu_user_seconds: round3(cpu.user / 1e6),
    cpu_system_seconds: round3(cpu.system / 1e6),
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
  const out = spawnSync(python, [join(root, 'bench/h5py_writer_reference.py'), planPath, join(dir, `${c.name}.h5py.h5`)], {
    encoding: 'utf8',
  });
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

function runOursChild(c: Case, script: string): Result {
  const out = spawnSync(
    process.execPath,
    [
      ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      script,
      '--child',
      JSON.stringify(c),
      '--chunk-bytes',
      String(chunkBytes),
      '--gzip',
      String(gzip),
    ],
    {
      encoding: 'utf8',
      cwd: root,
      env: { ...process.env, NODE_OPTIONS: '' },
    },
  );
  if (out.status !== 0) throw new Error(`our writer failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as Result;
}

/** blisswriter 2.0.0 on an ascan of `points` × `channels` float64 channels published by blissdata (see the header). */
async function runBlisswriter(points: number, channels: number, dir: string): Promise<Record<string, unknown>> {
  // Imported here, not at the top: bundled, local/pipeline.ts's imports reach local/oidc-issuer.ts, whose
  // "run as a script" check sees the bundle as its own file and would start an issuer in every child.
  const { initBlissDataStore, PUBLISHER, run } = await import('../local/pipeline.js');
  const { startRedis } = await import('../local/services.js');
  const redis = await startRedis();
  try {
    await initBlissDataStore(redis.url);
    const batch = Math.max(1, Math.min(points, 10_000));
    const p0 = performance.now();
    // sy, timer:elapsed_time and timer:epoch are channels too: the rest are counters.
    const npz = join(dir, 'published.npz');
    const published = await run(
      python,
      [
        PUBLISHER,
        '--redis',
        redis.url,
        '--type',
        'ascan',
        '--points',
        String(points),
        '--counters',
        String(Math.max(1, channels - 3)),
        '--batch',
        String(batch),
        '--number',
        '1',
        '--dump-values',
        npz,
      ],
      3_600_000,
    );
    if (published.code !== 0) throw new Error(`publish_scan.py failed: ${published.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const publishSeconds = (performance.now() - p0) / 1000;
    const scan = JSON.parse(published.stdout) as { scan_key: string; channels: Record<string, { dtype: string; shape: number[] }> };
    const out = join(dir, 'blisswriter.h5');
    const w0 = performance.now();
    const written = await run(
      python,
      [
        '-W',
        'ignore',
        join(root, 'test/support/blisswriter-write.py'),
        '--redis',
        redis.url,
        '--scan-key',
        scan.scan_key,
        '--out',
        out,
        '--timeout',
        '3600',
      ],
      3_700_000,
    );
    const processSeconds = (performance.now() - w0) / 1000;
    if (written.code !== 0) throw new Error(`blisswriter failed: ${written.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const report = JSON.parse(written.stdout.trim().split('\n').pop()!) as { seconds: number; state: string };
    const names = Object.keys(scan.channels);
    const bytes = names.reduce(
      (sum, name) => sum + points * Number(scan.channels[name]!.dtype.slice(2)) * scan.channels[name]!.shape.reduce((a, b) => a * b, 1),
      0,
    );
    const fileBytes = statSync(out).size;
    rmSync(out, { force: true });
    // The same values (dumped by the publisher) written by our scan writer with this run's storage: bytes like for like.
    const same = await oursOnPublished(npz, dir);
    rmSync(npz, { force: true });
    return {
      writer: 'blisswriter 2.0.0 NexusScanSubscriber (test/support/blisswriter-write.py)',
      points,
      channels: names.length,
      data_mb: Math.round(bytes / 1e6),
      seconds: round3(report.seconds),
      state: report.state,
      mb_s: Math.round(bytes / 1e6 / report.seconds),
      file_bytes: fileBytes,
      process_seconds: round3(processSeconds),
      publish_seconds: round3(publishSeconds),
      ours_on_the_same_values: same,
      bytes_ours_over_blisswriter: round3(same.file_bytes / fileBytes),
      includes: 'reading the closed scan from Redis and writing the file (process_seconds adds python start and imports)',
    };
  } finally {
    await redis.stop();
  }
}

/**
 * Our scan writer on the values a publisher dumped (npz → raw little-endian files through
 * bench/compression_filters_reference.py export): file bytes and seconds, the storage of this run.
 */
async function oursOnPublished(
  npz: string,
  dir: string,
): Promise<{ file_bytes: number; data_bytes: number; seconds: number; channels: string[] }> {
  const out = join(dir, 'published');
  mkdirSync(out, { recursive: true });
  const exported = spawnSync(python, [join(root, 'bench/compression_filters_reference.py'), 'export', npz, out], { encoding: 'utf8' });
  if (exported.status !== 0) throw new Error(`export of the published values failed: ${exported.stderr}`);
  const manifest = JSON.parse(readFileSync(join(out, 'channels.json'), 'utf8')) as {
    name: string;
    file: string;
    dtype: string;
    shape: number[];
  }[];
  const published: PublishedChannel[] = manifest.map((c) => ({
    name: c.name.replace('__', ':'),
    dtype: c.dtype,
    shape: c.shape,
    bytes: new Uint8Array(readFileSync(join(out, c.file))),
  }));
  const writer = await H5wasmScanFileWriter.create();
  const scan = syntheticScan({
    points: 0,
    channels: 0,
    chunkBytes,
    hdf5Version: writer.hdf5Version,
    storage: { ...DEFAULT_STORAGE, gzip },
    published,
  });
  const t0 = performance.now();
  const file = await writer.write(scan.plan, (channel) => scan.slices(channel));
  const seconds = (performance.now() - t0) / 1000;
  const result = {
    file_bytes: file.bytes,
    data_bytes: published.reduce((n, c) => n + c.bytes.byteLength, 0),
    seconds: round3(seconds),
    channels: published.map((c) => `${c.name} ${c.dtype} ${JSON.stringify(c.shape)}`),
  };
  await file.dispose();
  rmSync(out, { recursive: true, force: true });
  return result;
}

/** `sync` before a measured write: the writeback of the previous writer's file is not counted in the next one's time. */
function settleDisk(): void {
  const out = spawnSync('sync', [], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`sync failed: ${out.stderr}`);
}

const mbs = (r: Result) => Math.round(r.data_bytes / 1e6 / r.seconds);
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const cpuOf = (r: Result) => round3(Number(r.cpu_user_seconds) + Number(r.cpu_system_seconds));

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
  const chosen = new Set(values.cases.split(',').map((name) => name.trim()));
  const unknown = [...chosen].filter((name) => !cases.some((c) => c.name === name));
  if (unknown.length > 0) throw new Error(`--cases: unknown case(s) ${unknown.join(', ')}; known: ${cases.map((c) => c.name).join(', ')}`);
  cases.splice(0, cases.length, ...cases.filter((c) => chosen.has(c.name)));
  const script = await bundleForNode();
  const dir = mkdtempSync(join(tmpdir(), 'writer-bench-'));
  const results: Record<string, unknown> = {};
  try {
    for (const c of cases) {
      const runs: { ours: Result; reference: Result }[] = [];
      for (let i = 0; i < Number(values.repeat); i += 1) {
        // The kernel's cost of writing a fresh 1 GB file swings ~10x with the page cache's state
        // (0.2 to 3 s of system time on this machine, whichever writer it is), and alternates with
        // the unlink of the file before: runs go ours, h5py, h5py, ours, … so that neither writer
        // always gets the same slot, and each writer's best run is reported.
        const order = i % 2 === 0 ? (['ours', 'reference'] as const) : (['reference', 'ours'] as const);
        const run: Partial<{ ours: Result; reference: Result }> = {};
        for (const who of order) {
          settleDisk();
          if (who === 'ours') run.ours = runOursChild(c, script);
          else {
            run.reference = runReference(c, dir);
            rmSync(join(dir, `${c.name}.h5py.h5`), { force: true });
          }
        }
        runs.push({ ours: run.ours!, reference: run.reference! });
      }
      const best = (k: 'ours' | 'reference') => runs.map((r) => r[k]).sort((a, b) => a.seconds - b.seconds)[0]!;
      const ours = best('ours');
      const reference = best('reference');
      results[c.name] = {
        points: c.points,
        channels: c.channels,
        ...(c.image ? { image: c.image, dtype: '<u4' } : { dtype: '<f8' }),
        data_mb: Math.round(dataBytes(c) / 1e6),
        ours: { mb_s: mbs(ours), ...ours },
        h5py: { mb_s: mbs(reference), ...reference },
        // Best of --repeat (each writer's fastest run; every run is a first write in a fresh process)…
        ratio_ours_over_h5py: Math.round((reference.seconds / ours.seconds) * 100) / 100,
        // …and cold: the first pair alone (run 1: ours first, after nothing of this case was written yet).
        ratio_first_run_ours_over_h5py: Math.round((runs[0]!.reference.seconds / runs[0]!.ours.seconds) * 100) / 100,
        // Every run (pairs in the order above): the spread says how much the kernel's write cost moved.
        seconds_per_run: { ours: runs.map((r) => round3(r.ours.seconds)), h5py: runs.map((r) => round3(r.reference.seconds)) },
        // CPU seconds (user + system) of each writer's write, every run; the ratio takes each writer's least.
        cpu_seconds_per_run: { ours: runs.map((r) => cpuOf(r.ours)), h5py: runs.map((r) => cpuOf(r.reference)) },
        cpu_ratio_ours_over_h5py:
          Math.round((Math.min(...runs.map((r) => cpuOf(r.reference))) / Math.min(...runs.map((r) => cpuOf(r.ours)))) * 100) / 100,
      };
    }
    const blissPoints = Number(values['blisswriter-points'] ?? values['small-points']);
    if (blissPoints > 0) {
      const reference = await runBlisswriter(blissPoints, channels, dir);
      const same = cases.find((c) => !c.image && c.points === blissPoints);
      const sameCase = same ? (results[same.name] as { ours: Result }) : undefined;
      results.blisswriter = {
        ...reference,
        ...(same && sameCase
          ? {
              same_scan_as: same.name,
              ratio_ours_over_blisswriter: Math.round(((reference.seconds as number) / sameCase.ours.seconds) * 100) / 100,
            }
          : {}),
      };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    JSON.stringify(
      {
        bench: 'writer-throughput',
        chunk_bytes: chunkBytes,
        gzip: gzip > 0 ? { level: gzip, min_bytes: DEFAULT_STORAGE.gzipMinBytes, in: 'ours and h5py alike' } : 'none',
        repeat: Number(values.repeat),
        node: process.version,
        cases: results,
      },
      null,
      2,
    ),
  );
}
