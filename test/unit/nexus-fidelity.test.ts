/**
 * The core pieces of issue 14 items 5-6 (the whole path is proven with blissdata, h5py and silx in
 * test/integration/scan-fidelity.test.ts): refused channels in the plan, the default plot's common
 * length, Sample_* at their ICAT places, scan_meta_categories, fill values of trimmed points, and
 * the exports' treatment of them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NexusPlan, PlanChannel, PlanGroup, PlanNode, ScanLayoutInput } from '../../src/core/nexus/layout.js';
import { buildScanLayout } from '../../src/core/nexus/scan-layouts.js';
import { sampleNodes } from '../../src/core/nexus/sample-layout.js';
import { commonLength } from '../../src/core/nexus/plot-layout.js';
import { scanMetaNodes } from '../../src/core/nexus/scan-meta.js';
import { fillBytes, fillValueOf, parseElementType } from '../../src/core/nexus/dtypes.js';
import { fillSlices } from '../../src/core/archive/archive-run.js';
import { withFillAt } from '../../src/core/exports/export-loader.js';
import { H5wasmScanFileWriter } from '../../src/adapters/h5wasm-scan-file-writer.js';
import { venvPython } from '../../local/services.js';
import type { EventDescriptor, RunStart, RunStop, StreamResource } from '../../src/core/contract/generated-types.js';
import { sampleScan, type FixtureRun } from './archive-fixtures.js';

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

const at = <T extends PlanNode>(plan: { nodes: readonly PlanNode[] }, path: string) =>
  plan.nodes.find((n) => n.path === path) as T | undefined;

describe('refused channels', () => {
  it('a channel no writer module takes is refused with its reason; every other channel is planned and the refusal is noted in the file', () => {
    const input = inputOf(sampleScan(6));
    const complex = { ...input.resources[1]!, parameters: { ...input.resources[1]!.parameters, dtype_numpy: '<c16' } };
    const plan = buildScanLayout({
      ...input,
      resources: [input.resources[0]!, complex, ...input.resources.slice(2)],
      refused: { 'simulation_counter_controller:counts': 'its data failed a check' },
    });
    assert.deepEqual(plan.refused?.map((r) => r.channel).sort(), [complex.data_key, 'simulation_counter_controller:counts'].sort());
    assert.match(plan.refused!.find((r) => r.channel === complex.data_key)!.reason, /dtype "<c16" is not a numeric numpy dtype/);
    assert.deepEqual(
      plan.channels.map((c) => c.channel),
      ['axis:sy', 'mca1:spectrum'].filter((c) => input.resources.some((r) => r.data_key === c)),
    );
    assert.equal(at<PlanGroup>(plan, '/3.1/notes/refused_channels')?.attrs.NX_class, 'NXnote');
    const data = at<{ kind: 'text'; value: string } & PlanNode>(plan, '/3.1/notes/refused_channels/data');
    assert.deepEqual(
      JSON.parse(data!.value as string),
      [...plan.refused!].sort((a, b) => a.channel.localeCompare(b.channel)),
    );
    assert.equal(
      plan.nodes.some((n) => n.path.startsWith('/3.1/measurement/') && n.path.endsWith('/diode1')),
      false,
      'no link to a refused channel',
    );
  });
});

describe('default plot of streams that ended apart', () => {
  it('commonLength is undefined for one length and the shortest otherwise', () => {
    assert.equal(commonLength([{ shape: [5] }, { shape: [5, 3] }]), undefined);
    assert.equal(commonLength([{ shape: [37] }, { shape: [36] }]), 36);
  });

  it('plots copies of the first common points of signal and axis and says so', () => {
    const input = inputOf(sampleScan(10));
    const plan = buildScanLayout({ ...input, points: { ...input.points, 'simulation_diode_sampling_controller:diode1': 9 } });
    const group = at<PlanGroup>(plan, '/3.1/plotselect')!;
    assert.equal(group.attrs.common_length, 9);
    assert.match(String(group.attrs.common_length_note), /first 9 points, the length every plotted channel has \(diode1: 9, sy: 10\)/);
    const copies = plan.nodes.filter((n) => n.path.startsWith('/3.1/plotselect/'));
    assert.deepEqual(
      copies.map((n) => [n.kind, n.path, n.kind === 'prefix-copy' ? n.shape : null]),
      [
        ['prefix-copy', '/3.1/plotselect/diode1', [9]],
        ['prefix-copy', '/3.1/plotselect/sy', [9]],
      ],
    );
    const same = buildScanLayout(input);
    assert.equal(at<PlanGroup>(same, '/3.1/plotselect')!.attrs.common_length, undefined, 'one length: links, as before');
  });
});

describe('Sample_* at their ICAT places', () => {
  it('Sample_notes is the NXnote sample/notes with its notes field; numbers and units as defined; unknown fields kept', () => {
    const nodes = sampleNodes('/1.1', {
      icat: { Sample_name: 's1', Sample_notes: 'on kapton', Sample_distance: '12.5', Sample_whatever: 'x', FLUO_i0: '1' },
    });
    const summary = nodes.map((n) => [
      n.kind,
      n.path,
      n.kind === 'group' ? n.attrs.NX_class : n.kind === 'text' || n.kind === 'number' ? n.value : null,
      n.kind === 'group' || !('attrs' in n) ? null : (n.attrs.units ?? null),
    ]);
    assert.deepEqual(summary, [
      ['group', '/1.1/sample', 'NXsample', null],
      ['group', '/1.1/sample/notes', 'NXnote', null],
      ['number', '/1.1/sample/distance', 12.5, 'mm'],
      ['text', '/1.1/sample/name', 's1', null],
      ['text', '/1.1/sample/notes/notes', 'on kapton', null],
      ['text', '/1.1/sample/whatever', 'x', null],
    ]);
    assert.deepEqual(
      sampleNodes('/1.1', { icat: {}, sample: 'from RunStart' }).map((n) => n.path),
      ['/1.1/sample', '/1.1/sample/name'],
    );
  });
});

describe('scan_meta_categories', () => {
  const info = {
    scan_meta_categories: ['positioners', 'nexuswriter', 'instrument', 'technique', 'sample'],
    positioners: { positioners_start: { sy: 1 } },
    nexuswriter: { instrument_info: {} },
    instrument: {
      '@NX_class': 'NXinstrument',
      machine: { '@NX_class': 'NXsource', current: 198.7, 'current@units': 'mA', filling_mode: '7/8 multibunch', automatic_mode: true },
      diode1: { gain: 3 },
    },
    technique: { '@NX_class': 'NXcollection', energy: 12.4, 'energy@units': 'keV', edges: ['Au-L3', 'Au-L2'], roi: [1, 2, 3] },
    sample: { name: 'already there', holder: 'kapton' },
  };

  it("writes every category but the writer's own where blisswriter does, merging into groups the file has and never overwriting", () => {
    const nodes = scanMetaNodes('/1.1', info, new Set(['/1.1/instrument', '/1.1/instrument/diode1', '/1.1/sample', '/1.1/sample/name']));
    const paths = nodes.map((n) => n.path);
    assert.deepEqual(paths, [
      '/1.1/instrument/machine',
      '/1.1/instrument/machine/current',
      '/1.1/instrument/machine/filling_mode',
      '/1.1/instrument/machine/automatic_mode',
      '/1.1/instrument/diode1/gain',
      '/1.1/sample/holder',
      '/1.1/technique',
      '/1.1/technique/energy',
      '/1.1/technique/edges',
      '/1.1/technique/roi',
    ]);
    assert.deepEqual(at<PlanGroup>({ nodes }, '/1.1/instrument/machine')?.attrs, { NX_class: 'NXsource' });
    assert.deepEqual(at({ nodes }, '/1.1/instrument/machine/current'), {
      kind: 'number',
      path: '/1.1/instrument/machine/current',
      value: 198.7,
      dtype: '<f8',
      attrs: { units: 'mA' },
    });
    assert.deepEqual(at({ nodes }, '/1.1/technique/roi'), {
      kind: 'numbers',
      path: '/1.1/technique/roi',
      values: [1, 2, 3],
      shape: [3],
      dtype: '<i8',
      attrs: {},
    });
    assert.deepEqual(at({ nodes }, '/1.1/technique/edges'), {
      kind: 'text',
      path: '/1.1/technique/edges',
      value: ['Au-L3', 'Au-L2'],
      attrs: {},
    });
  });

  it('a scan_info without categories adds nothing', () => {
    assert.deepEqual(scanMetaNodes('/1.1', { title: 'ct 0.1' }, new Set()), []);
  });
});

describe('fill values of points lost in Redis', () => {
  it('NaN for floats, the minimum for signed and the maximum for unsigned integers', () => {
    assert.ok(Number.isNaN(fillValueOf(parseElementType('<f4'))));
    assert.equal(fillValueOf(parseElementType('|i1')), -128n);
    assert.equal(fillValueOf(parseElementType('<i8')), -(2n ** 63n));
    assert.equal(fillValueOf(parseElementType('<u2')), 65535n);
    assert.deepEqual([...new Int16Array(fillBytes(parseElementType('<i2'), [2], 2).buffer)], [-32768, -32768, -32768, -32768]);
    assert.ok(new Float64Array(fillBytes(parseElementType('<f8'), [], 3).buffer).every(Number.isNaN));
    assert.deepEqual([...new BigUint64Array(fillBytes(parseElementType('<u8'), [], 1).buffer)], [2n ** 64n - 1n]);
  });

  it('fillSlices covers each gap in slices of at most sliceRows points, within the dataset', () => {
    const channel = { type: parseElementType('<f4'), pointShape: [3], shape: [10, 3], sliceRows: 4 };
    const slices = [
      ...fillSlices(channel, [
        [0, 6],
        [8, 12],
      ]),
    ];
    assert.deepEqual(
      slices.map((s) => [s.start, s.stop, s.bytes.byteLength]),
      [
        [0, 4, 48],
        [4, 6, 24],
        [8, 10, 24],
      ],
    );
  });

  it('exports put the fill value at lost points whatever the file holds (files archived with 0 there)', () => {
    const bytes = new Uint8Array(new Int32Array([5, 0, 0, 8]).buffer);
    const filled = withFillAt({ dtype: '<i4', shape: [4], bytes }, [[1, 3]]);
    assert.deepEqual([...new Int32Array(filled.bytes.slice().buffer)], [5, -2147483648, -2147483648, 8]);
    const floats = withFillAt({ dtype: '<f8', shape: [2, 2], bytes: new Uint8Array(new Float64Array([1, 2, 0, 0]).buffer) }, [[1, 2]]);
    assert.deepEqual(
      [...new Float64Array(floats.bytes.slice().buffer)].map((v) => (Number.isNaN(v) ? 'NaN' : v)),
      [1, 2, 'NaN', 'NaN'],
    );
    assert.equal(withFillAt({ dtype: '<f8', shape: [1], bytes }, []).bytes, bytes, 'nothing lost: unchanged');
  });
});

describe('written by h5wasm, read by h5py', () => {
  it('typed _FillValue attributes, [n, 2] missing_points and plot copies are what h5py reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ba-fidelity-unit-'));
    try {
      const input = inputOf(sampleScan(10));
      const plan: NexusPlan = buildScanLayout({
        ...input,
        points: { ...input.points, 'simulation_diode_sampling_controller:diode1': 9 },
        missing: { 'simulation_counter_controller:counts': [[2, 5]] },
      });
      const writer = await H5wasmScanFileWriter.create({ workDir: dir });
      const counts = plan.channels.find((c) => c.channel === 'simulation_counter_controller:counts')!;
      const written = await writer.write(plan, async function* (channel: PlanChannel) {
        const rows = channel.shape[0]!;
        const bytes = new Uint8Array(rows * channel.pointShape.reduce((n, d) => n * d, channel.type.size)).fill(1);
        if (channel === counts) {
          // In order, as archive-run reads them: the trimmed points' fill between the staged chunks.
          yield { start: 0, stop: 2, bytes: bytes.subarray(0, 2 * channel.type.size) };
          yield* fillSlices(channel, [[2, 5]]);
          yield { start: 5, stop: rows, bytes: bytes.subarray(5 * channel.type.size) };
        } else yield { start: 0, stop: rows, bytes };
      });
      const read = spawnSync(
        venvPython,
        [
          '-c',
          [
            'import sys, json, h5py, numpy as np',
            'f = h5py.File(sys.argv[1], "r")',
            'd = f["3.1/instrument/counts/data"]',
            'm = f["3.1/instrument/counts/missing_points"]',
            'p = f["3.1/plotselect"]',
            'print(json.dumps({"fill": int(d.attrs["_FillValue"]), "fill_dtype": str(d.attrs["_FillValue"].dtype), "fill_shape": list(np.shape(d.attrs["_FillValue"])),',
            '  "values": d[()].tolist(), "missing": m[()].tolist(), "missing_dtype": str(m.dtype),',
            '  "plot": [p[n].shape[0] for n in ("diode1", "sy")], "common": int(p.attrs["common_length"])}))',
          ].join('\n'),
          written.path,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(read.status, 0, read.stderr);
      const seen = JSON.parse(read.stdout) as {
        fill: number;
        fill_dtype: string;
        fill_shape: number[];
        values: number[];
        missing: number[][];
        missing_dtype: string;
        plot: number[];
        common: number;
      };
      assert.deepEqual(seen, {
        fill: -32768,
        fill_dtype: 'int16',
        fill_shape: [],
        values: [257, 257, -32768, -32768, -32768, 257, 257, 257, 257, 257],
        missing: [[2, 5]],
        missing_dtype: 'int64',
        plot: [9, 9],
        common: 9,
      });
      await written.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
