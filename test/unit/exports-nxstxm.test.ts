// NXstxm: classification of the 13 STXM scan types, entry planning (which primary points fill which
// entry, in which order), the metadata errors, and the layout of one fabricated line spectrum.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildExport } from '../../src/core/exports/build-export.js';
import { ExportError, ExportRequestError } from '../../src/core/exports/errors.js';
import { materialize } from '../../src/core/exports/column-source.js';
import { isColumnSource, type ExportRun, type Hdf5DatasetValue } from '../../src/core/exports/model.js';
import { gatherRows } from '../../src/core/exports/nxstxm-export.js';
import { planEntries, stxmGeometry } from '../../src/core/exports/stxm-plan.js';
import { mergeStackRuns } from '../../src/core/exports/stxm-stack-runs.js';
import { classifyRun, NxStxmScanType, SCAN_TYPES, StxmScanType } from '../../src/core/exports/stxm-scan-types.js';

/** A dataset's value with its rows read: the builder hands per-point datasets to the writer as sources, read slice by slice. */
const read = <T extends Hdf5DatasetValue | undefined>(v: T): T => (v !== undefined && isColumnSource(v) ? (materialize(v) as T) : v);
const OPTIONS = { exportId: 'exp-3', creator: 'beamline-archive test', now: new Date('2026-11-22T10:00:00Z') };
const f64 = (v: number[]) => ({ dtype: '<f8' as const, shape: [v.length], bytes: new Uint8Array(new Float64Array(v).buffer) });

function runWith(
  stxm: Record<string, unknown>,
  primary: Record<string, number[]> = {},
  baseline: Record<string, number[]> = {},
): ExportRun {
  return {
    uid: 'run-s',
    start: { uid: 'run-s', time: 1_790_000_000, title: 'stxm run', facility: 'TLS', stxm },
    stop: { time: 1_790_000_060, exit_status: 'success' },
    streams: [
      { name: 'primary', descriptor: {}, columns: Object.entries(primary).map(([dataKey, v]) => ({ dataKey, array: f64(v) })) },
      { name: 'baseline', descriptor: {}, columns: Object.entries(baseline).map(([dataKey, v]) => ({ dataKey, array: f64(v) })) },
    ],
  };
}

const isRequestError = (pattern: RegExp) => (e: unknown) =>
  e instanceof ExportRequestError && pattern.test(e.message) && e.context.runUid === 'run-s' && e.context.format === 'nxstxm';

describe('STXM scan type classification', () => {
  it('maps all 13 scan types onto the 9 stxm_scan_type values', () => {
    const mapped = Object.fromEntries(Object.values(StxmScanType).map((t) => [t, classifyRun(runWith({ scan_type: t })).info.nxstxm]));
    assert.deepEqual(mapped, {
      detector_image: 'detector image',
      osa_image: 'osa image',
      osa_focus: 'osa focus',
      sample_focus: 'sample focus',
      sample_point_spectrum: 'sample point spectrum',
      sample_line_spectrum: 'sample line spectrum',
      sample_image: 'sample image',
      sample_image_stack: 'sample image stack',
      generic_scan: 'generic scan',
      coarse_image: 'sample image',
      coarse_goni: 'sample image',
      tomography: 'sample image stack',
      pattern_gen: 'sample image',
    });
    assert.deepEqual(new Set(Object.values(mapped)), new Set(Object.values(NxStxmScanType)));
  });

  it("accepts suitcase-nxstxm's integer codes 0–12", () => {
    assert.equal(classifyRun(runWith({ scan_type: 7 })).scanType, 'sample_image_stack');
    assert.equal(classifyRun(runWith({ scan_type: 4 })).scanType, 'sample_point_spectrum');
    assert.equal(classifyRun(runWith({ scan_type: 11 })).scanType, 'tomography');
    assert.equal(Object.keys(SCAN_TYPES).length, 13);
  });

  it('refuses an unknown scan type (ptychography, code 13, has no NXstxm mapping) and missing stxm metadata', () => {
    assert.throws(
      () => classifyRun(runWith({ scan_type: 13 })),
      isRequestError(/stxm.scan_type 13 is not a STXM scan type; use one of detector_image, /),
    );
    assert.throws(() => classifyRun(runWith({ scan_type: 'ptychography' })), isRequestError(/"ptychography" is not a STXM scan type/));
    const bare = runWith({});
    delete bare.start.stxm;
    assert.throws(() => classifyRun(bare), isRequestError(/has no "stxm" metadata in its start document/));
  });
});

describe('NXstxm entry planning', () => {
  it('image stack: one entry per polarization, data [energy, y, x], points taken from every energy block', () => {
    const { info } = classifyRun(runWith({ scan_type: 'sample_image_stack' }));
    const geometry = stxmGeometry(runWith({ energies: 2, polarizations: 2, regions: [{ x_points: 3, y_points: 2 }] }), info, 24);
    assert.equal(geometry.totalPoints, 24);
    const entries = planEntries(geometry, info);
    assert.deepEqual(
      entries.map((e) => [e.polarization, e.shape]),
      [
        [0, [2, 2, 3]],
        [1, [2, 2, 3]],
      ],
    );
    assert.deepEqual(entries[1]!.points, [6, 7, 8, 9, 10, 11, 18, 19, 20, 21, 22, 23]);
  });

  it('tomography: angle, then polarization, then region; regions of different sizes', () => {
    const { info } = classifyRun(runWith({ scan_type: 'tomography' }));
    const geometry = stxmGeometry(
      runWith({
        angles: 2,
        regions: [
          { x_points: 2, y_points: 2 },
          { x_points: 3, y_points: 1 },
        ],
      }),
      info,
      14,
    );
    const entries = planEntries(geometry, info);
    assert.deepEqual(
      entries.map((e) => [e.angle, e.region, e.shape]),
      [
        [0, 0, [1, 2, 2]],
        [0, 1, [1, 1, 3]],
        [1, 0, [1, 2, 2]],
        [1, 1, [1, 1, 3]],
      ],
    );
    assert.deepEqual(entries[3]!.points, [11, 12, 13]);
  });

  it('point spectra: one entry per point, the energy axis only', () => {
    const { info } = classifyRun(runWith({ scan_type: 'sample_point_spectrum' }));
    const entries = planEntries(stxmGeometry(runWith({ energies: 4, regions: [{}, {}, {}] }), info, 12), info);
    assert.deepEqual(
      entries.map((e) => e.shape),
      [[4], [4], [4]],
    );
    assert.deepEqual(entries[2]!.points, [2, 5, 8, 11]);
  });

  it('focus: [zone plate, line] per region; generic: all points of the run', () => {
    const focus = classifyRun(runWith({ scan_type: 'osa_focus' })).info;
    assert.deepEqual(
      planEntries(stxmGeometry(runWith({ focus_points: 3, regions: [{ points: 4 }] }), focus, 12), focus).map((e) => e.shape),
      [[3, 4]],
    );
    const generic = classifyRun(runWith({ scan_type: 'generic_scan' })).info;
    assert.deepEqual(
      planEntries(stxmGeometry(runWith({}), generic, 9), generic).map((e) => e.points.length),
      [9],
    );
  });

  it('refuses metadata that does not describe a grid of this scan type', () => {
    const image = classifyRun(runWith({ scan_type: 'sample_image' })).info;
    assert.throws(
      () => stxmGeometry(runWith({ energies: 3, regions: [{ x_points: 2, y_points: 2 }] }), image, 12),
      isRequestError(/stxm.energies is 3 but a sample image has one energy; use scan_type "sample_image_stack"/),
    );
    assert.throws(
      () => stxmGeometry(runWith({ regions: [{ x_points: 2 }] }), image, 4),
      isRequestError(/stxm.regions\[0\].x_points and stxm.regions\[0\].y_points are required/),
    );
    assert.throws(
      () => stxmGeometry(runWith({ regions: [{ x_points: 0, y_points: 2 }] }), image, 4),
      isRequestError(/stxm.regions\[0\].x_points must be a positive whole number, not 0/),
    );
    const stack = classifyRun(runWith({ scan_type: 'sample_image_stack' })).info;
    assert.throws(
      () => stxmGeometry(runWith({ angles: 2, regions: [{ x_points: 1, y_points: 1 }] }), stack, 2),
      isRequestError(/use scan_type "tomography"/),
    );
  });
});

describe('NXstxm layout of a line spectrum', () => {
  const line = () =>
    runWith(
      {
        scan_type: 'sample_line_spectrum',
        detector: 'apd',
        energies: 2,
        regions: [{ points: 3 }],
        positioners: { energy: 'mono', sample_x: 'sx', sample_y: 'sy', ring_current: 'ring' },
      },
      {
        apd: [1, 2, 3, 4, 5, 6],
        mono: [700, 700, 700, 710, 710, 710],
        sx: [0, 1, 2, 0, 1, 2],
        sy: [5, 6, 7, 5, 6, 7],
        ring: [400, 400, 399, 399, 398, 398],
      },
      { mono: [700, 710], sx: [9, 2], sy: [9, 7], ring: [400, 398] },
    );

  it('has data [energy, line position], sample_x/sample_y along the line, control from the ring current at every point', () => {
    const product = buildExport('nxstxm', [line()], OPTIONS);
    const tree = product.files[0]!.kind === 'hdf5' ? product.files[0]!.tree : assert.fail('not hdf5');
    const value = (path: string) => read(tree.datasets.find((d) => d.path === path)?.value);
    const numbers = (path: string) => {
      const v = value(path) as { bytes: Uint8Array; shape: number[] };
      return { shape: v.shape, values: [...new Float64Array(v.bytes.slice().buffer)] };
    };
    assert.equal(value('/entry1/definition'), 'NXstxm');
    assert.equal(value('/entry1/data/stxm_scan_type'), 'sample line spectrum');
    assert.deepEqual(numbers('/entry1/data/data'), { shape: [2, 3], values: [1, 2, 3, 4, 5, 6] });
    assert.deepEqual(numbers('/entry1/data/energy'), { shape: [2], values: [700, 710] });
    assert.deepEqual(numbers('/entry1/data/sample_x'), { shape: [3], values: [0, 1, 2] });
    assert.deepEqual(numbers('/entry1/data/sample_y'), { shape: [3], values: [5, 6, 7] });
    assert.deepEqual(numbers('/entry1/data/line_position'), { shape: [3], values: [0, 1, 2] });
    assert.deepEqual(numbers('/entry1/instrument/monochromator/energy').values, [700, 700, 700, 710, 710, 710]);
    assert.deepEqual(numbers('/entry1/control/data'), { shape: [2, 3], values: [400, 400, 399, 399, 398, 398] });
    assert.deepEqual(numbers('/entry1/collection/sx').values, [9, 2], 'baseline start and stop readings');
    assert.deepEqual(numbers('/entry1/sample/rotation_angle'), { shape: [], values: [0] });
    const data = tree.groups.find((g) => g.path === '/entry1/data')!.attrs;
    assert.deepEqual(data, {
      NX_class: 'NXdata',
      signal: 'data',
      axes: ['energy', 'line_position'],
      energy_indices: 0,
      line_position_indices: 1,
      sample_y_indices: 1,
      sample_x_indices: 1,
    });
    assert.match(product.notes.join('\n'), /no goniometer_theta positioner and no stxm.rotation_angle: sample\/rotation_angle is 0/);
  });

  it('refuses a detector, positioner or baseline key with points lost before archiving (they read as 0)', () => {
    const lostDetector = line();
    lostDetector.streams[0]!.columns[0] = { ...lostDetector.streams[0]!.columns[0]!, missing: [[2, 4]] };
    assert.throws(
      () => buildExport('nxstxm', [lostDetector], OPTIONS),
      isRequestError(
        /^run run-s: primary key apd lost points \[2, 4\) before archiving: an NXstxm grid cannot be filled without inventing them/,
      ),
    );
    const lostBaseline = line();
    lostBaseline.streams[1]!.columns[0] = { ...lostBaseline.streams[1]!.columns[0]!, missing: [[1, 2]] };
    assert.throws(() => buildExport('nxstxm', [lostBaseline], OPTIONS), isRequestError(/baseline key mono lost points \[1, 2\)/));
  });

  it('names the primary keys it has no place for (neither the detector nor a positioner) in the notes', () => {
    const extra = line();
    extra.streams[0]!.columns.push(
      { dataKey: 'i0', array: f64([1, 1, 1, 1, 1, 1]) },
      { dataKey: 'diag:temp', array: f64([3, 3, 3, 3, 3, 3]) },
    );
    const notes = buildExport('nxstxm', [extra], OPTIONS).notes;
    assert.ok(
      notes.includes(
        'run run-s: primary keys that are neither stxm.detector nor a positioner are not in the NXstxm file: i0, diag:temp (a nexus export carries every key)',
      ),
      notes.join('\n'),
    );
    assert.ok(
      !buildExport('nxstxm', [line()], OPTIONS).notes.some((n) => /are not in the NXstxm file/.test(n)),
      'no note when every key has a place',
    );
  });

  it('refuses a positioner recorded at fewer points than the detector, an unknown logical name and a missing required positioner', () => {
    const short = line();
    const primary = short.streams[0]!;
    primary.columns = primary.columns.map((c) => (c.dataKey === 'sx' ? { ...c, array: f64([0, 1, 2, 0]) } : c));
    assert.throws(
      () => buildExport('nxstxm', [short], OPTIONS),
      isRequestError(/positioner sample_x \(sx\) has 4 points in the primary stream, the detector apd has 6/),
    );
    const unknown = line();
    (unknown.start.stxm as { positioners: Record<string, string> }).positioners.monochromator = 'mono';
    assert.throws(
      () => buildExport('nxstxm', [unknown], OPTIONS),
      isRequestError(/stxm.positioners has unknown logical names monochromator; use energy, sample_x/),
    );
    const noY = line();
    delete (noY.start.stxm as { positioners: Record<string, string> }).positioners.sample_y;
    assert.throws(
      () => buildExport('nxstxm', [noY], OPTIONS),
      isRequestError(/stxm.positioners.sample_y is required for a sample_line_spectrum scan/),
    );
  });
});

describe('a detector whose points changed shape (padded in the scan file)', () => {
  it("sums only the values inside each point's own shape (not the NaN padding), keeps point_shape and says so", () => {
    // 6 points of a 1D detector: 3 of 2 values, then 3 of 3, padded with NaN to 3 in the scan file.
    const values = [1, 2, NaN, 3, 4, NaN, 5, 6, NaN, 1, 1, 1, 2, 2, 2, 3, 3, 3];
    const run = runWith(
      {
        scan_type: 'sample_line_spectrum',
        detector: 'mca',
        energies: 2,
        regions: [{ points: 3 }],
        positioners: { energy: 'mono', sample_x: 'sx', sample_y: 'sy' },
      },
      { mono: [700, 700, 700, 710, 710, 710], sx: [0, 1, 2, 0, 1, 2], sy: [5, 6, 7, 5, 6, 7] },
    );
    const shapes = new BigInt64Array([2n, 2n, 2n, 3n, 3n, 3n]);
    run.streams[0]!.columns.push({
      dataKey: 'mca',
      array: { dtype: '<f8', shape: [6, 3], bytes: new Uint8Array(new Float64Array(values).buffer) },
      pointShapes: { dtype: '<i8', shape: [6, 1], bytes: new Uint8Array(shapes.buffer) },
      fillValue: Number.NaN,
    });
    const product = buildExport('nxstxm', [run], OPTIONS);
    const tree = product.files[0]!.kind === 'hdf5' ? product.files[0]!.tree : assert.fail('not hdf5');
    const dataset = (path: string) => tree.datasets.find((d) => d.path === path);
    const v = read(dataset('/entry1/data/data')!.value) as { bytes: Uint8Array; shape: number[] };
    assert.deepEqual(
      { shape: v.shape, values: [...new Float64Array(v.bytes.slice().buffer)] },
      { shape: [2, 3], values: [3, 7, 11, 3, 6, 9] },
    );
    const det = dataset('/entry1/instrument/mca/data')!;
    assert.ok(Number.isNaN(det.attrs?.fill_value as number));
    assert.match(String(det.attrs?.padding), /point_shape holds each point's own shape/);
    const ps = read(dataset('/entry1/instrument/mca/point_shape')!.value) as { bytes: Uint8Array; shape: number[] };
    assert.deepEqual(
      { shape: ps.shape, values: [...new BigInt64Array(ps.bytes.slice().buffer)] },
      { shape: [6, 1], values: [2n, 2n, 2n, 3n, 3n, 3n] },
    );
    assert.match(
      product.notes.join('\n'),
      /mca is padded to its largest point shape \(NaN\); mca\/point_shape gives each point's own shape/,
    );
  });
});

describe('runs without points', () => {
  it('refuses a run whose primary stream has no points, naming it, whatever its scan type', () => {
    for (const scanType of ['generic_scan', 'sample_image']) {
      const empty = runWith(
        {
          scan_type: scanType,
          detector: 'apd',
          regions: [{ x_points: 2, y_points: 1 }],
          positioners: { energy: 'mono', sample_x: 'sx', sample_y: 'sy' },
        },
        { apd: [], mono: [], sx: [], sy: [] },
      );
      assert.throws(
        () => buildExport('nxstxm', [empty], OPTIONS),
        isRequestError(/^run run-s: the primary stream has no points \(the scan ended before its first point\)/),
        scanType,
      );
    }
  });
});

describe('positioners that tell entries apart', () => {
  const image = { regions: [{ x_points: 2, y_points: 1 }], positioners: { energy: 'mono', sample_x: 'sx', sample_y: 'sy' } };
  it('refuses an energy, polarization or angle read only in the baseline when the run steps through several', () => {
    const stack = runWith(
      { scan_type: 'sample_image_stack', detector: 'apd', energies: 2, ...image },
      { apd: [1, 2, 3, 4], sx: [0, 1, 0, 1], sy: [0, 0, 0, 0] },
      { mono: [700, 710] },
    );
    assert.throws(
      () => buildExport('nxstxm', [stack], OPTIONS),
      isRequestError(/stxm.energies is 2 but positioner energy \(mono\) is read only in the baseline, once for the whole run/),
    );
    const pols = runWith(
      {
        scan_type: 'sample_image',
        detector: 'apd',
        polarizations: 2,
        ...image,
        positioners: { ...image.positioners, polarization: 'epu' },
      },
      { apd: [1, 2, 3, 4], mono: [700, 700, 700, 700], sx: [0, 1, 0, 1], sy: [0, 0, 0, 0] },
      { epu: [0, 1] },
    );
    assert.throws(
      () => buildExport('nxstxm', [pols], OPTIONS),
      isRequestError(/stxm.polarizations is 2 but positioner polarization \(epu\) is read only in the baseline/),
    );
    const tomo = runWith(
      { scan_type: 'tomography', detector: 'apd', angles: 2, ...image },
      { apd: [1, 2, 3, 4], mono: [700, 700, 700, 700], sx: [0, 1, 0, 1], sy: [0, 0, 0, 0] },
    );
    assert.throws(
      () => buildExport('nxstxm', [tomo], OPTIONS),
      isRequestError(/stxm.angles is 2 but stxm.positioners.goniometer_theta is not set/),
    );
  });
});

describe('NXstxm of a run as the archive records it', () => {
  it('finds stxm metadata in the original Bluesky start document, the title the bridge derived and the beamline of the data policy', () => {
    const archived: ExportRun = {
      uid: 'run-s',
      start: {
        uid: 'run-s',
        time: 1_790_000_000,
        plan_name: 'stxm_plan',
        scan_id: 9,
        data_policy: { proposal: 'p1', beamline: 'id21', session: 's', collection: 'c', dataset: 'd' },
        bluesky: {
          title: 'point spectra over 2 points',
          stream: 'bluesky:docs',
          start_entry: '1-0',
          start: {
            stxm: {
              scan_type: 4,
              detector: 'apd',
              energies: 2,
              regions: [{}, {}],
              positioners: { energy: 'mono', sample_x: 'sx', sample_y: 'sy' },
            },
          },
        },
      },
      stop: { time: 1_790_000_010 },
      streams: [
        {
          name: 'primary',
          descriptor: {},
          columns: [
            { dataKey: 'apd', array: f64([1, 2, 3, 4]) },
            { dataKey: 'mono', array: f64([700, 700, 710, 710]) },
            { dataKey: 'sx', array: f64([0, 1, 0, 1]) },
            { dataKey: 'sy', array: f64([0, 0, 0, 0]) },
          ],
        },
      ],
    };
    const product = buildExport('nxstxm', [archived], OPTIONS);
    const tree = product.files[0]!.kind === 'hdf5' ? product.files[0]!.tree : assert.fail('not hdf5');
    const value = (path: string) => read(tree.datasets.find((d) => d.path === path)?.value);
    assert.equal(value('/entry1/title'), 'point spectra over 2 points (region 1)');
    assert.equal(value('/entry2/title'), 'point spectra over 2 points (region 2)');
    assert.equal(value('/entry1/instrument/source/name'), 'id21');
    assert.deepEqual([...new Float64Array((value('/entry2/data/data') as { bytes: Uint8Array }).bytes.slice().buffer)], [2, 4]);
  });

  it('finds stxm metadata in a BLISS scan_info', () => {
    const bliss = runWith({});
    delete bliss.start.stxm;
    bliss.start.bliss = { title: 'stxm bliss', scan_info: { stxm: { scan_type: 'generic_scan' } } };
    assert.equal(classifyRun(bliss).scanType, 'generic_scan');
  });
});

describe('gatherRows', () => {
  it('picks rows in the given order and refuses a point outside the array', () => {
    const rows = gatherRows({ dtype: '<u2', shape: [3, 2], bytes: new Uint8Array(new Uint16Array([1, 2, 3, 4, 5, 6]).buffer) }, [2, 0]);
    assert.deepEqual({ shape: rows.shape, values: [...new Uint16Array(rows.bytes.buffer)] }, { shape: [2, 2], values: [5, 6, 1, 2] });
    assert.throws(
      () => gatherRows(f64([1, 2]), [0, 2]),
      (e: unknown) => e instanceof ExportError && /point 2 is outside an array of 2 points/.test((e as Error).message),
    );
  });
});

describe('image stacks recorded as one run per image', () => {
  const part = (uid: string, energy: number, time: number, stack: Record<string, unknown> = {}): ExportRun => ({
    uid,
    start: {
      uid,
      time,
      facility: 'TLS',
      stxm: {
        scan_type: 'sample_image_stack',
        detector: 'apd',
        regions: [{ x_points: 2, y_points: 1 }],
        positioners: { energy: 'mono', sample_x: 'sx', sample_y: 'sy' },
        stack: { id: 'S', energy, ...stack },
      },
    },
    stop: { time: time + 1 },
    streams: [
      {
        name: 'primary',
        descriptor: {},
        columns: [
          { dataKey: 'apd', array: f64([energy * 10, energy * 10 + 1]) },
          { dataKey: 'mono', array: f64([700 + energy, 700 + energy]) },
          { dataKey: 'sx', array: f64([0, 1]) },
          { dataKey: 'sy', array: f64([0, 0]) },
        ],
      },
      { name: 'baseline', descriptor: {}, columns: [{ dataKey: 'ring', array: f64([time, time + 0.5]) }] },
    ],
  });

  it('merges the runs in energy order whatever the request order; baseline start of the earliest run, stop of the latest', () => {
    const { runs, notes } = mergeStackRuns([part('b', 1, 200), part('a', 0, 300), part('c', 2, 100)]);
    assert.equal(runs.length, 1);
    const merged = runs[0]!;
    assert.deepEqual(merged.start.stack_runs, ['a', 'b', 'c']);
    assert.deepEqual((merged.start.stxm as Record<string, unknown>).energies, 3);
    assert.equal(merged.start.time, 100);
    assert.deepEqual(merged.stop, { time: 301 });
    const values = (stream: number, key: string) => [
      ...new Float64Array(materialize(merged.streams[stream]!.columns.find((c) => c.dataKey === key)!.array).bytes.slice().buffer),
    ];
    assert.deepEqual(values(0, 'apd'), [0, 1, 10, 11, 20, 21]);
    assert.deepEqual(values(1, 'ring'), [100, 300.5]);
    assert.deepEqual(notes, ['stack S: runs a, b, c merged into one stack']);
  });

  it('gives each image the energy its own run read in the baseline when the runs do not read it at every point', () => {
    const baselineEnergy = (uid: string, energy: number, time: number): ExportRun => {
      const run = part(uid, energy, time);
      run.streams[0]!.columns = run.streams[0]!.columns.filter((c) => c.dataKey !== 'mono');
      run.streams[1]!.columns.push({ dataKey: 'mono', array: f64([700 + energy, 700 + energy + 0.01]) });
      return run;
    };
    const parts = [baselineEnergy('b', 1, 200), baselineEnergy('a', 0, 300), baselineEnergy('c', 2, 100)];
    const merged = mergeStackRuns(parts).runs[0]!;
    const mono = merged.streams[0]!.columns.find((c) => c.dataKey === 'mono');
    assert.ok(mono, 'the baseline-only energy is a per-point column of the merged stack');
    assert.deepEqual(
      { shape: mono.array.shape, values: [...new Float64Array(materialize(mono.array).bytes.slice().buffer)] },
      { shape: [6], values: [700, 700, 701, 701, 702, 702] },
    );
    const product = buildExport('nxstxm', parts, OPTIONS);
    const tree = product.files[0]!.kind === 'hdf5' ? product.files[0]!.tree : assert.fail('not hdf5');
    const energy = read(tree.datasets.find((d) => d.path === '/entry1/data/energy')!.value) as { bytes: Uint8Array };
    assert.deepEqual(
      [...new Float64Array(energy.bytes.slice().buffer)],
      [700, 701, 702],
      "one energy per image, not the first run's three times",
    );
  });

  it('refuses a doubly claimed image, differing regions and a bad index', () => {
    assert.throws(
      () => mergeStackRuns([part('a', 0, 1), part('b', 0, 2)]),
      (e: unknown) =>
        e instanceof ExportRequestError && e.message === 'runs a and b both claim image (angle 0, energy 0, polarization 0) of stack S',
    );
    const other = part('b', 1, 2);
    (other.start.stxm as Record<string, unknown>).regions = [{ x_points: 1, y_points: 2 }];
    assert.throws(
      () => mergeStackRuns([part('a', 0, 1), other]),
      (e: unknown) =>
        e instanceof ExportRequestError &&
        e.message === 'run b of stack S has a different stxm.regions than run a: the runs of one stack must share it',
    );
    assert.throws(
      () => mergeStackRuns([part('a', -1, 1)]),
      (e: unknown) => e instanceof ExportRequestError && /stxm.stack.energy must be a whole number ≥ 0/.test((e as Error).message),
    );
  });
});
