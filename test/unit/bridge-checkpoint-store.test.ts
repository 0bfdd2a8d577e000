/**
 * The bridge's checkpoint file (bridge/checkpoint/store.ts) on a real filesystem: atomic
 * replacement, damaged files refused with a message naming what is wrong (never a silent restart
 * from zero), writes coalesced in order, and per-scan / per-stream resume positions kept exactly.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CheckpointError,
  CheckpointStore,
  compareStreamIds,
  emptyCheckpoint,
  loadCheckpoint,
  type BridgeCheckpoint,
  type ScanCheckpoint,
} from '../../bridge/checkpoint/index.js';

const root = mkdtempSync(join(tmpdir(), 'bridge-cp-'));
let n = 0;
const freshPath = () => join(root, `case-${++n}`, 'bridge.json');

function scan(historyId: string, streams: ScanCheckpoint['streams'] = {}): ScanCheckpoint {
  return { historyId, scanKey: `esrf:scan:SCAN${historyId.replace('-', '')}`, opened: true, streams };
}

function sample(): BridgeCheckpoint {
  return {
    version: 1,
    history: '1700000000000-3',
    scans: {
      '1700000000001-0': scan('1700000000001-0', {
        'axis:sy': { committed: 1000, datums: 1, chunkPoints: 1000, gaps: [] },
        'mca1:spectrum': { committed: 480, datums: 3, chunkPoints: 160, pointShape: [7], resource: true, gaps: [{ start: 0, stop: 40 }] },
      }),
      '1700000000002-0': { ...scan('1700000000002-0'), opened: false },
      '1700000000002-1': { ...scan('1700000000002-1'), outcome: 'stopped' },
    },
  };
}

after(() => rmSync(root, { recursive: true, force: true }));

describe('checkpoint store: loading', () => {
  it('a missing file is an empty checkpoint, and the store says it started without one', async () => {
    const path = freshPath();
    assert.deepEqual(loadCheckpoint(path), emptyCheckpoint());
    const store = CheckpointStore.open(path);
    assert.equal(store.origin, 'missing');
    await store.flush();
    assert.equal(CheckpointStore.open(path).origin, 'file');
    assert.equal(CheckpointStore.open(undefined).origin, 'memory');
  });

  it('reads back exactly what it wrote: history, scans, per-stream committed index, grid, shape, gaps', async () => {
    const path = freshPath();
    const store = CheckpointStore.open(path);
    Object.assign(store.data, sample());
    await store.flush();
    assert.equal(store.writes, 1);
    assert.deepEqual(loadCheckpoint(path), sample());
    const resumed = CheckpointStore.open(path);
    assert.equal(resumed.data.scans['1700000000001-0']!.streams['mca1:spectrum']!.committed, 480);
    assert.deepEqual(resumed.data.scans['1700000000001-0']!.streams['mca1:spectrum']!.gaps, [{ start: 0, stop: 40 }]);
    assert.equal(resumed.data.scans['1700000000001-0']!.streams['axis:sy']!.chunkPoints, 1000);
    assert.equal(resumed.data.scans['1700000000002-1']!.outcome, 'stopped');
  });

  it('accepts the history-id-only file of bridge version 0', () => {
    const path = freshPath();
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, '1700000000000-7\n');
    assert.deepEqual(loadCheckpoint(path), { version: 1, history: '1700000000000-7', scans: {} });
  });

  const damaged: [string, string, RegExp][] = [
    ['an empty file', '', /not valid JSON/],
    ['a file truncated mid-write', JSON.stringify(sample()).slice(0, 90), /not valid JSON/],
    ['an unknown version', JSON.stringify({ ...sample(), version: 2 }), /unknown layout \(version 2\)/],
    ['a JSON array', '[]', /unknown layout/],
    ['a history that is not a stream id', JSON.stringify({ ...sample(), history: 'yesterday' }), /history "yesterday" is not a stream id/],
    [
      'a scan filed under another history id',
      JSON.stringify({ version: 1, scans: { '5-0': scan('6-0') } }),
      /scan 5-0 says historyId "6-0"/,
    ],
    [
      'a negative committed index',
      JSON.stringify({ version: 1, scans: { '5-0': scan('5-0', { c: { committed: -1, datums: 0, gaps: [] } }) } }),
      /scan 5-0 stream "c": committed -1 is not a point index/,
    ],
    [
      'a committed index that is text',
      JSON.stringify({ version: 1, scans: { '5-0': scan('5-0', { c: { committed: '12', datums: 0, gaps: [] } as never }) } }),
      /committed "12"/,
    ],
    [
      'a zero chunk grid',
      JSON.stringify({ version: 1, scans: { '5-0': scan('5-0', { c: { committed: 0, datums: 0, chunkPoints: 0, gaps: [] } }) } }),
      /chunkPoints 0/,
    ],
    [
      'a gap beyond committed',
      JSON.stringify({ version: 1, scans: { '5-0': scan('5-0', { c: { committed: 10, datums: 0, gaps: [{ start: 5, stop: 20 }] } }) } }),
      /gaps are not ranges below committed/,
    ],
    ['an unknown outcome', JSON.stringify({ version: 1, scans: { '5-0': { ...scan('5-0'), outcome: 'maybe' } } }), /outcome "maybe"/],
  ];
  for (const [what, text, message] of damaged) {
    it(`refuses ${what} with a CheckpointError naming the file (never restarts from zero)`, () => {
      const path = freshPath();
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, text);
      assert.throws(
        () => loadCheckpoint(path),
        (error: unknown) => {
          assert.ok(error instanceof CheckpointError, String(error));
          assert.equal(error.name, 'CheckpointError');
          assert.match(error.message, message);
          assert.ok(error.message.includes(path), error.message);
          return true;
        },
      );
      assert.throws(() => CheckpointStore.open(path), CheckpointError);
      assert.equal(readFileSync(path, 'utf8'), text, 'the damaged file is left as it was for a person to look at');
    });
  }

  it('a read error other than a missing file is raised, not taken as an empty checkpoint', () => {
    const path = freshPath();
    mkdirSync(path, { recursive: true }); // a directory where the file should be: EISDIR
    assert.throws(
      () => loadCheckpoint(path),
      (error: unknown) => (error as NodeJS.ErrnoException).code === 'EISDIR',
    );
  });
});

describe('checkpoint store: writing', () => {
  it('replaces the file atomically: a leftover .tmp from a killed write is ignored and the last complete version wins', async () => {
    const path = freshPath();
    const store = CheckpointStore.open(path);
    Object.assign(store.data, sample());
    await store.flush();
    // A SIGKILL during the next write leaves a partial .tmp next to the complete file.
    writeFileSync(`${path}.tmp`, '{"version":1,"scans":{"17000');
    assert.deepEqual(loadCheckpoint(path), sample());
    // The next write replaces the .tmp and leaves none behind.
    const reopened = CheckpointStore.open(path);
    reopened.data.history = '1700000000001-0';
    await reopened.flush();
    assert.equal(existsSync(`${path}.tmp`), false);
    assert.equal(loadCheckpoint(path).history, '1700000000001-0');
  });

  it('coalesces changes made during a write and writes them in order: the file always ends at the latest state', async () => {
    const path = freshPath();
    const store = CheckpointStore.open(path);
    const s = scan('1700000000005-0', { c: { committed: 0, datums: 0, chunkPoints: 10, gaps: [] } });
    store.data.scans[s.historyId] = s;
    const seen: number[] = [];
    for (let i = 1; i <= 200; i++) {
      s.streams.c!.committed = i * 10;
      s.streams.c!.datums = i;
      store.touch();
      if (i % 20 === 0) {
        await new Promise((r) => setImmediate(r));
        if (existsSync(path)) seen.push(loadCheckpoint(path).scans[s.historyId]!.streams.c!.committed);
      }
    }
    await store.flush();
    const final = loadCheckpoint(path).scans[s.historyId]!.streams.c!;
    assert.deepEqual(final, { committed: 2000, datums: 200, chunkPoints: 10, gaps: [] });
    assert.ok(store.writes >= 1 && store.writes < 200, `writes coalesced: ${store.writes}`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `the file never goes back: ${seen.join(',')}`);
  });

  it('flush() resolves only once every change made before it is on disk', async () => {
    const path = freshPath();
    const store = CheckpointStore.open(path);
    store.data.history = '1-0';
    store.touch();
    store.data.history = '2-0';
    const flushed = store.flush();
    store.data.history = '3-0'; // made after the call: may or may not be in this write, but is never lost
    await flushed;
    assert.ok(['2-0', '3-0'].includes(loadCheckpoint(path).history!));
    await store.flush();
    assert.equal(loadCheckpoint(path).history, '3-0');
  });

  it('reports a failed write, keeps the change and writes it once the disk accepts it again', async () => {
    const path = freshPath();
    const errors: unknown[] = [];
    const store = CheckpointStore.open(path, (error) => errors.push(error));
    mkdirSync(`${path}.tmp`); // the temporary file cannot be created: EISDIR
    store.data.history = '9-0';
    store.touch();
    while (errors.length === 0) await new Promise((r) => setTimeout(r, 20));
    assert.match(store.lastError ?? '', /EISDIR/);
    assert.equal(existsSync(path), false, 'nothing half-written');
    rmSync(`${path}.tmp`, { recursive: true });
    await store.flush();
    assert.equal(store.lastError, undefined);
    assert.equal(loadCheckpoint(path).history, '9-0');
  });

  it('keeps each scan and each stream at its own resume position', async () => {
    const path = freshPath();
    const store = CheckpointStore.open(path);
    const a = scan('1700000000010-0', { x: { committed: 0, datums: 0, gaps: [] }, y: { committed: 0, datums: 0, gaps: [] } });
    const b = scan('1700000000011-0', { x: { committed: 0, datums: 0, gaps: [] } });
    store.data.scans[a.historyId] = a;
    store.data.scans[b.historyId] = b;
    a.streams.x!.committed = 300;
    a.streams.y!.committed = 100;
    b.streams.x!.committed = 7;
    store.touch();
    await store.flush();
    const back = loadCheckpoint(path);
    assert.equal(back.scans[a.historyId]!.streams.x!.committed, 300);
    assert.equal(back.scans[a.historyId]!.streams.y!.committed, 100);
    assert.equal(back.scans[b.historyId]!.streams.x!.committed, 7);
  });

  it('without a path it keeps the checkpoint in memory only', async () => {
    const store = CheckpointStore.open(undefined);
    store.data.history = '1-0';
    await store.flush();
    assert.equal(store.writes, 0);
    assert.equal(store.data.history, '1-0');
  });
});

describe('stream id order', () => {
  it('compares <ms>-<seq> numerically, beyond 2^53', () => {
    assert.equal(compareStreamIds('2-0', '10-0'), -1);
    assert.equal(compareStreamIds('10-2', '10-10'), -1);
    assert.equal(compareStreamIds('10-10', '10-10'), 0);
    assert.equal(compareStreamIds('18446744073709551615-0', '18446744073709551614-9'), 1);
  });
});
