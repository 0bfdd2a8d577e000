// CSV export: number formatting (shortest text that Python float() / float32() read back to the same
// bits), the table layout, left-out array keys, and the registry's request errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildExport, EXPORT_BUILDERS } from '../../src/core/exports/build-export.js';
import { streamTable } from '../../src/core/exports/csv-export.js';
import { readRows } from '../../src/core/exports/column-source.js';
import { ExportRequestError } from '../../src/core/exports/errors.js';
import { textOf, type ExportFormat, type ExportRun } from '../../src/core/exports/model.js';
import { formatFloat32, formatFloat64 } from '../../src/core/exports/number-format.js';
import { exportFileKey } from '../../src/core/object-keys.js';

const OPTIONS = { exportId: 'exp-1', creator: 'beamline-archive test', now: new Date('2026-11-22T10:00:00Z') };
const f64 = (v: number[]) => ({ dtype: '<f8' as const, shape: [v.length], bytes: new Uint8Array(new Float64Array(v).buffer) });
const f32 = (v: number[]) => ({ dtype: '<f4' as const, shape: [v.length], bytes: new Uint8Array(new Float32Array(v).buffer) });
const i8 = (v: bigint[]) => ({ dtype: '<i8' as const, shape: [v.length], bytes: new Uint8Array(new BigInt64Array(v).buffer) });

function run(): ExportRun {
  return {
    uid: 'run-a',
    start: { uid: 'run-a', time: 1_790_000_000 },
    streams: [
      {
        name: 'primary',
        descriptor: {},
        times: new Float64Array([1_790_000_000.25, 1_790_000_001.5]),
        columns: [
          { dataKey: 'motor', array: f64([0.1, -0]) },
          { dataKey: 'det,a', array: f32([0.1, NaN]) },
          { dataKey: 'count', array: i8([2n ** 53n + 1n, -5n]) },
          { dataKey: 'flag', array: { dtype: '|b1', shape: [2], bytes: new Uint8Array([1, 0]) } },
          { dataKey: 'spectrum', array: { dtype: '<u2', shape: [2, 4], bytes: new Uint8Array(16) } },
        ],
      },
    ],
  };
}

describe('number formatting', () => {
  it('float64: shortest round trip, -0.0, nan and ±inf spelled the way Python float() reads them', () => {
    for (const v of [0.1, 1 / 3, 6.02214076e23, 1e-310, Number.MAX_VALUE, -2.5, 1e21, 123456789012345680000]) {
      const text = formatFloat64(v);
      assert.equal(Number(text), v, text);
      assert.ok(text.length <= String(v).length);
    }
    assert.deepEqual([NaN, Infinity, -Infinity, -0].map(formatFloat64), ['nan', 'inf', '-inf', '-0.0']);
  });

  it('float32: the shortest decimal whose float64 rounds to the same float32 bits', () => {
    assert.equal(formatFloat32(Math.fround(0.1)), '0.1');
    assert.equal(formatFloat32(Math.fround(1 / 3)), '0.33333334');
    assert.equal(formatFloat32(Math.fround(16777217)), '16777216');
    const values = new Float32Array(2000);
    let seed = 7;
    for (let i = 0; i < values.length; i += 1) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      values[i] = (seed / 2 ** 31 - 0.5) * 10 ** ((i % 60) - 30);
    }
    values[0] = 3.4028234663852886e38;
    values[1] = 1.401298464324817e-45; // the smallest float32 subnormal
    for (const v of values) {
      const text = formatFloat32(v);
      assert.equal(Math.fround(Number(text)), v, `${text} does not read back as ${v}`);
      assert.ok(text.length <= String(v).length, `${text} is longer than ${String(v)}`);
    }
  });
});

describe('CSV export', () => {
  it('one table per (run, stream): seq_num, time, scalar keys; array keys left out with a note', () => {
    const product = buildExport('csv', [run()], OPTIONS);
    assert.equal(product.files.length, 1);
    const file = product.files[0]!;
    assert.equal(file.kind, 'text');
    assert.equal(file.name, 'run-a_primary.csv');
    const text = file.kind === 'text' ? textOf(file) : '';
    assert.deepEqual(text.split('\r\n'), [
      'seq_num,time,motor,"det,a",count,flag',
      '1,1790000000.25,0.1,0.1,9007199254740993,1',
      '2,1790000001.5,-0.0,nan,-5,0',
      '',
    ]);
    assert.deepEqual(product.notes, ['run-a_primary.csv: array-valued keys left out (one value per cell only): spectrum [4]']);
  });

  it('gives a key with fewer points (interrupted scan) empty cells after its last point, and says so', () => {
    const short = run();
    short.streams[0]!.columns.push({ dataKey: 'short', array: f64([1.5]) });
    const { chunks, short: noted } = streamTable(short, short.streams[0]!);
    const text = [...chunks()].join('');
    assert.deepEqual(
      text.split('\r\n').map((l) => l.split(',').at(-1)),
      ['short', '1.5', '', ''],
    );
    assert.deepEqual(noted, ['short (1 of 2 points)']);
    assert.match(buildExport('csv', [short], OPTIONS).notes.join('\n'), /empty cells after their last point: short \(1 of 2 points\)/);
  });

  it('keeps every header unique when data keys are called seq_num or time (the built-in columns step aside)', () => {
    const clash = run();
    clash.streams[0]!.columns.push(
      { dataKey: 'seq_num', array: f64([7, 8]) },
      { dataKey: 'time', array: f64([9, 10]) },
      { dataKey: '_time', array: f64([11, 12]) },
    );
    const text = [...streamTable(clash, clash.streams[0]!).chunks()].join('');
    const [header, first] = text.split('\r\n').map((l) => l.split(','));
    assert.equal(new Set(header).size, header!.length, header!.join(','));
    assert.deepEqual(header!.slice(0, 2), ['_seq_num', '__time']);
    assert.deepEqual(header!.slice(-3), ['seq_num', 'time', '_time']);
    assert.deepEqual([first![0], ...first!.slice(-3)], ['1', '7', '9', '11']);
  });

  it('streams a table of any size in pieces, a slice of rows at a time: the same text as in one piece', () => {
    const big = run();
    const stream = big.streams[0]!;
    const whole = [...streamTable(big, stream).chunks()];
    assert.equal(whole.length, 1, 'a small table is one piece');
    // One row per slice, a piece as soon as it passes 10 characters: every row its own piece.
    const pieces = [...streamTable(big, stream, { chunkChars: 10, sliceRows: 1 }).chunks()];
    assert.equal(pieces.length, 2, 'a piece closed after each of the 2 rows (the header goes with the first)');
    assert.equal(pieces.join(''), whole[0]);
    // A column read on demand (as from the archived file) gives the same table, reading only the rows asked for.
    const reads: [number, number][] = [];
    const lazy = {
      ...big,
      streams: [
        {
          ...stream,
          columns: stream.columns.map((c) => ({
            ...c,
            array: {
              dtype: c.array.dtype,
              shape: c.array.shape,
              rows: (start: number, stop: number) => {
                reads.push([start, stop]);
                return readRows(c.array, start, stop);
              },
            },
          })),
        },
      ],
    };
    assert.equal([...streamTable(lazy, lazy.streams[0]!, { sliceRows: 1 }).chunks()].join(''), whole[0]);
    assert.ok(reads.length > 0 && reads.every(([a, b]) => b - a === 1), JSON.stringify(reads));
  });

  it('refuses a column whose bytes do not match its shape', () => {
    const bad = run();
    bad.streams[0]!.columns[0] = { dataKey: 'motor', array: { dtype: '<f8', shape: [2], bytes: new Uint8Array(12) } };
    assert.throws(
      () => buildExport('csv', [bad], OPTIONS),
      (e: unknown) => e instanceof ExportRequestError && /run run-a, stream primary: key motor has 12 bytes/.test(e.message),
    );
  });
});

describe('CSV table names', () => {
  it('names a table of a stream or run with unsafe characters so that its published key still ends in .csv', () => {
    const odd = run();
    odd.uid = 'run:a';
    odd.streams[0]!.name = 'scan #2';
    const [file] = buildExport('csv', [odd], OPTIONS).files;
    const key = exportFileKey(OPTIONS.exportId, file!.name);
    assert.equal(key, `exports/${OPTIONS.exportId}/${file!.name}`, 'the file name is already one safe key segment');
    assert.match(file!.name, /^run_a-[0-9a-f]{8}_scan__2-[0-9a-f]{8}\.csv$/);
  });

  it('refuses two tables that would share a file name', () => {
    assert.throws(
      () => buildExport('csv', [run(), run()], OPTIONS),
      (e: unknown) =>
        e instanceof ExportRequestError &&
        e.message.startsWith('two tables would both be named run-a_primary.csv (run run-a requested twice'),
    );
  });
});

describe('export registry', () => {
  it('has a builder for every format', () => {
    assert.deepEqual(Object.keys(EXPORT_BUILDERS).sort(), ['csv', 'nexus', 'nxstxm']);
  });

  it('refuses an unknown format and an empty run list with what to do', () => {
    assert.throws(
      () => buildExport('xlsx' as ExportFormat, [run()], OPTIONS),
      (e: unknown) =>
        e instanceof ExportRequestError &&
        e.message === 'unknown export format "xlsx": use one of nxstxm, nexus, csv' &&
        e.context.format === 'xlsx',
    );
    assert.throws(
      () => buildExport('nexus', [], OPTIONS),
      (e: unknown) => e instanceof ExportRequestError && /at least one run uid/.test(e.message),
    );
  });
});
