// Pure helpers of the 2D grid plot (src/core/nexus/grid.ts) and the scan_info readers (src/core/nexus/scan-info.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseElementType } from '../../src/core/nexus/dtypes.js';
import { elementReader, GridAxisAccumulator, gridSegments } from '../../src/core/nexus/grid.js';
import { channelUnit, plotCandidates, positionerSnapshots, scanGrid, scanNotes, scanPositioners } from '../../src/core/nexus/scan-info.js';

const bytes = (a: Float64Array | Int16Array | Uint32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('grid helpers', () => {
  it('gridSegments cuts flat points into row segments', () => {
    assert.deepEqual(
      [...gridSegments(3, 11, 4)],
      [
        { row: 0, column: 3, count: 1, offset: 0 },
        { row: 1, column: 0, count: 4, offset: 1 },
        { row: 2, column: 0, count: 3, offset: 5 },
      ],
    );
    assert.deepEqual([...gridSegments(4, 4, 4)], []);
  });

  it('elementReader reads little-endian elements of every size', () => {
    assert.equal(elementReader(parseElementType('<i2'))(new DataView(bytes(new Int16Array([7, -3])).buffer), 1), -3);
    assert.equal(elementReader(parseElementType('<u4'))(new DataView(bytes(new Uint32Array([1, 4e9])).buffer), 1), 4e9);
    assert.equal(elementReader(parseElementType('<f8'))(new DataView(bytes(new Float64Array([0.5, 2.25])).buffer), 1), 2.25);
  });

  it('GridAxisAccumulator: means per column (fast) or row (slow), made linear, fed in arbitrary slices', () => {
    const grid = { fast: 3, slow: 2 };
    // Fast motor 0, 1, 2 with jitter; slow motor 10 then 20.
    const fast = new Float64Array([0.1, 1, 2, -0.1, 1, 2]);
    const slow = new Float64Array([10, 10, 10, 20, 20, 20]);
    const f = new GridAxisAccumulator(parseElementType('<f8'), 'fast', grid);
    f.add(0, bytes(fast.subarray(0, 4)), 4);
    f.add(4, bytes(fast.subarray(4)), 2);
    assert.deepEqual(
      [...f.values()].map((v) => Math.round(v * 1e9) / 1e9),
      [0, 1, 2],
    );
    const s = new GridAxisAccumulator(parseElementType('<f8'), 'slow', grid);
    s.add(0, bytes(slow), 6);
    assert.deepEqual([...s.values()], [10, 20]);
  });

  it('GridAxisAccumulator ignores NaN and points past the grid; no finite point gives NaN, one gives a constant', () => {
    const acc = new GridAxisAccumulator(parseElementType('<f8'), 'slow', { fast: 2, slow: 3 });
    acc.add(0, bytes(new Float64Array([5, Number.NaN, 5, 5, 5, 5, 99])), 7);
    assert.deepEqual([...acc.values()], [5, 5, 5]);
    const none = new GridAxisAccumulator(parseElementType('<f8'), 'fast', { fast: 2, slow: 1 });
    assert.ok([...none.values()].every(Number.isNaN));
  });
});

describe('scan_info readers', () => {
  it('positionerSnapshots: values in published order, null and "nan" kept as NaN, units', () => {
    const snap = positionerSnapshots({
      positioners: {
        positioners_start: { sy: 1.5, sz: null, robz: 'nan', bad: 'x' },
        positioners_end: { sy: 2 },
        positioners_dial_start: { sy: -1.5 },
        positioners_units: { sy: 'mm', sz: '' },
      },
    });
    assert.deepEqual([...snap.start.keys()], ['sy', 'sz', 'robz']);
    assert.ok(Number.isNaN(snap.start.get('sz')) && Number.isNaN(snap.start.get('robz')));
    assert.equal(snap.end.get('sy'), 2);
    assert.equal(snap.dialStart.get('sy'), -1.5);
    assert.equal(snap.dialEnd.size, 0);
    assert.deepEqual([...snap.units], [['sy', 'mm']]);
    assert.equal(positionerSnapshots({}).start.size, 0);
  });

  it('scanPositioners: the 0-d channels of the first triggering device of the chain', () => {
    const info = {
      acquisition_chain: { axis: { devices: ['timer', 'axis', 'diode'] } },
      devices: {
        timer: { channels: ['timer:elapsed_time'], triggered_devices: [] },
        axis: { channels: ['axis:sy', 'axis:mca'], triggered_devices: ['diode'] },
        diode: { channels: ['diode:diode1'] },
      },
      channels: { 'axis:sy': { dim: 0 }, 'axis:mca': { dim: 1 }, 'diode:diode1': { dim: 0 } },
    };
    assert.deepEqual(scanPositioners(info), ['axis:sy']);
    assert.equal(scanPositioners({}), undefined);
  });

  it('scanGrid only for data_dim 2 with positive npoints1/npoints2', () => {
    assert.deepEqual(scanGrid({ data_dim: 2, npoints1: 4, npoints2: 3 }), { fast: 4, slow: 3 });
    assert.equal(scanGrid({ data_dim: 1, npoints1: 4 }), undefined);
  });

  it('plotCandidates prefers display_extra.plotselect', () => {
    assert.deepEqual(plotCandidates({ display_extra: { plotselect: ['diode:diode2'] } }).signals, ['diode:diode2']);
  });

  it('scanNotes and channelUnit', () => {
    assert.deepEqual(scanNotes({ comments: [{ message: 'beam lost', date: '2026-11-22T10:00:00' }, { date: 'no message' }, 'x'] }), [
      { message: 'beam lost', date: '2026-11-22T10:00:00' },
    ]);
    assert.equal(channelUnit({ channels: { 'axis:sy': { unit: 'mm' } } }, 'axis:sy'), 'mm');
    assert.equal(channelUnit({ channels: { 'axis:sy': { unit: '' } } }, 'axis:sy'), undefined);
  });
});
