// The edge's source rule (src/core/access/edge-source.ts), table-tested: which bridge events may speak for which run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BRIDGE_SOURCE_PREFIX,
  beamlineOfSource,
  bridgeSourceOf,
  decideBridgeSource,
  isBridgeFamilySource,
  normaliseBeamline,
  type RunBeamlines,
} from '../../src/core/access/edge-source.js';
import { EventSource } from '../../src/core/contract/detail-types.js';

const ID21 = 'beamline-archive.bridge.id21';
const ID16B = 'beamline-archive.bridge.id16b';

describe('bridge sources', () => {
  it('one source per beamline, lower case, refusing names that are not beamline names', () => {
    assert.equal(BRIDGE_SOURCE_PREFIX, `${EventSource.Bridge}.`);
    assert.equal(bridgeSourceOf('id21'), ID21);
    assert.equal(bridgeSourceOf(' ID16B '), ID16B);
    assert.equal(bridgeSourceOf('id16a-ni'), 'beamline-archive.bridge.id16a-ni');
    for (const bad of ['', '-id21', 'id21.x', 'id21/..', 'id 21', 'a'.repeat(33), 'id21*', 'bridge.id21']) {
      assert.throws(() => normaliseBeamline(bad), RangeError, bad);
      assert.throws(() => bridgeSourceOf(bad), /is not a beamline name/, bad);
    }
  });

  it('reads the beamline back from a source, nothing from other sources', () => {
    assert.equal(beamlineOfSource(ID21), 'id21');
    for (const other of [
      EventSource.Bridge,
      EventSource.ScanWriter,
      'beamline-archive.bridge.',
      'beamline-archive.bridge.ID21',
      'beamline-archive.bridgeid21',
      'beamline-archive.bridge.id21.x',
    ]) {
      assert.equal(beamlineOfSource(other), undefined, other);
    }
    assert.equal(isBridgeFamilySource(EventSource.Bridge), true);
    assert.equal(isBridgeFamilySource(ID21), true);
    assert.equal(isBridgeFamilySource(EventSource.ScanWriter), false);
    assert.equal(isBridgeFamilySource(undefined), false);
  });
});

describe('decideBridgeSource', () => {
  const cases: Array<{ name: string; source: string; run: RunBeamlines; allowed: boolean; reason?: RegExp }> = [
    { name: 'RunStart of its own beamline', source: ID21, run: { runUid: 'R1', claimed: 'id21' }, allowed: true },
    { name: 'RunStart whose data policy spells the beamline in capitals', source: ID21, run: { claimed: 'ID21' }, allowed: true },
    { name: 'a document of a run recorded for its beamline', source: ID21, run: { runUid: 'R1', recorded: 'id21' }, allowed: true },
    {
      name: 'a document of a run the catalogue does not know yet (racing its RunStart)',
      source: ID21,
      run: { runUid: 'R1' },
      allowed: true,
    },
    {
      name: 'RunStart claiming another beamline (forged)',
      source: ID16B,
      run: { runUid: 'R1', claimed: 'id21' },
      allowed: false,
      reason:
        /source beamline-archive\.bridge\.id16b speaks for beamline id16b, but run R1 belongs to beamline "id21" \(its data policy names the run\).*id16b bridge credential/,
    },
    {
      name: "RunStop of another beamline's run (forged)",
      source: ID16B,
      run: { runUid: 'R1', recorded: 'id21' },
      allowed: false,
      reason: /run R1 belongs to beamline "id21" \(the catalogue records it for the run\)/,
    },
    {
      name: 'RunStart re-claiming a run recorded for another beamline',
      source: ID16B,
      run: { runUid: 'R1', claimed: 'id16b', recorded: 'id21' },
      allowed: false,
      reason: /belongs to beamline "id21"/,
    },
    {
      name: 'the legacy source without a beamline',
      source: EventSource.Bridge,
      run: { claimed: 'id21' },
      allowed: false,
      reason: /names no beamline: bridges publish as beamline-archive\.bridge\.<beamline>.*--beamline/,
    },
    {
      name: 'a malformed bridge source',
      source: 'beamline-archive.bridge.ID21/../x',
      run: { claimed: 'id21' },
      allowed: false,
      reason: /is not a bridge source/,
    },
    { name: "another service's source", source: EventSource.ScanWriter, run: {}, allowed: false, reason: /is not a bridge source/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const decision = decideBridgeSource(c.source, c.run);
      assert.equal(decision.allowed, c.allowed, JSON.stringify(decision));
      if (!decision.allowed) assert.match(decision.reason, c.reason!);
      else assert.equal(decision.beamline, beamlineOfSource(c.source));
    });
  }
});
