/**
 * Bluesky-origin documents as the bridge forwards them, validated by the real event-model (1.24,
 * in .venv) with its own JSON-schema validators, like test/compat/event-model.test.ts does for BLISS.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { venvPython } from '../../local/services.js';
import {
  blueskyDescriptorOf,
  blueskyRunStartOf,
  blueskyRunStopOf,
  blueskyStreamDatumOf,
  blueskyStreamResourceOf,
  channelsOfDescriptor,
} from '../../src/core/bluesky/documents.js';
import { primaryDescriptor, RUN, startDoc } from './bluesky-fixtures.js';

const { channels, notArchived } = channelsOfDescriptor(primaryDescriptor, { entryId: '1-0', runUid: RUN });
const documents: Record<string, unknown> = {
  start: blueskyRunStartOf(startDoc, { stream: 'bluesky:documents', entryId: '1-0', policy: { beamline: 'id00' } }),
  descriptor: blueskyDescriptorOf(RUN, primaryDescriptor, channels, notArchived),
  stream_resource: blueskyStreamResourceOf('id00', RUN, 'bkt', channels[3]!),
  json_resource: blueskyStreamResourceOf('id00', RUN, 'bkt', channels[4]!),
  stream_datum: blueskyStreamDatumOf(RUN, 'bkt', 'primary:spectrum', 'desc-primary', 0, 4, { key: 'k', bytes: 48, sha256: 'c'.repeat(64) }),
  stop: blueskyRunStopOf(
    RUN,
    { uid: 'stop-1', run_start: RUN, time: 2, exit_status: 'fail', reason: 'motor fault', num_events: { primary: 4 } },
    {
      points: { 'primary:spectrum': 4 },
      documents: { descriptor: 1, stream_resource: 4, stream_datum: 1 },
      notArchived,
      eventsReceived: { primary: 4 },
    },
    '9-0',
  ),
};

const CHECK = `
import json, sys
from event_model import schema_validators, DocumentNames
docs = json.load(sys.stdin)
bad = {}
for name, doc in docs.items():
    try:
        schema_validators[DocumentNames[name.replace("json_", "stream_")]].validate(doc)
    except Exception as e:
        bad[name] = str(e).splitlines()[0]
print(json.dumps(bad))
`;

describe('Bluesky-origin documents against event-model 1.24', () => {
  it('RunStart, EventDescriptor (channel names <stream>:<key>), StreamResource, StreamDatum and RunStop are valid event-model documents', () => {
    const out = spawnSync(venvPython, ['-c', CHECK], { input: JSON.stringify(documents), encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout) as Record<string, string>, {});
  });

  it('the check catches a broken descriptor', () => {
    const broken = { ...documents, descriptor: { ...(documents.descriptor as object), data_keys: { 'primary/det': { dtype: 'number' } } } };
    const out = spawnSync(venvPython, ['-c', CHECK], { input: JSON.stringify(broken), encoding: 'utf8' });
    assert.ok('descriptor' in (JSON.parse(out.stdout) as Record<string, string>));
  });
});
