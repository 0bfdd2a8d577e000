/**
 * bench/archive-passes: the local rates of the passes a scan file costs after its chunks are fetched
 * (docs/big-scans.md, "Does a 10 GiB file fit Lambda's 15 minutes?"): the HDF5 write (h5wasm), the
 * read-back check (h5wasm-scan-file-verifier.ts, reopened read-only, every dataset hashed), the
 * index (h5wasm-file-indexer.ts) and the sha256 pass the upload makes. No S3: each pass on local
 * disk, timed alone. The scan: one motor (float64) and an MCA (uint32 × 4096 per point), the shape
 * of an XRF map's detector element, with the deployment's default storage (compression as
 * configured). Prints JSON. Measured on a shared machine: noisy.
 *
 *   npx tsx bench/archive-passes.ts [--mib 256] [--gzip 4]
 *
 * `--gzip 0` writes every dataset uncompressed (the rates of a deployment with NEXUS_GZIP=0); the
 * default is the deployment's default storage (gzip 4 from 1 MiB).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { H5wasmScanFileWriter } from '../src/adapters/h5wasm-scan-file-writer.js';
import { indexHdf5File } from '../src/adapters/h5wasm-file-indexer.js';
import { buildScanLayout } from '../src/core/nexus/scan-layouts.js';
import { DEFAULT_STORAGE } from '../src/core/nexus/writers/channel-writer.js';
import type { PlanChannel } from '../src/core/nexus/layout.js';
import type { ChannelSlice } from '../src/core/archive/ports.js';
import type { EventDescriptor, RunStart, RunStop, StreamDatum, StreamResource } from '../src/core/contract/generated-types.js';
import { buildRun } from '../test/unit/archive-fixtures.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const MIB = 1024 * 1024;
const MCA = 4096;
const points = Math.floor((arg('mib', 256) * MIB) / (MCA * 4 + 8));
const gzip = arg('gzip', DEFAULT_STORAGE.gzip ?? 0);
// Counts as a detector gives them: Poisson-like small integers (compressible as real spectra are).
const mca = new Uint32Array(points * MCA);
for (let i = 0; i < mca.length; i++) mca[i] = Math.floor(Math.abs(Math.sin(i * 0.013) * 50 + ((i * 2654435761) >>> 28)));
const run = buildRun({
  points,
  chunkPoints: Math.max(1, Math.floor((32 * MIB) / (MCA * 4))),
  channels: [
    { name: 'axis:sy', dtype: '<f8', values: new Float64Array(points).map((_, i) => i * 1e-3) },
    { name: 'mca1:spectrum', dtype: '<u4', pointShape: [MCA], role: 'spectrum', values: mca },
  ],
});
const of = <T>(type: string) => run.documents.filter((d) => d['detail-type'] === type).map((d) => d.detail as T);
const stop = run.stop.detail as RunStop;
const plan = buildScanLayout({
  start: of<RunStart>('RunStart')[0]!,
  stop,
  descriptors: of<EventDescriptor>('EventDescriptor'),
  resources: of<StreamResource>('StreamResource'),
  points: stop.bliss.points as Record<string, number>,
  fileName: 'bench.h5',
  creator: 'beamline-archive bench',
  hdf5Version: '2.0.0',
  storage: { ...DEFAULT_STORAGE, gzip },
});
const chunks = new Map(run.chunks.map((c) => [c.key, c.bytes]));
const datums = of<StreamDatum>('StreamDatum');
async function* slices(channel: PlanChannel): AsyncGenerator<ChannelSlice> {
  for (const d of datums.filter((x) => x.stream_resource === channel.resourceUid))
    yield { start: d.indices.start, stop: d.indices.stop, bytes: chunks.get(d.chunk.key)! };
}
const dataBytes = run.chunks.reduce((n, c) => n + c.bytes.byteLength, 0);

let closing = 0;
const writer = await H5wasmScanFileWriter.create({
  beforeClose: () => {
    closing = performance.now();
  },
});
const t0 = performance.now();
const file = await writer.write(plan, slices);
const t1 = performance.now();
try {
  const hashStart = performance.now();
  const hash = createHash('sha256');
  for await (const piece of createReadStream(file.path, { highWaterMark: 8 * MIB })) hash.update(piece as Buffer);
  const sha256 = hash.digest('hex');
  const hashEnd = performance.now();
  await indexHdf5File(file.path, { bytes: file.bytes, sha256 });
  const indexEnd = performance.now();
  const rate = (bytes: number, ms: number) => Math.round((bytes / 1e6 / (ms / 1000)) * 10) / 10;
  const result = {
    points,
    gzip,
    dataBytes,
    fileBytes: file.bytes,
    ratio: +(file.bytes / dataBytes).toFixed(3),
    seconds: {
      write: (closing - t0) / 1000,
      closeAndReadBack: (t1 - closing) / 1000,
      sha256: (hashEnd - hashStart) / 1000,
      index: (indexEnd - hashEnd) / 1000,
    },
    // MB/s of the staged data (the capacity estimate's units for write, read-back and index: CAPACITY_*_MBPS),
    // and of the file for the sha256 pass (the upload's hashing; the estimate's upload is per MB of file).
    mbPerSecondOfData: {
      write: rate(dataBytes, closing - t0),
      readBack: rate(dataBytes, t1 - closing),
      index: rate(dataBytes, indexEnd - hashEnd),
    },
    mbPerSecondOfFile: {
      readBack: rate(file.bytes, t1 - closing),
      sha256: rate(file.bytes, hashEnd - hashStart),
      index: rate(file.bytes, indexEnd - hashEnd),
    },
    machine: 'shared 2-core VM, other engineers running tests: noisy',
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await file.dispose();
}
