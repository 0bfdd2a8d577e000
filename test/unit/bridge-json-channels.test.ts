/**
 * JSON channels piece by piece: decoding a blissdata JSON entry into an NDJSON line, the documents
 * that describe the channel (checked by the contract's validators), the scan writer's reading of
 * the staged NDJSON chunks (every check a StreamDatum promises), and the JSON channel writer's
 * layout. End to end with blissdata and h5py: test/integration/bridge-json-streams.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeJsonEntry, SEAL_ENTRY_ID } from '../../src/core/bliss/stream-decoding.js';
import { dataKeyOf, descriptorOf, streamDatumOf, streamResourceOf } from '../../src/core/event-model/documents.js';
import { isJsonResource, JSON_CHUNKS_MIMETYPE } from '../../src/core/event-model/resources.js';
import { readJsonChannels } from '../../src/core/archive/json-channels.js';
import { ChunkCoverageError } from '../../src/core/archive/errors.js';
import { InvalidInputError } from '../../src/core/errors.js';
import { jsonWriter } from '../../src/core/nexus/writers/json-writer.js';
import { stagingChunkKey } from '../../src/core/object-keys.js';
import { MemoryObjectStore } from '../../src/adapters/memory/object-store.js';
import type { StreamDatum } from '../../src/core/contract/generated-types.js';

const RUN = '01M80KDGXSJDA8HERZJGME1B5Q';
/** The beamline of the run (its data policy's): its chunks are staged under staging/id21/<run>/. */
const BL = 'id21';
const fields = (payload: Buffer | string, extra: Record<string, string> = {}) =>
  new Map<string, Buffer>([
    ['payload', Buffer.from(payload)],
    ...Object.entries(extra).map(([k, v]) => [k, Buffer.from(v)] as [string, Buffer]),
  ]);

function rejects(fn: () => unknown, message: RegExp, index?: number): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof InvalidInputError, String(error));
    assert.match(error.message, message);
    assert.equal(error.context.stream, 'env:events');
    if (index !== undefined) assert.equal(error.context.index, index);
    return true;
  });
}

describe('JSON stream entries', () => {
  it('become one NDJSON line each, the published text unchanged', () => {
    const decoded = decodeJsonEntry('env:events', '7-1', fields('{"a": [1, 2.50, "é€"], "b": null}'));
    assert.equal(decoded.kind, 'points');
    if (decoded.kind !== 'points') return;
    assert.equal(decoded.start, 7);
    assert.equal(decoded.count, 1);
    assert.deepEqual(decoded.pointShape, []);
    assert.equal(decoded.bytes.toString('utf8'), '{"a": [1, 2.50, "é€"], "b": null}\n');
  });

  it('turns newline whitespace into spaces (escaped newlines in strings stay as they are)', () => {
    const decoded = decodeJsonEntry('env:events', '0-1', fields('{\n"text": "line\\nnext"\n}'));
    assert.equal(decoded.kind === 'points' && decoded.bytes.toString('utf8'), '{ "text": "line\\nnext" }\n');
  });

  it('reads the seal as the total number of points', () => {
    assert.deepEqual(decodeJsonEntry('env:events', SEAL_ENTRY_ID, new Map([['id', Buffer.from('42')]])), { kind: 'seal', total: 42 });
  });

  it('refuses what blissdata never publishes, naming the stream and the index', () => {
    rejects(() => decodeJsonEntry('env:events', '3-1', fields('{"a": ')), /payload of JSON entry 3 is not UTF-8 JSON/, 3);
    rejects(() => decodeJsonEntry('env:events', '4-1', fields(Buffer.from([0x22, 0xff, 0x22]))), /entry 4 is not UTF-8 JSON/, 4);
    rejects(() => decodeJsonEntry('env:events', '5-1', fields('[1]', { len: '2' })), /JSON entry 5 has len 2/, 5);
    rejects(() => decodeJsonEntry('env:events', '6-1', new Map()), /entry 6 has no payload/, 6);
    rejects(() => decodeJsonEntry('env:events', 'x-1', fields('1')), /entry id "x-1" is not <index>-<seq>/);
  });
});

describe('JSON channel documents', () => {
  it('describe the channel as JSON texts: descriptor data key, NDJSON resource, datums as for numeric chunks', () => {
    const spec = { name: 'env:events', streamPk: 'P9', encoding: 'json' as const };
    assert.deepEqual(dataKeyOf(spec), {
      dtype: 'string',
      dtype_numpy: '|O8',
      shape: [],
      source: 'bliss:esrf:stream:P9',
      external: 'STREAM:',
      object_name: 'events',
      bliss_role: 'other',
    });
    descriptorOf(RUN, [spec], 1); // validated against the contract
    const resource = streamResourceOf(BL, RUN, 'bkt', { name: 'env:events', encoding: 'json' });
    assert.equal(resource.mimetype, JSON_CHUNKS_MIMETYPE);
    assert.deepEqual(resource.parameters, { dtype_numpy: '|O8', point_shape: [] });
    assert.equal(isJsonResource(resource), true);
    assert.equal(isJsonResource({ mimetype: 'application/x-beamline-archive-chunks' }), false);
  });
});

describe('reading staged NDJSON chunks', () => {
  async function stage(store: MemoryObjectStore, start: number, stop: number, text: string): Promise<StreamDatum> {
    const stored = await store.put(stagingChunkKey(BL, RUN, 'env:events', start, stop), text);
    return streamDatumOf(RUN, store.bucket, 'env:events', start, stop, stored);
  }
  const resource = streamResourceOf(BL, RUN, 'memory-bucket', { name: 'env:events', encoding: 'json' });

  it('gives one JSON text per point, in index order, empty strings in a declared gap', async () => {
    const store = new MemoryObjectStore();
    const datums = [await stage(store, 4, 6, '{"x": 4}\n[5]\n'), await stage(store, 2, 4, '"two"\nnull\n')];
    const values = await readJsonChannels([resource], new Map([['env:events', datums]]), { 'env:events': 6 }, store, BL, RUN);
    assert.deepEqual(values, { 'env:events': ['', '', '"two"', 'null', '{"x": 4}', '[5]'] });
  });

  const broken: [string, (store: MemoryObjectStore) => Promise<StreamDatum>, RegExp][] = [
    ['a line count that does not match the index range', (s) => stage(s, 0, 3, '1\n2\n'), /holds 2 lines for 3 points/],
    ['a line that is not JSON', (s) => stage(s, 0, 2, '1\n{oops\n'), /line 2 \(point 1\) is not JSON/],
    ['no final newline', (s) => stage(s, 0, 1, '1'), /does not end with a newline/],
    [
      'bytes that changed after the StreamDatum',
      async (s) => {
        const d = await stage(s, 0, 1, '1\n');
        await s.put(d.chunk.key, '2\n');
        return d;
      },
      /does not match the sha256/,
    ],
    [
      'a size other than the StreamDatum says',
      async (s) => ({
        ...(await stage(s, 0, 1, '1\n')),
        chunk: {
          bucket: 'memory-bucket',
          key: stagingChunkKey(BL, RUN, 'env:events', 0, 1),
          bytes: 9,
          sha256: createHash('sha256').update('1\n').digest('hex'),
        },
      }),
      /has 2 bytes, its StreamDatum says 9/,
    ],
    [
      'a key outside the channel folder',
      async (s) => {
        const d = await stage(s, 0, 1, '1\n');
        await s.put('archive/elsewhere.bin', '1\n');
        return { ...d, chunk: { ...d.chunk, key: 'archive/elsewhere.bin' } };
      },
      /is outside staging\//,
    ],
    [
      "a key under another beamline's staging folder for the same run (a hostile bridge's chunk)",
      async (s) => {
        const d = await stage(s, 0, 1, '1\n');
        const foreign = stagingChunkKey('id16b', RUN, 'env:events', 0, 1);
        await s.put(foreign, '1\n');
        return { ...d, chunk: { ...d.chunk, key: foreign } };
      },
      /staging\/id16b\/.* is outside staging\/id21\//,
    ],
  ];
  for (const [what, make, message] of broken) {
    it(`refuses ${what} with a ChunkCoverageError naming run, stream and range`, async () => {
      const store = new MemoryObjectStore();
      const datum = await make(store);
      await assert.rejects(
        readJsonChannels([resource], new Map([['env:events', [datum]]]), { 'env:events': 3 }, store, BL, RUN),
        (error: unknown) => {
          assert.ok(error instanceof ChunkCoverageError, String(error));
          assert.match(error.message, message);
          assert.equal(error.context.runUid, RUN);
          assert.equal(error.errors[0]?.stream, 'env:events');
          return true;
        },
      );
    });
  }

  it('refuses JSON channels larger than the memory bound, naming run and channel (recorded FAILED, not an out-of-memory)', async () => {
    const store = new MemoryObjectStore();
    const datums = [await stage(store, 0, 2, '"aaaa"\n"bbbb"\n'), await stage(store, 2, 3, '"cccc"\n')];
    await assert.rejects(
      readJsonChannels([resource], new Map([['env:events', datums]]), { 'env:events': 3 }, store, BL, RUN, 20),
      (error: unknown) => {
        assert.ok(error instanceof InvalidInputError, String(error));
        assert.match(error.message, /JSON channels hold more than 20 bytes \(at env:events points \[2, 3\)\)/);
        assert.deepEqual([error.context.runUid, error.context.stream, error.context.index], [RUN, 'env:events', 2]);
        return true;
      },
    );
  });

  it('ignores numeric channels', async () => {
    const numeric = streamResourceOf(BL, RUN, 'memory-bucket', {
      name: 'c:diode',
      dtype: { str: '<f8', kind: 'f', itemsize: 8, byteorder: '<' },
      shape: [],
    });
    assert.deepEqual(await readJsonChannels([numeric], new Map(), { 'c:diode': 3 }, new MemoryObjectStore(), BL, RUN), {});
  });
});

describe('JSON channel writer', () => {
  it('lays out an NXcollection and a 1D string dataset with content type, units and missing points', () => {
    const laid = jsonWriter.layout({
      group: '/3.1/instrument/events',
      channel: 'env:events',
      values: ['', '{"a": 1}', '"x"'],
      units: 'K',
      missingPoints: '[0, 1)',
    });
    assert.equal(laid.datasetPath, '/3.1/instrument/events/data');
    assert.deepEqual(laid.nodes, [
      { kind: 'group', path: '/3.1/instrument/events', attrs: { NX_class: 'NXcollection' } },
      {
        kind: 'text',
        path: '/3.1/instrument/events/data',
        value: ['', '{"a": 1}', '"x"'],
        attrs: { content_type: 'application/json', units: 'K', missing_points: '[0, 1)' },
      },
    ]);
  });

  it('writes no dataset for a channel without points', () => {
    const laid = jsonWriter.layout({ group: '/3.1/instrument/events', channel: 'env:events', values: [] });
    assert.equal(laid.datasetPath, undefined);
    assert.equal(laid.nodes.length, 1);
  });

  it('refuses a point that is not JSON, naming the channel and index', () => {
    assert.throws(
      () => jsonWriter.layout({ group: '/g', channel: 'env:events', values: ['1', 'nope'], runUid: RUN }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidInputError);
        assert.match(error.message, /point 1 is not JSON/);
        assert.deepEqual([error.context.stream, error.context.index, error.context.runUid], ['env:events', 1, RUN]);
        return true;
      },
    );
  });
});
