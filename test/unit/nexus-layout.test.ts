import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildScanLayout } from '../../src/core/nexus/scan-layouts.js';
import {
  type NexusPlan,
  type PlanChannel,
  type PlanGroup,
  type PlanLink,
  type PlanText,
  type ScanLayoutInput,
} from '../../src/core/nexus/layout.js';
import { parseElementType } from '../../src/core/nexus/dtypes.js';
import { InvalidInputError } from '../../src/core/errors.js';
import type { EventDescriptor, RunStart, RunStop, StreamResource } from '../../src/core/contract/generated-types.js';
import { buildRun, sampleScan, type FixtureRun } from './archive-fixtures.js';

function inputOf(run: FixtureRun, extra: Partial<ScanLayoutInput> = {}): ScanLayoutInput {
  const of = <T>(type: string) => run.documents.filter((d) => d['detail-type'] === type).map((d) => d.detail as T);
  const stop = run.stop.detail;
  return {
    start: of<RunStart>('RunStart')[0]!,
    stop: stop as RunStop,
    descriptors: of<EventDescriptor>('EventDescriptor'),
    resources: of<StreamResource>('StreamResource'),
    points: stop.bliss.points as Record<string, number>,
    fileName: 'sample1_0001_0003.h5',
    creator: 'beamline-archive 0.1.0',
    hdf5Version: '2.0.0',
    ...extra,
  };
}

const node = <T>(plan: NexusPlan, path: string) => plan.nodes.find((n) => n.path === path) as T | undefined;

describe('NeXus layout plan of a scan', () => {
  const plan = buildScanLayout(inputOf(sampleScan(10)));

  it('names the entry <scan>.1 and makes it the root default, with BLISS root attributes from the run, not the clock', () => {
    assert.equal(plan.entry, '3.1');
    assert.deepEqual(plan.rootAttrs, {
      NX_class: 'NXroot',
      file_name: 'sample1_0001_0003.h5',
      file_time: '2026-11-22T10:00:02.000000+01:00',
      creator: 'beamline-archive 0.1.0',
      HDF5_Version: '2.0.0',
      publisher: 'bliss',
      default: '3.1',
    });
    assert.equal(plan.fileTimeMs, 1795315659000);
    assert.deepEqual(node<PlanGroup>(plan, '/3.1')?.attrs, { NX_class: 'NXentry', default: 'plotselect' });
  });

  it('writes title, start_time, end_time and end_reason as strings', () => {
    const values = Object.fromEntries(
      ['title', 'start_time', 'end_time', 'end_reason'].map((n) => [n, node<PlanText>(plan, `/3.1/${n}`)?.value]),
    );
    assert.deepEqual(values, {
      title: 'ascan sy 0 1 9 0.1',
      start_time: '2026-11-22T10:00:00.000000+01:00',
      end_time: '2026-11-22T10:00:02.000000+01:00',
      end_reason: 'SUCCESS',
    });
  });

  it('puts positioners in NXpositioner/value and the other channels in NXdetector/data, at the published dtype and final shape', () => {
    assert.equal(node<PlanGroup>(plan, '/3.1/instrument')?.attrs.NX_class, 'NXinstrument');
    assert.equal(node<PlanGroup>(plan, '/3.1/instrument/sy')?.attrs.NX_class, 'NXpositioner');
    assert.equal(node<PlanGroup>(plan, '/3.1/instrument/diode1')?.attrs.NX_class, 'NXdetector');
    const summary = plan.channels.map((c: PlanChannel) => [c.path, c.type.numpy, c.shape.join('x'), c.attrs.units ?? null]);
    assert.deepEqual(summary, [
      ['/3.1/instrument/sy/value', '<f8', '10', 'mm'],
      ['/3.1/instrument/diode1/data', '<f4', '10', null],
      ['/3.1/instrument/counts/data', '<i2', '10', 'cts'],
      ['/3.1/instrument/spectrum/data', '<u4', '10x16', null],
    ]);
    assert.equal(node<PlanChannel>(plan, '/3.1/instrument/spectrum/data')?.attrs.interpretation, 'spectrum');
  });

  it('links every channel from measurement by its short name', () => {
    const links = plan.nodes.filter((n): n is PlanLink => n.kind === 'link' && n.path.startsWith('/3.1/measurement/'));
    assert.deepEqual(
      links.map((l) => [l.path.split('/').pop(), l.target]),
      [
        ['sy', '/3.1/instrument/sy/value'],
        ['diode1', '/3.1/instrument/diode1/data'],
        ['counts', '/3.1/instrument/counts/data'],
        ['spectrum', '/3.1/instrument/spectrum/data'],
      ],
    );
    assert.equal(node<PlanGroup>(plan, '/3.1/measurement')?.attrs.NX_class, 'NXcollection');
  });

  it('plots the first counter against the positioner by default', () => {
    assert.deepEqual(node<PlanGroup>(plan, '/3.1/plotselect')?.attrs, { NX_class: 'NXdata', signal: 'diode1', axes: ['sy'] });
    assert.equal(node<PlanLink>(plan, '/3.1/plotselect/diode1')?.target, '/3.1/instrument/diode1/data');
    assert.equal(node<PlanLink>(plan, '/3.1/plotselect/sy')?.target, '/3.1/instrument/sy/value');
  });

  it('follows scan_info.plots when it names a curve', () => {
    const info = {
      plots: [{ kind: 'curve-plot', name: 'default', items: [{ kind: 'curve', x: 'axis:sy', y: 'simulation_counter_controller:counts' }] }],
    };
    const p = buildScanLayout(inputOf(sampleScan(10), { scanInfo: info }));
    assert.equal(node<PlanGroup>(p, '/3.1/plotselect')?.attrs.signal, 'counts');
  });

  it('keeps the Sample_* fields of the ICAT snapshot in NXsample (Sample_name → name), sorted', () => {
    assert.equal(node<PlanGroup>(plan, '/3.1/sample')?.attrs.NX_class, 'NXsample');
    const fields = plan.nodes.filter((n): n is PlanText => n.kind === 'text' && n.path.startsWith('/3.1/sample/'));
    assert.deepEqual(
      fields.map((f) => [f.path, f.value]),
      [
        ['/3.1/sample/description', 'gold foil'],
        ['/3.1/sample/name', 'sample1'],
      ],
    );
  });

  it('disambiguates channels sharing a short name with their full names', () => {
    const run = buildRun({
      points: 2,
      channels: [
        { name: 'axis:x', dtype: '<f8', values: new Float64Array(2) },
        { name: 'ctrl_a:diode', dtype: '<f4', values: new Float32Array(2) },
        { name: 'ctrl_b:diode', dtype: '<f4', values: new Float32Array(2) },
      ],
    });
    const p = buildScanLayout(inputOf(run));
    assert.deepEqual(
      p.channels.map((c) => c.path),
      ['/3.1/instrument/x/value', '/3.1/instrument/ctrl_a_diode/data', '/3.1/instrument/ctrl_b_diode/data'],
    );
  });

  it('bounds HDF5 chunks to 1 MiB of points', () => {
    const run = buildRun({
      points: 20,
      channels: [{ name: 'lima:spectrum', dtype: '<u4', pointShape: [131072], values: new Uint32Array(20 * 131072) }],
    });
    assert.equal(buildScanLayout(inputOf(run)).channels[0]!.chunkRows, 2);
  });

  it('refuses types the file cannot hold exactly', () => {
    assert.throws(() => parseElementType('>f4'), InvalidInputError);
    assert.throws(() => parseElementType('<f2'), InvalidInputError);
    assert.throws(() => parseElementType('<c16'), InvalidInputError);
    assert.deepEqual(parseElementType('|u1'), { numpy: '|u1', kind: 'uint', size: 1 });
    assert.deepEqual(
      parseElementType('|b1'),
      { numpy: '|b1', kind: 'uint', size: 1 },
      'numpy bool: one byte 0/1, stored as uint8 (numpy_dtype = bool)',
    );
  });
});
