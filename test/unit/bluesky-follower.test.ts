/**
 * BlueskyFollower on in-memory ports (a list of stream entries, a Map as the bucket, a recording
 * bus): what it sends and dead-letters for sequences of documents too costly to build with a real
 * RunEngine. test/integration/bluesky-source.test.ts runs it against real Redis, moto and a RunEngine.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { BlueskyFollower, type BlueskyCheckpoint } from '../../bridge/bluesky-follower.js';
import { MemoryBudget, newStats } from '../../bridge/bridge-stats.js';
import { createLogger } from '../../src/adapters/logger.js';
import { DetailType } from '../../src/core/contract/detail-types.js';
import type { StreamEntry, StreamReader } from '../../src/core/bliss/scan-source.js';
import type { EventPublisher, ObjectStore, OutgoingEvent, StoredObject } from '../../src/core/ports.js';

const STREAM = 'bluesky:documents';

class EntryList implements StreamReader {
  readonly entries: StreamEntry[] = [];
  add(name: string, doc: unknown): string {
    const id = `${this.entries.length + 1}-0`;
    this.entries.push({ id, fields: new Map([['name', Buffer.from(name)], ['doc', Buffer.from(JSON.stringify(doc))]]) });
    return id;
  }
  async read(cursors: ReadonlyMap<string, string>, count: number): Promise<Map<string, StreamEntry[]>> {
    const after = Number((cursors.get(STREAM) ?? '0-0').split('-')[0]);
    const found = this.entries.filter((e) => Number(e.id.split('-')[0]) > after).slice(0, count);
    if (found.length === 0) await new Promise((r) => setTimeout(r, 2));
    return new Map([[STREAM, found]]);
  }
  async close(): Promise<void> {}
}

function memoryStore(): ObjectStore & { objects: Map<string, Buffer> } {
  const objects = new Map<string, Buffer>();
  const unused = async (): Promise<never> => { throw new Error('not used by the follower'); };
  return {
    bucket: 'archive-data', objects,
    async put(key: string, body: Uint8Array | string): Promise<StoredObject> {
      const bytes = Buffer.from(body);
      objects.set(key, bytes);
      return { key, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    },
    get: unused, head: unused, uploadFile: unused, copy: unused, delete: unused,
  };
}

interface FollowOptions {
  chunkPoints?: number;
  /** Checkpoint to start from (a restart). */
  checkpoint?: BlueskyCheckpoint;
  /** Receives the checkpoint as the file would hold it at each save, with the number of events sent by then. */
  onSave?: (cp: BlueskyCheckpoint, sentSoFar: number) => void;
}

/** Runs a follower over `entries` until it is idle; returns what it sent and dead-lettered. */
async function follow(entries: EntryList, options: FollowOptions = {}) {
  const sent: OutgoingEvent[] = [];
  const dead: { event: OutgoingEvent; reason: string }[] = [];
  const publisher: EventPublisher = { async publish(events) { sent.push(...events); return { accepted: events.length, rejected: [] }; } };
  let cp: BlueskyCheckpoint | undefined = options.checkpoint;
  const save = () => { if (cp && options.onSave) options.onSave(structuredClone(cp), sent.length); };
  const store = memoryStore();
  const follower = new BlueskyFollower({
    reader: entries, store, publisher, logger: createLogger('bluesky-follower-test', 'CRITICAL'),
    checkpoint: () => cp, setCheckpoint: (c) => { cp = c; save(); }, saveCheckpoint: save,
    deadLetter: async (event, reason) => { dead.push({ event, reason }); },
    stats: newStats(), budget: new MemoryBudget(1 << 30),
  }, { stream: STREAM, from: '0', policy: { beamline: 'id00' }, chunkPoints: options.chunkPoints ?? 1000, chunkBytes: 1 << 20, readCount: 7, blockMs: 1, maxInflightChunks: 4 });
  const running = follower.run();
  const last = entries.entries.at(-1)!.id;
  for (let i = 0; i < 5000 && !(follower.idle() && follower.status().cursor === last); i++) await new Promise((r) => setTimeout(r, 2));
  follower.stop();
  await running;
  assert.ok(follower.idle(), 'the follower went through every entry and closed every run');
  return { sent, dead, staged: [...store.objects.keys()] };
}

const start = (uid: string) => ({ uid, time: 1795300000, scan_id: 1, plan_name: 'count', proposal: 'p1', dataset: 'd1' });
const descriptor = (run: string, dataKeys: Record<string, unknown>) => ({ uid: `${run}-d`, run_start: run, name: 'primary', time: 1, data_keys: dataKeys });
const event = (run: string, seq: number, data: Record<string, unknown>) => ({ uid: `${run}-e${seq}`, descriptor: `${run}-d`, seq_num: seq, time: 1, data, timestamps: {} });

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
      else entries.add('event_page', { descriptor: `${run}-d`, seq_num: seqs, time: seqs.map(() => 1), uid: seqs.map((q) => `${run}-${q}`), data: { det: seqs.map((q) => q * 0.5), label: seqs.map((q) => `p${q}`) }, timestamps: {} });
    };
    for (const [run, n] of [['ra', 3], ['rb', 1], ['ra', 1], ['rb', 6], ['ra', 7], ['rb', 2], ['ra', 1], ['ra', 5], ['rb', 3], ['ra', 9], ['rb', 9]] as const) add(run, n);
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
        const stopAt = events.findIndex((e) => e.detailType === DetailType.RunStop && (e.detail as { run_start: string }).run_start === run);
        assert.ok(stopAt >= 0, `save ${i}: RunStop of ${run}`);
        for (const channel of ['primary:det', 'primary:label']) {
          const datums = events.slice(0, stopAt).filter((e) => e.detailType === DetailType.StreamDatum).map((e) => e.detail as Datum)
            .filter((d) => d.stream_resource === `${run}/resource/${channel}`);
          const ranges = new Map<string, string>();
          for (const d of datums) {
            const range = `${d.indices.start}-${d.indices.stop}`;
            const chunk = `${d.chunk.key} ${d.chunk.sha256}`;
            assert.equal(ranges.get(range) ?? chunk, chunk, `save ${i}: a re-staged chunk of ${run} ${channel} has the same key and content`);
            ranges.set(range, chunk);
          }
          const expected = Array.from({ length: Math.ceil(counts[run] / 4) }, (_, k) => `${k * 4}-${Math.min(counts[run], k * 4 + 4)}`);
          assert.deepEqual([...ranges.keys()].sort((a, b) => parseInt(a) - parseInt(b)), expected, `save ${i}: ${run} ${channel} chunks before RunStop tile the grid once`);
        }
        const stop = events[stopAt]!.detail as { bliss: { points: Record<string, number> } };
        assert.deepEqual(stop.bliss.points, { 'primary:det': counts[run], 'primary:label': counts[run] }, `save ${i}: RunStop points of ${run}`);
      }
      assert.deepEqual(again.dead, []);
    }
  });

  it('fails a run whose stop document counts more events than the stream carried (events lost before Redis), instead of archiving it truncated', async () => {
    const entries = new EntryList();
    entries.add('start', start('r-short'));
    entries.add('descriptor', descriptor('r-short', { det: { dtype: 'number', shape: [], source: 'x' } }));
    for (let seq = 1; seq <= 3; seq++) entries.add('event', event('r-short', seq, { det: seq }));
    const stop = entries.add('stop', { uid: 'r-short-s', run_start: 'r-short', time: 2, exit_status: 'success', num_events: { primary: 5 } });
    const { sent, dead } = await follow(entries);
    assert.equal(sent.filter((e) => e.detailType === DetailType.RunStop).length, 0, 'no RunStop: the run is not complete');
    const failed = sent.filter((e) => e.detailType === DetailType.RunFailed).map((e) => e.detail as { errors: { message: string; stream?: string; index?: number }[] });
    assert.equal(failed.length, 1);
    assert.match(failed[0]!.errors[0]!.message, /stop document counts 5 events in stream primary, the stream carried 3/);
    assert.deepEqual([failed[0]!.errors[0]!.stream, failed[0]!.errors[0]!.index], ['primary', 3]);
    assert.deepEqual(dead.map((d) => (d.event.detail as { entryId?: string }).entryId), [stop]);
  });

  it('ignores the later events of a failed run: one dead letter (the bad entry), one Run Failed', async () => {
    const entries = new EntryList();
    entries.add('start', start('r-bad'));
    entries.add('descriptor', descriptor('r-bad', { det: { dtype: 'number', shape: [], source: 'x' } }));
    entries.add('event', event('r-bad', 1, { det: 1 }));
    const bad = entries.add('event', event('r-bad', 2, { det: 'not a number' }));
    for (let seq = 3; seq <= 40; seq++) entries.add('event', event('r-bad', seq, { det: seq }));
    entries.add('event_page', { descriptor: 'r-bad-d', seq_num: [41, 42], time: [1, 1], uid: ['a', 'b'], data: { det: [1, 2] }, timestamps: { det: [1, 1] } });
    entries.add('stop', { uid: 'r-bad-s', run_start: 'r-bad', time: 2, exit_status: 'success', num_events: { primary: 42 } });
    const { sent, dead } = await follow(entries);
    assert.deepEqual(dead.map((d) => (d.event.detail as { entryId?: string }).entryId), [bad], dead.map((d) => d.reason).join('\n'));
    assert.equal(sent.filter((e) => e.detailType === DetailType.RunFailed).length, 1);
    assert.equal(sent.filter((e) => e.detailType === DetailType.RunStop).length, 0);
  });

  it('an event without a usable seq_num fails its run with a Run Failed naming the entry', async () => {
    const entries = new EntryList();
    entries.add('start', start('r-seq'));
    entries.add('descriptor', descriptor('r-seq', { det: { dtype: 'number', shape: [], source: 'x' } }));
    const bad = entries.add('event', { uid: 'e1', descriptor: 'r-seq-d', time: 1, data: { det: 1 }, timestamps: {} });
    entries.add('stop', { uid: 'r-seq-s', run_start: 'r-seq', time: 2, exit_status: 'success', num_events: { primary: 1 } });
    const { sent, dead } = await follow(entries);
    assert.deepEqual(dead.map((d) => (d.event.detail as { entryId?: string }).entryId), [bad]);
    const failed = sent.filter((e) => e.detailType === DetailType.RunFailed).map((e) => e.detail as { run_uid: string; errors: { message: string }[] });
    assert.equal(failed.length, 1, 'Run Failed is on the bus');
    assert.match(failed[0]!.errors[0]!.message, new RegExp(`stream entry ${bad}: .*seq_num`));
  });

  it('leaves out a data key that cannot name a staged chunk (control character, too long) and archives the rest of the run', async () => {
    const entries = new EntryList();
    const long = 'k'.repeat(200);
    entries.add('start', start('r-keys'));
    entries.add('descriptor', descriptor('r-keys', { det: { dtype: 'number', shape: [], source: 'x' }, 'bad\u0001key': { dtype: 'number', shape: [], source: 'x' }, [long]: { dtype: 'number', shape: [], source: 'x' }, '../../up': { dtype: 'number', shape: [], source: 'x' } }));
    for (let seq = 1; seq <= 3; seq++) entries.add('event', event('r-keys', seq, { det: seq, 'bad\u0001key': seq, [long]: seq, '../../up': seq }));
    entries.add('stop', { uid: 'r-keys-s', run_start: 'r-keys', time: 2, exit_status: 'success', num_events: { primary: 3 } });
    const { sent, dead, staged } = await follow(entries);
    assert.deepEqual(dead, []);
    assert.deepEqual(sent.filter((e) => e.detailType === DetailType.RunFailed), []);
    const stop = sent.find((e) => e.detailType === DetailType.RunStop)?.detail as { bliss: { points: Record<string, number> }; bluesky: { not_archived: { channel: string; reason: string }[] } } | undefined;
    assert.deepEqual(stop?.bliss.points, { 'primary:det': 3, 'primary:../../up': 3 });
    assert.deepEqual(stop?.bluesky.not_archived.map((n) => n.channel), ['primary:bad\u0001key', `primary:${long}`]);
    assert.match(stop!.bluesky.not_archived[0]!.reason, /control characters/);
    assert.match(stop!.bluesky.not_archived[1]!.reason, /at most 120/);
    assert.equal(staged.length, 2);
    for (const key of staged) assert.match(key, /^staging\/r-keys\/primary_[^/]+\/\d+-\d+\.bin$/, 'each chunk in its own channel folder of the run');
  });

  it('archives an event page of 300000 string points (one JSON line each) on the chunk grid', async () => {
    const entries = new EntryList();
    const n = 300_000;
    entries.add('start', start('r-big'));
    entries.add('descriptor', descriptor('r-big', { label: { dtype: 'string', shape: [], source: 'x' } }));
    entries.add('event_page', {
      descriptor: 'r-big-d', seq_num: Array.from({ length: n }, (_, i) => i + 1), time: Array(n).fill(1), uid: Array.from({ length: n }, (_, i) => `u${i}`),
      data: { label: Array.from({ length: n }, (_, i) => String(i % 7)) }, timestamps: { label: Array(n).fill(1) },
    });
    entries.add('stop', { uid: 'r-big-s', run_start: 'r-big', time: 2, exit_status: 'success', num_events: { primary: n } });
    const { sent, dead } = await follow(entries, { chunkPoints: 100_000 });
    assert.deepEqual(dead, []);
    assert.deepEqual(sent.filter((e) => e.detailType === DetailType.RunFailed), []);
    const datums = sent.filter((e) => e.detailType === DetailType.StreamDatum).map((e) => (e.detail as { indices: { start: number; stop: number } }).indices);
    const grid = 16_384; // --chunk-bytes 1 MiB / 64 bytes a JSON point
    const expected = Array.from({ length: Math.ceil(n / grid) }, (_, k) => [k * grid, Math.min(n, (k + 1) * grid)]);
    assert.deepEqual(datums.map((d) => [d.start, d.stop]).sort((a, b) => a[0]! - b[0]!), expected);
    const stop = sent.find((e) => e.detailType === DetailType.RunStop)?.detail as { bliss: { points: Record<string, number> } } | undefined;
    assert.equal(stop?.bliss.points['primary:label'], n);
  });
});
