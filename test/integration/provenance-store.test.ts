/** The DynamoDB provenance store against the emulator: edges written with the record, repaired on redelivery. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.js';
import { CHILD_PREFIX, DynamoDbProvenanceStore, PARENT_PREFIX, provPk } from '../../src/adapters/dynamodb-provenance-store.js';
import { ProvenanceConflictError } from '../../src/core/provenance/errors.js';
import type { ProvenanceRecord } from '../../src/core/provenance/model.js';

function recordOf(entity: string, parents: string[], outputs: number, activity = `${entity}/activity`): ProvenanceRecord {
  return {
    entity,
    activity_uid: activity,
    parents,
    inputs: [{ uri: 's3://bucket/in.h5', sha256: 'a'.repeat(64) }],
    outputs: Array.from({ length: outputs }, (_, i) => ({
      uri: `s3://bucket/out/${entity.replace(/\W/g, '_')}/${i}.npy`,
      sha256: 'b'.repeat(64),
    })),
    software: { name: 'test', version: '1', repository: 'https://example.org/test.git' },
    parameters: {},
    agent: { name: 'tester' },
    started_at: '2026-11-22T09:00:00Z',
    ended_at: '2026-11-22T09:00:01Z',
    recorded_at: '2026-11-22T09:00:02Z',
  };
}

describe('provenance store (moto)', () => {
  let env: LocalEnvironment;
  let store: DynamoDbProvenanceStore;

  before(async () => {
    env = await startLocalEnvironment({ redis: false });
    store = new DynamoDbProvenanceStore(env.clients.dynamo, env.resources.table.name, env.resources.bucket.name);
  });
  after(async () => {
    await env?.stop();
  });

  it('writes the record, its parent edges and its output edges together', async () => {
    const record = recordOf('run:derived-1', ['run:raw-1', 'run:raw-2'], 3);
    assert.equal(await store.put(record), 'stored');
    assert.deepEqual((await store.parentsOf('run:derived-1')).sort(), ['run:raw-1', 'run:raw-2']);
    assert.deepEqual(await store.childrenOf('run:raw-1'), ['run:derived-1']);
    const outputs = (await store.childrenOf('run:derived-1')).sort();
    assert.deepEqual(outputs, record.outputs.map((o) => `file:${o.uri}`).sort());
    for (const output of outputs) assert.deepEqual(await store.parentsOf(output), ['run:derived-1']);
  });

  it('a redelivered record puts back output edges lost between the record and the edges', async () => {
    const record = recordOf('run:derived-2', ['run:raw-1'], 2);
    assert.equal(await store.put(record), 'stored');
    const lost = `file:${record.outputs[1]!.uri}`;
    // What a crash after the record but before the edges leaves behind: the record without an output edge.
    await env.clients.dynamo.send(
      new DeleteCommand({ TableName: env.resources.table.name, Key: { pk: provPk('run:derived-2'), sk: `${CHILD_PREFIX}${lost}` } }),
    );
    await env.clients.dynamo.send(
      new DeleteCommand({ TableName: env.resources.table.name, Key: { pk: provPk(lost), sk: `${PARENT_PREFIX}run:derived-2` } }),
    );
    assert.equal((await store.childrenOf('run:derived-2')).length, 1);
    assert.equal(await store.put(record), 'duplicate');
    assert.equal((await store.childrenOf('run:derived-2')).length, 2);
    assert.deepEqual(await store.parentsOf(lost), ['run:derived-2']);
  });

  it('a record with more edges than one transaction holds gets every one of them', async () => {
    const record = recordOf('run:derived-3', ['run:raw-1', 'run:raw-2', 'run:raw-3'], 80);
    assert.equal(await store.put(record), 'stored');
    assert.equal((await store.childrenOf('run:derived-3')).length, 80);
    assert.equal((await store.parentsOf('run:derived-3')).length, 3);
  });

  it('refuses a different record for an entity that already has one, and writes none of its edges', async () => {
    const other = recordOf('run:derived-1', ['run:raw-3'], 1, 'another-activity');
    await assert.rejects(
      store.put(other),
      (e: unknown) =>
        e instanceof ProvenanceConflictError && /already has a provenance record \(activity run:derived-1\/activity\)/.test(e.message),
    );
    assert.deepEqual(await store.childrenOf('run:raw-3'), ['run:derived-3']);
    assert.equal((await store.childrenOf('run:derived-1')).length, 3);
  });
});
