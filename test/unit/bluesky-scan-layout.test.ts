import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  blueskyDescriptorOf,
  blueskyRunStartOf,
  blueskyRunStopOf,
  blueskyStreamResourceOf,
  channelsOfDescriptor,
} from '../../src/core/bluesky/documents.js';
import { buildScanLayout } from '../../src/core/nexus/scan-layouts.js';
import { blueskyDimensions } from '../../src/core/bluesky/scan-layout.js';
import type { PlanNode } from '../../src/core/nexus/plan.js';
import { primaryDescriptor, RUN, startDoc } from './bluesky-fixtures.js';

const baselineDescriptor = {
  uid: 'desc-baseline',
  run_start: RUN,
  time: 1,
  name: 'baseline',
  data_keys: {
    motor: { source: 'SIM:motor', dtype: 'integer', shape: [] },
    energy: { source: 'SIM:energy', dtype: 'number', shape: [], units: 'keV' },
  },
  object_keys: { motor: ['motor'], energy: ['energy'] },
  hints: {},
};

function layoutOf(start: Record<string, unknown>, points: number, primary: Record<string, unknown> = primaryDescriptor) {
  const p = channelsOfDescriptor(primary, { entryId: '1-0', runUid: RUN });
  const b = channelsOfDescriptor(baselineDescriptor, { entryId: '2-0', runUid: RUN });
  const channels = [...p.channels, ...b.channels];
  const counts = Object.fromEntries(channels.map((c) => [c.name, c.stream === 'baseline' ? 2 : points]));
  return buildScanLayout({
    start: blueskyRunStartOf(start, { stream: 'bluesky:documents', entryId: '1-0', policy: { beamline: 'id00' } }),
    stop: blueskyRunStopOf(
      RUN,
      { uid: 's', time: 1795325860, exit_status: 'success', reason: '', num_events: {} },
      {
        points: counts,
        documents: { descriptor: 2, stream_resource: channels.length, stream_datum: channels.length },
        notArchived: [],
        eventsReceived: {},
      },
      '3-0',
    ),
    descriptors: [
      blueskyDescriptorOf(RUN, primary, p.channels, p.notArchived),
      blueskyDescriptorOf(RUN, baselineDescriptor, b.channels, []),
    ],
    resources: channels.map((c) => blueskyStreamResourceOf('id00', RUN, 'bkt', c)),
    points: counts,
    fileName: 'f.h5',
    creator: 'test',
    hdf5Version: '1.14',
    jsonValues: { 'primary:label': Array.from({ length: points }, (_, i) => JSON.stringify(`sample ${i}`)) },
  });
}

const at = (nodes: readonly PlanNode[], path: string) => nodes.find((n) => n.path === path);

describe('scan file layout of a Bluesky run', () => {
  const plan = layoutOf(startDoc, 11);

  it('names the entry <scan_id>.1 and titles it from the plan', () => {
    assert.equal(plan.entry, '7.1');
    assert.deepEqual(at(plan.nodes, '/7.1/title'), { kind: 'text', path: '/7.1/title', value: 'scan motor 11', attrs: {} });
    assert.equal((at(plan.nodes, '/7.1/end_reason') as { value: string }).value, 'SUCCESS');
    assert.equal(plan.rootAttrs.publisher, 'bluesky');
    assert.equal(plan.rootAttrs.publisher_version, '1.15.1');
  });

  it('puts every staged channel in the file: primary devices from object_keys, the baseline in its own group', () => {
    assert.deepEqual(
      plan.channels.map((c) => [c.channel, c.path]),
      [
        ['primary:det', '/7.1/instrument/det/det'],
        ['primary:motor', '/7.1/instrument/motor/motor'],
        ['primary:motor_setpoint', '/7.1/instrument/motor/motor_setpoint'],
        ['primary:spectrum', '/7.1/instrument/mca/spectrum'],
        ['baseline:motor', '/7.1/instrument/baseline/motor'],
        ['baseline:energy', '/7.1/instrument/baseline/energy'],
      ],
    );
    assert.deepEqual((at(plan.nodes, '/7.1/instrument/motor') as { attrs: object }).attrs, { NX_class: 'NXpositioner' });
    assert.deepEqual((at(plan.nodes, '/7.1/instrument/det') as { attrs: object }).attrs, { NX_class: 'NXdetector' });
    assert.deepEqual(at(plan.nodes, '/7.1/instrument/motor/value'), {
      kind: 'link',
      path: '/7.1/instrument/motor/value',
      target: '/7.1/instrument/motor/motor',
    });
    assert.equal(plan.channels[0]!.attrs.bluesky_stream, 'primary');
    assert.equal(plan.channels[5]!.attrs.units, 'keV');
    assert.deepEqual(plan.channels[5]!.shape, [2]);
    assert.ok(at(plan.nodes, '/7.1/measurement/baseline_motor'));
    assert.ok(at(plan.nodes, '/7.1/measurement/motor'));
  });

  it('writes a string key as JSON texts in its own device group', () => {
    assert.deepEqual((at(plan.nodes, '/7.1/instrument/label') as { attrs: object }).attrs, { NX_class: 'NXcollection' });
    const label = at(plan.nodes, '/7.1/instrument/label/label') as { kind: string; value: string[]; attrs: object };
    assert.equal(label.kind, 'text');
    assert.deepEqual(label.value.slice(0, 2), ['"sample 0"', '"sample 1"']);
    assert.deepEqual(label.attrs, { content_type: 'application/json', bluesky_stream: 'primary', bluesky_key: 'label' });
    assert.deepEqual(at(plan.nodes, '/7.1/measurement/label'), {
      kind: 'link',
      path: '/7.1/measurement/label',
      target: '/7.1/instrument/label/label',
    });
  });

  it('plots the hinted detector against the scanned dimension', () => {
    assert.deepEqual((at(plan.nodes, '/7.1/plotselect') as { attrs: object }).attrs, {
      NX_class: 'NXdata',
      signal: 'det',
      axes: ['motor'],
    });
    assert.deepEqual(at(plan.nodes, '/7.1/plotselect/det'), {
      kind: 'link',
      path: '/7.1/plotselect/det',
      target: '/7.1/instrument/det/det',
    });
  });

  it('keeps the start document and the sample', () => {
    assert.equal(JSON.parse((at(plan.nodes, '/7.1/bluesky_start/data') as { value: string }).value).uid, RUN);
    assert.equal((at(plan.nodes, '/7.1/sample/name') as { value: string }).value, 'silver');
  });

  it('a grid scan plots an image on [slow, fast]; a snaked one falls back to a curve', () => {
    const grid = {
      ...startDoc,
      plan_name: 'grid_scan',
      shape: [3, 4],
      snaking: [false, false],
      hints: {
        dimensions: [
          [['motor'], 'primary'],
          [['det'], 'primary'],
        ],
      },
    };
    const image = layoutOf(grid, 12);
    const signal = image.nodes.find((n) => n.kind === 'grid-signal');
    assert.deepEqual(signal && { shape: signal.shape, channel: signal.channel }, { shape: [3, 4], channel: 'primary:motor_setpoint' });
    const snaked = layoutOf({ ...grid, snaking: [false, true] }, 12);
    assert.equal(
      snaked.nodes.some((n) => n.kind === 'grid-signal'),
      false,
    );
  });
});

describe('Bluesky scan layout: hints from the start document', () => {
  it('a hints.dimensions entry naming no channel (empty field, stream with ":") is skipped, not a failed file', () => {
    const hints = { dimensions: [[['motor'], 'primary'], [[''], 'primary'], [['x'], 'a:b'], 'junk'] };
    assert.deepEqual(blueskyDimensions(hints), [['primary:motor'], [], []]);
    assert.doesNotThrow(() => layoutOf({ ...startDoc, hints }, 5));
    const plot = layoutOf(startDoc, 5, { ...primaryDescriptor, hints: { det: { fields: ['', 'det'] }, other: { fields: [7] } } });
    assert.ok(
      plot.nodes.some((n) => n.path.endsWith('/plotselect')),
      'the plot is still laid out',
    );
  });
});
