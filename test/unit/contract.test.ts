import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderContractTypes } from '../../src/core/contract/codegen.js';
import { DetailType, schemaSlugs } from '../../src/core/contract/detail-types.js';
import { eventsDir, loadJson, samplePath } from '../../src/core/contract/schema-files.js';
import { validateDetail, validateEvent } from '../../src/core/contract/validators.js';
import { ContractError } from '../../src/core/errors.js';
import { fileURLToPath } from 'node:url';

const generatedFile = fileURLToPath(new URL('../../src/core/contract/generated-types.ts', import.meta.url));

describe('events/ contract', () => {
  it('has exactly one schema and one sample per detail-type', () => {
    const schemas = readdirSync(join(eventsDir, 'schemas'))
      .map((f) => f.replace('.schema.json', ''))
      .sort();
    const samples = readdirSync(join(eventsDir, 'samples'))
      .map((f) => f.replace('.json', ''))
      .sort();
    const expected = Object.values(schemaSlugs).sort();
    assert.deepEqual(schemas, expected);
    assert.deepEqual(samples, expected);
  });

  it('generated TypeScript types match the schemas (run `npm run generate` after editing a schema)', async () => {
    assert.equal(readFileSync(generatedFile, 'utf8'), await renderContractTypes());
  });

  for (const [detailType, slug] of Object.entries(schemaSlugs)) {
    it(`sample ${slug}.json is a valid ${detailType} event`, () => {
      const sample = loadJson(samplePath(slug)) as { 'detail-type': string };
      assert.equal(sample['detail-type'], detailType);
      assert.equal(validateEvent(sample)['detail-type'], detailType);
    });
  }

  it('rejects an unknown detail-type with a readable error', () => {
    assert.throws(
      () => validateEvent({ source: 'x', 'detail-type': 'Nope', detail: {} }),
      (e: unknown) => e instanceof ContractError && /unknown detail-type "Nope"/.test(e.message),
    );
  });

  it('rejects a RunStop missing its completeness counts and names the field', () => {
    const sample = loadJson(samplePath('run-stop')) as { detail: { bliss: Record<string, unknown> } };
    delete sample.detail.bliss.documents;
    assert.throws(
      () => validateEvent(sample),
      (e: unknown) => e instanceof ContractError && /\/detail\/bliss must have required property 'documents'/.test(e.message),
    );
  });

  it('rejects an event whose source is not allowed for its detail-type', () => {
    const sample = loadJson(samplePath('run-archived')) as { source: string };
    sample.source = 'beamline-archive.bridge.id21';
    assert.throws(() => validateEvent(sample), ContractError);
  });

  it("takes bridge documents only from a beamline's bridge source (beamline-archive.bridge.<beamline>)", () => {
    for (const slug of ['run-start', 'event-descriptor', 'stream-resource', 'stream-datum', 'run-stop', 'run-failed', 'bridge-heartbeat']) {
      const sample = loadJson(samplePath(slug)) as { source: string };
      assert.equal(sample.source, 'beamline-archive.bridge.id00');
      validateEvent(sample);
      for (const bad of [
        'beamline-archive.bridge',
        'beamline-archive.bridge.',
        'beamline-archive.bridge.ID21',
        'beamline-archive.bridge.id21.x',
        'beamline-archive.bridgeid21',
      ]) {
        assert.throws(() => validateEvent({ ...sample, source: bad }), ContractError, `${slug} from ${bad}`);
      }
    }
  });

  it('rejects a StreamDatum whose chunk checksum is not a sha256', () => {
    const { detail } = loadJson(samplePath('stream-datum')) as { detail: { chunk: { sha256: string } } };
    detail.chunk.sha256 = 'abc';
    assert.throws(() => validateDetail(DetailType.StreamDatum, detail), /sha256/);
  });

  it('rejects extra top-level RunStart fields that event-model forbids (dotted names)', () => {
    const { detail } = loadJson(samplePath('run-start')) as { detail: Record<string, unknown> };
    detail['not.allowed'] = 1;
    assert.throws(() => validateDetail(DetailType.RunStart, detail), ContractError);
    delete detail['not.allowed'];
    detail.beamline_extra = 'allowed, as in event-model';
    assert.equal(validateDetail(DetailType.RunStart, detail).uid, detail.uid);
  });
});
