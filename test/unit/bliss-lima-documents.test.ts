/**
 * The Lima StreamResource/StreamDatum: valid against the project's contract (validated when built)
 * and against event-model 1.24's own schemas (the real package in .venv, as test/compat/event-model.test.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { venvPython } from '../../local/services.js';
import { limaDatumOf, limaResourceOf } from '../../src/core/bliss/lima-documents.js';
import { isLimaResource } from '../../src/core/event-model/resources.js';
import { parseLimaSaving } from '../../src/core/bliss/lima-files.js';
import { validateDetail } from '../../src/core/contract/validators.js';
import { DetailType } from '../../src/core/contract/detail-types.js';

const UID = '01M80KDGXSJDA8HERZJGME1B5Q';
const saving = parseLimaSaving('pilatus:image', {
  plugin: 'lima',
  dtype: 'uint16',
  shape: [6, 8],
  lima_info: {
    protocol_version: 1,
    frame_per_acquisition: 25,
    file_path: '/data/scan0001/pilatus_%04d.h5',
    data_path: '/entry_0000/measurement/data',
    file_format: 'HDF5',
    file_offset: 0,
    frame_per_file: 10,
  },
});
const folder = 'archive/ihch123/id00/20261122/sample1/sample1_0001/scan0001/';
const resource = limaResourceOf(UID, 'bkt', folder, saving);
const datum = limaDatumOf(UID, 'bkt', 'pilatus:image', { fileNumber: 2, start: 20, stop: 25 }, 0, '/data/scan0001/pilatus_0002.h5', {
  key: `${folder}pilatus_0002.h5`,
  bytes: 4096,
  sha256: 'a'.repeat(64),
});

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

function eventModelProblems(docs: Record<string, unknown>): Record<string, string> {
  const out = spawnSync(venvPython, ['-c', CHECK], { input: JSON.stringify(docs), encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  return JSON.parse(out.stdout) as Record<string, string>;
}

describe('Lima documents', () => {
  it('describe the uploaded files: folder uri, mimetype, data path, frames per file, one datum per file', () => {
    assert.equal(resource.uri, `s3://bkt/${folder}`);
    assert.equal(resource.mimetype, 'application/x-hdf5-lima');
    assert.ok(isLimaResource(resource));
    assert.deepEqual(resource.parameters, {
      dtype_numpy: '<u2',
      point_shape: [6, 8],
      data_path: '/entry_0000/measurement/data',
      frames_per_file: 10,
      frames_per_acquisition: 25,
      file_format: 'HDF5',
      source_file_path: '/data/scan0001/pilatus_%04d.h5',
    });
    assert.equal(datum.uid, `${UID}/resource/pilatus:image/20-25`);
    assert.deepEqual(datum.indices, { start: 20, stop: 25 });
    assert.deepEqual(datum.lima, { file_number: 2, frame_offset: 0, source_path: '/data/scan0001/pilatus_0002.h5' });
  });

  it('the contract refuses a Lima datum without its file reference fields', () => {
    const broken = { ...datum, lima: { file_number: 2 } };
    assert.throws(() => validateDetail(DetailType.StreamDatum, broken), /frame_offset|source_path/);
  });

  it('are valid event-model 1.24 StreamResource and StreamDatum documents', () => {
    assert.deepEqual(eventModelProblems({ stream_resource: resource, stream_datum: datum }), {});
  });

  it('the event-model check itself catches an invalid document', () => {
    const { indices: _drop, ...noIndices } = datum;
    assert.ok('stream_datum' in eventModelProblems({ stream_datum: noIndices }));
  });
});
