import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  dataPolicyOf,
  datasetKeyOf,
  datasetPrefix,
  isSegment,
  MAX_SEGMENT,
  safeSegment,
  scanFileKey,
  stagingChannelPrefix,
  stagingChunkKey,
  stagingRunPrefix,
  stagingScanInfoKey,
  tmpKeyOf,
} from '../../src/core/object-keys.js';
import { InvalidInputError } from '../../src/core/errors.js';

const policy = { proposal: 'ihch123', beamline: 'id00', session: '20261122', collection: 'sample1', dataset: '0001' };

describe('object keys', () => {
  it('lays out scan files by data policy', () => {
    assert.equal(datasetPrefix(policy), 'archive/ihch123/id00/20261122/sample1/sample1_0001/');
    assert.equal(scanFileKey(policy, 3), 'archive/ihch123/id00/20261122/sample1/sample1_0001/sample1_0001_0003.h5');
    assert.equal(tmpKeyOf('a/b.h5'), 'a/b.h5.tmp');
  });

  it('stages chunks under deterministic keys that sort by index', () => {
    const key = stagingChunkKey('id21', '01M80JDTHSB2YF8F4WA7YZ6EZT', 'axis:sy', 0, 1000);
    assert.equal(key, 'staging/id21/01M80JDTHSB2YF8F4WA7YZ6EZT/axis_sy~c645144e/000000000000-000000001000.bin');
    assert.equal(stagingChunkKey('id21', '01M80JDTHSB2YF8F4WA7YZ6EZT', 'axis:sy', 0, 1000), key);
    assert.equal(stagingScanInfoKey('id21', 'R1'), 'staging/id21/R1/scan_info.json');
  });

  it('stages each beamline under its own folder (its bridge role may put there only), by the beamline name the edge uses', () => {
    assert.equal(stagingRunPrefix('id21', 'R1'), 'staging/id21/R1/');
    assert.equal(stagingRunPrefix('ID21', 'R1'), 'staging/id21/R1/', 'lower case, as the bridge source and its role');
    assert.notEqual(stagingChannelPrefix('id21', 'R1', 'c:x'), stagingChannelPrefix('id16b', 'R1', 'c:x'));
    for (const bad of ['', '..', 'id21/../id16b', 'id 21', '-id21', 'a'.repeat(33), 'id21*']) {
      assert.throws(
        () => stagingRunPrefix(bad, 'R1'),
        (error: unknown) => error instanceof InvalidInputError && /is not a beamline name/.test(error.message),
        JSON.stringify(bad),
      );
    }
  });

  for (const hostile of ['..', '.', '../../etc', '/abs/path', 'a/../../b']) {
    it(`keeps ${JSON.stringify(hostile)} inside its folder`, () => {
      let segment: string;
      try {
        segment = safeSegment(hostile, 'collection');
      } catch (error) {
        assert.ok(error instanceof InvalidInputError);
        return;
      }
      assert.ok(!segment.includes('/'), segment);
      assert.ok(!/^\.+$/.test(segment), segment);
      const key = scanFileKey({ ...policy, collection: hostile }, 1);
      assert.ok(key.startsWith('archive/ihch123/id00/20261122/'), key);
      assert.ok(!key.split('/').some((part) => part === '..' || part === '.' || part === ''), key);
    });
  }

  it('refuses only an empty name; control characters, overlong names and dot names get a segment', () => {
    assert.throws(() => safeSegment('', 'session'), /session is empty/);
    assert.throws(() => scanFileKey(policy, -1), /not a non-negative integer/);
    assert.match(safeSegment('bad\nname', 'dataset'), /^bad_name~[0-9a-f]{8}$/);
    assert.match(safeSegment('..', 'collection'), /^_\.~[0-9a-f]{8}$/);
    const long = safeSegment('x'.repeat(500), 'dataset');
    assert.equal(long.length, MAX_SEGMENT);
    assert.match(long, /^x{111}~[0-9a-f]{8}$/);
    assert.notEqual(safeSegment('x'.repeat(500)), safeSegment('x'.repeat(501)), 'cut names keep distinct hashes');
    assert.match(safeSegment('-rf'), /^_rf~[0-9a-f]{8}$/, 'no folder starts with a dash');
  });

  it('is one rule: hostile names map to the same segment every time, and segments map to themselves', () => {
    for (const name of ['a/../b', 'run 1.5', 'échantillon', '試料', 'x'.repeat(200), 'a#b', '.hidden', 'sample1', 'run1.5']) {
      const segment = safeSegment(name);
      assert.ok(isSegment(segment), segment);
      assert.equal(safeSegment(segment), segment, `idempotent for ${name}`);
      assert.ok(!segment.includes('/') && !segment.includes('#') && segment.length <= MAX_SEGMENT, segment);
    }
    assert.equal(safeSegment('run1.5'), 'run1.5');
    assert.deepEqual(datasetKeyOf({ ...policy, collection: 'a/../b', dataset: 'run 1.5' }), {
      ...policy,
      collection: safeSegment('a/../b'),
      dataset: safeSegment('run 1.5'),
    });
    const key = scanFileKey({ ...policy, collection: 'a/../b', dataset: 'run 1.5' }, 7);
    assert.equal(
      key,
      scanFileKey(datasetKeyOf({ ...policy, collection: 'a/../b', dataset: 'run 1.5' }), 7),
      'names and their key give one folder',
    );
    assert.equal(
      key,
      `archive/ihch123/id00/20261122/${safeSegment('a/../b')}/${safeSegment('a/../b')}_${safeSegment('run 1.5')}/${safeSegment('a/../b')}_${safeSegment('run 1.5')}_0007.h5`,
    );
  });

  it('maps different names to different segments, and keeps clean names as they are', () => {
    assert.equal(safeSegment('sample1_0001'), 'sample1_0001');
    const names = ['a:b', 'a_b', 'a;b', 'a b', 'a/b', 'a\\b', 'a:b:', 'a::b'];
    const segments = names.map((n) => safeSegment(n));
    assert.equal(new Set(segments).size, names.length, segments.join(' '));
    assert.equal(safeSegment('a:b'), safeSegment('a:b'), 'deterministic: a re-sent chunk overwrites itself');
    assert.notEqual(stagingChannelPrefix('id21', 'R', 'det:roi'), stagingChannelPrefix('id21', 'R', 'det_roi'));
  });

  it('reads the ESRF data-policy path when there is one', () => {
    const fromPath = dataPolicyOf(
      {
        proposal: 'ignored',
        session: 'demo_session',
        collection: 'c',
        dataset: 'd',
        path: '/data/visitor/ihch123/id00/20261122/RAW_DATA/sample1/sample1_0001/sample1_0001.h5',
      },
      'configured_bl',
    );
    assert.deepEqual(fromPath, policy);
    const fromIdentity = dataPolicyOf({ proposal: 'p1', session: 's1', collection: 'c1', dataset: 'd1' }, 'bm99');
    assert.deepEqual(fromIdentity, { proposal: 'p1', beamline: 'bm99', session: 's1', collection: 'c1', dataset: 'd1' });
  });
});
