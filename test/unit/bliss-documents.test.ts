import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { channelRole, jsonDtypeOf } from '../../src/core/event-model/channels.js';
import { descriptorOf, icatSnapshotOf, runFailedOf, streamDatumOf, streamResourceOf } from '../../src/core/event-model/documents.js';
import { exitStatusOf, MAX_INLINE_SCAN_INFO, runStartOf, runStopOf } from '../../src/core/bliss/run-documents.js';
import { parseScanJson } from '../../src/core/bliss/scan-model.js';
import { parseDtype } from '../../src/core/event-model/dtype.js';

const UID = '01M80KDGXSJDA8HERZJGME1B5Q';
const scanJson = (info: Record<string, unknown>) => ({
  pk: UID,
  id: {
    name: 'ascan',
    number: 3,
    data_policy: 'ESRF',
    session: 'demo',
    proposal: 'ihch123',
    collection: 'sample1',
    dataset: '0001',
    path: '/data/visitor/ihch123/id00/20261122/RAW_DATA/sample1/sample1_0001/sample1_0001.h5',
  },
  info,
  state_stream: { pk: 'S' },
  data_streams: {},
});
const info = {
  title: 'ascan sy 0 1 9 0.1',
  type: 'ascan',
  npoints: 10,
  count_time: 0.1,
  start_time: '2026-11-22T10:00:00+01:00',
  end_time: '2026-11-22T10:00:02+01:00',
  end_reason: 'SUCCESS',
  channels: { 'simulation_diode_sampling_controller:diode1': { unit: 'cts' } },
  dataset_metadata_snapshot: { Sample_name: 'gold', InstrumentSource_current: 198.7, Sample: { notes: ['a', 'b'] } },
};

describe('channel roles and dtypes', () => {
  it('maps BLISS channel names to roles', () => {
    assert.equal(channelRole('axis:sy', []), 'positioner');
    assert.equal(channelRole('timer:elapsed_time', []), 'timer');
    assert.equal(channelRole('timer:epoch', []), 'timer');
    assert.equal(channelRole('some:elapsed_time', []), 'timer');
    assert.equal(channelRole('mca1:spectrum_det0', [1024]), 'spectrum');
    assert.equal(channelRole('simulation_diode_sampling_controller:diode1', []), 'counter');
  });
  it('maps numpy kinds to event-model dtypes', () => {
    assert.equal(jsonDtypeOf(parseDtype('|b1'), []), 'boolean');
    assert.equal(jsonDtypeOf(parseDtype('<i2'), []), 'integer');
    assert.equal(jsonDtypeOf(parseDtype('<u4'), []), 'integer');
    assert.equal(jsonDtypeOf(parseDtype('<f8'), []), 'number');
    assert.equal(jsonDtypeOf(parseDtype('<c16'), []), 'number');
    assert.equal(jsonDtypeOf(parseDtype('<f8'), [16]), 'array');
  });
  it('maps end reasons to exit_status', () => {
    assert.equal(exitStatusOf('SUCCESS'), 'success');
    assert.equal(exitStatusOf('USER_ABORT'), 'abort');
    assert.equal(exitStatusOf('KILLED'), 'abort');
    assert.equal(exitStatusOf('FAILURE'), 'fail');
    assert.equal(exitStatusOf('DELETION'), 'fail');
    assert.equal(exitStatusOf(undefined), 'fail');
  });
});

describe('BLISS scan → event-model documents (validated against events/)', () => {
  const scan = parseScanJson(`esrf:scan:${UID}`, scanJson(info));

  it('RunStart carries uid, data policy from the path, ICAT strings and the scan_info', () => {
    const start = runStartOf(scan, 'id99', 1);
    assert.equal(start.uid, UID);
    assert.deepEqual(start.data_policy, {
      proposal: 'ihch123',
      beamline: 'id00',
      session: '20261122',
      collection: 'sample1',
      dataset: '0001',
    });
    assert.equal(start.time, Date.parse('2026-11-22T10:00:00+01:00') / 1000);
    assert.deepEqual(start.icat, { Sample_name: 'gold', InstrumentSource_current: '198.7', Sample_notes: 'a b' });
    assert.equal(start.sample, 'gold');
    assert.ok(start.bliss?.scan_info);
    assert.equal(icatSnapshotOf(undefined) && Object.keys(icatSnapshotOf(undefined)).length, 0);
  });

  it('leaves a large scan_info out of RunStart', () => {
    const big = parseScanJson(`esrf:scan:${UID}`, scanJson({ ...info, blob: 'x'.repeat(MAX_INLINE_SCAN_INFO) }));
    assert.equal(runStartOf(big, 'id00', 1).bliss?.scan_info, undefined);
  });

  it('describes every numeric channel in the primary descriptor', () => {
    const d = descriptorOf(
      UID,
      [
        { name: 'axis:sy', streamPk: 'P1', dtype: parseDtype('<f8'), shape: [], units: 'mm' },
        { name: 'simulation_diode_sampling_controller:diode1', streamPk: 'P2', dtype: parseDtype('<i4'), shape: [] },
        { name: 'mca1:spectrum_det0', streamPk: 'P3', dtype: parseDtype('<u4'), shape: [null] },
      ],
      1,
    );
    assert.equal(d.uid, `${UID}/descriptor/primary`);
    assert.deepEqual(d.data_keys['axis:sy'], {
      dtype: 'number',
      dtype_numpy: '<f8',
      shape: [],
      source: 'bliss:esrf:stream:P1',
      external: 'STREAM:',
      units: 'mm',
      object_name: 'sy',
      bliss_role: 'positioner',
    });
    assert.equal(d.data_keys['mca1:spectrum_det0']!.bliss_role, 'spectrum');
    assert.equal(d.data_keys['mca1:spectrum_det0']!.dtype, 'array');
  });

  it('StreamResource, StreamDatum, RunStop and Run Failed validate', () => {
    const r = streamResourceOf('id00', UID, 'bkt', { name: 'axis:sy', dtype: parseDtype('<f8'), shape: [] });
    assert.equal(r.uri, `s3://bkt/staging/id00/${UID}/axis_sy~c645144e/`);
    const datum = streamDatumOf(UID, 'bkt', 'axis:sy', 64, 128, { key: 'k', bytes: 512, sha256: 'a'.repeat(64) });
    assert.deepEqual([datum.uid, datum.seq_nums], [`${UID}/resource/axis:sy/64-128`, { start: 65, stop: 129 }]);
    const stop = runStopOf(
      scan,
      {
        points: { 'axis:sy': 10, b: 9 },
        documents: { descriptor: 1, stream_resource: 2, stream_datum: 2 },
        scanInfoRef: { bucket: 'bkt', key: `staging/${UID}/scan_info.json`, bytes: 10, sha256: 'b'.repeat(64) },
      },
      5,
    );
    assert.deepEqual([stop.exit_status, stop.num_events], ['success', { primary: 10 }]);
    const failed = runFailedOf(UID, `esrf:scan:${UID}`, 'bad', [{ stream: 's', index: 4, message: 'short' }]);
    assert.equal(failed.stage, 'bridge');
  });
});
