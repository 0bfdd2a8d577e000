// Writer/handler pairs of the analysis store: each spec's writer stores an array, its handler reads
// the same bytes back; the objects are also read by numpy (NPY) and h5py (HDF5) from .venv.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analysisFormats, codecFor, handlerFor, writerFor } from '../../src/adapters/analysis-formats.js';
import { MemoryObjectStore } from '../../src/adapters/memory/object-store.js';
import { decodeCsv, encodeCsv } from '../../src/core/analysis/csv-format.js';
import { AnalysisFormatError, UnknownSpecError } from '../../src/core/analysis/errors.js';
import { concatRows, stackPoints, type Dtype, type NdArray } from '../../src/core/analysis/ndarray.js';
import { decodeNpy, encodeNpy } from '../../src/core/analysis/npy-format.js';
import { Spec, type ResourceKwargs } from '../../src/core/analysis/writer-handler.js';
import { venvPython } from '../../local/services.js';

/** Arrays of every dtype, with the awkward values (-0, ±inf, NaN, extremes, 2^53+1 as int64). */
function samples(): NdArray[] {
  const f8 = new Float64Array([0.1, -0, Infinity, -Infinity, NaN, 1e-310, Number.MAX_VALUE, -2.5, 3 / 7, 1 / 3, 6.02214076e23, -1e-7]);
  const f4 = new Float32Array([0.1, -0, Infinity, 1.5e-40, 3.4028234663852886e38, -7.25]);
  const i8 = new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 9007199254740993n, -1n, 0n, 42n]);
  const u8 = new BigUint64Array([2n ** 64n - 1n, 0n, 9007199254740993n, 7n]);
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  return [
    { dtype: '<f8', shape: [4, 3], bytes: bytes(f8) },
    { dtype: '<f4', shape: [6], bytes: bytes(f4) },
    { dtype: '<i8', shape: [3, 2], bytes: bytes(i8) },
    { dtype: '<u8', shape: [4], bytes: bytes(u8) },
    { dtype: '<i4', shape: [2, 2, 2], bytes: bytes(new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, -5, 6, 7, 8, 9])) },
    { dtype: '<i2', shape: [3], bytes: bytes(new Int16Array([-32768, 32767, 1])) },
    { dtype: '|i1', shape: [3], bytes: bytes(new Int8Array([-128, 127, 0])) },
    { dtype: '<u4', shape: [2], bytes: bytes(new Uint32Array([2 ** 32 - 1, 1])) },
    { dtype: '<u2', shape: [2], bytes: bytes(new Uint16Array([65535, 2])) },
    { dtype: '|u1', shape: [3], bytes: new Uint8Array([0, 255, 7]) },
    { dtype: '|b1', shape: [4], bytes: new Uint8Array([1, 0, 0, 1]) },
  ];
}

const kwargsOf = (array: NdArray, key = 'q'): ResourceKwargs => ({
  run_uid: '01DERIVEDRUN',
  stream: 'primary',
  data_key: key,
  dtype_numpy: array.dtype,
  point_shape: array.shape.slice(1),
});

describe('analysis writer/handler registry', () => {
  it('has a codec for every spec, keyed by spec, and refuses unknown specs', () => {
    assert.deepEqual(Object.keys(analysisFormats).sort(), Object.values(Spec).sort());
    for (const [spec, codec] of Object.entries(analysisFormats)) assert.equal(codec.spec, spec);
    assert.throws(
      () => codecFor('AD_TIFF'),
      (e: unknown) => e instanceof UnknownSpecError && /AD_TIFF.*known: BA_HDF5_ARRAY, BA_NPY, BA_CSV/.test((e as Error).message),
    );
  });

  for (const spec of Object.values(Spec)) {
    it(`${spec}: every dtype round-trips bit for bit through writer and handler, in two datums`, async () => {
      const store = new MemoryObjectStore('bucket-a');
      for (const array of samples()) {
        const kwargs = kwargsOf(array, `k${array.dtype.replace(/[<|]/g, '')}`);
        const writer = writerFor(spec, store, kwargs);
        const split = Math.floor((array.shape[0] ?? 0) / 2);
        const rowBytes = array.bytes.byteLength / array.shape[0]!;
        const first = { dtype: array.dtype, shape: [split, ...array.shape.slice(1)], bytes: array.bytes.slice(0, split * rowBytes) };
        const second = {
          dtype: array.dtype,
          shape: [array.shape[0]! - split, ...array.shape.slice(1)],
          bytes: array.bytes.slice(split * rowBytes),
        };
        const d1 = await writer.write(first);
        const d2 = await writer.write(second);
        assert.deepEqual(d1.indices, { start: 0, stop: split });
        assert.deepEqual(d2.indices, { start: split, stop: array.shape[0] });
        assert.match(
          d2.chunk.key,
          new RegExp(`^analysis/01DERIVEDRUN/primary/${kwargs.data_key}/0+${split}-0+${array.shape[0]}\\.${codecFor(spec).extension}$`),
        );
        assert.equal(d1.chunk.bucket, 'bucket-a');
        // The handler is created from the resource kwargs the writer reports (as a StreamResource carries them).
        const handler = handlerFor(spec, store, writer.resourceKwargs);
        const back = concatRows([await handler.read(d1), await handler.read(d2)]);
        assert.equal(back.dtype, array.dtype);
        assert.deepEqual(back.shape, array.shape);
        assert.deepEqual(Buffer.from(back.bytes), Buffer.from(array.bytes), `${spec} ${array.dtype} bytes differ`);
      }
    });

    it(`${spec}: the handler refuses an object whose checksum or location is not its datum's`, async () => {
      const store = new MemoryObjectStore();
      const array = samples()[0]!;
      const writer = writerFor(spec, store, kwargsOf(array));
      const datum = await writer.write(array);
      const handler = handlerFor(spec, store, writer.resourceKwargs);
      const bytes = await store.get(datum.chunk.key);
      bytes[bytes.length - 2] = (bytes[bytes.length - 2] ?? 0) ^ 1;
      await store.put(datum.chunk.key, bytes);
      await assert.rejects(handler.read(datum), (e: unknown) => e instanceof AnalysisFormatError && /sha256/.test((e as Error).message));
      await assert.rejects(
        handler.read({ ...datum, chunk: { ...datum.chunk, key: 'archive/x.h5' } }),
        /not under analysis\/01DERIVEDRUN\/primary\/q\//,
      );
    });
  }

  it('writers refuse arrays that do not match their resource kwargs', async () => {
    const store = new MemoryObjectStore();
    const writer = writerFor(Spec.Npy, store, { run_uid: 'R', stream: 'primary', data_key: 'x', dtype_numpy: '<f8', point_shape: [2] });
    await assert.rejects(writer.write(stackPoints([1, 2], { dtype: '<f8' })), /given to a writer of <f8 \[2\]/);
    assert.throws(
      () => writerFor(Spec.Npy, store, { run_uid: 'R', stream: '../x', data_key: 'x', dtype_numpy: '<f8', point_shape: [] }),
      /stream/,
    );
  });
});

describe('NPY format (written without numpy)', () => {
  it('aligns the data on 64 bytes and reads back what it wrote', () => {
    for (const array of samples()) {
      const bytes = encodeNpy(array);
      const headerLength = new DataView(bytes.buffer).getUint16(8, true);
      assert.equal((10 + headerLength) % 64, 0);
      const back = decodeNpy(bytes);
      assert.deepEqual(Buffer.from(back.bytes), Buffer.from(array.bytes));
      assert.deepEqual(back.shape, array.shape);
    }
    assert.throws(() => decodeNpy(new Uint8Array([1, 2, 3])), /magic/);
    assert.throws(() => decodeNpy(encodeNpy(samples()[0]!).slice(0, -1)), /holds 95 data bytes/);
  });
});

describe('CSV format', () => {
  it('writes one row per point, named columns, exact numbers', () => {
    const array = stackPoints(
      [
        [1.5, -0],
        [0.1, 2],
      ],
      { dtype: '<f8' },
    );
    const text = Buffer.from(encodeCsv(array, 'q')).toString();
    assert.equal(text, 'q[0],q[1]\n1.5,-0\n0.1,2\n');
    assert.throws(() => decodeCsv(Buffer.from('q\n1\n'), 'q', '<f8', [2]), /header/);
    assert.throws(() => decodeCsv(Buffer.from('q\nx\n'), 'q', '<f8', []), /not a <f8 value/);
    assert.throws(() => decodeCsv(Buffer.from('q\n300\n'), 'q', '|u1' as Dtype, []), /not a \|u1 value/);
  });
});

describe('objects read by numpy and h5py', () => {
  it('NPY objects load with numpy.load and HDF5 objects with h5py, values identical', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'analysis-py-'));
    try {
      const store = new MemoryObjectStore();
      const expected: Record<string, { dtype: string; shape: number[]; hex: string }> = {};
      for (const [i, array] of samples().entries()) {
        for (const spec of [Spec.Npy, Spec.Hdf5Array]) {
          const writer = writerFor(spec, store, kwargsOf(array, `k${i}`));
          const datum = await writer.write(array);
          const name = `${i}.${spec === Spec.Npy ? 'npy' : 'h5'}`;
          writeFileSync(join(dir, name), await store.get(datum.chunk.key));
          expected[name] = { dtype: array.dtype, shape: array.shape, hex: Buffer.from(array.bytes).toString('hex') };
        }
      }
      writeFileSync(join(dir, 'expected.json'), JSON.stringify(expected));
      const script = `
import json, sys, os, numpy, h5py
d = sys.argv[1]
expected = json.load(open(os.path.join(d, 'expected.json')))
bad = []
for name, e in expected.items():
    p = os.path.join(d, name)
    if name.endswith('.npy'):
        a = numpy.load(p)
    else:
        with h5py.File(p, 'r') as f:
            ds = f['/data']
            assert ds.attrs['dtype_numpy'] == e['dtype'], (name, ds.attrs['dtype_numpy'])
            a = ds[()]
        if e['dtype'] == '|b1':
            a = a.view(numpy.bool_)
    if a.dtype != numpy.dtype(e['dtype']) or list(a.shape) != e['shape'] or a.tobytes().hex() != e['hex']:
        bad.append((name, str(a.dtype), a.shape))
print(json.dumps({'checked': len(expected), 'bad': bad}))
`;
      const out = spawnSync(venvPython, ['-c', script, dir], { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      const result = JSON.parse(out.stdout) as { checked: number; bad: unknown[] };
      assert.deepEqual(result.bad, []);
      assert.equal(result.checked, samples().length * 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the HDF5 writer gives the same bytes for the same array (object times pinned)', async () => {
    const array = samples()[0]!;
    const a = await codecFor(Spec.Hdf5Array).encode(array, { ...kwargsOf(array), dataset: '/data' });
    await new Promise((r) => setTimeout(r, 1100));
    const b = await codecFor(Spec.Hdf5Array).encode(array, { ...kwargsOf(array), dataset: '/data' });
    assert.deepEqual(Buffer.from(a), Buffer.from(b));
  });
});
