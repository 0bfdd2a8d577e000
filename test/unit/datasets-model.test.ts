import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidDatasetNameError, InvalidMetadataValueError } from '../../src/core/datasets/errors.js';
import {
  DatasetState,
  datasetIdOf,
  masterFileKey,
  masterFilePlan,
  missingFields,
  parseDatasetId,
  splitSnapshot,
  validateMetadata,
  validateRef,
  type DatasetRecord,
} from '../../src/core/datasets/model.js';
import { datasetPrefix, safeSegment, scanFileKey } from '../../src/core/object-keys.js';
import { UnknownIcatFieldError } from '../../src/core/icat/definitions.js';

const ref = { proposal: 'ihch123', beamline: 'id00', session: '20261122', collection: 'sample1', dataset: '0001' };

describe('dataset model', () => {
  it('keys a dataset by its names through the one naming rule (as the scan writer names its folder): hostile names join, never refused', () => {
    assert.deepEqual(validateRef(ref), ref);
    for (const odd of ['..', '.x', '-x', 'a/b', 'a#b', 'a b', 'x'.repeat(121), 'a\u0000b', 'échantillon', 'run 1.5']) {
      const key = validateRef({ ...ref, dataset: odd });
      assert.equal(key.dataset, safeSegment(odd), JSON.stringify(odd));
      assert.equal(masterFileKey(key), masterFileKey({ ...ref, dataset: odd }));
      assert.deepEqual(parseDatasetId(datasetIdOf(key)), key, 'the id the archive shows names the same dataset');
      assert.ok(scanFileKey({ ...ref, dataset: odd }, 1).startsWith(datasetPrefix(key)), 'the scan file is in the dataset folder');
    }
    for (const bad of ['', 'x'.repeat(201)]) {
      assert.throws(() => validateRef({ ...ref, dataset: bad }), InvalidDatasetNameError, JSON.stringify(bad));
    }
    assert.deepEqual(parseDatasetId('ihch123/id00/20261122/sample1/0001'), ref);
    assert.deepEqual(parseDatasetId('ihch123/id00/20261122/sample1/run 1.5'), { ...ref, dataset: safeSegment('run 1.5') });
    assert.throws(() => parseDatasetId('a/b/c'), /is not <proposal>/);
  });

  it('validates metadata: ICAT names, string values, archive-maintained fields', () => {
    assert.deepEqual(validateMetadata({ FLUO_i0: '1' }), { FLUO_i0: '1' });
    assert.throws(() => validateMetadata({ FLUO_i0: 1 }), InvalidMetadataValueError);
    assert.throws(() => validateMetadata({ FLUO_i0: ['1'] }), /got an array/);
    assert.throws(() => validateMetadata({ Fluo_i0x: '1' }), UnknownIcatFieldError);
    assert.throws(() => validateMetadata({ endDate: 'x' }), /maintained by the archive/);
    assert.throws(() => validateMetadata([]), InvalidMetadataValueError);
  });

  it('keeps the known snapshot fields and reports the others', () => {
    assert.deepEqual(splitSnapshot({ Sample_name: 's', nope: 'x', definition: 'XRF' }), {
      known: { Sample_name: 's' },
      ignored: ['definition', 'nope'],
    });
  });

  it('lists missing mandatory and technique fields', () => {
    const missing = missingFields({ proposal: 'p', FLUO_i0: '1' }, ['FLUO']);
    assert.deepEqual(missing.mandatory, ['Sample_name', 'datasetName', 'endDate', 'location', 'scanNumber', 'startDate']);
    assert.ok(missing.techniques.FLUO!.includes('FLUO_it') && !missing.techniques.FLUO!.includes('FLUO_i0'));
  });

  it('plans the master file: relative external links per scan, ICAT fields at their paths with units', () => {
    const record: DatasetRecord = {
      ref,
      id: 'x',
      state: DatasetState.Closing,
      origin: 'api',
      techniques: ['FLUO'],
      version: 3,
      startDate: '2026-11-22T09:00:00.000Z',
      closedAt: '2026-11-22T10:00:00.000Z',
      metadata: { FLUO_dwellTime: '0.1', Source_current_start: '200', Sample_name: 'gold', FLUO_scanAxis1: 'sy' },
    };
    const plan = masterFilePlan(
      record,
      [
        { runUid: 'b', scanNumber: 2 },
        { runUid: 'a', scanNumber: 1 },
      ],
      'test',
    );
    assert.equal(masterFileKey(ref), 'archive/ihch123/id00/20261122/sample1/sample1_0001/sample1_0001.h5');
    assert.deepEqual(plan.links, [
      { name: '1.1', file: 'sample1_0001_0001.h5', path: '/1.1' },
      { name: '2.1', file: 'sample1_0001_0002.h5', path: '/2.1' },
    ]);
    assert.equal(plan.fileTime, Date.parse('2026-11-22T10:00:00.000Z') / 1000);
    const at = (path: string) => plan.fields.find((f) => f.path === path);
    assert.deepEqual(at('FLUO/dwellTime'), {
      path: 'FLUO/dwellTime',
      value: 0.1,
      icatName: 'FLUO_dwellTime',
      nexusType: 'NX_NUMBER',
      units: 's',
    });
    assert.equal(at('FLUO/scanAxis_1')?.value, 'sy');
    assert.equal(at('instrument/source/current_start')?.value, 200);
    assert.equal(at('FLUO/measurement/current_start')?.units, 'mA');
    assert.deepEqual(
      plan.groups.slice(0, 3).map((g) => g.path),
      ['FLUO', 'instrument', 'sample'],
    );
    assert.equal(plan.groups.find((g) => g.path === 'instrument/source')?.nxClass, 'NXsource');
  });
});
