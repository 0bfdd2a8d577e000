// NeXus export: one NXentry per run, every key with its dtype, the default plot from the hints.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildExport } from '../../src/core/exports/build-export.js';
import { ExportRequestError } from '../../src/core/exports/errors.js';
import type { ExportRun, Hdf5Tree } from '../../src/core/exports/model.js';
import { plotOf } from '../../src/core/exports/nexus-export.js';

const OPTIONS = { exportId: 'exp-2', creator: 'beamline-archive test', now: new Date('2026-11-22T10:00:00Z') };
const f64 = (v: number[]) => ({ dtype: '<f8' as const, shape: [v.length], bytes: new Uint8Array(new Float64Array(v).buffer) });

function run(uid: string): ExportRun {
  return {
    uid,
    start: { uid, time: 1_790_000_000, plan_name: 'scan', scan_id: 4, hints: { dimensions: [[['sample:x'], 'primary']] } },
    stop: { time: 1_790_000_010, exit_status: 'abort', reason: 'user pressed stop' },
    streams: [
      {
        name: 'primary',
        descriptor: { hints: { 'sample:x': { fields: ['sample:x'] }, det: { fields: ['det'] } } },
        columns: [
          { dataKey: 'sample:x', array: f64([1, 2]), units: 'um' },
          { dataKey: 'sample_x', array: f64([5, 6]) },
          { dataKey: 'det', array: { dtype: '<u4', shape: [2, 3], bytes: new Uint8Array(24) } },
        ],
      },
      { name: 'baseline', descriptor: {}, columns: [{ dataKey: 'ring_current', array: f64([400, 399]), source: 'PV:SR:I' }] },
    ],
  };
}

function tree(product: ReturnType<typeof buildExport>): Hdf5Tree {
  const file = product.files[0]!;
  assert.equal(file.kind, 'hdf5');
  return file.kind === 'hdf5' ? file.tree : assert.fail('not hdf5');
}

describe('NeXus export', () => {
  it('makes one entry per run with every stream and key, dtype unchanged, names made NeXus-safe without collisions', () => {
    const t = tree(buildExport('nexus', [run('a'), run('b')], OPTIONS));
    assert.deepEqual(
      t.groups.map((g) => g.path),
      [
        '/entry1',
        '/entry1/notes',
        '/entry1/primary',
        '/entry1/baseline',
        '/entry1/data',
        '/entry2',
        '/entry2/notes',
        '/entry2/primary',
        '/entry2/baseline',
        '/entry2/data',
      ],
    );
    const byPath = new Map(t.datasets.map((d) => [d.path, d] as const));
    assert.equal(byPath.get('/entry1/entry_identifier')?.value, 'a');
    assert.equal(byPath.get('/entry2/entry_identifier')?.value, 'b');
    assert.equal(byPath.get('/entry1/start_time')?.value, '2026-09-21T14:13:20.000Z');
    assert.equal(byPath.get('/entry1/notes/description')?.value, 'exit_status: abort (user pressed stop)');
    assert.deepEqual(byPath.get('/entry1/primary/sample_x')?.attrs, { data_key: 'sample:x', units: 'um' });
    assert.deepEqual(byPath.get('/entry1/primary/sample_x_2')?.attrs, { data_key: 'sample_x' });
    assert.equal((byPath.get('/entry1/primary/det')?.value as { dtype: string }).dtype, '<u4');
    assert.deepEqual(byPath.get('/entry1/baseline/ring_current')?.attrs, { data_key: 'ring_current', source: 'PV:SR:I' });
    assert.deepEqual(t.groups.find((g) => g.path === '/entry1/data')?.attrs, {
      NX_class: 'NXdata',
      signal: 'det',
      axes: ['sample_x', '.'],
    });
    assert.deepEqual(
      t.softLinks.filter((l) => l.path.startsWith('/entry1/')),
      [
        { path: '/entry1/data/det', target: '/entry1/primary/det' },
        { path: '/entry1/data/sample_x', target: '/entry1/primary/sample_x' },
      ],
    );
    assert.equal(t.attrs.default, 'entry1');
  });

  it('takes the first non-dimension key as signal when the descriptor has no hints', () => {
    const r = run('c');
    r.streams[0]!.descriptor = {};
    assert.equal(plotOf(r)?.signal, 'sample_x');
    assert.equal(plotOf(r)?.axis, 'sample:x');
  });

  it('plots a BLISS run (no hints) as its first counter against its first positioner', () => {
    const bliss: ExportRun = {
      uid: 'b',
      start: { uid: 'b', time: 0, bliss: { title: 'ascan sy 0 1 9 0.1' } },
      streams: [
        {
          name: 'primary',
          descriptor: {
            data_keys: {
              'timer:elapsed_time': { bliss_role: 'timer' },
              'axis:sy': { bliss_role: 'positioner' },
              'mca1:spectrum': { bliss_role: 'spectrum' },
              'c:diode1': { bliss_role: 'counter' },
            },
          },
          columns: ['timer:elapsed_time', 'axis:sy', 'mca1:spectrum', 'c:diode1'].map((dataKey) => ({ dataKey, array: f64([1, 2]) })),
        },
      ],
    };
    assert.deepEqual({ signal: plotOf(bliss)?.signal, axis: plotOf(bliss)?.axis }, { signal: 'c:diode1', axis: 'axis:sy' });
    const t = tree(buildExport('nexus', [bliss], OPTIONS));
    assert.equal(t.datasets.find((d) => d.path === '/entry1/title')?.value, 'ascan sy 0 1 9 0.1');
    assert.deepEqual(t.groups.find((g) => g.path === '/entry1/data')?.attrs, { NX_class: 'NXdata', signal: 'c_diode1', axes: ['axis_sy'] });
  });

  it("lists points lost before archiving in the dataset's missing_points attribute, a missing_points dataset and the notes, with _FillValue", () => {
    const r = run('a');
    r.streams[0]!.columns[1] = { ...r.streams[0]!.columns[1]!, missing: [[1, 2]] };
    const product = buildExport('nexus', [r], OPTIONS);
    const datasets = tree(product).datasets;
    assert.deepEqual(datasets.find((d) => d.path === '/entry1/primary/sample_x_2')?.attrs, {
      data_key: 'sample_x',
      missing_points: '[1, 2)',
      _FillValue: Number.NaN,
    });
    const ranges = datasets.find((d) => d.path === '/entry1/primary/sample_x_2_missing_points')?.value as {
      dtype: string;
      shape: number[];
      bytes: Uint8Array;
    };
    assert.deepEqual([ranges.dtype, ranges.shape, [...new BigInt64Array(ranges.bytes.slice().buffer)]], ['<i8', [1, 2], [1n, 2n]]);
    assert.ok(
      product.notes.includes(
        'entry1 (run a), primary/sample_x: points [1, 2) were lost before archiving (NaN in the file, listed in its missing_points attribute and in sample_x_2_missing_points)',
      ),
      product.notes.join('\n'),
    );
  });

  it('refuses the same run twice', () => {
    assert.throws(
      () => buildExport('nexus', [run('a'), run('a')], OPTIONS),
      (e: unknown) => e instanceof ExportRequestError && /run a is requested twice/.test(e.message),
    );
  });
});
