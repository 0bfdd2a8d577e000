/**
 * JSON streams, scan sequences and changing point shapes, each published by the real blissdata
 * (tools/blissdata-publisher/publish_special_scans.py), carried by the bridge and the local Lambda
 * runner (emulator provisioned from the CDK template) into archived NeXus files read back by h5py.
 *
 * - a JSON stream (encoding {type: "json"}) next to a numeric one: staged as NDJSON chunks,
 *   written as variable-length UTF-8 strings; h5py + json.loads give back every published value,
 *   nxcheck finds no error (but BLISS's entry name);
 * - a scan sequence: each child scan is archived as its own run and file; the sequence's run holds
 *   its SUBSCANS stream (the children's scan keys, in order) and nothing else;
 * - a variable-shape uint16 spectrum and float32 image whose points change shape mid-stream (6
 *   points of [5] / [2, 3], 6 of [8] / [3, 2], 3 of [2] / [1, 1]): archived, the datasets at the
 *   largest shape ([15, 8], [15, 3, 3]) padded with the fill value (0, NaN) exactly where points are
 *   smaller, the published values bit for bit elsewhere, `point_shape` holding each point's shape,
 *   the chunks cut where the shape changes; nxcheck finds no error.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { run, startLocalPipeline, type LocalPipeline } from '../../local/pipeline.js';
import { projectRoot, venvPython } from '../../local/services.js';

const SPECIAL = join(projectRoot, 'tools', 'blissdata-publisher', 'publish_special_scans.py');

async function publishSpecial<T>(redisUrl: string, kind: string, args: string[]): Promise<T> {
  const out = await run(venvPython, [SPECIAL, '--redis', redisUrl, ...args, kind]);
  if (out.code !== 0) throw new Error(`publish_special_scans.py ${kind}: ${out.stderr.slice(-2000)}`);
  return JSON.parse(out.stdout) as T;
}

interface Finding {
  path?: string;
  message: string;
  nxdl_valid_item_name?: boolean;
}

/** nxcheck (NeXus base classes) and a full h5py read-back (test/support/nxcheck-report.py): no error but BLISS's entry name. */
async function assertNexusValid(file: string, entry: string): Promise<void> {
  const checked = await run(venvPython, [join(projectRoot, 'test/support/nxcheck-report.py'), file]);
  assert.equal(checked.code, 0, checked.stderr);
  const report = JSON.parse(checked.stdout) as { nxcheck: { errors: Finding[] }; h5py: { problems: unknown[] } };
  const errors = report.nxcheck.errors.filter(
    (e) => !(e.path === `/${entry}` && e.message === `"${entry}" is an invalid name` && e.nxdl_valid_item_name === true),
  );
  assert.deepEqual(errors, [], `nxcheck errors in ${file}`);
  assert.deepEqual(report.h5py.problems, [], `h5py read-back of ${file}`);
}

/** Reads datasets of an HDF5 file with h5py: strings through .asstr() and json.loads, numbers as lists. */
async function h5read(path: string, request: Record<string, 'json' | 'number' | 'attrs' | 'exists'>): Promise<Record<string, unknown>> {
  const script = `
import sys, json, h5py
f = h5py.File(sys.argv[1], 'r')
req = json.loads(sys.argv[2])
out = {}
for p, how in req.items():
    if how == 'exists':
        out[p] = p in f
    elif how == 'attrs':
        out[p] = {k: (v.decode() if isinstance(v, bytes) else v if isinstance(v, str) else str(v)) for k, v in f[p].attrs.items()}
    elif how == 'json':
        d = f[p]
        assert h5py.check_string_dtype(d.dtype).encoding == 'utf-8', d.dtype
        assert h5py.check_string_dtype(d.dtype).length is None, 'variable length'
        out[p] = [json.loads(s) for s in d.asstr()[()]]
    else:
        out[p] = f[p][()].tolist()
print(json.dumps(out))
`;
  const res = await run(venvPython, ['-c', script, path, JSON.stringify(request)]);
  if (res.code !== 0) throw new Error(`h5py could not read ${path}: ${res.stderr.slice(-2000)}`);
  return JSON.parse(res.stdout) as Record<string, unknown>;
}

interface JsonScan {
  run_uid: string;
  points: number;
  json_channel: string;
  values: unknown[];
}
interface SequenceScan {
  run_uid: string;
  scan_key: string;
  number: number;
  children: { scan_key: string; run_uid: string; number: number; points: number }[];
}
interface ReshapeScan {
  run_uid: string;
  points: number;
  change_at: number[];
  stream: string;
  image_stream: string;
  spectra: number[][];
  images: number[][][];
}

/**
 * The published points of the reshape scan against the file (h5py, numpy): each dataset equals the
 * points padded at the end of every dimension with its fill value, compared as bytes (NaN bits too),
 * and `point_shape` equals the published shapes. Prints what it found.
 */
const CHECK_PADDED = `
import sys, json, h5py, numpy as np
f = h5py.File(sys.argv[1], 'r')
pub = json.load(open(sys.argv[2]))
out = {}
for name, points, dtype, fill in (('free_spectrum', pub['spectra'], np.uint16, 0), ('free_image', pub['images'], np.float32, np.nan)):
    group = f['/50.1/instrument/' + name]
    data, shapes = group['data'], group['point_shape']
    arrays = [np.asarray(p, dtype=dtype) for p in points]
    largest = tuple(max(a.shape[k] for a in arrays) for k in range(arrays[0].ndim))
    expected = np.full((len(arrays),) + largest, fill, dtype=dtype)
    for i, a in enumerate(arrays):
        expected[(i,) + tuple(slice(0, d) for d in a.shape)] = a
    out[name] = {
        'shape': list(data.shape), 'dtype': data.dtype.str, 'bit_for_bit': data[()].tobytes() == expected.tobytes(),
        'point_shape': shapes[()].tolist(), 'published_shapes': [list(a.shape) for a in arrays], 'point_shape_dtype': shapes.dtype.str,
        'fill_value': str(data.attrs['fill_value']), 'measurement': f['/50.1/measurement/' + name][()].tobytes() == expected.tobytes(),
    }
print(json.dumps(out))
`;

describe('bridge: JSON streams, scan sequences and changing point shapes, end to end', () => {
  let pipeline: LocalPipeline;
  const dir = mkdtempSync(join(tmpdir(), 'ba-json-'));
  let json: JsonScan;
  let sequence: SequenceScan;
  let reshape: ReshapeScan;

  before(async () => {
    pipeline = await startLocalPipeline({ chunkPoints: 16, logLevel: 'ERROR' });
    json = await publishSpecial<JsonScan>(pipeline.redisUrl, 'json', ['--number', '31', '--points', '40']);
    sequence = await publishSpecial<SequenceScan>(pipeline.redisUrl, 'sequence', ['--number', '40', '--points', '9']);
    reshape = await publishSpecial<ReshapeScan>(pipeline.redisUrl, 'reshape', ['--number', '50', '--points', '12']);
  });

  after(async () => {
    await pipeline?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('archives a JSON stream: h5py reads back every published value as variable-length UTF-8 JSON text', async () => {
    const record = await pipeline.waitForRun(json.run_uid);
    assert.equal(record.state, 'ARCHIVED', JSON.stringify(record));
    assert.equal(record.points?.[json.json_channel], 40);
    const local = join(dir, 'json.h5');
    await pipeline.download(record.file!.key, local);
    const data = '/31.1/instrument/events/data';
    const read = await h5read(local, {
      [data]: 'json',
      '/31.1/measurement/events': 'json',
      '/31.1/instrument/events': 'attrs',
      '/31.1/instrument/diode1/data': 'number',
    });
    assert.deepEqual(read[data], json.values, 'values equal what blissdata published (JSON round trip)');
    assert.deepEqual(read['/31.1/measurement/events'], json.values, 'measurement links the JSON dataset');
    assert.deepEqual(read['/31.1/instrument/events'], { NX_class: 'NXcollection' });
    assert.deepEqual(
      read['/31.1/instrument/diode1/data'],
      Array.from({ length: 40 }, (_, i) => i * 0.5),
      'the numeric channel next to it is intact',
    );
    const attrs = await h5read(local, { [data]: 'attrs' });
    assert.equal((attrs[data] as Record<string, string>).content_type, 'application/json');
    await assertNexusValid(local, '31.1');
    // Staged as NDJSON chunks on the same grid as numeric channels: 16-point chunks, deterministic keys.
    const staged = await pipeline.env.clients.s3.send(
      new ListObjectsV2Command({ Bucket: pipeline.bucket, Prefix: `staging/id00/${json.run_uid}/` }),
    );
    const keys = (staged.Contents ?? []).map((o) => o.Key!).filter((k) => k.includes('sample_env_events'));
    assert.deepEqual(keys.map((k) => k.slice(k.lastIndexOf('/') + 1)).sort(), [
      '000000000000-000000000016.bin',
      '000000000016-000000000032.bin',
      '000000000032-000000000040.bin',
    ]);
  });

  it('archives a scan sequence: every child as its own run and file, the sequence run listing its children in order', async () => {
    for (const child of sequence.children) {
      const record = await pipeline.waitForRun(child.run_uid);
      assert.equal(record.state, 'ARCHIVED', JSON.stringify(record));
      assert.match(record.file!.key, new RegExp(`sample1_0001_00${child.number}\\.h5$`));
      assert.equal(record.points?.['diode:diode1'], child.points);
    }
    const record = await pipeline.waitForRun(sequence.run_uid);
    assert.equal(record.state, 'ARCHIVED', JSON.stringify(record));
    assert.match(record.file!.key, /sample1_0001_0040\.h5$/);
    const local = join(dir, 'sequence.h5');
    await pipeline.download(record.file!.key, local);
    const read = await h5read(local, {
      '/40.1/instrument/SUBSCANS/data': 'json',
      '/40.1/measurement/SUBSCANS': 'exists',
      '/40.1/title': 'exists',
    });
    assert.deepEqual(
      read['/40.1/instrument/SUBSCANS/data'],
      sequence.children.map((c) => ({ key: c.scan_key })),
    );
    assert.equal(read['/40.1/measurement/SUBSCANS'], true);
    await assertNexusValid(local, '40.1');
  });

  it("archives point shapes that change mid-stream: padded to the largest shape with the fill value, each point's shape kept", async () => {
    const record = await pipeline.waitForRun(reshape.run_uid);
    assert.equal(record.state, 'ARCHIVED', JSON.stringify(record));
    assert.equal(record.points?.[reshape.stream], 15);
    assert.equal(record.points?.[reshape.image_stream], 15);
    const local = join(dir, 'reshape.h5');
    await pipeline.download(record.file!.key, local);
    writeFileSync(join(dir, 'reshape.json'), JSON.stringify(reshape));
    const checked = await run(venvPython, ['-c', CHECK_PADDED, local, join(dir, 'reshape.json')]);
    assert.equal(checked.code, 0, checked.stderr);
    const found = JSON.parse(checked.stdout) as Record<
      string,
      {
        shape: number[];
        dtype: string;
        bit_for_bit: boolean;
        point_shape: number[][];
        published_shapes: number[][];
        point_shape_dtype: string;
        fill_value: string;
        measurement: boolean;
      }
    >;
    const spectrum = found.free_spectrum!;
    assert.deepEqual([spectrum.shape, spectrum.dtype, spectrum.fill_value], [[15, 8], '<u2', '0']);
    assert.ok(spectrum.bit_for_bit, 'the spectra: published values bit for bit, 0 where a point is shorter');
    assert.ok(spectrum.measurement, 'measurement/free_spectrum links the padded data');
    assert.deepEqual(spectrum.point_shape, spectrum.published_shapes);
    assert.deepEqual(spectrum.point_shape, [...Array(6).fill([5]), ...Array(6).fill([8]), ...Array(3).fill([2])]);
    assert.equal(spectrum.point_shape_dtype, '<i8');
    const image = found.free_image!;
    assert.deepEqual([image.shape, image.dtype, image.fill_value], [[15, 3, 3], '<f4', 'nan']);
    assert.ok(image.bit_for_bit, 'the images: published values bit for bit, NaN where a point is smaller');
    assert.deepEqual(image.point_shape, [...Array(6).fill([2, 3]), ...Array(6).fill([3, 2]), ...Array(3).fill([1, 1])]);
    await assertNexusValid(local, '50.1');
    // Chunks cut where the shape changes (points 6 and 12), on the 16-point grid otherwise.
    const staged = await pipeline.env.clients.s3.send(
      new ListObjectsV2Command({ Bucket: pipeline.bucket, Prefix: `staging/id00/${reshape.run_uid}/` }),
    );
    for (const channel of ['mca2_free_spectrum', 'cam_free_image']) {
      const keys = (staged.Contents ?? []).map((o) => o.Key!).filter((k) => k.includes(channel));
      assert.deepEqual(
        keys.map((k) => k.slice(k.lastIndexOf('/') + 1)).sort(),
        ['000000000000-000000000006.bin', '000000000006-000000000012.bin', '000000000012-000000000015.bin'],
        channel,
      );
    }
    assert.deepEqual(reshape.change_at, [6, 12]);
  });
});
