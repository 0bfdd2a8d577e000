import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidInputError } from '../../src/core/errors.js';
import { checkContiguous, codecOf, decodeEntry, SEAL_ENTRY_ID } from '../../src/core/bliss/stream-decoding.js';
import { parseDtype } from '../../src/core/event-model/dtype.js';
import { parseScanJson } from '../../src/core/bliss/scan-model.js';

const fields = (entries: Record<string, Buffer | string>) =>
  new Map(Object.entries(entries).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v)]));

/** msgpack of [shape, bytes] as msgpack-python packs it (fixarray, positive fixints, bin8/bin16). */
function packShapeAndBytes(shape: number[], bytes: Buffer): Buffer {
  const header = bytes.length < 256 ? Buffer.from([0xc4, bytes.length]) : Buffer.from([0xc5, bytes.length >> 8, bytes.length & 0xff]);
  return Buffer.concat([Buffer.from([0x92, 0x90 | shape.length, ...shape]), header, bytes]);
}

describe('numeric stream decoding', () => {
  const cases: [string, number][] = [
    ['<f8', 8],
    ['<f4', 4],
    ['<f2', 2],
    ['<i2', 2],
    ['<i8', 8],
    ['<u4', 4],
    ['|u1', 1],
    ['|i1', 1],
    ['|b1', 1],
    ['<c16', 16],
    ['<c8', 8],
    ['>f8', 8],
  ];
  for (const [dtype, itemsize] of cases) {
    it(`decodes ${dtype} batches and rejects a payload one byte short`, () => {
      const codec = codecOf('ctr', { type: 'numeric', dtype_str: dtype, shape: [] });
      assert.equal(codec.dtype.itemsize, itemsize);
      const payload = Buffer.alloc(5 * itemsize, 7);
      const out = decodeEntry(codec, '10-1', fields({ payload, len: '5' }));
      assert.deepEqual(out.kind === 'points' && [out.start, out.count, out.bytes.length], [10, 5, 5 * itemsize]);
      assert.throws(
        () => decodeEntry(codec, '10-1', fields({ payload: payload.subarray(1), len: '5' })),
        (e: unknown) => e instanceof InvalidInputError && e.context.stream === 'ctr' && e.context.index === 10,
      );
    });
  }

  it('treats an entry without len as one point', () => {
    const codec = codecOf('x', { type: 'numeric', dtype_str: '<f8', shape: [] });
    const out = decodeEntry(codec, '0-1', fields({ payload: Buffer.alloc(8) }));
    assert.equal(out.kind === 'points' && out.count, 1);
    assert.throws(() => decodeEntry(codec, '0-1', fields({ payload: Buffer.alloc(16) })), /16 bytes, expected 8/);
  });

  it('multiplies by the point shape of spectra', () => {
    const codec = codecOf('mca', { type: 'numeric', dtype_str: '<u4', shape: [16] });
    const out = decodeEntry(codec, '3-1', fields({ payload: Buffer.alloc(2 * 16 * 4), len: '2' }));
    assert.deepEqual(out.kind === 'points' && out.pointShape, [16]);
    assert.throws(() => decodeEntry(codec, '3-1', fields({ payload: Buffer.alloc(2 * 15 * 4), len: '2' })), InvalidInputError);
  });

  it('reads msgpack [shape, bytes] payloads of free-dimension streams', () => {
    const codec = codecOf('var', { type: 'numeric', dtype_str: '<f4', shape: [-1] });
    const data = Buffer.alloc(3 * 20 * 4, 1);
    const out = decodeEntry(codec, '0-1', fields({ payload: packShapeAndBytes([20], data), len: '3' }));
    assert.ok(out.kind === 'points' && out.bytes.equals(data));
    assert.deepEqual(out.kind === 'points' && out.pointShape, [20]);
    assert.throws(
      () => decodeEntry(codec, '0-1', fields({ payload: packShapeAndBytes([20], data).subarray(0, 30), len: '3' })),
      /truncated/,
    );
  });

  it('reads the seal entry', () => {
    const codec = codecOf('x', { type: 'numeric', dtype_str: '<f8', shape: [] });
    assert.deepEqual(decodeEntry(codec, SEAL_ENTRY_ID, fields({ id: '300' })), { kind: 'seal', total: 300 });
  });

  it('rejects dtypes it cannot carry', () => {
    for (const bad of ['<f3', '|O8', '<U8', '<M8', 'float64', '<b2']) {
      assert.throws(() => parseDtype(bad, 's'), InvalidInputError, bad);
    }
    assert.equal(parseDtype('=f8').str, '<f8');
    assert.equal(parseDtype('<u1').str, '|u1');
  });

  it('detects gaps and overlaps', () => {
    assert.doesNotThrow(() => checkContiguous('s', 10, 10));
    assert.throws(
      () => checkContiguous('s', 10, 20),
      (e: unknown) => e instanceof InvalidInputError && /\[10, 20\) are missing/.test(e.message) && e.context.index === 10,
    );
    assert.throws(() => checkContiguous('s', 10, 5), /already received/);
  });
});

describe('scan JSON', () => {
  const good = {
    pk: '01M80KDGXSJDA8HERZJGME1B5Q',
    id: { pk: 'x', name: 'ascan', number: 3, session: 's', proposal: 'p', collection: 'c', dataset: 'd', path: '/x' },
    info: { title: 't' },
    state_stream: { pk: 'S1', encoding: null, info: null },
    data_streams: { 'axis:sy': { pk: 'P1', encoding: { type: 'numeric', dtype_str: '<f8', shape: [] }, info: { unit: 'mm' } } },
  };

  it('parses a blissdata scan document', () => {
    const scan = parseScanJson('esrf:scan:01M80KDGXSJDA8HERZJGME1B5Q', good);
    assert.equal(scan.uid, '01M80KDGXSJDA8HERZJGME1B5Q');
    assert.equal(scan.stateStreamKey, 'esrf:stream:S1');
    assert.equal(scan.streams[0]!.key, 'esrf:stream:P1');
    assert.equal(scan.identity.pk, undefined);
  });

  it('names the scan key and the field when malformed', () => {
    const key = 'esrf:scan:BAD';
    for (const [broken, field] of [
      [{ ...good, id: undefined }, 'id'],
      [{ ...good, id: { ...good.id, number: 'x' } }, 'id.number'],
      [{ ...good, state_stream: {} }, 'state_stream.pk'],
      [{ ...good, data_streams: { a: { pk: 'P', encoding: { type: 'numeric', shape: [] } } } }, 'dtype_str'],
      [{ ...good, data_streams: { a: { pk: 'P', encoding: { type: 'numeric', dtype_str: '<f8', shape: 'x' } } } }, 'shape'],
      ['nope', 'not an object'],
    ] as const) {
      assert.throws(
        () => parseScanJson(key, broken),
        (e: unknown) => e instanceof InvalidInputError && e.message.includes(key) && e.message.includes(field),
        field,
      );
    }
  });
});
