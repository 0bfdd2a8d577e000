import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkCoverage, collectRunDocuments } from '../../src/core/archive/run-documents.js';
import { ChunkCoverageError } from '../../src/core/archive/errors.js';
import { identify } from '../../src/core/archive/record-document.js';
import type { StoredDocument } from '../../src/core/archive/ports.js';
import type { RunStop, StreamDatum } from '../../src/core/contract/generated-types.js';
import { NotReadyError } from '../../src/core/errors.js';
import { sampleScan, type FixtureRun } from './archive-fixtures.js';

const stored = (run: FixtureRun): StoredDocument[] =>
  run.documents.map((d) => ({ detailType: d['detail-type'], uid: identify(d).docUid, body: structuredClone(d.detail) }));

describe('run completeness and chunk coverage', () => {
  it('accepts a complete run and reports the sealed points per channel', () => {
    const run = sampleScan(10);
    const docs = collectRunDocuments(run.stop.detail as RunStop, stored(run));
    assert.equal(docs.datums.length, 12);
    const coverage = checkCoverage(docs);
    assert.deepEqual(coverage.points, {
      'axis:sy': 10,
      'mca1:spectrum': 10,
      'simulation_counter_controller:counts': 10,
      'simulation_diode_sampling_controller:diode1': 10,
    });
    assert.deepEqual(
      coverage.datumsByChannel.get('axis:sy')!.map((d) => [d.indices.start, d.indices.stop]),
      [
        [0, 4],
        [4, 8],
        [8, 10],
      ],
    );
  });

  it('is not ready while datums or the RunStart are still in flight', () => {
    const run = sampleScan(10);
    const docs = stored(run);
    assert.throws(
      () =>
        collectRunDocuments(
          run.stop.detail as RunStop,
          docs.filter((d) => d.detailType !== 'StreamDatum' || !d.uid.endsWith('/8-10')),
        ),
      (e: unknown) => e instanceof NotReadyError && /stream datums 8\/12/.test(e.message),
    );
    assert.throws(
      () =>
        collectRunDocuments(
          run.stop.detail as RunStop,
          docs.filter((d) => d.detailType !== 'RunStart'),
        ),
      /RunStart/,
    );
  });

  it('reports gaps, overlaps, short tails and wrong chunk sizes with the channel and index', () => {
    const run = sampleScan(10);
    const docs = collectRunDocuments(run.stop.detail as RunStop, stored(run));
    const sy = docs.datums.filter((d) => d.stream_resource.endsWith('axis:sy'));
    const diode = docs.datums.filter((d) => d.stream_resource.endsWith('diode1'));
    docs.datums = docs.datums.filter((d) => d !== sy[1]); // gap [4, 8)
    (diode[1] as StreamDatum).indices.start = 3; // overlap [3, 4)
    (diode[1] as StreamDatum).chunk.bytes = 4; // 5 points of <f4 need 20
    (run.stop.detail as RunStop).bliss.points['simulation_counter_controller:counts'] = 12; // 2 points never staged
    assert.throws(
      () => checkCoverage(docs),
      (e: unknown) => {
        assert.ok(e instanceof ChunkCoverageError);
        assert.deepEqual(
          e.errors.map((x) => [x.stream, x.index]),
          [
            ['axis:sy', 4],
            ['simulation_counter_controller:counts', 10],
            ['simulation_diode_sampling_controller:diode1', 3],
            ['simulation_diode_sampling_controller:diode1', 3],
          ],
        );
        assert.match(e.errors[0]!.message, /points \[4, 8\) of axis:sy were never staged/);
        return true;
      },
    );
  });

  it('accepts exactly the ranges the bridge declared missing (trimmed in Redis) and reports them', () => {
    const run = sampleScan(10);
    const docs = collectRunDocuments(run.stop.detail as RunStop, stored(run));
    const sy = docs.datums.filter((d) => d.stream_resource.endsWith('axis:sy'));
    docs.datums = docs.datums.filter((d) => d !== sy[0] && d !== sy[2]); // [0, 4) trimmed, [8, 10) trimmed
    docs.stop.bliss.gaps = [
      { stream: 'axis:sy', start: 0, stop: 4 },
      { stream: 'axis:sy', start: 8, stop: 10 },
    ];
    const coverage = checkCoverage(docs);
    assert.deepEqual(coverage.gaps, {
      'axis:sy': [
        [0, 4],
        [8, 10],
      ],
    });
    assert.equal(coverage.points['axis:sy'], 10);
    assert.deepEqual(
      coverage.datumsByChannel.get('axis:sy')!.map((d) => [d.indices.start, d.indices.stop]),
      [[4, 8]],
    );

    // A declared gap does not excuse a larger hole, nor a hole in another channel.
    docs.stop.bliss.gaps = [
      { stream: 'axis:sy', start: 0, stop: 3 },
      { stream: 'simulation_diode_sampling_controller:diode1', start: 8, stop: 10 },
    ];
    assert.throws(
      () => checkCoverage(docs),
      (e: unknown) =>
        e instanceof ChunkCoverageError &&
        e.errors.some((x) => x.stream === 'axis:sy' && x.index === 0) &&
        e.errors.some((x) => x.stream === 'axis:sy' && x.index === 8),
    );
  });

  it('finds the run of a StreamDatum through its descriptor uid, and gives Run Failed a content uid', () => {
    const run = sampleScan(4);
    const datum = run.documents.find((d) => d['detail-type'] === 'StreamDatum')!;
    assert.deepEqual(identify(datum), { runUid: run.runUid, docUid: `${run.runUid}/resource/axis:sy/0-2` });
    const failed = {
      source: 'beamline-archive.bridge.id00',
      'detail-type': 'Run Failed' as const,
      detail: { run_uid: 'R1', stage: 'bridge' as const, reason: 'x', errors: [] },
    };
    assert.equal(identify(failed).docUid, identify(structuredClone(failed)).docUid);
    assert.equal(identify(failed).runUid, 'R1');
  });
});
