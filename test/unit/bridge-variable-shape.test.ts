/**
 * The bridge's side of point shapes that change mid-stream: a ScanFollower reads a scripted scan
 * (the in-memory ScanSource of src/adapters/memory/ serving blissdata's entries: msgpack `[shape, bytes]` payloads, batches,
 * the seal) and stages its chunks into an in-memory store. A new shape cuts the chunk there (as a
 * gap does), every StreamDatum of the free-dimension stream carries its chunk's shape, no datum is
 * accepted before its resource, the checkpoint keeps the current shape, and a follower resumed from
 * the checkpoint at any committed index stages exactly the chunks an uninterrupted one does.
 * End to end with blissdata: test/integration/bridge-json-streams.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryEventBus } from '../../src/adapters/memory/event-bus.js';
import { MemoryObjectStore } from '../../src/adapters/memory/object-store.js';
import { MemoryScanSource } from '../../src/adapters/memory/scan-source.js';
import { createLogger } from '../../src/adapters/logger.js';
import { GAVE_UP } from '../../src/adapters/eventbridge-publisher.js';
import type { StreamEntry } from '../../src/core/bliss/scan-source.js';
import { SEAL_ENTRY_ID } from '../../src/core/bliss/stream-decoding.js';
import type { StreamDatum } from '../../src/core/contract/generated-types.js';
import type { OutgoingEvent } from '../../src/core/ports.js';
import { MemoryBudget, newStats } from '../../bridge/bridge-stats.js';
import type { ScanCheckpoint } from '../../bridge/checkpoint/index.js';
import { ChunkPool } from '../../bridge/chunk-pool.js';
import { ScanFollower } from '../../bridge/scan-follower.js';

const UID = '01M80KDGXSJDA8HERZJGME1B5Q';
const SCAN_KEY = `esrf:scan:${UID}`;
const FREE = 'mca2:free_spectrum';
const DIODE = 'c:diode';

/** msgpack `[shape, bytes]` as blissdata packs a variable-shape payload. */
function msgpack(shape: number[], bytes: Buffer): Buffer {
  const head = [0x92, 0x90 | shape.length, ...shape.flatMap((d) => (d < 0x80 ? [d] : [0xcd, d >> 8, d & 0xff]))];
  const bin = bytes.length < 0x100 ? [0xc4, bytes.length] : [0xc5, bytes.length >> 8, bytes.length & 0xff];
  return Buffer.concat([Buffer.from([...head, ...bin]), bytes]);
}

const u16 = (values: number[]) => Buffer.from(new Uint16Array(values).buffer);
/** Point i of shape [n]: i, i+1, … */
const spectrum = (i: number, n: number) => Array.from({ length: n }, (_, k) => i + k);

/** Entries of the free stream: batches [start, count, shape]. 6 points of [5], 6 of [8], 3 of [2]. */
const BATCHES: [number, number, number][] = [
  [0, 3, 5],
  [3, 3, 5],
  [6, 4, 8],
  [10, 2, 8],
  [12, 3, 2],
];
const POINTS = 15;

function entry(id: string, fields: Record<string, Buffer | string>): StreamEntry {
  return { id, fields: new Map(Object.entries(fields).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v)])) };
}

function scanStreams(batches = BATCHES): Map<string, StreamEntry[]> {
  const points = batches.reduce((n, [, count]) => n + count, 0);
  const free = batches.map(([start, count, n]) => {
    const values = Array.from({ length: count }, (_, p) => spectrum(start + p, n)).flat();
    return entry(`${start}-1`, { payload: msgpack([n], u16(values)), ...(count > 1 ? { len: String(count) } : {}) });
  });
  const diode = [entry('0-1', { payload: Buffer.from(new Float64Array(points).map((_, i) => i / 2).buffer), len: String(points) })];
  const seal = entry(SEAL_ENTRY_ID, { id: String(points) });
  return new Map([
    ['esrf:stream:S1', [entry('1-0', { state: '1' }), entry('2-0', { state: '2' }), entry('3-0', { state: '4' })]],
    ['esrf:stream:P1', [...free, seal]],
    ['esrf:stream:P2', [...diode, seal]],
  ]);
}

const SCAN_JSON = {
  pk: UID,
  id: {
    name: 'ascan',
    number: 5,
    data_policy: 'ESRF',
    session: 'demo',
    proposal: 'ihch123',
    collection: 'sample1',
    dataset: '0001',
    path: '/data/visitor/ihch123/id00/20261122/RAW_DATA/sample1/sample1_0001/sample1_0001.h5',
  },
  info: {
    title: 'ascan',
    type: 'ascan',
    npoints: POINTS,
    start_time: '2026-11-22T10:00:00+01:00',
    end_time: '2026-11-22T10:00:02+01:00',
    end_reason: 'SUCCESS',
  },
  state_stream: { pk: 'S1' },
  data_streams: {
    [FREE]: { pk: 'P1', encoding: { type: 'numeric', dtype_str: '<u2', shape: [-1] } },
    [DIODE]: { pk: 'P2', encoding: { type: 'numeric', dtype_str: '<f8', shape: [] } },
  },
};

/** Accepts every event (in order), refusing `refuse` transiently for its first `times` attempts. */
class RecordingPublisher extends MemoryEventBus {
  constructor(refuse?: (e: OutgoingEvent) => boolean, times = 0) {
    let refusals = 0;
    super({
      refuse: (e) => {
        if (!refuse?.(e) || refusals >= times) return undefined;
        refusals++;
        return { reason: `${GAVE_UP} 3 attempts: ThrottlingException`, transient: true };
      },
    });
  }
  get accepted(): OutgoingEvent[] {
    return this.events;
  }
}

interface Script {
  batches?: [number, number, number][];
  chunkPoints?: number;
  chunkBytes?: number;
  /** The checkpoint flush (the bridge's writes the file). */
  flush?: () => Promise<void>;
}

async function follow(checkpoint: ScanCheckpoint, publisher = new RecordingPublisher(), script: Script = {}) {
  const store = new MemoryObjectStore();
  const follower = new ScanFollower(
    { id: '1-0', scanKey: SCAN_KEY },
    {
      source: new MemoryScanSource({ scans: { [SCAN_KEY]: SCAN_JSON }, streams: scanStreams(script.batches) }),
      store,
      publisher,
      logger: createLogger('test', 'SILENT'),
      checkpoint,
      saveCheckpoint: () => undefined,
      ...(script.flush ? { flushCheckpoint: script.flush } : {}),
      deadLetter: async () => undefined,
      stats: newStats(),
      budget: new MemoryBudget(1 << 30),
      chunks: new ChunkPool(1 << 24),
    },
    {
      beamline: 'id00',
      chunkPoints: script.chunkPoints ?? 4,
      chunkBytes: script.chunkBytes ?? 1 << 20,
      flushIntervalMs: 5,
      readCount: 2,
      maxInflightChunks: 8,
      goneCheckMs: 60_000,
      retryBaseMs: 1,
      retryMaxMs: 5,
    },
  );
  const result = await follower.run();
  const datums = publisher.accepted.filter((e) => e.detailType === 'StreamDatum').map((e) => e.detail as StreamDatum);
  return {
    result,
    store,
    publisher,
    datums,
    of: (channel: string) =>
      datums.filter((d) => d.stream_resource.endsWith(`/${channel}`)).sort((a, b) => a.indices.start - b.indices.start),
  };
}

const fresh = (): ScanCheckpoint => ({ historyId: '1-0', scanKey: SCAN_KEY, opened: false, streams: {} });

describe('bridge: a free-dimension stream whose point shape changes', () => {
  it("cuts the chunk where the shape changes, on the grid otherwise; every datum carries its chunk's shape", async () => {
    const checkpoint = fresh();
    const { result, store, publisher, of } = await follow(checkpoint);
    assert.equal(result, 'stopped');
    const free = of(FREE);
    assert.deepEqual(
      free.map((d) => [d.indices.start, d.indices.stop, d.point_shape]),
      [
        [0, 4, [5]],
        [4, 6, [5]],
        [6, 8, [8]],
        [8, 12, [8]],
        [12, 15, [2]],
      ],
    );
    for (const d of free) {
      const shape = d.point_shape!;
      const expected = Array.from({ length: d.indices.stop - d.indices.start }, (_, p) => spectrum(d.indices.start + p, shape[0]!)).flat();
      assert.deepEqual(Buffer.from(await store.get(d.chunk.key)), u16(expected), `chunk ${d.uid}: the published values`);
    }
    assert.ok(of(DIODE).length > 0 && of(DIODE).every((d) => d.point_shape === undefined), 'a fixed-shape stream: datums as before');
    const resource = publisher.accepted.find(
      (e) => e.detailType === 'StreamResource' && (e.detail as { data_key: string }).data_key === FREE,
    );
    assert.deepEqual(
      (resource?.detail as { parameters: unknown }).parameters,
      { dtype_numpy: '<u2', point_shape: [5] },
      'the resource announces the first shape',
    );
    const stop = publisher.accepted.find((e) => e.detailType === 'RunStop')?.detail as {
      bliss: { points: Record<string, number>; documents: { stream_datum: number } };
    };
    assert.deepEqual(stop.bliss.points, { [FREE]: POINTS, [DIODE]: POINTS });
    assert.equal(stop.bliss.documents.stream_datum, free.length + of(DIODE).length);
    assert.deepEqual(checkpoint.streams[FREE]?.pointShape, [2], 'the checkpoint holds the shape of the last committed chunk');
    assert.equal(publisher.accepted.filter((e) => e.detailType === 'RunFailed').length, 0);
  });

  it('accepts no datum of the stream before its resource, even when the bus refuses the resource for a while', async () => {
    const isFreeResource = (e: OutgoingEvent) => e.detailType === 'StreamResource' && (e.detail as { data_key: string }).data_key === FREE;
    const publisher = new RecordingPublisher(isFreeResource, 3);
    const { result, datums } = await follow(fresh(), publisher);
    assert.equal(result, 'stopped');
    const resourceAt = publisher.accepted.findIndex(isFreeResource);
    const firstDatumAt = publisher.accepted.findIndex(
      (e) => e.detailType === 'StreamDatum' && (e.detail as StreamDatum).stream_resource.endsWith(`/${FREE}`),
    );
    assert.ok(resourceAt >= 0 && resourceAt < firstDatumAt, `resource accepted at ${resourceAt}, first datum at ${firstDatumAt}`);
    assert.equal(datums.filter((d) => d.stream_resource.endsWith(`/${FREE}`)).length, 5);
  });

  it('accepts no datum of a stream before its grid is on disk (a restart with other --chunk-* options cuts the chunks announced)', async () => {
    const checkpoint = fresh();
    const onDisk = new Set<string>();
    // A slow disk: what the checkpoint holds when the write ends is what is on disk.
    const flush = async () => {
      await new Promise((r) => setTimeout(r, 30));
      for (const [name, st] of Object.entries(checkpoint.streams))
        if (st.chunkPoints !== undefined && st.chunkBytes !== undefined) onDisk.add(name);
    };
    const early: string[] = [];
    const publisher = new (class extends RecordingPublisher {
      override async publish(events: readonly OutgoingEvent[]) {
        for (const e of events) {
          const stream = e.detailType === 'StreamDatum' ? (e.detail as StreamDatum).stream_resource.split('/').pop()! : undefined;
          if (stream && !onDisk.has(stream)) early.push(stream);
        }
        return super.publish(events);
      }
    })();
    const { result, datums } = await follow(checkpoint, publisher, { flush });
    assert.equal(result, 'stopped');
    assert.ok(datums.length > 0);
    assert.deepEqual(early, [], "datums accepted before their stream's grid was on disk");
  });

  it('keeps a chunk within --chunk-bytes after the points grow (the grid was fixed by the small first points), the same cuts after a restart', async () => {
    // 4 points of [2] (4 bytes) fix the grid at 256 / 4 = 64 points; then 20 points of [32] (64 bytes): 64 × 64 bytes per chunk
    // unless the bytes cap the chunk too (256 / 64 = 4 points).
    const script: Script = {
      batches: [
        [0, 4, 2],
        [4, 10, 32],
        [14, 10, 32],
      ],
      chunkPoints: 1000,
      chunkBytes: 256,
    };
    const whole = await follow(fresh(), new RecordingPublisher(), script);
    assert.equal(whole.result, 'stopped');
    const free = whole.of(FREE);
    assert.deepEqual(
      free.map((d) => [d.indices.start, d.indices.stop, d.chunk.bytes, d.point_shape]),
      [
        [0, 4, 16, [2]],
        [4, 8, 256, [32]],
        [8, 12, 256, [32]],
        [12, 16, 256, [32]],
        [16, 20, 256, [32]],
        [20, 24, 256, [32]],
      ],
    );
    for (const d of free) {
      const expected = Array.from({ length: d.indices.stop - d.indices.start }, (_, p) =>
        spectrum(d.indices.start + p, d.point_shape![0]!),
      ).flat();
      assert.deepEqual(Buffer.from(await whole.store.get(d.chunk.key)), u16(expected), `chunk ${d.uid}: the published values`);
    }
    for (const [committed, datums] of [
      [4, 1],
      [8, 2],
      [16, 4],
    ] as const) {
      const checkpoint: ScanCheckpoint = {
        historyId: '1-0',
        scanKey: SCAN_KEY,
        opened: true,
        streams: {
          [FREE]: { committed, datums, chunkPoints: 64, pointShape: committed === 4 ? [2] : [32], resource: true, gaps: [] },
          [DIODE]: { committed: 0, datums: 0, chunkPoints: 32, resource: true, gaps: [] },
        },
      };
      // Restarted with another --chunk-bytes: the checkpoint's bytes (fixed with the grid) cut the same chunks.
      const withBytes = structuredClone(checkpoint);
      withBytes.streams[FREE]!.chunkBytes = 256;
      const resumed = await follow(checkpoint, new RecordingPublisher(), script);
      assert.equal(resumed.result, 'stopped', `resumed at ${committed}`);
      assert.deepEqual(
        resumed.of(FREE),
        free.filter((d) => d.indices.start >= committed),
        `resumed at ${committed}: the same datums`,
      );
      const changed = await follow(withBytes, new RecordingPublisher(), { ...script, chunkBytes: 1 << 20 });
      assert.deepEqual(
        changed.of(FREE),
        free.filter((d) => d.indices.start >= committed),
        `resumed at ${committed} with --chunk-bytes changed: the same datums`,
      );
    }
    const recorded = fresh();
    await follow(recorded, new RecordingPublisher(), script);
    assert.equal(recorded.streams[FREE]?.chunkBytes, 256, 'the checkpoint keeps the chunk bytes with the grid');
  });

  it('resumed from the checkpoint at any committed index, stages exactly the chunks an uninterrupted follower stages', async () => {
    const whole = await follow(fresh());
    const all = whole.of(FREE);
    const diode = whole.of(DIODE);
    for (const [committed, datums, shape] of [
      [4, 1, [5]],
      [6, 2, [5]],
      [8, 3, [8]],
      [12, 4, [8]],
    ] as const) {
      // What a SIGKILL after these commits leaves: RunStart, descriptor and resources accepted, the grid and the current shape.
      const checkpoint: ScanCheckpoint = {
        historyId: '1-0',
        scanKey: SCAN_KEY,
        opened: true,
        streams: {
          [FREE]: { committed, datums, chunkPoints: 4, pointShape: [...shape], resource: true, gaps: [] },
          [DIODE]: { committed: 0, datums: 0, chunkPoints: 4, resource: true, gaps: [] },
        },
      };
      const resumed = await follow(checkpoint);
      assert.equal(resumed.result, 'stopped', `resumed at ${committed}`);
      assert.deepEqual(
        resumed.of(FREE),
        all.filter((d) => d.indices.start >= committed),
        `resumed at ${committed}: the same datums (uids, keys, sha256, shapes)`,
      );
      assert.deepEqual(resumed.of(DIODE), diode);
      assert.equal(resumed.publisher.accepted.filter((e) => e.detailType === 'StreamResource').length, 0, 'resources are not sent again');
      assert.deepEqual(checkpoint.streams[FREE]?.pointShape, [2]);
      const stop = resumed.publisher.accepted.find((e) => e.detailType === 'RunStop')?.detail as {
        bliss: { documents: { stream_datum: number } };
      };
      assert.equal(
        stop.bliss.documents.stream_datum,
        all.length + diode.length,
        'RunStop counts every datum, before and after the restart',
      );
    }
  });
});
