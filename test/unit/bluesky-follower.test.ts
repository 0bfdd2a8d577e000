/**
 * BlueskyFollower on the in-memory adapters (src/adapters/memory/: a stream of entries, the bucket,
 * the bus): what it sends and dead-letters for sequences of documents too costly to build with a real
 * RunEngine. test/integration/bluesky-source.test.ts runs it against real Redis, moto and a RunEngine.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { BlueskyFollower, type BlueskyCheckpoint } from '../../bridge/bluesky-follower.js';
import { MemoryBudget, newStats } from '../../bridge/bridge-stats.js';
import { createLogger } from '../../src/adapters/logger.js';
import { DetailType } from '../../src/core/contract/detail-types.js';
import type { StreamEntry } from '../../src/core/bliss/scan-source.js';
import type { OutgoingEvent } from '../../src/core/ports.js';
import { MemoryEventBus } from '../../src/adapters/memory/event-bus.js';
import { MemoryObjectStore } from '../../src/adapters/memory/object-store.js';
import { MemoryStreamReader } from '../../src/adapters/memory/scan-source.js';

const STREAM = 'bluesky:documents';

/** The Redis stream of Bluesky documents, one entry per document (ids `1-0`, `2-0`, …). */
class EntryList extends MemoryStreamReader {
  get entries(): StreamEntry[] {
    return this.streams.get(STREAM) ?? [];
  }
  add(name: string, doc: unknown): string {
    const id = `${this.entries.length + 1}-0`;
    this.append(STREAM, {
      id,
      fields: new Map([
        ['name', Buffer.from(name)],
        ['doc', Buffer.from(JSON.stringify(doc))],
      ]),
    });
    return id;
  }
}

interface FollowOptions {
  chunkPoints?: number;
  /** Checkpoint to start from (a restart). */
  checkpoint?: BlueskyCheckpoint;
  /** Receives the checkpoint as the file would hold it at each save, with the number of events sent and dead letters written by then. */
  onSave?: (cp: BlueskyCheckpoint, sentSoFar: number, deadSoFar: number) => void;
  summaryIntervalMs?: number;
  summaryMaxDocuments?: number;
}

/** Runs a follower over `entries` until it is idle; returns what it sent and dead-lettered. */
async function follow(entries: EntryList, options: FollowOptions = {}) {
  const bus = new MemoryEventBus();
  const sent = bus.events;
  const dead: { event: OutgoingEvent; reason: string }[] = [];
  let cp: BlueskyCheckpoint | undefined = options.checkpoint;
  const save = () => {
    if (cp && options.onSave) options.onSave(structuredClone(cp), sent.length, dead.length);
  };
  const store = new MemoryObjectStore('archive-data');
  const stats = newStats();
  const follower = new BlueskyFollower(
    {
      reader: entries,
      store,
      publisher: bus,
      logger: createLogger('bluesky-follower-test', 'CRITICAL'),
      checkpoint: () => cp,
      setCheckpoint: (c) => {
        cp = c;
        save();
      },
      saveCheckpoint: save,
      deadLetter: async (event, reason) => {
        dead.push({ event, reason });
      },
      stats,
      budget: new MemoryBudget(1 << 30),
    },
    {
      stream: STREAM,
      from: '0',
      policy: { beamline: 'id00' },
      chunkPoints: options.chunkPoints ?? 1000,
      chunkBytes: 1 << 20,
      readCount: 7,
      blockMs: 1,
      maxInflightChunks: 4,
      ...(options.summaryIntervalMs !== undefined ? { summaryIntervalMs: options.summaryIntervalMs } : {}),
      ...(options.summaryMaxDocuments !== undefined ? { summaryMaxDocuments: options.summaryMaxDocuments } : {}),
    },
  );
  const running = follower.run();
  const last = entries.entries.at(-1)!.id;
  for (let i = 0; i < 5000 && !(follower.idle() && follower.status().cursor === last); i++) await new Promise((r) => setTimeout(r, 2));
  follower.stop();
  await running;
  assert.ok(follower.idle(), 'the follower went through every entry and closed every run');
  return { sent, dead, staged: [...store.objects.keys()], status: follower.status(), stats, checkpoint: structuredClone(cp!) };
}

/** What a dead-letter summary of the documents of a failed run carries. */
interface Summary {
  stream: string;
  runUid: string;
  firstEntry: string;
  lastEntry: string;
  documents: number;
  byKind: Record<string, number>;
  events: number;
  runFailure: { reason: string; entryId: string };
}
const summariesOf = (dead: { event: OutgoingEvent; reason: string }[]) =>
  dead.filter((d) => d.event.detailType === 'BlueskyFailedRunDocuments').map((d) => ({ ...(d.event.detail as Summary), reason: d.reason }));
const entryIdsOf = (dead: { event: OutgoingEvent }[]) =>
  dead.filter((d) => d.event.detailType === 'BlueskyStreamEntry').map((d) => (d.event.detail as { entryId: string }).entryId);
const entryNumber = (id: string) => Number(id.split('-')[0]);

const start = (uid: string) => ({ uid, time: 1795300000, scan_id: 1, plan_name: 'count', proposal: 'p1', dataset: 'd1' });
const descriptor = (run: string, dataKeys: Record<string, unknown>) => ({
  uid: `${run}-d`,
  run_start: run,
  name: 'primary',
  time: 1,
  data_keys: dataKeys,
});
const event = (run: string, seq: number, data: Record<string, unknown>) => ({
  uid: `${run}-e${seq}`,
  descriptor: `${run}-d`,
  seq_num: seq,
  time: 1,
  data,
  timestamps: {},
});

describe('BlueskyFollower', () => {
  it('a restart from any checkpoint it saved loses no point, doubles none, and sends RunStop after every chunk of its run', async () => {
    const entries = new EntryList();
    const keys = { det: { dtype: 'number', shape: [], source: 'x' }, label: { dtype: 'string', shape: [], source: 'y' } };
    const counts = { ra: 23, rb: 17 };
    entries.add('start', start('ra'));
    entries.add('descriptor', descriptor('ra', keys));
    entries.add('start', start('rb'));
    entries.add('descriptor', descriptor('rb', keys));
    const next = { ra: 1, rb: 1 };
    const add = (run: 'ra' | 'rb', n: number) => {
      const seqs = Array.from({ length: Math.min(n, counts[run] - next[run] + 1) }, (_, i) => next[run] + i);
      if (seqs.length === 0) return;
      next[run] += seqs.length;
      if (seqs.length === 1) entries.add('event', event(run, seqs[0]!, { det: seqs[0]! * 0.5, label: `p${seqs[0]}` }));
      else
        entries.add('event_page', {
          descriptor: `${run}-d`,
          seq_num: seqs,
          time: seqs.map(() => 1),
          uid: seqs.map((q) => `${run}-${q}`),
          data: { det: seqs.map((q) => q * 0.5), label: seqs.map((q) => `p${q}`) },
          timestamps: {},
        });
    };
    for (const [run, n] of [
      ['ra', 3],
      ['rb', 1],
      ['ra', 1],
      ['rb', 6],
      ['ra', 7],
      ['rb', 2],
      ['ra', 1],
      ['ra', 5],
      ['rb', 3],
      ['ra', 9],
      ['rb', 9],
    ] as const)
      add(run, n);
    entries.add('stop', { uid: 'ra-s', run_start: 'ra', time: 2, exit_status: 'success', num_events: { primary: counts.ra } });
    entries.add('stop', { uid: 'rb-s', run_start: 'rb', time: 2, exit_status: 'success', num_events: { primary: counts.rb } });

    const saves: { cp: BlueskyCheckpoint; sent: number }[] = [];
    const first = await follow(entries, { chunkPoints: 4, onSave: (cp, sent) => saves.push({ cp, sent }) });
    assert.ok(saves.length > 20, `${saves.length} checkpoints saved`);
    type Datum = { stream_resource: string; indices: { start: number; stop: number }; chunk: { key: string; sha256: string } };
    for (const [i, save] of saves.entries()) {
      // SIGKILL right after this save: what was sent up to it is on the bus; a new bridge starts from the file.
      const again = await follow(entries, { chunkPoints: 4, checkpoint: save.cp });
      const events = [...first.sent.slice(0, save.sent), ...again.sent];
      for (const run of ['ra', 'rb'] as const) {
        const stopAt = events.findIndex(
          (e) => e.detailType === DetailType.RunStop && (e.detail as { run_start: string }).run_start === run,
        );
        assert.ok(stopAt >= 0, `save ${i}: RunStop of ${run}`);
        for (const channel of ['primary:det', 'primary:label']) {
          const datums = events
            .slice(0, stopAt)
            .filter((e) => e.detailType === DetailType.StreamDatum)
            .map((e) => e.detail as Datum)
            .filter((d) => d.stream_resource === `${run}/resource/${channel}`);
          const ranges = new Map<string, string>();
          for (const d of datums) {
            const range = `${d.indices.start}-${d.indices.stop}`;
            const chunk = `${d.chunk.key} ${d.chunk.sha256}`;
            assert.equal(
              ranges.get(range) ?? chunk,
              chunk,
              `save ${i}: a re-staged chunk of ${run} ${channel} has the same key and content`,
            );
            ranges.set(range, chunk);
          }
          const expected = Array.from({ length: Math.ceil(counts[run] / 4) }, (_, k) => `${k * 4}-${Math.min(counts[run], k * 4 + 4)}`);
          assert.deepEqual(
            [...ranges.keys()].sort((a, b) => parseInt(a) - parseInt(b)),
            expected,
            `save ${i}: ${run} ${channel} chunks before RunStop tile the grid once`,
          );
        }
        const stop = events[stopAt]!.detail as { bliss: { points: Record<string, number> } };
        assert.deepEqual(
          stop.bliss.points,
          { 'primary:det': counts[run], 'primary:label': counts[run] },
          `save ${i}: RunStop points of ${run}`,
        );
      }
      assert.deepEqual(again.dead, []);
    }
  });

  it('fails a run whose stop document counts more events than the stream carried (events lost before Redis), instead of archiving it truncated', async () => {
    const entries = new EntryList();
    entries.add('start', start('r-short'));
    entries.add('descriptor', descriptor('r-short', { det: { dtype: 'number', shape: [], source: 'x' } }));
    for (let seq = 1; seq <= 3; seq++) entries.add('event', event('r-short', seq, { det: seq }));
    const stop = entries.add('stop', {
      uid: 'r-short-s',
      run_start: 'r-short',
      time: 2,
      exit_status: 'success',
      num_events: { primary: 5 },
    });
    const { sent, dead } = await follow(entries);
    assert.equal(sent.filter((e) => e.detailType === DetailType.RunStop).length, 0, 'no RunStop: the run is not complete');
    const failed = sent
      .filter((e) => e.detailType === DetailType.RunFailed)
      .map((e) => e.detail as { errors: { message: string; stream?: string; index?: number }[] });
    assert.equal(failed.length, 1);
    assert.match(failed[0]!.errors[0]!.message, /stop document counts 5 events in stream primary, the stream carried 3/);
    assert.deepEqual([failed[0]!.errors[0]!.stream, failed[0]!.errors[0]!.index], ['primary', 3]);
    assert.deepEqual(
      dead.map((d) => (d.event.detail as { entryId?: string }).entryId),
      [stop],
    );
  });

  it('summarises the later documents of a failed run in one dead-letter record (run, entry range, counts by kind, why it failed), not one record each', async () => {
    const entries = new EntryList();
    entries.add('start', start('r-bad'));
    entries.add('descriptor', descriptor('r-bad', { det: { dtype: 'number', shape: [], source: 'x' } }));
    entries.add('event', event('r-bad', 1, { det: 1 }));
    const bad = entries.add('event', event('r-bad', 2, { det: 'not a number' }));
    const after = entries.add('event', event('r-bad', 3, { det: 3 }));
    for (let seq = 4; seq <= 40; seq++) entries.add('event', event('r-bad', seq, { det: seq }));
    entries.add('event_page', {
      descriptor: 'r-bad-d',
      seq_num: [41, 42],
      time: [1, 1],
      uid: ['a', 'b'],
      data: { det: [1, 2] },
      timestamps: { det: [1, 1] },
    });
    const stop = entries.add('stop', { uid: 'r-bad-s', run_start: 'r-bad', time: 2, exit_status: 'success', num_events: { primary: 42 } });
    const { sent, dead, status, stats } = await follow(entries);
    assert.deepEqual(entryIdsOf(dead), [bad], 'only the bad entry is dead-lettered on its own');
    assert.equal(sent.filter((e) => e.detailType === DetailType.RunFailed).length, 1);
    assert.equal(sent.filter((e) => e.detailType === DetailType.RunStop).length, 0);
    const summaries = summariesOf(dead);
    assert.equal(summaries.length, 1, dead.map((d) => d.reason).join('\n'));
    const [summary] = summaries;
    assert.deepEqual(
      {
        runUid: summary!.runUid,
        stream: summary!.stream,
        firstEntry: summary!.firstEntry,
        lastEntry: summary!.lastEntry,
        documents: summary!.documents,
        byKind: summary!.byKind,
        events: summary!.events,
        failedAt: summary!.runFailure.entryId,
      },
      {
        runUid: 'r-bad',
        stream: STREAM,
        firstEntry: after,
        lastEntry: stop,
        documents: 40,
        byKind: { event: 38, event_page: 1, stop: 1 },
        events: 40,
        failedAt: bad,
      },
    );
    assert.match(summary!.runFailure.reason, /"not a number"/, 'the summary says why the run failed');
    assert.match(summary!.reason, new RegExp(`40 documents of run r-bad \\(stream entries ${after}\\.\\.${stop}\\)`));
    assert.ok(summary!.reason.length < 600, `a short reason: ${summary!.reason}`);
    assert.equal(status.failedRunDocuments, 40, 'the status counts the documents of failed runs');
    assert.equal(status.deadLetters, 2);
    assert.equal(stats.deadLetters, 2);
  });

  it('after a restart, the documents of a run failed before it are summarised (not dead-lettered one by one as events of an unknown descriptor)', async () => {
    const entries = new EntryList();
    entries.add('start', start('r-old'));
    entries.add('descriptor', descriptor('r-old', { det: { dtype: 'number', shape: [], source: 'x' } }));
    entries.add('event', event('r-old', 1, { det: 1 }));
    const bad = entries.add('event', event('r-old', 2, { det: 'not a number' }));
    const first = await follow(entries);
    assert.deepEqual(entryIdsOf(first.dead), [bad]);
    assert.deepEqual(summariesOf(first.dead), []);
    // The RunEngine went on while the bridge was down: these are in Redis when it comes back.
    const resumedAt = entries.add('event', event('r-old', 3, { det: 3 }));
    for (let seq = 4; seq <= 500; seq++) entries.add('event', event('r-old', seq, { det: seq }));
    entries.add('event_page', {
      descriptor: 'r-old-d',
      seq_num: [501, 502, 503],
      time: [1, 1, 1],
      uid: ['a', 'b', 'c'],
      data: { det: [1, 2, 3] },
      timestamps: {},
    });
    const stop = entries.add('stop', { uid: 'r-old-s', run_start: 'r-old', time: 2, exit_status: 'success', num_events: { primary: 503 } });
    entries.add('start', start('r-next'));
    entries.add('descriptor', descriptor('r-next', { det: { dtype: 'number', shape: [], source: 'x' } }));
    entries.add('event', event('r-next', 1, { det: 1 }));
    entries.add('stop', { uid: 'r-next-s', run_start: 'r-next', time: 2, exit_status: 'success', num_events: { primary: 1 } });
    const again = await follow(entries, { checkpoint: first.checkpoint });
    assert.deepEqual(
      entryIdsOf(again.dead),
      [],
      again.dead
        .slice(0, 3)
        .map((d) => d.reason)
        .join('\n'),
    );
    const summaries = summariesOf(again.dead);
    assert.deepEqual(
      summaries.map((s) => [s.runUid, s.firstEntry, s.lastEntry, s.documents, s.events, s.runFailure.entryId]),
      [['r-old', resumedAt, stop, 500, 501, bad]],
    );
    assert.deepEqual(summaries[0]!.byKind, { event: 498, event_page: 1, stop: 1 });
    assert.equal(again.status.failedRunDocuments, 500);
    assert.equal(again.sent.filter((e) => e.detailType === DetailType.RunStop).length, 1, 'the next run is archived');
  });

  it('a kill at any checkpoint save neither loses nor doubles a document of a failed run in the summaries', async () => {
    const entries = new EntryList();
    entries.add('start', start('r-kill'));
    entries.add('descriptor', descriptor('r-kill', { det: { dtype: 'number', shape: [], source: 'x' } }));
    const bad = entries.add('event', event('r-kill', 1, { det: 'not a number' }));
    for (let seq = 2; seq <= 30; seq++) entries.add('event', event('r-kill', seq, { det: seq }));
    entries.add('stop', { uid: 'r-kill-s', run_start: 'r-kill', time: 2, exit_status: 'success', num_events: { primary: 30 } });
    const saves: { cp: BlueskyCheckpoint; dead: number }[] = [];
    const first = await follow(entries, { summaryMaxDocuments: 8, onSave: (cp, _sent, dead) => saves.push({ cp, dead }) });
    assert.deepEqual(
      summariesOf(first.dead).map((s) => s.documents),
      [8, 8, 8, 6],
    );
    const ids = entries.entries.map((e) => e.id).filter((id) => entryNumber(id) > entryNumber(bad));
    for (const [i, save] of saves.entries()) {
      const again = await follow(entries, { summaryMaxDocuments: 8, checkpoint: save.cp });
      const dead = [...first.dead.slice(0, save.dead), ...again.dead];
      assert.deepEqual(entryIdsOf(dead), [bad], `save ${i}`);
      const covered = summariesOf(dead).flatMap((s) =>
        ids.filter((id) => entryNumber(id) >= entryNumber(s.firstEntry) && entryNumber(id) <= entryNumber(s.lastEntry)),
      );
      assert.deepEqual(covered, ids, `save ${i}: the summaries cover every later entry of the run once`);
      assert.equal(
        summariesOf(dead).reduce((n, s) => n + s.documents, 0),
        ids.length,
        `save ${i}: counted once`,
      );
    }
  });

  it('with a summary interval of 0, writes one summary per failed run per read batch, and the summaries add up', async () => {
    const entries = new EntryList();
    for (const run of ['r-x', 'r-y']) {
      entries.add('start', start(run));
      entries.add('descriptor', descriptor(run, { det: { dtype: 'number', shape: [], source: 'x' } }));
      entries.add('event', event(run, 1, { det: 'bad' }));
    }
    for (let seq = 2; seq <= 20; seq++) for (const run of ['r-x', 'r-y']) entries.add('event', event(run, seq, { det: seq }));
    for (const run of ['r-x', 'r-y'])
      entries.add('stop', { uid: `${run}-s`, run_start: run, time: 2, exit_status: 'success', num_events: { primary: 20 } });
    const { dead } = await follow(entries, { summaryIntervalMs: 0 });
    for (const run of ['r-x', 'r-y']) {
      const summaries = summariesOf(dead).filter((s) => s.runUid === run);
      assert.ok(summaries.length >= 3, `${run}: ${summaries.length} summaries (7 entries a read)`);
      assert.equal(
        summaries.reduce((n, s) => n + s.documents, 0),
        20,
        `${run}: 19 events and the stop`,
      );
      for (const [a, b] of summaries.slice(1).map((s, k) => [summaries[k]!, s] as const))
        assert.ok(entryNumber(a.lastEntry) < entryNumber(b.firstEntry), 'ranges do not overlap');
    }
  });

  it('summarises the documents of a run whose start document was refused instead of dead-lettering each as an orphan', async () => {
    const entries = new EntryList();
    const refused = entries.add('start', { uid: 'r-refused', plan_name: 'count' }); // no time: refused
    const desc = entries.add('descriptor', descriptor('r-refused', { det: { dtype: 'number', shape: [], source: 'x' } }));
    for (let seq = 1; seq <= 25; seq++) entries.add('event', event('r-refused', seq, { det: seq }));
    const stop = entries.add('stop', {
      uid: 'r-refused-s',
      run_start: 'r-refused',
      time: 2,
      exit_status: 'success',
      num_events: { primary: 25 },
    });
    const { dead, sent, status } = await follow(entries);
    assert.deepEqual(entryIdsOf(dead), [refused]);
    assert.deepEqual(sent, [], 'nothing of the run reaches the bus');
    const summaries = summariesOf(dead);
    assert.deepEqual(
      summaries.map((s) => [s.runUid, s.firstEntry, s.lastEntry, s.documents, s.byKind, s.runFailure.entryId]),
      [['r-refused', desc, stop, 27, { descriptor: 1, event: 25, stop: 1 }, refused]],
    );
    assert.match(summaries[0]!.runFailure.reason, /start document .*refused.*has no time/);
    assert.equal(status.failedRunDocuments, 27);
  });

  it('the events of a descriptor that failed its run (a second one for a stream) are summarised, also after a restart, not dead-lettered one by one', async () => {
    const entries = new EntryList();
    const keys = { det: { dtype: 'number', shape: [], source: 'x' } };
    entries.add('start', start('r-two'));
    entries.add('descriptor', descriptor('r-two', keys));
    const second = entries.add('descriptor', { uid: 'r-two-d2', run_start: 'r-two', name: 'primary', time: 1, data_keys: keys });
    const firstLater = entries.add('event', { uid: 'x1', descriptor: 'r-two-d2', seq_num: 1, time: 1, data: { det: 1 }, timestamps: {} });
    for (let seq = 2; seq <= 10; seq++)
      entries.add('event', { uid: `x${seq}`, descriptor: 'r-two-d2', seq_num: seq, time: 1, data: { det: seq }, timestamps: {} });
    const first = await follow(entries);
    assert.deepEqual(
      entryIdsOf(first.dead),
      [second],
      first.dead
        .slice(0, 3)
        .map((d) => d.reason)
        .join('\n'),
    );
    assert.deepEqual(
      summariesOf(first.dead).map((s) => [s.firstEntry, s.documents, s.byKind]),
      [[firstLater, 10, { event: 10 }]],
    );
    // The RunEngine goes on while the bridge is down: the descriptor's events are still the failed run's after a restart.
    const resumedAt = entries.add('event', { uid: 'x11', descriptor: 'r-two-d2', seq_num: 11, time: 1, data: { det: 11 }, timestamps: {} });
    const stop = entries.add('stop', { uid: 'r-two-s', run_start: 'r-two', time: 2, exit_status: 'success', num_events: { primary: 11 } });
    const again = await follow(entries, { checkpoint: first.checkpoint });
    assert.deepEqual(
      entryIdsOf(again.dead),
      [],
      again.dead
        .slice(0, 3)
        .map((d) => d.reason)
        .join('\n'),
    );
    assert.deepEqual(
      summariesOf(again.dead).map((s) => [s.firstEntry, s.lastEntry, s.documents, s.byKind, s.runFailure.entryId]),
      [[resumedAt, stop, 2, { event: 1, stop: 1 }, second]],
    );
  });

  it('an event without a usable seq_num fails its run with a Run Failed naming the entry', async () => {
    const entries = new EntryList();
    entries.add('start', start('r-seq'));
    entries.add('descriptor', descriptor('r-seq', { det: { dtype: 'number', shape: [], source: 'x' } }));
    const bad = entries.add('event', { uid: 'e1', descriptor: 'r-seq-d', time: 1, data: { det: 1 }, timestamps: {} });
    const stop = entries.add('stop', { uid: 'r-seq-s', run_start: 'r-seq', time: 2, exit_status: 'success', num_events: { primary: 1 } });
    const { sent, dead } = await follow(entries);
    assert.deepEqual(entryIdsOf(dead), [bad]);
    assert.deepEqual(
      summariesOf(dead).map((s) => [s.firstEntry, s.lastEntry, s.byKind]),
      [[stop, stop, { stop: 1 }]],
      'the stop of the failed run is summarised',
    );
    const failed = sent
      .filter((e) => e.detailType === DetailType.RunFailed)
      .map((e) => e.detail as { run_uid: string; errors: { message: string }[] });
    assert.equal(failed.length, 1, 'Run Failed is on the bus');
    assert.match(failed[0]!.errors[0]!.message, new RegExp(`stream entry ${bad}: .*seq_num`));
  });

  it('leaves out a data key that cannot name a staged chunk (control character, too long) and archives the rest of the run', async () => {
    const entries = new EntryList();
    const long = 'k'.repeat(200);
    entries.add('start', start('r-keys'));
    entries.add(
      'descriptor',
      descriptor('r-keys', {
        det: { dtype: 'number', shape: [], source: 'x' },
        'bad\u0001key': { dtype: 'number', shape: [], source: 'x' },
        [long]: { dtype: 'number', shape: [], source: 'x' },
        '../../up': { dtype: 'number', shape: [], source: 'x' },
      }),
    );
    for (let seq = 1; seq <= 3; seq++)
      entries.add('event', event('r-keys', seq, { det: seq, 'bad\u0001key': seq, [long]: seq, '../../up': seq }));
    entries.add('stop', { uid: 'r-keys-s', run_start: 'r-keys', time: 2, exit_status: 'success', num_events: { primary: 3 } });
    const { sent, dead, staged } = await follow(entries);
    assert.deepEqual(dead, []);
    assert.deepEqual(
      sent.filter((e) => e.detailType === DetailType.RunFailed),
      [],
    );
    const stop = sent.find((e) => e.detailType === DetailType.RunStop)?.detail as
      { bliss: { points: Record<string, number> }; bluesky: { not_archived: { channel: string; reason: string }[] } } | undefined;
    assert.deepEqual(stop?.bliss.points, { 'primary:det': 3, 'primary:../../up': 3 });
    assert.deepEqual(
      stop?.bluesky.not_archived.map((n) => n.channel),
      ['primary:bad\u0001key', `primary:${long}`],
    );
    assert.match(stop!.bluesky.not_archived[0]!.reason, /cannot be part of a document uid/);
    assert.match(stop!.bluesky.not_archived[1]!.reason, /at most 150 characters/);
    assert.equal(staged.length, 2);
    for (const key of staged)
      assert.match(key, /^staging\/id00\/r-keys\/primary_[^/]+\/\d+-\d+\.bin$/, 'each chunk in its own channel folder of the run');
  });

  it('archives an event page of 300000 string points (one JSON line each) on the chunk grid', async () => {
    const entries = new EntryList();
    const n = 300_000;
    entries.add('start', start('r-big'));
    entries.add('descriptor', descriptor('r-big', { label: { dtype: 'string', shape: [], source: 'x' } }));
    entries.add('event_page', {
      descriptor: 'r-big-d',
      seq_num: Array.from({ length: n }, (_, i) => i + 1),
      time: Array(n).fill(1),
      uid: Array.from({ length: n }, (_, i) => `u${i}`),
      data: { label: Array.from({ length: n }, (_, i) => String(i % 7)) },
      timestamps: { label: Array(n).fill(1) },
    });
    entries.add('stop', { uid: 'r-big-s', run_start: 'r-big', time: 2, exit_status: 'success', num_events: { primary: n } });
    const { sent, dead } = await follow(entries, { chunkPoints: 100_000 });
    assert.deepEqual(dead, []);
    assert.deepEqual(
      sent.filter((e) => e.detailType === DetailType.RunFailed),
      [],
    );
    const datums = sent
      .filter((e) => e.detailType === DetailType.StreamDatum)
      .map((e) => (e.detail as { indices: { start: number; stop: number } }).indices);
    const grid = 16_384; // --chunk-bytes 1 MiB / 64 bytes a JSON point
    const expected = Array.from({ length: Math.ceil(n / grid) }, (_, k) => [k * grid, Math.min(n, (k + 1) * grid)]);
    assert.deepEqual(
      datums.map((d) => [d.start, d.stop]).sort((a, b) => a[0]! - b[0]!),
      expected,
    );
    const stop = sent.find((e) => e.detailType === DetailType.RunStop)?.detail as { bliss: { points: Record<string, number> } } | undefined;
    assert.equal(stop?.bliss.points['primary:label'], n);
  });
});
