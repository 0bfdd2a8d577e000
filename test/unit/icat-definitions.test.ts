import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  IcatCategory,
  MANDATORY_FIELDS,
  UnknownIcatFieldError,
  UnknownTechniqueError,
  allFields,
  categories,
  fieldsOfCategory,
  findField,
  icatGroups,
  icatSource,
  requireField,
  requireTechnique,
  techniqueFields,
  techniqueNames,
} from '../../src/core/icat/definitions.js';
import { venvPython } from '../../local/services.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const committed = readFileSync(`${root}src/core/icat/generated-definitions.json`, 'utf8');

function xmlText(): string {
  const out = spawnSync(venvPython, ['-c', 'import icat_esrf_definitions as d; print(open(d.DEFINITIONS_FILE, encoding="utf-8").read())'], {
    encoding: 'utf8',
  });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout;
}

describe('ICAT definitions table', () => {
  it('is what scripts/generate-icat-definitions.py makes of the installed hdf5_cfg.xml (regenerate after an upgrade)', () => {
    const out = spawnSync(venvPython, [`${root}scripts/generate-icat-definitions.py`, '--stdout'], {
      encoding: 'utf8',
      maxBuffer: 32 * 1024 * 1024,
    });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, committed);
  });

  it('records the package version and every ${field} occurrence of the XML (counted independently of the generator)', () => {
    const xml = xmlText();
    assert.equal(icatSource.package, 'icat-esrf-definitions');
    assert.match(icatSource.version, /^\d+\.\d+\.\d+$/);
    const occurrences = [...xml.matchAll(/>\$\{([^}<]+)\}</g)].map((m) => m[1]!);
    assert.equal(
      allFields().reduce((n, f) => n + f.paths.length, 0),
      occurrences.length,
    );
    assert.deepEqual(new Set(allFields().map((f) => f.name)), new Set(occurrences));
    const groups = [...xml.matchAll(/<group groupName="([^"]+)"/g)].length - 1; // minus ${entry}
    assert.equal(Object.keys(icatGroups).length, groups);
  });

  it('has the techniques of the file, with their fields', () => {
    for (const t of ['SAXS', 'MX', 'EM', 'PTYCHO', 'FLUO', 'TOMO', 'MRT', 'HOLO', 'WAXS', 'BCDI', 'HTXRPD', 'SCXRD', 'SSX', 'SXDM']) {
      assert.ok(techniqueNames().includes(t), t);
      assert.ok(techniqueFields(t).length > 0, t);
    }
    const fluo = techniqueFields('FLUO').map((f) => f.name);
    assert.ok(fluo.includes('FLUO_i0') && fluo.includes('FLUO_dwellTime'));
    assert.ok(fluo.includes('Source_current_start'), 'a field shared with instrument/source belongs to FLUO too');
    assert.deepEqual(findField('FLUO_i0')?.paths, ['FLUO/i0']);
  });

  it('gives each field its path, NeXus type, units, description and mandatory flag', () => {
    const name = findField('Sample_name')!;
    assert.deepEqual(name.paths, ['sample/name']);
    assert.equal(name.type, 'NX_CHAR');
    assert.equal(name.mandatory, true);
    assert.deepEqual(name.categories, ['sample']);
    const dwell = findField('FLUO_dwellTime')!;
    assert.equal(dwell.units, 's');
    assert.equal(dwell.type, 'NX_NUMBER');
    assert.match(dwell.description, /beam remains/);
    assert.deepEqual(findField('Source_current_start')?.paths, ['instrument/source/current_start', 'FLUO/measurement/current_start']);
    assert.equal(icatGroups['instrument/source']?.nx_class, 'NXsource');
  });

  it('sorts fields into categories like BLISS (instrumentation, sample, positioners, notes, techniques)', () => {
    const byCategory = categories();
    assert.ok(byCategory.instrumentation.includes('InstrumentSource_current'));
    assert.ok(byCategory.sample.includes('Sample_description'));
    assert.ok(byCategory.positioners.includes('SamplePositioners_name'));
    assert.ok(byCategory.sample.includes('SamplePositioners_name'));
    assert.ok(byCategory.notes.includes('Sample_notes'));
    assert.ok(byCategory.techniques.includes('SAXS_concentration') || byCategory.techniques.length > 500);
    assert.ok(byCategory.general.includes('proposal'));
    assert.equal(fieldsOfCategory(IcatCategory.Techniques).length, byCategory.techniques.length);
  });

  it('knows the mandatory fields of a dataset', () => {
    assert.deepEqual(MANDATORY_FIELDS, ['Sample_name', 'datasetName', 'endDate', 'location', 'proposal', 'scanNumber', 'startDate']);
  });

  it('rejects unknown fields and techniques, suggesting close names', () => {
    assert.throws(
      () => requireField('Sample_nmae'),
      (e: unknown) => e instanceof UnknownIcatFieldError && /unknown ICAT field "Sample_nmae".*did you mean Sample_name\?/.test(e.message),
    );
    assert.throws(() => requireField('scanName'), /did you mean datasetName/);
    assert.throws(
      () => requireField('completely_unrelated_thing_xyz'),
      (e: unknown) => e instanceof UnknownIcatFieldError && !/did you mean/.test(e.message),
    );
    assert.equal(requireTechnique('fluo').name, 'FLUO');
    assert.throws(
      () => requireTechnique('FLOU'),
      (e: unknown) => e instanceof UnknownTechniqueError && /did you mean FLUO/.test(e.message),
    );
  });
});
