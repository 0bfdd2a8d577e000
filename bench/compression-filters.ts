/**
 * bench/compression-filters: which HDF5 filter the archive writes by default (docs/adr, issue 17
 * item 5). On a real blissdata scan (an ascan published by tools/blissdata-publisher/publish_scan.py
 * into a fresh Redis: float64 counters, the motor, elapsed time and epoch, and a 1024-bin uint32 MCA,
 * values dumped with --dump-values), for each filter:
 * - h5wasm (the archive's writer library, filters through the h5wasm-plugins wasm plugins when not
 *   built in) and h5py (native HDF5, hdf5plugin for the plugin filters) write every channel, chunks
 *   of ~1 MiB of whole points: file bytes and seconds;
 * - the h5wasm file is read back by plain h5py (no hdf5plugin, no HDF5_PLUGIN_PATH), by h5py with
 *   hdf5plugin, and by silx.io.open, each compared with the values published;
 * - blisswriter 2.0.0 (the ESRF writer, gzip+shuffle over 1 MB) writes the same scan: its file bytes.
 * The portal's range reader (src/client/indexed-file-reader.ts decodeChunk) decodes deflate and
 * shuffle only; that is stated, not measured.
 * Prints one JSON document.
 *
 *   npm pack h5wasm-plugins@0.2.1 && tar xzf h5wasm-plugins-0.2.1.tgz   # the wasm plugins (not a dependency)
 *   scripts/node --import tsx bench/compression-filters.ts --plugins package/plugins [--points 20000] [--bins 1024] [--counters 17]
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { closeFile, createDatasetAt, loadH5wasm, openHdf5File } from '../src/adapters/h5wasm-runtime.js';
import { initBlissDataStore, PUBLISHER, run } from '../local/pipeline.js';
import { startRedis } from '../local/services.js';

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '20000' },
    bins: { type: 'string', default: '1024' },
    counters: { type: 'string', default: '17' },
    plugins: { type: 'string' },
    filters: { type: 'string', default: 'none,gzip:1,gzip:4,shuffle-gzip:4,bitshuffle-lz4,zstd:3,blosc-zstd:5' },
  },
});
const root = fileURLToPath(new URL('..', import.meta.url));
const python = join(root, '.venv/bin/python');
const helper = join(root, 'bench/compression_filters_reference.py');
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** h5wasm's create_dataset filter arguments (one filter: h5wasm 0.10 sets exactly one); undefined: h5wasm cannot write it. */
function h5wasmFilter(spec: string): { compression?: number; compression_opts?: number[] } | undefined {
  const [name, level] = spec.split(':');
  switch (name) {
    case 'none':
      return {};
    case 'gzip':
      return { compression: 1, compression_opts: [Number(level ?? 4)] };
    case 'shuffle-gzip':
      return undefined; // two filters: h5wasm's create_dataset takes one
    case 'bitshuffle-lz4':
      return { compression: 32008, compression_opts: [0, 2] };
    case 'zstd':
      return { compression: 32015, compression_opts: [Number(level ?? 3)] };
    case 'blosc-zstd':
      return { compression: 32001, compression_opts: [0, 0, 0, 0, Number(level ?? 5), 1, 5] };
    default:
      throw new Error(`unknown filter ${spec}`);
  }
}

interface Channel {
  name: string;
  file: string;
  dtype: string;
  shape: number[];
}
const ARRAYS: Record<
  string,
  (b: ArrayBuffer) => Float64Array | Float32Array | Uint32Array | Int32Array | Uint16Array | Int16Array | BigInt64Array
> = {
  '<f8': (b) => new Float64Array(b),
  '<f4': (b) => new Float32Array(b),
  '<u4': (b) => new Uint32Array(b),
  '<i4': (b) => new Int32Array(b),
  '<u2': (b) => new Uint16Array(b),
  '<i2': (b) => new Int16Array(b),
  '<i8': (b) => new BigInt64Array(b),
};

/** numpy's dtype strings as h5wasm spells them (struct codes). */
const H5WASM_DTYPES: Record<string, string> = { '<f8': '<d', '<f4': '<f', '<u4': '<I', '<i4': '<i', '<u2': '<H', '<i2': '<h', '<i8': '<q' };

function python3(args: string[]): Record<string, unknown> {
  const out = runSync(python, [helper, ...args]);
  const last = out.trim().split('\n').pop();
  return last ? (JSON.parse(last) as Record<string, unknown>) : {};
}

function runSync(command: string, args: string[]): string {
  const { spawnSync } = require_('node:child_process') as typeof import('node:child_process');
  const env = { ...process.env };
  delete env.HDF5_PLUGIN_PATH;
  const out = spawnSync(command, args, { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  if (out.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${out.stderr}`);
  return out.stdout;
}
import { createRequire } from 'node:module';
const require_ = createRequire(import.meta.url);

const dir = mkdtempSync(join(tmpdir(), 'compression-bench-'));
const redis = await startRedis();
try {
  const module = await loadH5wasm();
  if (values.plugins) module.insert_plugin_search_path(values.plugins, 0);
  await initBlissDataStore(redis.url);
  const npz = join(dir, 'values.npz');
  const published = await run(
    python,
    [
      PUBLISHER,
      '--redis',
      redis.url,
      '--type',
      'ascan',
      '--points',
      values.points,
      '--counters',
      values.counters,
      '--spectrum',
      values.bins,
      '--batch',
      '1000',
      '--dump-values',
      npz,
    ],
    1_800_000,
  );
  if (published.code !== 0) throw new Error(`publish_scan.py: ${published.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const scan = JSON.parse(published.stdout) as { scan_key: string };
  const bliss = join(dir, 'blisswriter.h5');
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
      bliss,
      '--timeout',
      '1800',
    ],
    1_900_000,
  );
  if (written.code !== 0) throw new Error(`blisswriter: ${written.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  python3(['export', npz, dir]);
  const channels = JSON.parse(readFileSync(join(dir, 'channels.json'), 'utf8')) as Channel[];
  const data = channels.map((c) => {
    const bytes = readFileSync(join(dir, c.file));
    return { ...c, array: ARRAYS[c.dtype]!(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) };
  });
  const dataBytes = data.reduce((s, c) => s + c.array.byteLength, 0);
  const results: Record<string, unknown> = {};
  // The values as published, read back by h5py from an uncompressed h5py file: what every reader must return.
  python3(['write', npz, join(dir, 'reference.h5'), 'none']);
  const truth = python3(['read', join(dir, 'reference.h5'), 'h5py']).sha256;
  for (const spec of values.filters.split(',')) {
    const entry: Record<string, unknown> = {};
    const filter = h5wasmFilter(spec);
    if (filter) {
      const path = join(dir, `h5wasm-${spec.replace(':', '-')}.h5`);
      const t0 = performance.now();
      try {
        const file = openHdf5File(path, 'w');
        for (const c of data) {
          const row = c.shape.slice(1).reduce((a, b) => a * b, 1) * c.array.BYTES_PER_ELEMENT;
          const rows = Math.max(1, Math.min(c.shape[0]!, Math.floor((1024 * 1024) / row)));
          createDatasetAt(file, {
            name: c.name.replace(':', '_'),
            data: c.array,
            shape: c.shape,
            dtype: H5WASM_DTYPES[c.dtype]!,
            chunks: [rows, ...c.shape.slice(1)],
            ...filter,
          });
        }
        closeFile(file);
        const seconds = (performance.now() - t0) / 1000;
        const readers = Object.fromEntries(
          ['h5py', 'h5py+hdf5plugin', 'silx'].map((reader) => {
            const r = python3(['read', path, reader]);
            return [reader, r.ok ? (r.sha256 === truth ? 'reads, values equal' : 'reads, VALUES DIFFER') : `fails: ${String(r.error)}`];
          }),
        );
        entry.h5wasm = {
          file_bytes: statSync(path).size,
          ratio: round3(statSync(path).size / dataBytes),
          seconds: round3(seconds),
          mb_s: Math.round(dataBytes / 1e6 / seconds),
          readers,
        };
      } catch (error) {
        entry.h5wasm = { error: (error instanceof Error ? error.message : String(error)).split('\n').slice(0, 3).join(' | ') };
      }
      rmSync(path, { force: true });
    } else {
      entry.h5wasm = { error: 'h5wasm 0.10 create_dataset sets one filter (H5Pset_filter once); shuffle+gzip needs two' };
    }
    const hp = python3(['write', npz, join(dir, 'h5py.h5'), spec]) as { seconds: number; file_bytes: number };
    entry.h5py = {
      file_bytes: hp.file_bytes,
      ratio: round3(hp.file_bytes / dataBytes),
      seconds: round3(hp.seconds),
      mb_s: Math.round(dataBytes / 1e6 / hp.seconds),
    };
    entry.portal_range_reader = /^(none|gzip|shuffle-gzip)/.test(spec)
      ? 'decodes (deflate, shuffle)'
      : 'no decoder (deflate and shuffle only)';
    results[spec] = entry;
  }
  console.log(
    JSON.stringify(
      {
        bench: 'compression-filters',
        points: Number(values.points),
        counters: Number(values.counters),
        mca_bins: Number(values.bins),
        channels: data.map((c) => `${c.name} ${c.dtype} ${JSON.stringify(c.shape)}`),
        data_bytes: dataBytes,
        blisswriter: {
          file_bytes: statSync(bliss).size,
          ratio: round3(statSync(bliss).size / dataBytes),
          note: 'blisswriter 2.0.0: gzip+shuffle on datasets over 1 MB, plus its metadata',
        },
        filters: results,
      },
      null,
      2,
    ),
  );
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
