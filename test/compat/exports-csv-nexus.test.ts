/**
 * CSV and NeXus exports judged by real readers: Python's csv module + float()/int() must give back
 * exactly the numbers the RunEngine emitted (and, for a fabricated run of awkward dtypes, the
 * archived bytes: float32 through numpy.float32(float(text)), NaN, ±inf, -0.0, 64-bit integers);
 * the NeXus file passes nxcheck and h5py reads every value of every stream back with its dtype.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot, venvBin, venvPython } from '../../local/services.js';
import { writeHdf5Tree } from '../../src/adapters/h5wasm-tree-writer.js';
import type { NdArray } from '../../src/core/analysis/ndarray.js';
import { buildExport } from '../../src/core/exports/build-export.js';
import { textOf, type ExportRun } from '../../src/core/exports/model.js';
import { exportRunOf, readDocuments } from '../support/export-runs.js';

const SCRIPT = join(projectRoot, 'test/support/stxm-runs.py');
const RUNS = ['sample_image', 'sample_image_stack', 'tomography', 'sample_point_spectra', 'generic_scan'] as const;
const OPTIONS = { exportId: 'formats', creator: 'beamline-archive test', now: new Date('2026-11-22T10:00:00Z') };

/** Reads each CSV with the csv module and compares it with the documents' events (exact equality). */
const CSV_CHECK = `
import csv, json, sys
manifest = json.load(open(sys.argv[1]))
problems, values = [], 0
for item in manifest:
    docs = [json.loads(l) for l in open(item['jsonl'])]
    desc = next(d['doc'] for d in docs if d['name'] == 'descriptor' and d['doc']['name'] == item['stream'])
    events = sorted((d['doc'] for d in docs if d['name'] == 'event' and d['doc']['descriptor'] == desc['uid']), key=lambda e: e['seq_num'])
    with open(item['csv'], newline='') as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    if header != ['seq_num', 'time', *desc['data_keys']]:
        problems.append(f"{item['csv']}: header {header}")
    if len(body) != len(events):
        problems.append(f"{item['csv']}: {len(body)} rows, {len(events)} events")
    for row, event in zip(body, events):
        if int(row[0]) != event['seq_num'] or float(row[1]) != event['time']:
            problems.append(f"{item['csv']}: seq/time {row[:2]}")
        for key, cell in zip(header[2:], row[2:]):
            values += 1
            if float(cell) != event['data'][key]:
                problems.append(f"{item['csv']} {key} seq {event['seq_num']}: {cell!r} != {event['data'][key]!r}")
print(json.dumps({'values': values, 'problems': problems[:20]}))
`;

/** Reads the fabricated run's CSV and compares each cell, parsed the standard way, with the archived bytes. */
const AWKWARD_CHECK = `
import csv, json, sys
import numpy as np
spec = json.load(open(sys.argv[1]))
rows = list(csv.reader(open(spec['csv'], newline='')))
header, body = rows[0], rows[1:]
problems = []
for key, (dtype, path) in spec['columns'].items():
    want = np.fromfile(path, dtype=dtype)
    col = header.index(key)
    if dtype == '<f4':
        got = np.array([np.float32(float(r[col])) for r in body], dtype='<f4')
    elif dtype == '<f8':
        got = np.array([float(r[col]) for r in body], dtype='<f8')
    else:
        got = np.array([int(r[col]) for r in body], dtype=dtype)
    same = got.view(np.uint8).tobytes() == want.view(np.uint8).tobytes() if dtype[1] != 'f' else all(
        (np.isnan(a) and np.isnan(b)) or a.tobytes() == b.tobytes() for a, b in zip(got, want))
    if not same:
        problems.append(f'{key}: {got.tolist()[:8]} != {want.tolist()[:8]}')
print(json.dumps({'rows': len(body), 'problems': problems}))
`;

/** Compares every dataset of every stream collection with the documents' events, dtype included. */
const NEXUS_CHECK = `
import json, sys
import h5py, numpy as np
path, manifest = sys.argv[1], json.load(open(sys.argv[2]))
problems, values = [], 0
with h5py.File(path, 'r') as f:
    for entry, jsonl in manifest.items():
        docs = [json.loads(l) for l in open(jsonl)]
        if f[entry]['entry_identifier'][()].decode() != docs[0]['doc']['uid']:
            problems.append(f'{entry}: wrong run')
        for desc in (d['doc'] for d in docs if d['name'] == 'descriptor'):
            events = sorted((d['doc'] for d in docs if d['name'] == 'event' and d['doc']['descriptor'] == desc['uid']), key=lambda e: e['seq_num'])
            group = f[entry][desc['name']]
            by_key = {ds.attrs['data_key']: ds for ds in group.values() if 'data_key' in ds.attrs}
            for key, dk in desc['data_keys'].items():
                want = np.array([e['data'][key] for e in events], dtype='<i8' if dk['dtype'] == 'integer' else '<f8')
                got = by_key[key][()]
                values += got.size
                if got.dtype != want.dtype or not np.array_equal(got, want):
                    problems.append(f'{entry}/{desc["name"]}/{key}: {got.dtype} {got.tolist()[:5]} != {want.dtype} {want.tolist()[:5]}')
            if group['seq_num'][()].tolist() != [e['seq_num'] for e in events] or group['time'][()].tolist() != [e['time'] for e in events]:
                problems.append(f'{entry}/{desc["name"]}: seq_num/time')
        nxdata = f[entry][f[entry].attrs['default']]
        signal = nxdata[nxdata.attrs['signal']]
        if signal.size == 0:
            problems.append(f'{entry}: empty plot')
print(json.dumps({'values': values, 'problems': problems[:20]}))
`;

let work: string;
const runOf = (name: string): ExportRun => exportRunOf(readDocuments(join(work, `${name}.jsonl`)));

function python(code: string, ...args: string[]): { values?: number; rows?: number; problems: string[] } {
  const out = spawnSync(venvPython, ['-c', code, ...args], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  return JSON.parse(out.stdout) as { values?: number; rows?: number; problems: string[] };
}

describe('CSV and NeXus exports read back by standard readers', () => {
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'exports-formats-'));
    const generated = spawnSync(venvPython, [SCRIPT, 'generate', work], { encoding: 'utf8' });
    assert.equal(generated.status, 0, generated.stderr);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('CSV: Python csv + float()/int() give back every number the RunEngine emitted, in every stream', () => {
    const runs = RUNS.map(runOf);
    const product = buildExport('csv', runs, OPTIONS);
    assert.equal(product.files.length, runs.length * 2, 'primary and baseline tables of each run');
    const manifest = product.files.map((file) => {
      assert.equal(file.kind, 'text');
      const path = join(work, file.name);
      writeFileSync(path, file.kind === 'text' ? textOf(file) : '');
      const index = runs.findIndex((r) => file.name.startsWith(`${r.uid}_`));
      return { csv: path, jsonl: join(work, `${RUNS[index]!}.jsonl`), stream: file.name.slice(runs[index]!.uid.length + 1, -4) };
    });
    const report = python(
      CSV_CHECK,
      (() => {
        const p = join(work, 'csv-manifest.json');
        writeFileSync(p, JSON.stringify(manifest));
        return p;
      })(),
    );
    assert.deepEqual(report.problems, []);
    assert.ok(report.values! > 500, `${report.values} values compared`);
  });

  it('CSV: float32 (shortest text), NaN, ±inf, -0.0 and 64-bit integers read back to the archived bytes', () => {
    const f4 = new Float32Array(400);
    for (let i = 0; i < f4.length; i += 1) f4[i] = Math.sin(i * 12.9898) * 10 ** ((i % 40) - 20);
    f4.set([NaN, Infinity, -Infinity, -0, 3.4028234663852886e38, 1.401298464324817e-45], 0);
    const f8 = new Float64Array(400).map((_, i) => Math.cos(i * 78.233) * 10 ** ((i % 600) - 300));
    f8.set([NaN, -0, 5e-324, Number.MAX_VALUE], 0);
    const i8 = new BigInt64Array(400).map((_, i) => BigInt(i) * 23058430092136939n - 2n ** 62n);
    const u8 = new BigUint64Array(400).map((_, i) => 2n ** 64n - 1n - BigInt(i));
    const arrays: Record<string, NdArray> = {
      f4: { dtype: '<f4', shape: [400], bytes: new Uint8Array(f4.buffer) },
      f8: { dtype: '<f8', shape: [400], bytes: new Uint8Array(f8.buffer) },
      i8: { dtype: '<i8', shape: [400], bytes: new Uint8Array(i8.buffer) },
      u8: { dtype: '<u8', shape: [400], bytes: new Uint8Array(u8.buffer) },
    };
    const run: ExportRun = {
      uid: 'awkward',
      start: { uid: 'awkward', time: 0 },
      streams: [{ name: 'primary', descriptor: {}, columns: Object.entries(arrays).map(([dataKey, array]) => ({ dataKey, array })) }],
    };
    const file = buildExport('csv', [run], OPTIONS).files[0]!;
    const csv = join(work, 'awkward.csv');
    writeFileSync(csv, file.kind === 'text' ? textOf(file) : '');
    const columns = Object.fromEntries(
      Object.entries(arrays).map(([key, array]) => {
        const path = join(work, `${key}.bin`);
        writeFileSync(path, array.bytes);
        return [key, [array.dtype, path]];
      }),
    );
    const spec = join(work, 'awkward.json');
    writeFileSync(spec, JSON.stringify({ csv, columns }));
    const report = python(AWKWARD_CHECK, spec);
    assert.deepEqual(report.problems, []);
    assert.equal(report.rows, 400);
  });

  it('NeXus: every dtype kept bit for bit (float32, NaN, 64-bit integers, bool, bytes at an odd offset), read back by h5py', async () => {
    const backing = new Uint8Array(1 + 6 * 2);
    backing.set(new Uint8Array(new Uint16Array([1, 65535, 3, 4, 5, 6]).buffer), 1);
    const arrays: Record<string, NdArray> = {
      f4: { dtype: '<f4', shape: [3, 2], bytes: new Uint8Array(new Float32Array([0.1, NaN, -Infinity, -0, 1e-45, 3.4e38]).buffer) },
      i8: { dtype: '<i8', shape: [3], bytes: new Uint8Array(new BigInt64Array([-(2n ** 63n), 2n ** 53n + 1n, 0n]).buffer) },
      u8: { dtype: '<u8', shape: [3], bytes: new Uint8Array(new BigUint64Array([2n ** 64n - 1n, 1n, 0n]).buffer) },
      b1: { dtype: '|b1', shape: [3], bytes: new Uint8Array([1, 0, 1]) },
      u2_odd_offset: { dtype: '<u2', shape: [3, 2], bytes: backing.subarray(1) },
    };
    const run: ExportRun = {
      uid: 'dtypes',
      start: { uid: 'dtypes', time: 0 },
      streams: [{ name: 'primary', descriptor: {}, columns: Object.entries(arrays).map(([dataKey, array]) => ({ dataKey, array })) }],
    };
    const file = buildExport('nexus', [run], OPTIONS).files[0]!;
    const path = join(work, 'dtypes.nxs');
    await writeHdf5Tree(file.kind === 'hdf5' ? file.tree : assert.fail('not hdf5'), path, { fileTimeMs: 0 });
    const expected = Object.fromEntries(
      Object.entries(arrays).map(([key, a]) => [
        key,
        { dtype: a.dtype === '|b1' ? '|u1' : a.dtype, shape: a.shape, hex: Buffer.from(a.bytes).toString('hex') },
      ]),
    );
    const out = spawnSync(
      venvPython,
      [
        '-c',
        `
import json, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], 'r')
print(json.dumps({k: {'dtype': f['entry1/primary'][k].dtype.str, 'shape': list(f['entry1/primary'][k].shape), 'hex': f['entry1/primary'][k][()].tobytes().hex()} for k in json.loads(sys.argv[2])}))
`,
        path,
        JSON.stringify(Object.keys(arrays)),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(out.status, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout), expected);
  });

  it('NeXus: one entry per run, nxcheck finds no error, h5py reads every stream value back with its dtype', async () => {
    const runs = RUNS.map(runOf);
    const product = buildExport('nexus', runs, OPTIONS);
    const file = product.files[0]!;
    const path = join(work, file.name);
    await writeHdf5Tree(file.kind === 'hdf5' ? file.tree : assert.fail('not hdf5'), path, { fileTimeMs: OPTIONS.now.getTime() });
    const check = spawnSync(join(venvBin, 'nxcheck'), [path], { encoding: 'utf8' });
    // eslint-disable-next-line no-control-regex -- strips nxcheck's ANSI colours
    const report = (check.stdout + check.stderr).replace(/\u001b\[[0-9;]*m/g, '');
    assert.match(report, /Total number of errors: 0\b/, report);
    assert.match(report, /Total number of warnings: 0\b/, report);
    const manifest = Object.fromEntries(RUNS.map((name, i) => [`entry${i + 1}`, join(work, `${name}.jsonl`)]));
    const manifestPath = join(work, 'nexus-manifest.json');
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const judged = python(NEXUS_CHECK, path, manifestPath);
    assert.deepEqual(judged.problems, []);
    assert.ok(judged.values! > 1000, `${judged.values} values compared`);
  });
});
