import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  blueskyDataPolicyOf,
  blueskyDescriptorOf,
  blueskyRunStartOf,
  blueskyRunStopOf,
  blueskyStreamDatumOf,
  blueskyStreamResourceOf,
  blueskyTitleOf,
  channelsOfDescriptor,
  packJsonLines,
  packPoints,
  parseBlueskyEntry,
  restoreNonFinite,
} from '../../src/core/bluesky/documents.js';
import { BlueskyDocumentError } from '../../src/core/bluesky/errors.js';
import { runSourceKeyOf, runTitleOf } from '../../src/core/bluesky/run-origin.js';
import { ContractError } from '../../src/core/errors.js';
import { primaryDescriptor, RUN, startDoc } from './bluesky-fixtures.js';

const entryOf = (name: string, doc: unknown) =>
  new Map([
    ['name', Buffer.from(name)],
    ['doc', Buffer.from(JSON.stringify(doc))],
  ]);
const policy = { beamline: 'id00' };

describe('Bluesky stream entries', () => {
  it('parses name and JSON doc, restoring tagged non-finite floats', () => {
    const entry = parseBlueskyEntry(
      '5-0',
      entryOf('event', { data: { a: { $float: 'nan' }, b: [1.5, { $float: '-inf' }], c: { $float: 'inf' } } }),
    );
    assert.equal(entry.name, 'event');
    const data = entry.doc.data as { a: number; b: number[]; c: number };
    assert.ok(Number.isNaN(data.a));
    assert.deepEqual(data.b, [1.5, Number.NEGATIVE_INFINITY]);
    assert.equal(data.c, Number.POSITIVE_INFINITY);
    assert.deepEqual(restoreNonFinite({ $float: 'nan', other: 1 }), { $float: 'nan', other: 1 }, 'only the exact tag is decoded');
  });

  it('keeps a key named __proto__ as a key (a data key of that name is not silently dropped)', () => {
    const entry = parseBlueskyEntry(
      '5-1',
      new Map([
        ['name', Buffer.from('descriptor')],
        [
          'doc',
          Buffer.from(
            '{"uid":"d","name":"primary","data_keys":{"__proto__":{"dtype":"number","shape":[]},"det":{"dtype":"number","shape":[]}}}',
          ),
        ],
      ]),
    );
    const dataKeys = entry.doc.data_keys as Record<string, unknown>;
    assert.deepEqual(Object.keys(dataKeys), ['__proto__', 'det']);
    assert.equal(Object.getPrototypeOf(dataKeys), Object.prototype);
    const { channels } = channelsOfDescriptor(entry.doc, { entryId: '5-1', runUid: RUN });
    assert.deepEqual(
      channels.map((c) => c.name),
      ['primary:__proto__', 'primary:det'],
    );
  });

  it('refuses not-JSON, unknown names and missing fields, naming the entry', () => {
    assert.throws(
      () =>
        parseBlueskyEntry(
          '1-0',
          new Map([
            ['name', Buffer.from('event')],
            ['doc', Buffer.from('{oops')],
          ]),
        ),
      (e: Error) => e instanceof BlueskyDocumentError && /1-0: event document is not JSON/.test(e.message),
    );
    assert.throws(() => parseBlueskyEntry('2-0', entryOf('bogus', {})), /2-0: unknown document name "bogus"/);
    assert.throws(() => parseBlueskyEntry('3-0', new Map([['doc', Buffer.from('{}')]])), /3-0 has no "name" field/);
    assert.throws(() => parseBlueskyEntry('4-0', entryOf('start', [1, 2])), /not a JSON object/);
  });
});

describe('Bluesky descriptor → channels', () => {
  const { stream, channels, notArchived } = channelsOfDescriptor(primaryDescriptor, { entryId: '9-0', runUid: RUN });

  it('names numeric keys <stream>/<key> and keeps the original description', () => {
    assert.equal(stream, 'primary');
    assert.deepEqual(
      channels.map((c) => [c.name, c.encoding]),
      [
        ['primary:det', 'numeric'],
        ['primary:motor', 'numeric'],
        ['primary:motor_setpoint', 'numeric'],
        ['primary:spectrum', 'numeric'],
        ['primary:label', 'json'],
      ],
    );
    const motor = channels[1]!;
    assert.deepEqual(motor.dataKey, {
      dtype: 'number',
      dtype_numpy: '<f8',
      shape: [],
      source: 'SIM:motor',
      external: 'STREAM:',
      units: 'mm',
      object_name: 'motor',
      bluesky_key: 'motor',
      precision: 3,
      archived_dtype_numpy: '<f8',
    });
    assert.equal(channels[3]!.dtype.str, '<i4');
    assert.deepEqual(channels[3]!.shape, [3]);
  });

  it('carries string keys as JSON channels (|O8) and lists external data as not archived, with the reason', () => {
    assert.deepEqual(channels[4]!.dataKey, {
      dtype: 'string',
      dtype_numpy: '|O8',
      shape: [],
      source: 'SIM:label',
      external: 'STREAM:',
      object_name: 'label',
      bluesky_key: 'label',
      archived_dtype_numpy: '|O8',
    });
    const integer = channelsOfDescriptor(
      { ...primaryDescriptor, data_keys: { n: { source: 'SIM:n', dtype: 'integer', shape: [], limits: [0, 9] } } },
      { entryId: '9-0', runUid: RUN },
    );
    assert.deepEqual(
      integer.channels[0]!.dataKey,
      {
        source: 'SIM:n',
        dtype: 'integer',
        dtype_numpy: '<f8',
        shape: [],
        limits: [0, 9],
        external: 'STREAM:',
        bluesky_key: 'n',
        archived_dtype_numpy: '<f8',
      },
      'the original dtype and fields are kept; an integer without dtype_numpy is stored as float64',
    );
    assert.deepEqual(notArchived, [{ channel: 'primary:image', reason: 'external data (FILESTORE:) is not carried by the bridge' }]);
    const resource = blueskyStreamResourceOf('id00', RUN, 'bkt', channels[4]!);
    assert.deepEqual(
      [resource.mimetype, resource.parameters],
      ['application/x-beamline-archive-ndjson', { dtype_numpy: '|O8', point_shape: [] }],
    );
    assert.deepEqual(
      packJsonLines(['gold', 'a "quoted"\nline', null]).map((b) => b.toString()),
      ['"gold"\n', '"a \\"quoted\\"\\nline"\n', 'null\n'],
    );
  });

  it('forwards a contract-valid descriptor with renamed data_keys and object_keys', () => {
    const d = blueskyDescriptorOf(RUN, primaryDescriptor, channels, notArchived);
    assert.equal(d.uid, 'desc-primary');
    assert.deepEqual(Object.keys(d.data_keys), [
      'primary:det',
      'primary:motor',
      'primary:motor_setpoint',
      'primary:spectrum',
      'primary:label',
    ]);
    assert.deepEqual(d.object_keys, {
      det: ['primary:det'],
      motor: ['primary:motor', 'primary:motor_setpoint'],
      mca: ['primary:spectrum'],
      label: ['primary:label'],
    });
    assert.deepEqual(d.hints, primaryDescriptor.hints);
    assert.ok(d.configuration);
    assert.equal((d.not_archived as unknown[]).length, 1);
  });

  it('resources and datums point at the run staging folder of the channel, datum keyed by the grid range', () => {
    const resource = blueskyStreamResourceOf('id00', RUN, 'bkt', channels[0]!);
    assert.equal(resource.data_key, 'primary:det');
    assert.match(resource.uri, new RegExp(`^s3://bkt/staging/id00/${RUN}/primary_det~[0-9a-f]{8}/$`));
    const datum = blueskyStreamDatumOf(RUN, 'bkt', 'primary:det', 'desc-primary', 4, 8, { key: 'k', bytes: 32, sha256: 'a'.repeat(64) });
    assert.equal(datum.uid, `${RUN}/resource/primary:det/4-8`);
    assert.equal(datum.descriptor, 'desc-primary');
    assert.deepEqual(datum.seq_nums, { start: 5, stop: 9 });
  });
});

describe('Bluesky values → bytes', () => {
  const ctx = { runUid: RUN, channel: 'primary:x', index: 10, entryId: '1-1' };
  it('packs float64 bit for bit, NaN and null as NaN', () => {
    const values = [0.1, -0 * 1, 5e-324, 1.7976931348623157e308, Number.NaN, null];
    const bytes = packPoints({ name: 'primary:x', dtype: { str: '<f8', kind: 'f', itemsize: 8, byteorder: '<' }, shape: [] }, values, ctx);
    const back = new Float64Array(bytes.buffer, bytes.byteOffset, 6);
    assert.equal(back[0], 0.1);
    assert.ok(Object.is(back[1], -0));
    assert.equal(back[2], 5e-324);
    assert.equal(back[3], 1.7976931348623157e308);
    assert.ok(Number.isNaN(back[4]) && Number.isNaN(back[5]));
  });

  it('packs arrays in C order and checks their shape', () => {
    const dtype = { str: '<i4', kind: 'i', itemsize: 4, byteorder: '<' } as const;
    const bytes = packPoints(
      { name: 'primary:s', dtype, shape: [3] },
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      ctx,
    );
    assert.deepEqual([...new Int32Array(bytes.buffer, bytes.byteOffset, 6)], [1, 2, 3, 4, 5, 6]);
    assert.throws(() => packPoints({ name: 'primary:s', dtype, shape: [3] }, [[1, 2]], ctx), /point 10 .* shape \[3\]/);
    // A descriptor claiming a huge shape: the value is refused for its shape before 8 GiB are allocated.
    const f8 = { str: '<f8', kind: 'f', itemsize: 8, byteorder: '<' } as const;
    assert.throws(
      () => packPoints({ name: 'primary:s', dtype: f8, shape: [2 ** 30] }, [1.5], ctx),
      (e: Error) => e instanceof BlueskyDocumentError && /point 10 .* shape \[1073741824\]/.test(e.message),
    );
  });

  it('refuses values that do not fit, naming run, channel and point', () => {
    const i1 = { str: '|i1', kind: 'i', itemsize: 1, byteorder: '|' } as const;
    assert.throws(
      () => packPoints({ name: 'primary:c', dtype: i1, shape: [] }, [1, 200], ctx),
      (e: Error) => e instanceof BlueskyDocumentError && /run 58bd.*channel primary:c, point 11.*out of range/.test(e.message),
    );
    assert.throws(() => packPoints({ name: 'primary:c', dtype: i1, shape: [] }, [1.5], ctx), /not an integer/);
    assert.throws(() => packPoints({ name: 'primary:c', dtype: i1, shape: [] }, ['x'], ctx), /"x" is not a number/);
    const f4 = { str: '<f4', kind: 'f', itemsize: 4, byteorder: '<' } as const;
    assert.throws(
      () => packPoints({ name: 'primary:f', dtype: f4, shape: [] }, [1.5, 1e39], ctx),
      (e: Error) => e instanceof BlueskyDocumentError && /point 11 .*1e\+39 is out of range for <f4/.test(e.message),
    );
    const f4s = packPoints({ name: 'primary:f', dtype: f4, shape: [] }, [3.4028234663852886e38, Number.NEGATIVE_INFINITY, Number.NaN], ctx);
    const back = new Float32Array(f4s.buffer, f4s.byteOffset, 3);
    assert.equal(back[0], 3.4028234663852886e38, 'the largest float32 is kept');
    assert.equal(back[1], Number.NEGATIVE_INFINITY, 'a real infinity stays one');
    assert.ok(Number.isNaN(back[2]));
  });

  it('refuses an integer beyond 2^53 in an integer channel (JSON.parse has already rounded it) instead of storing a neighbour', () => {
    const i8 = { str: '<i8', kind: 'i', itemsize: 8, byteorder: '<' } as const;
    // 2^53 + 1 as the publisher writes it: JSON.parse gives 2^53, a different int64.
    const parsed = parseBlueskyEntry(
      '1-2',
      new Map([
        ['name', Buffer.from('event')],
        ['doc', Buffer.from('{"data":{"c":9007199254740993}}')],
      ]),
    ).doc;
    const value = (parsed.data as Record<string, unknown>).c;
    assert.throws(
      () => packPoints({ name: 'primary:c', dtype: i8, shape: [] }, [value], ctx),
      (e: Error) => e instanceof BlueskyDocumentError && /point 10 .*beyond 2\^53/.test(e.message),
    );
    assert.throws(
      () => packPoints({ name: 'primary:c', dtype: { str: '<u8', kind: 'u', itemsize: 8, byteorder: '<' }, shape: [] }, [2 ** 60], ctx),
      /beyond 2\^53/,
    );
    const exact = packPoints({ name: 'primary:c', dtype: i8, shape: [] }, [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER], ctx);
    assert.deepEqual([...new BigInt64Array(exact.buffer, exact.byteOffset, 2)], [2n ** 53n - 1n, -(2n ** 53n - 1n)]);
  });
});

describe('Bluesky start and stop → RunStart and RunStop', () => {
  it('RunStart carries md keys, the whole start document, the origin and the data policy from md', () => {
    const start = blueskyRunStartOf(startDoc, { stream: 'bluesky:documents', entryId: '100-0', policy });
    assert.equal(start.uid, RUN);
    assert.equal(start.scan_id, 7);
    assert.equal(start.plan_name, 'scan');
    assert.equal(start.sample, 'silver');
    assert.equal(start.scan_type, 'line');
    assert.deepEqual(start.motors, ['motor']);
    const dotted = blueskyRunStartOf({ ...startDoc, 'odd.key': 1 }, { stream: 'bluesky:documents', entryId: '100-0', policy });
    assert.equal(dotted['odd.key'], undefined, 'keys with a dot stay in bluesky.start only');
    assert.deepEqual(start.bluesky?.start, startDoc);
    assert.equal(start.bluesky?.title, 'scan motor 11');
    assert.equal(start.bliss, undefined);
    assert.deepEqual(start.data_policy, {
      proposal: 'bs123',
      beamline: 'id00',
      session: '20261122',
      collection: 'silver',
      dataset: '0002',
    });
    assert.deepEqual(start.icat, { Sample_name: 'silver' });
    assert.equal(runTitleOf(start), 'scan motor 11');
    assert.equal(runSourceKeyOf(start), 'bluesky:documents#100-0');
  });

  it('data policy falls back on the bridge defaults, md title wins', () => {
    assert.deepEqual(blueskyDataPolicyOf({ uid: 'x' }, { beamline: 'id00', proposal: 'p1', session: 's1' }), {
      proposal: 'p1',
      beamline: 'id00',
      session: 's1',
      collection: 'unknown_collection',
      dataset: 'unknown_dataset',
    });
    assert.equal(blueskyTitleOf({ plan_name: 'count', title: 'my count' }), 'my count');
    assert.deepEqual(
      blueskyDataPolicyOf({ sample: 'gold foil', proposal: '../x', session: 20261122, dataset: '\u0007' }, { beamline: 'id00' }),
      { proposal: '../x', beamline: 'id00', session: '20261122', collection: 'gold foil', dataset: 'unknown_dataset' },
      'names kept as given (the naming rule makes keys of them), nothing visible → default',
    );
  });

  it('a start document without uid or time is refused with the entry id', () => {
    assert.throws(() => blueskyRunStartOf({ time: 1 }, { stream: 's', entryId: '7-0', policy }), /7-0: start document has no uid/);
    assert.throws(() => blueskyRunStartOf({ uid: 'a' }, { stream: 's', entryId: '7-0', policy }), /has no time/);
  });

  it('the contract refuses a RunStart with both origins', () => {
    const start = blueskyRunStartOf(startDoc, { stream: 's', entryId: '1-0', policy });
    return import('../../src/core/contract/validators.js').then(({ validateDetail }) => {
      assert.throws(
        () => validateDetail('RunStart', { ...start, bliss: { scan_key: 'k', identity: { name: 'a', number: 1 }, title: 't' } }),
        ContractError,
      );
      const { bluesky: _b, ...none } = start;
      assert.throws(() => validateDetail('RunStart', none), ContractError);
    });
  });

  it('RunStop keeps exit status, reason and num_events, with the bookkeeping and what was not archived', () => {
    const stop = blueskyRunStopOf(
      RUN,
      {
        uid: 'stop-1',
        run_start: RUN,
        time: 1795325851,
        exit_status: 'abort',
        reason: 'user pressed ctrl-c',
        num_events: { primary: 4, baseline: 1 },
      },
      {
        points: { 'primary:det': 4, 'baseline:motor': 1 },
        documents: { descriptor: 2, stream_resource: 2, stream_datum: 2 },
        notArchived: [{ channel: 'primary:label', reason: 'string' }],
        eventsReceived: { primary: 4, baseline: 1 },
      },
      '200-0',
    );
    assert.equal(stop.uid, 'stop-1');
    assert.equal(stop.exit_status, 'abort');
    assert.equal(stop.reason, 'user pressed ctrl-c');
    assert.deepEqual(stop.num_events, { primary: 4, baseline: 1 });
    assert.deepEqual(stop.bliss.points, { 'primary:det': 4, 'baseline:motor': 1 });
    assert.equal(stop.bliss.end_reason, 'user pressed ctrl-c');
    assert.deepEqual((stop.bluesky as { not_archived: unknown[] }).not_archived, [{ channel: 'primary:label', reason: 'string' }]);
  });
});
