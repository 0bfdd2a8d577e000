/**
 * Point shapes that change mid-stream, in the scan writer: padding (int and float dtypes, 1D and
 * N-D), the coverage check with per-datum shapes, the plan (largest shape, fill value attributes,
 * `point_shape` dataset), and a whole archiveRun written by h5wasm and read back by h5py bit for
 * bit. Bridge side: test/unit/bridge-variable-shape.test.ts; end to end with blissdata:
 * test/integration/bridge-json-streams.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryEventBus } from '../../src/adapters/memory/event-bus.js';
import { MemoryObjectStore } from '../../src/adapters/memory/object-store.js';
import { MemoryRunCatalogue } from '../../src/adapters/memory/run-catalogue.js';
import { H5wasmScanFileWriter } from '../../src/adapters/h5wasm-scan-file-writer.js';
import { archiveRun } from '../../src/core/archive/archive-run.js';
import { ChunkCoverageError } from '../../src/core/archive/errors.js';
import { InvalidInputError } from '../../src/core/errors.js';
import type { StoredDocument } from '../../src/core/archive/ports.js';
import { checkCoverage, collectRunDocuments } from '../../src/core/archive/run-documents.js';
import { paddedSlices, resourcesAtLargestShape, varyingPointShapes, withPointShapeDatasets } from '../../src/core/archive/point-shapes.js';
import type { RunStop, StreamDatum, StreamResource } from '../../src/core/contract/generated-types.js';
import { parseElementType } from '../../src/core/nexus/dtypes.js';
import { buildScanLayout } from '../../src/core/nexus/scan-layouts.js';
import { DEFAULT_STORAGE } from '../../src/core/nexus/writers/channel-writer.js';
import { fillValueOf, largestShape, padPoints, pointShapeRows, variableShapeLayout } from '../../src/core/nexus/writers/variable-shape.js';
import { stagingChunkKey } from '../../src/core/object-keys.js';
import { venvPython } from '../../local/services.js';
import { H5wasmArchivedChannelReader } from '../../src/adapters/h5wasm-archived-channel-reader.js';
import { writeHdf5Tree } from '../../src/adapters/h5wasm-tree-writer.js';
import { RunState } from '../../src/core/archive/ports.js';
import { loadExportRun } from '../../src/core/exports/export-loader.js';
import type { ColumnData, Hdf5Tree } from '../../src/core/exports/model.js';
import { materialize, materializeRun } from '../../src/core/exports/column-source.js';
import { buildNexusExport } from '../../src/core/exports/nexus-export.js';
import { buildRun, type FixtureRun } from './archive-fixtures.js';

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('padding points to the largest shape', () => {
  it('fills with NaN for floats and 0 for integers, as blisswriter 3 does', () => {
    assert.ok(Number.isNaN(fillValueOf(parseElementType('<f4'))));
    assert.ok(Number.isNaN(fillValueOf(parseElementType('<f8'))));
    assert.equal(fillValueOf(parseElementType('<i4')), 0);
    assert.equal(fillValueOf(parseElementType('|u1')), 0);
  });

  it('pads 1D integer points at the end, values unchanged', () => {
    const from = new Uint16Array([1, 2, 3, 4, 5, 6]); // 2 points of [3]
    const out = new Uint16Array(padPoints(bytesOf(from), 2, [3], [5], parseElementType('<u2')).buffer);
    assert.deepEqual([...out], [1, 2, 3, 0, 0, 4, 5, 6, 0, 0]);
  });

  it('pads 1D float points with NaN (the canonical quiet NaN numpy writes)', () => {
    const from = new Float32Array([1.5, -2.25]); // 2 points of [1]
    const out = padPoints(bytesOf(from), 2, [1], [3], parseElementType('<f4'));
    const view = new DataView(out.buffer);
    assert.equal(view.getFloat32(0, true), 1.5);
    assert.equal(view.getUint32(4, true), 0x7fc00000);
    assert.equal(view.getUint32(8, true), 0x7fc00000);
    assert.equal(view.getFloat32(12, true), -2.25);
    const f8 = padPoints(bytesOf(new Float64Array([7])), 1, [1], [2], parseElementType('<f8'));
    assert.equal(new DataView(f8.buffer).getBigUint64(8, true), 0x7ff8000000000000n);
  });

  it('pads every dimension of N-D points (C order)', () => {
    // 2 points of [2, 3] into [3, 4]
    const from = new Int32Array([1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]);
    const out = new Int32Array(padPoints(bytesOf(from), 2, [2, 3], [3, 4], parseElementType('<i4')).buffer);
    assert.deepEqual([...out], [1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0, 11, 12, 13, 0, 14, 15, 16, 0, 0, 0, 0, 0]);
    // 1 point of [2, 1, 2] into [2, 2, 3]
    const three = new Int32Array(padPoints(bytesOf(new Int32Array([1, 2, 3, 4])), 1, [2, 1, 2], [2, 2, 3], parseElementType('<i4')).buffer);
    assert.deepEqual([...three], [1, 2, 0, 0, 0, 0, 3, 4, 0, 0, 0, 0]);
  });

  it('keeps points of the largest shape as they are and refuses points that do not fit', () => {
    const same = bytesOf(new Uint8Array([1, 2, 3, 4]));
    assert.deepEqual([...padPoints(same, 2, [2], [2], parseElementType('|u1'))], [1, 2, 3, 4]);
    assert.throws(() => padPoints(same, 1, [4], [3], parseElementType('|u1')), /do not fit/);
    assert.throws(() => padPoints(same, 3, [2], [3], parseElementType('|u1')), /are not 3 points/);
  });

  it('takes the largest size of every dimension, refusing shapes of different ranks', () => {
    assert.deepEqual(
      largestShape([
        [2, 3],
        [3, 2],
        [1, 1],
      ]),
      [3, 3],
    );
    assert.throws(() => largestShape([[2], [2, 1]]), /different ranks/);
  });

  it('writes padded slices of at most sliceRows points', () => {
    const plan = variableShapeLayout(
      {
        kind: 'channel',
        path: '/1.1/instrument/s/data',
        channel: 'm:s',
        resourceUid: 'r',
        type: parseElementType('<u2'),
        shape: [5, 4],
        pointShape: [4],
        chunkRows: 2,
        sliceRows: 2,
        attrs: {},
      },
      DEFAULT_STORAGE,
    ).dataset;
    const slices = [...paddedSlices(plan, 10, 15, bytesOf(new Uint16Array([1, 2, 3, 4, 5])), [1])];
    assert.deepEqual(
      slices.map((s) => [s.start, s.stop, [...new Uint16Array(s.bytes.buffer)]]),
      [
        [10, 12, [1, 0, 0, 0, 2, 0, 0, 0]],
        [12, 14, [3, 0, 0, 0, 4, 0, 0, 0]],
        [14, 15, [5, 0, 0, 0]],
      ],
    );
    const whole = bytesOf(new Uint16Array(8));
    assert.deepEqual(
      [...paddedSlices(plan, 0, 2, whole, [4])].map((s) => s.bytes),
      [whole],
      'largest shape: the staged bytes, not a copy',
    );
  });
});

/** A run with a scalar counter and the variable-shape channels the bridge stages: chunks cut where the shape changes. */
interface Varying {
  name: string;
  dtype: string;
  segments: { shape: number[]; points: number }[];
  values: (point: number, shape: number[]) => number[];
}

function varyingRun(channels: Varying[]): { run: FixtureRun; published: Map<string, { shape: number[]; values: number[] }[]> } {
  const points = channels[0]!.segments.reduce((n, s) => n + s.points, 0);
  const run = buildRun({ points, channels: [{ name: 'c:diode', dtype: '<f8', values: new Float64Array(points).map((_, i) => i) }] });
  const published = new Map<string, { shape: number[]; values: number[] }[]>();
  const resources = run.documents.filter((d) => d['detail-type'] === 'StreamResource');
  const stop = run.stop.detail as RunStop;
  for (const c of channels) {
    const resource: StreamResource = {
      ...(resources[0]!.detail as StreamResource),
      uid: `${run.runUid}/resource/${c.name}`,
      data_key: c.name,
      parameters: { dtype_numpy: c.dtype, point_shape: c.segments[0]!.shape },
    };
    run.documents.splice(2, 0, { ...resources[0]!, detail: resource });
    const list: { shape: number[]; values: number[] }[] = [];
    let start = 0;
    for (const seg of c.segments) {
      const stopAt = start + seg.points;
      const values: number[] = [];
      for (let p = start; p < stopAt; p++) {
        const v = c.values(p, seg.shape);
        list.push({ shape: seg.shape, values: v });
        values.push(...v);
      }
      const type = parseElementType(c.dtype);
      const bytes = bytesOf(
        type.kind === 'float'
          ? type.size === 4
            ? new Float32Array(values)
            : new Float64Array(values)
          : type.size === 2
            ? new Uint16Array(values)
            : new Int32Array(values),
      );
      const key = stagingChunkKey(run.beamline, run.runUid, c.name, start, stopAt);
      run.chunks.push({ key, bytes: bytes.slice() });
      const datum: StreamDatum = {
        uid: `${resource.uid}/${start}-${stopAt}`,
        stream_resource: resource.uid,
        descriptor: `${run.runUid}/descriptor/primary`,
        indices: { start, stop: stopAt },
        seq_nums: { start: start + 1, stop: stopAt + 1 },
        chunk: { bucket: run.bucket, key, bytes: bytes.byteLength, sha256: sha(bytes) },
        point_shape: seg.shape,
      };
      run.documents.push({ ...run.stop, 'detail-type': 'StreamDatum', detail: datum } as unknown as FixtureRun['documents'][number]);
      stop.bliss.documents.stream_datum++;
      start = stopAt;
    }
    stop.bliss.points[c.name] = points;
    stop.bliss.documents.stream_resource++;
    published.set(c.name, list);
  }
  return { run, published };
}

const SPECTRUM: Varying = {
  name: 'mca2:free_spectrum',
  dtype: '<u2',
  segments: [
    { shape: [5], points: 6 },
    { shape: [8], points: 6 },
    { shape: [2], points: 3 },
  ],
  values: (p, [n]) => Array.from({ length: n! }, (_, i) => i + p),
};
const IMAGE: Varying = {
  name: 'cam:free_image',
  dtype: '<f4',
  segments: [
    { shape: [2, 3], points: 6 },
    { shape: [3, 2], points: 6 },
    { shape: [1, 1], points: 3 },
  ],
  values: (p, [h, w]) => Array.from({ length: h! * w! }, (_, i) => p + i / 4),
};
const STEADY: Varying = {
  name: 'mca3:steady',
  dtype: '<i4',
  segments: [{ shape: [4], points: 15 }],
  values: (p) => [p, -p, 2 * p, 7],
};

const stored = (run: FixtureRun): StoredDocument[] =>
  run.documents.map((d) => ({ detailType: d['detail-type'], uid: (d.detail as { uid?: string }).uid ?? '', body: d.detail }));

describe('coverage of chunks with their own point shapes', () => {
  it('checks each chunk against its own shape and names a chunk whose bytes or rank do not match', () => {
    const { run } = varyingRun([SPECTRUM]);
    const docs = collectRunDocuments(run.stop.detail as RunStop, stored(run));
    assert.equal(checkCoverage(docs).points[SPECTRUM.name], 15);
    const wrong = docs.datums.map((d) =>
      d.indices.start === 6 ? { ...d, point_shape: [7] } : d.indices.start === 12 ? { ...d, point_shape: [1, 2] } : d,
    );
    assert.throws(
      () => checkCoverage({ ...docs, datums: wrong }),
      (error: unknown) => {
        assert.ok(error instanceof ChunkCoverageError);
        assert.deepEqual(
          error.errors.map((e) => [e.index, e.message]),
          [
            [6, `chunk ${run.runUid}/resource/${SPECTRUM.name}/6-12 has 96 bytes, 6 points of <u2 × [7] need 84`],
            [12, `chunk ${run.runUid}/resource/${SPECTRUM.name}/12-15 has point shape [1, 2], its resource [5] (another rank)`],
          ],
        );
        return true;
      },
    );
  });
});

describe('the plan of a channel whose point shape changes', () => {
  it('lays it out at the largest shape with its fill value and a point_shape dataset; steady channels unchanged', () => {
    const { run } = varyingRun([SPECTRUM, IMAGE, STEADY]);
    const docs = collectRunDocuments(run.stop.detail as RunStop, stored(run));
    const coverage = checkCoverage(docs);
    const varying = varyingPointShapes(docs.resources, coverage.datumsByChannel);
    assert.deepEqual(
      [...varying].sort(),
      [
        [IMAGE.name, [3, 3]],
        [SPECTRUM.name, [8]],
      ],
      'a free channel that never changed is not varying',
    );
    const base = buildScanLayout({
      start: docs.start,
      stop: docs.stop,
      descriptors: docs.descriptors,
      resources: resourcesAtLargestShape(docs.resources, varying),
      points: coverage.points,
      fileName: 'f.h5',
      creator: 'test',
      hdf5Version: '2.0.0',
    });
    const unchanged = withPointShapeDatasets(base, new Map(), DEFAULT_STORAGE);
    assert.equal(unchanged.plan, base, 'no varying channel: the very same plan');
    const { plan, pointShapeOf } = withPointShapeDatasets(base, varying, DEFAULT_STORAGE);
    assert.deepEqual([...pointShapeOf].sort(), [
      ['/3.1/instrument/free_image/point_shape', IMAGE.name],
      ['/3.1/instrument/free_spectrum/point_shape', SPECTRUM.name],
    ]);
    const paths = plan.nodes.map((n) => n.path);
    for (const name of ['free_image', 'free_spectrum']) {
      assert.equal(
        paths.indexOf(`/3.1/instrument/${name}/point_shape`),
        paths.indexOf(`/3.1/instrument/${name}/data`) + 1,
        'point_shape right after its data',
      );
    }
    const spectrum = plan.channels.find((c) => c.path === '/3.1/instrument/free_spectrum/data')!;
    assert.deepEqual([spectrum.shape, spectrum.attrs.fill_value], [[15, 8], 0]);
    const shapes = plan.channels.find((c) => c.path === '/3.1/instrument/free_image/point_shape')!;
    assert.deepEqual([shapes.channel, shapes.type.numpy, shapes.shape], [`${IMAGE.name}#point_shape`, '<i8', [15, 2]]);
    assert.ok(Number.isNaN(plan.channels.find((c) => c.path === '/3.1/instrument/free_image/data')!.attrs.fill_value));
    const steady = plan.channels.find((c) => c.path === '/3.1/instrument/steady/data')!;
    assert.equal(
      steady,
      base.channels.find((c) => c.path === steady.path),
      'a steady channel keeps its dataset node',
    );
  });
});

/** Datasets as raw bytes (base64), dtypes, shapes and attributes, read by h5py. */
function h5py(
  file: Uint8Array,
  paths: string[],
): Record<string, { dtype: string; shape: number[]; bytes: string; attrs: Record<string, string> }> {
  const script = `
import sys, json, base64, io, h5py
f = h5py.File(io.BytesIO(sys.stdin.buffer.read()), 'r')
out = {}
for p in json.loads(sys.argv[1]):
    if p not in f:
        continue
    d = f[p]
    out[p] = {'dtype': d.dtype.str, 'shape': list(d.shape), 'bytes': base64.b64encode(d[()].tobytes()).decode(),
              'attrs': {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in d.attrs.items()}}
print(json.dumps(out))
`;
  const res = spawnSync(venvPython, ['-c', script, JSON.stringify(paths)], { input: file, encoding: 'buffer' });
  assert.equal(res.status, 0, res.stderr.toString());
  return JSON.parse(res.stdout.toString()) as ReturnType<typeof h5py>;
}

/** What the file must hold: every published point padded to `largest` with the fill value, and the shapes. */
function expected(
  list: { shape: number[]; values: number[] }[],
  largest: number[],
  dtype: string,
): { data: Uint8Array; shapes: Uint8Array } {
  const type = parseElementType(dtype);
  const parts = list.map((p) => {
    const typed =
      type.kind === 'float'
        ? type.size === 4
          ? new Float32Array(p.values)
          : new Float64Array(p.values)
        : type.size === 2
          ? new Uint16Array(p.values)
          : new Int32Array(p.values);
    return padPoints(bytesOf(typed), 1, p.shape, largest, type);
  });
  return { data: Buffer.concat(parts), shapes: Buffer.concat(list.map((p) => pointShapeRows(p.shape, 1))) };
}

describe('archiving a run whose point shapes change (h5wasm, read back by h5py)', () => {
  it("writes [points, largest] with the fill value exactly where points are smaller, the published values bit for bit elsewhere, and each point's shape", async () => {
    const { run, published } = varyingRun([SPECTRUM, IMAGE, STEADY]);
    const store = new MemoryObjectStore(run.bucket);
    for (const c of [...run.chunks, ...(run.scanInfo ? [run.scanInfo] : [])]) await store.put(c.key, c.bytes);
    const catalogue = MemoryRunCatalogue.holding(run.runUid, stored(run));
    const outcome = await archiveRun(run.stop.detail as RunStop, {
      catalogue,
      store,
      writer: await H5wasmScanFileWriter.create(),
      publisher: new MemoryEventBus(),
      creator: 'beamline-archive test',
      now: () => new Date('2026-11-22T10:00:03Z'),
    });
    assert.equal(outcome.status, 'archived', JSON.stringify(outcome.detail));
    const file = await store.get(catalogue.archivals.at(-1)!.file.key);
    const read = h5py(file, [
      '/3.1/instrument/free_spectrum/data',
      '/3.1/instrument/free_spectrum/point_shape',
      '/3.1/instrument/free_image/data',
      '/3.1/instrument/free_image/point_shape',
      '/3.1/instrument/steady/data',
      '/3.1/instrument/steady/point_shape',
      '/3.1/measurement/free_spectrum',
    ]);
    const spectrum = expected(published.get(SPECTRUM.name)!, [8], '<u2');
    assert.deepEqual(read['/3.1/instrument/free_spectrum/data']!.shape, [15, 8]);
    assert.equal(read['/3.1/instrument/free_spectrum/data']!.dtype, '<u2');
    assert.equal(read['/3.1/instrument/free_spectrum/data']!.bytes, Buffer.from(spectrum.data).toString('base64'));
    assert.deepEqual(read['/3.1/instrument/free_spectrum/data']!.attrs, {
      interpretation: 'spectrum',
      fill_value: '0',
      padding: 'points smaller than [8] are padded at the end of each dimension with fill_value; point_shape holds the shape of each point',
    });
    assert.equal(read['/3.1/instrument/free_spectrum/point_shape']!.dtype, '<i8');
    assert.deepEqual(read['/3.1/instrument/free_spectrum/point_shape']!.shape, [15, 1]);
    assert.equal(read['/3.1/instrument/free_spectrum/point_shape']!.bytes, Buffer.from(spectrum.shapes).toString('base64'));
    assert.equal(
      read['/3.1/measurement/free_spectrum']!.bytes,
      read['/3.1/instrument/free_spectrum/data']!.bytes,
      'measurement links the padded data',
    );

    const image = expected(published.get(IMAGE.name)!, [3, 3], '<f4');
    assert.deepEqual(read['/3.1/instrument/free_image/data']!.shape, [15, 3, 3]);
    assert.equal(
      read['/3.1/instrument/free_image/data']!.bytes,
      Buffer.from(image.data).toString('base64'),
      'NaN padding and values bit for bit',
    );
    assert.equal(read['/3.1/instrument/free_image/data']!.attrs.fill_value, 'nan');
    assert.equal(read['/3.1/instrument/free_image/point_shape']!.bytes, Buffer.from(image.shapes).toString('base64'));

    assert.deepEqual(read['/3.1/instrument/steady/data']!.shape, [15, 4]);
    assert.deepEqual(
      read['/3.1/instrument/steady/data']!.attrs,
      { interpretation: 'spectrum' },
      'a free channel that never changed: no padding attributes',
    );
    assert.equal(read['/3.1/instrument/steady/point_shape'], undefined, 'nor a point_shape dataset');
    assert.deepEqual(Object.keys(catalogue.archivals.at(-1)!.channelPaths ?? {}).sort(), [
      'c:diode',
      'cam:free_image',
      'mca2:free_spectrum',
      'mca3:steady',
    ]);
  });
});

describe('exporting a run whose point shapes change (archived with h5wasm, loaded by the export loader)', () => {
  it("gives the NeXus export each padded key's point shapes and fill value, and leaves steady keys as they were", async () => {
    const { run, published } = varyingRun([SPECTRUM, IMAGE, STEADY]);
    const store = new MemoryObjectStore(run.bucket);
    for (const c of [...run.chunks, ...(run.scanInfo ? [run.scanInfo] : [])]) await store.put(c.key, c.bytes);
    const documents = stored(run);
    const catalogue = MemoryRunCatalogue.holding(run.runUid, documents);
    const outcome = await archiveRun(run.stop.detail as RunStop, {
      catalogue,
      store,
      writer: await H5wasmScanFileWriter.create(),
      publisher: new MemoryEventBus(),
      creator: 'beamline-archive test',
      now: () => new Date('2026-11-22T10:00:03Z'),
    });
    assert.equal(outcome.status, 'archived', JSON.stringify(outcome.detail));
    const archived = catalogue.archivals.at(-1)!;
    // The descriptor names the free keys as the bridge does (null for the free dimensions).
    const descriptor = documents.find((d) => d.detailType === 'EventDescriptor')!.body as { data_keys: Record<string, unknown> };
    for (const c of [SPECTRUM, IMAGE, STEADY]) {
      descriptor.data_keys[c.name] = {
        dtype: 'array',
        dtype_numpy: c.dtype,
        shape: c.segments[0]!.shape.map(() => null),
        source: `bliss:esrf:stream:${c.name}`,
        bliss_role: 'spectrum',
      };
    }
    const runs = {
      getRun: async () => ({ runUid: run.runUid, state: RunState.Archived, file: archived.file, channelPaths: archived.channelPaths }),
      listDocuments: async () => documents,
    };
    const loadDir = await mkdtemp(join(tmpdir(), 'export-varshape-load-'));
    const loaded = await loadExportRun(run.runUid, { runs, store, reader: new H5wasmArchivedChannelReader() }, join(loadDir, 'scan.h5'));
    const exportRun = loaded.run;
    const columns = new Map(
      materializeRun(exportRun)
        .streams.flatMap((s) => s.columns)
        .map((c) => [c.dataKey, c]),
    );
    const spectrum = expected(published.get(SPECTRUM.name)!, [8], '<u2');
    const column = columns.get(SPECTRUM.name)!;
    assert.deepEqual(column.array.shape, [15, 8]);
    assert.deepEqual(Buffer.from(column.array.bytes), Buffer.from(spectrum.data), 'the padded data as archived');
    assert.deepEqual(column.pointShapes?.shape, [15, 1], 'the real shape of every point');
    assert.deepEqual(Buffer.from(column.pointShapes!.bytes), Buffer.from(spectrum.shapes));
    assert.equal(column.fillValue, 0);
    assert.ok(Number.isNaN(columns.get(IMAGE.name)!.fillValue));
    assert.equal(columns.get(STEADY.name)!.pointShapes, undefined, 'a free key that never changed: nothing added');

    const product = buildNexusExport([exportRun], {
      exportId: 'exp1',
      creator: 'beamline-archive test',
      now: new Date('2026-11-22T11:00:00Z'),
    });
    const tree = (product.files[0] as { tree: Hdf5Tree }).tree;
    const dataset = (path: string) => tree.datasets.find((d) => d.path === path);
    const bytesOf = (value: unknown) => materialize(value as ColumnData).bytes;
    const data = dataset('/entry1/primary/mca2_free_spectrum')!;
    assert.equal(data.attrs?.fill_value, 0);
    assert.equal(data.attrs?.point_shape, 'mca2_free_spectrum_point_shape');
    assert.deepEqual(Buffer.from(bytesOf(dataset('/entry1/primary/mca2_free_spectrum_point_shape')!.value)), Buffer.from(spectrum.shapes));
    assert.equal(dataset('/entry1/primary/mca3_steady_point_shape'), undefined);
    assert.ok(
      product.notes.some((n) => n.includes('mca2:free_spectrum') && n.includes('padded')),
      product.notes.join('\n'),
    );
    // Written by the export's h5wasm writer, read back by h5py.
    const dir = await mkdtemp(join(tmpdir(), 'export-varshape-'));
    try {
      await writeHdf5Tree(tree, join(dir, 'exp1.nxs'), { fileTimeMs: Date.parse('2026-11-22T11:00:00Z') });
      const back = h5py(new Uint8Array(await readFile(join(dir, 'exp1.nxs'))), [
        '/entry1/primary/mca2_free_spectrum',
        '/entry1/primary/mca2_free_spectrum_point_shape',
        '/entry1/primary/cam_free_image',
      ]);
      assert.equal(back['/entry1/primary/mca2_free_spectrum']!.bytes, Buffer.from(spectrum.data).toString('base64'));
      assert.equal(back['/entry1/primary/mca2_free_spectrum']!.attrs.point_shape, 'mca2_free_spectrum_point_shape');
      assert.equal(back['/entry1/primary/mca2_free_spectrum_point_shape']!.bytes, Buffer.from(spectrum.shapes).toString('base64'));
      assert.equal(back['/entry1/primary/cam_free_image']!.attrs.fill_value, 'nan');
    } finally {
      await loaded.close();
      await rm(dir, { recursive: true, force: true });
      await rm(loadDir, { recursive: true, force: true });
    }
  });
});

describe('padding that would dwarf the data', () => {
  it('is refused with the shapes and sizes, before anything is allocated', () => {
    const resource = {
      uid: 'r/resource/roi',
      data_key: 'roi',
      parameters: { dtype_numpy: '<f4', point_shape: [1, 100_000] },
    } as unknown as StreamResource;
    const datum = (start: number, stop: number, shape: number[]) =>
      ({
        uid: `r/datum/roi/${start}-${stop}`,
        stream_resource: resource.uid,
        indices: { start, stop },
        point_shape: shape,
      }) as unknown as StreamDatum;
    const datums = [datum(0, 1, [1, 100_000]), datum(1, 2, [100_000, 1])];
    assert.throws(
      () => varyingPointShapes([resource], new Map([['roi', datums]]), 'r'),
      (e: unknown) => {
        assert.ok(e instanceof InvalidInputError, String(e));
        assert.match(
          e.message,
          /^stream roi: its points have shapes \[1, 100000\], \[100000, 1\]; padded to their largest \[100000, 100000\] they would take 80\.0 GB for 0\.8 MB published/,
        );
        assert.deepEqual(e.context, { runUid: 'r', stream: 'roi' });
        return true;
      },
    );
    // Growth that pads little is laid out as before.
    const small = [datum(0, 1000, [1, 2]), datum(1000, 1001, [1, 4096])];
    assert.deepEqual([...varyingPointShapes([resource], new Map([['roi', small]]))], [['roi', [1, 4096]]]);
  });
});
