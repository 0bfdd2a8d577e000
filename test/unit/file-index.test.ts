// The file index (src/core/file-index, src/adapters/h5wasm-file-indexer.ts) judged by h5py: every
// dataset's chunk addresses, sizes, filter masks and coordinates, contiguous offsets and compact
// sizes equal what h5py's low-level API (get_chunk_info, get_offset, get_storage_size) says.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexHdf5File } from '../../src/adapters/h5wasm-file-indexer.js';
import { H5wasmScanFileWriter, sha256File } from '../../src/adapters/h5wasm-scan-file-writer.js';
import { UnsupportedHdf5StructureError } from '../../src/core/file-index/hdf5-storage-map.js';
import type { FileIndex, IndexEntry } from '../../src/core/file-index/model.js';
import { buildScanLayout } from '../../src/core/nexus/scan-layouts.js';
import { type PlanChannel } from '../../src/core/nexus/layout.js';
import type { ChannelSlice } from '../../src/core/archive/ports.js';
import type { EventDescriptor, RunStart, RunStop, StreamDatum, StreamResource } from '../../src/core/contract/generated-types.js';
import { projectRoot, venvPython } from '../../local/services.js';
import { IndexedFile, type RangeSource } from '../../src/client/indexed-file-reader.js';
import { DEFAULT_STORAGE } from '../../src/core/nexus/writers/channel-writer.js';
import { sampleScan } from './archive-fixtures.js';

const JUDGE = join(projectRoot, 'test/support/h5py-storage-map.py');

interface H5pyStorage {
  layout: string;
  storage_size: number;
  offset?: number | null;
  chunks?: number[][];
  chunk_shape?: number[];
}

function h5py(...args: string[]): string {
  const run = spawnSync(venvPython, [JUDGE, ...args], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

function datasets(index: FileIndex): Map<string, Extract<IndexEntry, { kind: 'dataset' }>> {
  return new Map(Object.entries(index.entries).flatMap(([p, e]) => (e.kind === 'dataset' ? [[p, e] as const] : [])));
}

/** Every dataset h5py sees has the same byte locations in the index (hard-linked second names point at the first). */
function assertMatchesH5py(index: FileIndex, path: string): number {
  const judged = JSON.parse(h5py(path)) as Record<string, H5pyStorage>;
  const ours = datasets(index);
  let compared = 0;
  for (const [name, expected] of Object.entries(judged)) {
    let entry = index.entries[name];
    if (entry?.kind === 'hard-link') entry = index.entries[entry.target];
    assert.ok(entry && entry.kind === 'dataset', `${name}: in h5py, not a dataset in the index`);
    const storage = entry.storage;
    assert.equal(storage.layout, expected.layout, name);
    if (storage.layout === 'chunked') {
      assert.deepEqual(storage.chunks, expected.chunks, `${name}: chunks`);
      assert.deepEqual(storage.chunkShape, expected.chunk_shape, `${name}: chunk shape`);
      assert.equal(
        storage.chunks.reduce((n, c) => n + c[1], 0),
        expected.storage_size,
        `${name}: stored bytes`,
      );
    } else if (storage.layout === 'contiguous') {
      assert.equal(storage.address, expected.offset ?? null, `${name}: offset`);
      if (storage.address !== null) assert.equal(storage.bytes, expected.storage_size, `${name}: size`);
    } else {
      assert.equal(storage.bytes, expected.storage_size, `${name}: compact size`);
    }
    compared++;
  }
  assert.equal(ours.size, compared, 'the index has no dataset h5py does not see');
  return compared;
}

describe('file index', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'file-index-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('locates every chunk, contiguous and compact dataset of an h5py file as h5py does, with links and attributes', async () => {
    const path = join(dir, 'varied.h5');
    h5py('--make', path);
    const index = await indexHdf5File(path, { bytes: 1, sha256: 'x' });
    assert.equal(assertMatchesH5py(index, path) >= 88, true);
    const file = readFileSync(path);
    // The compact dataset's bytes are where the index says: the values 0..9 as <i2.
    const compact = index.entries['/entry/compact'];
    assert.ok(compact?.kind === 'dataset' && compact.storage.layout === 'compact');
    assert.deepEqual(
      [...new Int16Array(file.buffer.slice(file.byteOffset + compact.storage.address, file.byteOffset + compact.storage.address + 20))],
      [...Array(10).keys()],
    );
    // A gzip+shuffle chunk: its filters and its stored (compressed) size.
    const gz = index.entries['/entry/gz'];
    assert.ok(gz?.kind === 'dataset');
    assert.deepEqual(
      gz.filters.map((f) => (f.name.toLowerCase().includes('shuffle') ? 'shuffle' : f.id)),
      ['shuffle', 1],
    );
    // Chunks never written (sparse, unwritten) are absent, not invented.
    const sparse = index.entries['/entry/sparse'];
    assert.ok(sparse?.kind === 'dataset' && sparse.storage.layout === 'chunked');
    assert.equal(sparse.storage.chunks.length, 6); // rows 50-69 × columns 5-24 touch 2 × 3 chunks of 10 × 10
    assert.deepEqual(index.entries['/entry/unwritten'] && (index.entries['/entry/unwritten'] as { storage: unknown }).storage, {
      layout: 'contiguous',
      address: null,
      bytes: 40,
    });
    assert.deepEqual(index.entries['/entry/link_to_counts'], { kind: 'soft-link', target: '/entry/counts' });
    assert.deepEqual(index.entries['/entry/lima'], {
      kind: 'external-link',
      file: 'scan0001/lima_0000.h5',
      target: '/entry_0000/measurement/data',
    });
    assert.ok(['/entry/hard_counts', '/entry/counts'].some((p) => index.entries[p]?.kind === 'hard-link'));
    const entry = index.entries['/entry'];
    assert.ok(entry?.kind === 'group');
    assert.equal(entry.attributes.NX_class?.value, 'NXentry');
    assert.equal(entry.children.length, 13);
    assert.equal((index.entries['/entry/many'] as { children: string[] }).children.length, 80);
    assert.equal((index.entries['/entry/title'] as { value: unknown }).value, 'ascan sy 0 1 10 0.1');
    assert.deepEqual((index.entries['/entry/small'] as { value: unknown }).value, [0, 1, 2]);
    assert.equal('value' in (index.entries['/entry/counts'] as object), false, 'big datasets are read by range, not inlined');
  });

  it('indexes a scan file of the scan writer, every dataset where h5py finds it', async () => {
    const run = sampleScan(40);
    const of = <T>(type: string) => run.documents.filter((d) => d['detail-type'] === type).map((d) => d.detail as T);
    const stop = run.stop.detail as RunStop;
    const plan = buildScanLayout({
      start: of<RunStart>('RunStart')[0]!,
      stop,
      descriptors: of<EventDescriptor>('EventDescriptor'),
      resources: of<StreamResource>('StreamResource'),
      points: stop.bliss.points as Record<string, number>,
      fileName: 'f.h5',
      creator: 'beamline-archive test',
      hdf5Version: '2.0.0',
    });
    const chunks = new Map(run.chunks.map((c) => [c.key, c.bytes]));
    const datums = of<StreamDatum>('StreamDatum');
    async function* slices(channel: PlanChannel): AsyncGenerator<ChannelSlice> {
      for (const d of datums.filter((x) => x.stream_resource === channel.resourceUid))
        yield { start: d.indices.start, stop: d.indices.stop, bytes: chunks.get(d.chunk.key)! };
    }
    const written = await (await H5wasmScanFileWriter.create()).write(plan, slices);
    try {
      const sha256 = await sha256File(written.path);
      const index = await indexHdf5File(written.path, { bytes: written.bytes, sha256 });
      assert.deepEqual(index.file, { bytes: written.bytes, sha256 });
      assert.ok(assertMatchesH5py(index, written.path) > 10);
      const spectrum = index.entries['/3.1/instrument/spectrum/data'];
      assert.ok(spectrum?.kind === 'dataset');
      assert.deepEqual([spectrum.dtype.code, spectrum.shape], ['<u4', [40, 16]]);
      // A chunk's bytes at its address are the channel's staged bytes (uncompressed default storage).
      assert.ok(spectrum.storage.layout === 'chunked');
      const [address, bytes] = spectrum.storage.chunks[0]!;
      const fileBytes = readFileSync(written.path).subarray(address, address + bytes);
      const staged = Buffer.concat(datums.filter((d) => d.stream_resource.endsWith('spectrum')).map((d) => chunks.get(d.chunk.key)!));
      assert.deepEqual(Buffer.from(fileBytes), staged.subarray(0, bytes));
    } finally {
      await written.dispose();
    }
  });

  it("indexes a compressed scan file (gzip, ADR 0015) with its filter, and the portal's range reader inflates it back to the staged bytes", async () => {
    const run = sampleScan(40);
    const of = <T>(type: string) => run.documents.filter((d) => d['detail-type'] === type).map((d) => d.detail as T);
    const stop = run.stop.detail as RunStop;
    const plan = buildScanLayout({
      start: of<RunStart>('RunStart')[0]!,
      stop,
      descriptors: of<EventDescriptor>('EventDescriptor'),
      resources: of<StreamResource>('StreamResource'),
      points: stop.bliss.points as Record<string, number>,
      fileName: 'f.h5',
      creator: 'beamline-archive test',
      hdf5Version: '2.0.0',
      storage: { ...DEFAULT_STORAGE, gzipMinBytes: 0 },
    });
    const chunks = new Map(run.chunks.map((c) => [c.key, c.bytes]));
    const datums = of<StreamDatum>('StreamDatum');
    async function* slices(channel: PlanChannel): AsyncGenerator<ChannelSlice> {
      for (const d of datums.filter((x) => x.stream_resource === channel.resourceUid))
        yield { start: d.indices.start, stop: d.indices.stop, bytes: chunks.get(d.chunk.key)! };
    }
    const written = await (await H5wasmScanFileWriter.create()).write(plan, slices);
    try {
      const index = await indexHdf5File(written.path, { bytes: written.bytes, sha256: await sha256File(written.path) });
      assert.ok(assertMatchesH5py(index, written.path) > 10);
      const spectrum = index.entries['/3.1/instrument/spectrum/data'];
      assert.ok(spectrum?.kind === 'dataset');
      assert.deepEqual(
        spectrum.filters.map((f) => [f.id, f.cdValues]),
        [[1, [4]]],
      );
      const bytes = readFileSync(written.path);
      const source: RangeSource = {
        stats: { requests: 0, bytes: 0 },
        read: async (offset, length) => new Uint8Array(bytes.subarray(offset, offset + length)),
      };
      const values = (await new IndexedFile(index, source).read('/3.1/instrument/spectrum/data')) as ArrayBufferView;
      const staged = Buffer.concat(datums.filter((d) => d.stream_resource.endsWith('spectrum')).map((d) => chunks.get(d.chunk.key)!));
      assert.deepEqual(Buffer.from(values.buffer, values.byteOffset, values.byteLength), staged.subarray(0, 40 * 16 * 4));
    } finally {
      await written.dispose();
    }
  });

  it('refuses a chunk index it does not read (latest file format) with the dataset named', async () => {
    const path = join(dir, 'latest.h5');
    const made = spawnSync(
      venvPython,
      [
        '-c',
        'import h5py,sys; f=h5py.File(sys.argv[1],"w",libver="latest"); f.create_dataset("g/grow", shape=(5,), maxshape=(None,), chunks=(2,)); f["g/grow"][:]=1',
        path,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(made.status, 0, made.stderr);
    await assert.rejects(indexHdf5File(path, { bytes: 1, sha256: 'x' }), (error: Error) => {
      assert.ok(error instanceof UnsupportedHdf5StructureError);
      assert.match(error.message, /\/g\/grow uses a extensible array chunk index/);
      return true;
    });
  });
});
