/**
 * bench/portal-reads: what the portal transfers to show a scan file's tree and its default plot,
 * reading by pieces (the file's index + HTTP range requests of the HDF5 object, presigned S3 URLs,
 * src/client/indexed-file-reader.ts: the code the portal's H5Web provider runs), against
 * downloading the whole file (what H5Web's h5wasm provider needs). Also one MCA-like slice: the
 * frame of one point.
 *
 *   npx tsx bench/portal-reads.ts                 # 100 MB and 1 GB scan files (uint32 frames 256×256 per point)
 *   BENCH_SIZES_MB=100,10240 npx tsx bench/portal-reads.ts
 *
 * Prints JSON. The object store is the local emulator (moto) on loopback: absolute times are this
 * machine's (shared, noisy), the bytes are exact.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { createAwsClients } from '../src/adapters/aws-clients.js';
import { indexHdf5File } from '../src/adapters/h5wasm-file-indexer.js';
import { H5wasmScanFileWriter, sha256File } from '../src/adapters/h5wasm-scan-file-writer.js';
import { S3DownloadLinks } from '../src/adapters/s3-download-links.js';
import { S3ObjectStore } from '../src/adapters/s3-object-store.js';
import { httpRangeSource, IndexedFile, parseFileIndex } from '../src/client/indexed-file-reader.js';
import { fileIndexKeyOf } from '../src/core/object-keys.js';
import { emulatorCredentials } from '../local/aws-target.js';
import { startMoto } from '../local/services.js';
import { syntheticScan } from './synthetic-scan.js';

const FRAME = [256, 256] as const;
const sizesMb = (process.env.BENCH_SIZES_MB ?? '100,1024').split(',').map(Number);
const region = 'eu-west-1';

/** Follows NeXus @default from the root to an NXdata, like H5Web; returns the signal and axes paths. */
function defaultPlot(file: IndexedFile): { signal: string; axes: string[] } {
  let path = '/';
  for (let depth = 0; depth < 8; depth++) {
    const entry = file.entry(path);
    if (!entry || entry.kind !== 'group') break;
    const signal = entry.attributes.signal?.value;
    if (typeof signal === 'string') {
      const axes = entry.attributes.axes?.value;
      const names = (Array.isArray(axes) ? axes : typeof axes === 'string' ? [axes] : []).filter(
        (a): a is string => typeof a === 'string' && a !== '.',
      );
      const under = (n: string) => `${path === '/' ? '' : path}/${n}`;
      return { signal: under(signal), axes: names.map(under) };
    }
    const next = entry.attributes.default?.value;
    if (typeof next !== 'string') break;
    path = next.startsWith('/') ? next : `${path === '/' ? '' : path}/${next}`;
  }
  throw new Error('the file has no default NXdata');
}

/** H5Web's first view of a dataset: a line of a 1D signal, the first image of a stack (leading dims at 0). */
function firstSelection(shape: readonly number[]): string | undefined {
  if (shape.length <= 2) return undefined;
  return shape.map((_, i) => (i < shape.length - 2 ? '0' : ':')).join(',');
}

const moto = await startMoto();
const work = mkdtempSync(join(tmpdir(), 'portal-reads-'));
const results: unknown[] = [];
try {
  const clients = createAwsClients({ region, endpoint: moto.url, credentials: emulatorCredentials() });
  const bucket = `portal-reads-${Date.now()}`;
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: region } }));
  const store = new S3ObjectStore(clients.s3, bucket);
  const links = new S3DownloadLinks(clients.s3, bucket);
  const writer = await H5wasmScanFileWriter.create({ workDir: work });

  for (const mb of sizesMb) {
    const points = Math.max(2, Math.round((mb * 1024 * 1024) / (FRAME[0] * FRAME[1] * 4)));
    const scan = syntheticScan({ points, channels: 1, image: FRAME, chunkBytes: 1024 * 1024, hdf5Version: writer.hdf5Version });
    const written = await writer.write(scan.plan, (c) => scan.slices(c));
    try {
      const sha256 = await sha256File(written.path);
      const t0 = performance.now();
      const index = await indexHdf5File(written.path, { bytes: written.bytes, sha256 });
      const indexMs = performance.now() - t0;
      const key = `archive/bench/scan_${mb}mb.h5`;
      await store.uploadFile(key, written.path, 'application/x-hdf5');
      const indexBody = JSON.stringify(index);
      await store.put(fileIndexKeyOf(key), indexBody, 'application/json');
      const fileUrl = await links.linkTo(key, 3600);
      const indexUrl = await links.linkTo(fileIndexKeyOf(key), 3600);

      // By pieces: the index (tree, attributes, small values), then the default plot's signal and axes.
      const start = performance.now();
      const indexResponse = await fetch(indexUrl);
      const indexBytes = (await indexResponse.arrayBuffer()).byteLength;
      const file = new IndexedFile(parseFileIndex(JSON.parse(indexBody)), httpRangeSource(fileUrl));
      const treeMs = performance.now() - start;
      const plot = defaultPlot(file);
      const signal = file.dataset(plot.signal);
      const selection = firstSelection(signal.shape ?? []);
      await Promise.all([file.read(plot.signal, selection), ...plot.axes.map((a) => file.read(a))]);
      const plotMs = performance.now() - start;
      const plotBytes = indexBytes + file.source.stats.bytes;
      const plotRequests = 1 + file.source.stats.requests;
      // One more view: the frame of the middle point.
      const before = { ...file.source.stats };
      const sliceStart = performance.now();
      const frames = Object.entries(index.entries).find(([, e]) => e.kind === 'dataset' && (e.shape?.length ?? 0) === 3)?.[0];
      if (frames) await file.read(frames, `${Math.floor(points / 2)},:,:`);
      const sliceMs = performance.now() - sliceStart;

      // Whole file: what a viewer that opens the file with an HDF5 library must transfer first.
      const wholeStart = performance.now();
      const whole = await fetch(fileUrl);
      const wholeBytes = (await whole.arrayBuffer()).byteLength;
      const wholeMs = performance.now() - wholeStart;

      results.push({
        case: `${mb} MB`,
        points,
        frame: FRAME,
        fileBytes: written.bytes,
        indexBytes,
        indexBuildMs: Math.round(indexMs),
        byPieces: {
          treeMs: Math.round(treeMs),
          firstPlotMs: Math.round(plotMs),
          bytes: plotBytes,
          requests: plotRequests,
          percentOfFile: Number(((100 * plotBytes) / written.bytes).toFixed(4)),
          signal: plot.signal,
          selection: selection ?? 'all',
          axes: plot.axes,
          frameSlice: frames
            ? {
                dataset: frames,
                bytes: file.source.stats.bytes - before.bytes,
                requests: file.source.stats.requests - before.requests,
                ms: Math.round(sliceMs),
              }
            : null,
        },
        wholeFile: { bytes: wholeBytes, downloadMs: Math.round(wholeMs) },
      });
      process.stderr.write(`${JSON.stringify(results.at(-1))}\n`);
      await store.delete(key);
    } finally {
      await written.dispose();
    }
  }
  process.stdout.write(
    `${JSON.stringify({ bench: 'portal-reads', node: process.version, store: 'moto on loopback (presigned URLs)', results }, null, 2)}\n`,
  );
} finally {
  await moto.stop();
  rmSync(work, { recursive: true, force: true });
}
