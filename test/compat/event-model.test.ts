/**
 * The bridge's run documents (details only) against the JSON schemas of the real event-model
 * package (1.24, in .venv), validated by event-model's own validators in Python.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { venvPython } from '../../local/services.js';
import { descriptorOf, streamDatumOf, streamResourceOf } from '../../src/core/event-model/documents.js';
import { runStartOf, runStopOf } from '../../src/core/bliss/run-documents.js';
import { parseScanJson } from '../../src/core/bliss/scan-model.js';
import { parseDtype } from '../../src/core/event-model/dtype.js';

const UID = '01M80KDGXSJDA8HERZJGME1B5Q';
const scan = parseScanJson(`esrf:scan:${UID}`, {
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
  info: {
    title: 'ascan sy 0 1 9 0.1',
    type: 'ascan',
    npoints: 10,
    count_time: 0.1,
    start_time: '2026-11-22T10:00:00+01:00',
    end_time: '2026-11-22T10:00:02+01:00',
    end_reason: 'USER_ABORT',
    plots: [{ kind: 'curve-plot', items: [{ kind: 'curve', x: 'axis:sy', y: 'c:diode1' }] }],
    dataset_metadata_snapshot: { Sample_name: 'gold' },
  },
  state_stream: { pk: 'S' },
  data_streams: {},
});

const documents: Record<string, unknown> = {
  start: runStartOf(scan, 'id00', 1),
  descriptor: descriptorOf(
    UID,
    [
      { name: 'axis:sy', streamPk: 'P1', dtype: parseDtype('<f8'), shape: [], units: 'mm' },
      { name: 'c:diode1', streamPk: 'P2', dtype: parseDtype('|b1'), shape: [] },
      { name: 'mca1:det0', streamPk: 'P3', dtype: parseDtype('<u4'), shape: [1024] },
      { name: 'var:det1', streamPk: 'P4', dtype: parseDtype('<c16'), shape: [null] },
    ],
    1,
  ),
  stream_resource: streamResourceOf('id00', UID, 'bkt', { name: 'mca1:det0', dtype: parseDtype('<u4'), shape: [1024] }),
  stream_datum: streamDatumOf(UID, 'bkt', 'mca1:det0', 0, 64, { key: 'k', bytes: 64 * 4096, sha256: 'c'.repeat(64) }),
  stop: runStopOf(
    scan,
    {
      points: { 'axis:sy': 10 },
      documents: { descriptor: 1, stream_resource: 4, stream_datum: 4 },
      scanInfoRef: { bucket: 'bkt', key: `staging/${UID}/scan_info.json`, bytes: 1, sha256: 'd'.repeat(64) },
    },
    2,
  ),
};

const CHECK = `
import json, sys
from event_model import schema_validators, DocumentNames
docs = json.load(sys.stdin)
bad = {}
for name, doc in docs.items():
    try:
        schema_validators[DocumentNames[name]].validate(doc)
    except Exception as e:
        bad[name] = str(e).splitlines()[0]
print(json.dumps(bad))
`;

describe('bridge documents against event-model 1.24', () => {
  it('RunStart, EventDescriptor, StreamResource, StreamDatum and RunStop are valid event-model documents', () => {
    const out = spawnSync(venvPython, ['-c', CHECK], { input: JSON.stringify(documents), encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout) as Record<string, string>, {});
  });

  it("a StreamDatum of a free-dimension channel (with its chunk's point_shape) is a valid event-model document", () => {
    const datum = streamDatumOf(UID, 'bkt', 'var:det1', 6, 12, { key: 'k', bytes: 6 * 8 * 16, sha256: 'c'.repeat(64) }, undefined, [8]);
    assert.deepEqual(datum.point_shape, [8]);
    const out = spawnSync(venvPython, ['-c', CHECK], { input: JSON.stringify({ stream_datum: datum }), encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout) as Record<string, string>, {});
  });

  it('the check itself catches an invalid document', () => {
    const broken = { ...documents, stop: { ...(documents.stop as object), exit_status: 'finished' } };
    const out = spawnSync(venvPython, ['-c', CHECK], { input: JSON.stringify(broken), encoding: 'utf8' });
    assert.ok('stop' in (JSON.parse(out.stdout) as Record<string, string>));
  });
});
