import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { checkBlueskyCheckpoint, compareStreamIds, predecessor } from '../../bridge/checkpoint/index.js';

describe('Bluesky checkpoint', () => {
  const good = {
    stream: 'bluesky:documents',
    cursor: '1700000000000-3',
    finished: ['r0'],
    runs: {
      r1: {
        startEntry: '1700000000000-1',
        opened: true,
        descriptors: { d1: true },
        channels: { 'primary:det': { committed: 8, datums: 2, chunkPoints: 4 } },
      },
    },
    failed: {
      r0: {
        reason: 'a document of the run cannot be archived: "x" is not a number',
        entryId: '1699999999999-4',
        descriptors: ['d0'],
        pending: {
          firstEntry: '1699999999999-5',
          lastEntry: '1700000000000-0',
          documents: 2,
          byKind: { event: 2 },
          events: 2,
          since: 1700000000000,
        },
      },
    },
  };

  it('accepts a valid record and ignores the record of another stream', () => {
    assert.deepEqual(checkBlueskyCheckpoint(good, 'bluesky:documents'), good);
    assert.equal(checkBlueskyCheckpoint(good, 'other:stream'), undefined);
    assert.equal(checkBlueskyCheckpoint(undefined, 'bluesky:documents'), undefined);
    const { failed: _failed, ...older } = good;
    assert.deepEqual(
      checkBlueskyCheckpoint(older, 'bluesky:documents')?.failed,
      {},
      'a record written before failed runs were kept has none',
    );
  });

  it('refuses a damaged record, naming the file and the run', () => {
    assert.throws(
      () => checkBlueskyCheckpoint({ ...good, cursor: 'x' }, 'bluesky:documents', '/var/cp.json'),
      /\/var\/cp.json: bluesky cursor "x" is not a stream id/,
    );
    const broken = {
      ...good,
      runs: { r1: { ...good.runs.r1, channels: { 'primary:det': { committed: -1, datums: 0, chunkPoints: 4 } } } },
    };
    assert.throws(() => checkBlueskyCheckpoint(broken, 'bluesky:documents'), /run r1 channel primary:det is not a valid progress record/);
    assert.throws(() => checkBlueskyCheckpoint({ ...good, runs: { r2: { opened: true } } }, 'bluesky:documents'), /run r2 is incomplete/);
    assert.throws(
      () => checkBlueskyCheckpoint({ ...good, runs: { r1: { ...good.runs.r1, startEntry: 'x' } } }, 'bluesky:documents', '/var/cp.json'),
      /\/var\/cp.json: bluesky run r1 start entry "x" is not a stream id/,
    );
    assert.throws(
      () => checkBlueskyCheckpoint({ ...good, failed: { r0: { reason: 'x', entryId: '1-0' } } }, 'bluesky:documents', '/var/cp.json'),
      /\/var\/cp.json: bluesky failed run r0 is incomplete/,
    );
    const pending = { ...good.failed.r0.pending, documents: -1 };
    assert.throws(
      () => checkBlueskyCheckpoint({ ...good, failed: { r0: { ...good.failed.r0, pending } } }, 'bluesky:documents'),
      /failed run r0 has a damaged summary of documents not yet dead-lettered/,
    );
  });

  it('re-reads from just before an entry', () => {
    for (const id of ['5-3', '5-0', '1-0', '0-1']) {
      const before = predecessor(id);
      assert.equal(compareStreamIds(before, id), -1, `${before} < ${id}`);
    }
    assert.equal(predecessor('5-3'), '5-2');
    assert.equal(predecessor('5-0'), '4-18446744073709551615');
    assert.equal(predecessor('0-0'), '0-0');
  });
});
