/**
 * Staging per beamline (issue 15 item 5, docs/adr/0021): a run's chunks are staged under
 * staging/<its beamline>/<run>/, each beamline's bridge role may put there only, and the scan writer
 * refuses a StreamDatum pointing under another beamline's staging folder, even when the bytes there
 * match its sha256: one beamline's bridge can neither feed nor break another beamline's run through
 * staging.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryEventBus } from '../../src/adapters/memory/event-bus.js';
import { MemoryObjectStore } from '../../src/adapters/memory/object-store.js';
import { MemoryRunCatalogue } from '../../src/adapters/memory/run-catalogue.js';
import { H5wasmScanFileWriter } from '../../src/adapters/h5wasm-scan-file-writer.js';
import { archiveRun } from '../../src/core/archive/archive-run.js';
import type { StoredDocument } from '../../src/core/archive/ports.js';
import { RunState } from '../../src/core/archive/ports.js';
import { tagStagedRun, type StagingTagger } from '../../src/core/archive/staging-lifecycle.js';
import type { RunStop, StreamDatum } from '../../src/core/contract/generated-types.js';
import { stagingChunkKey, stagingRunPrefix } from '../../src/core/object-keys.js';
import { buildRun, type FixtureRun } from './archive-fixtures.js';

const stored = (run: FixtureRun): StoredDocument[] =>
  run.documents.map((d) => ({ detailType: d['detail-type'], uid: (d.detail as { uid?: string }).uid ?? '', body: d.detail }));

function id21Run(): FixtureRun {
  return buildRun({
    beamline: 'id21',
    points: 6,
    chunkPoints: 3,
    channels: [{ name: 'axis:sy', dtype: '<f8', values: new Float64Array([0, 0.1, 0.2, 0.3, 0.4, 0.5]) }],
  });
}

async function archive(run: FixtureRun, store: MemoryObjectStore) {
  const catalogue = MemoryRunCatalogue.holding(run.runUid, stored(run));
  const outcome = await archiveRun(run.stop.detail as RunStop, {
    catalogue,
    store,
    writer: await H5wasmScanFileWriter.create(),
    publisher: new MemoryEventBus(),
    creator: 'beamline-archive test',
    now: () => new Date('2026-11-22T10:00:03Z'),
  });
  return { outcome, catalogue };
}

describe('staging per beamline', () => {
  it('stages an id21 run under staging/id21/<run>/ and archives it from there', async () => {
    const run = id21Run();
    assert.ok(
      run.chunks.length > 0 && run.chunks.every((c) => c.key.startsWith(`staging/id21/${run.runUid}/`)),
      run.chunks.map((c) => c.key).join(', '),
    );
    const store = new MemoryObjectStore(run.bucket);
    for (const c of [...run.chunks, ...(run.scanInfo ? [run.scanInfo] : [])]) await store.put(c.key, c.bytes);
    const { outcome } = await archive(run, store);
    assert.equal(outcome.status, 'archived', JSON.stringify(outcome.detail));
  });

  it("refuses a datum pointing under another beamline's staging folder, even with matching bytes, and reads nothing from there", async () => {
    const run = id21Run();
    const store = new MemoryObjectStore(run.bucket);
    for (const c of [...run.chunks, ...(run.scanInfo ? [run.scanInfo] : [])]) await store.put(c.key, c.bytes);
    // The same bytes under id16b's folder for this run (what a hostile id16b bridge could write), and a datum naming them.
    const datumEvent = run.documents.find((d) => d['detail-type'] === 'StreamDatum' && (d.detail as StreamDatum).indices.start === 3)!;
    const datum = datumEvent.detail as StreamDatum;
    const foreign = stagingChunkKey('id16b', run.runUid, 'axis:sy', 3, 6);
    await store.put(foreign, run.chunks.find((c) => c.key === datum.chunk.key)!.bytes);
    datumEvent.detail = { ...datum, chunk: { ...datum.chunk, key: foreign } };
    const gets: string[] = [];
    const get = store.get.bind(store);
    store.get = async (key: string) => {
      gets.push(key);
      return get(key);
    };

    const { outcome, catalogue } = await archive(run, store);
    assert.equal(outcome.status, 'failed');
    assert.match(
      outcome.detail.reason,
      new RegExp(`points at ${foreign.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, outside staging/id21/${run.runUid}/`),
    );
    assert.deepEqual(
      outcome.detail.errors?.map((e) => [e.stream, e.index]),
      [['axis:sy', 3]],
    );
    assert.equal((await catalogue.getRun(run.runUid))?.state, RunState.Failed);
    assert.deepEqual(
      gets.filter((k) => k.startsWith('staging/id16b/')),
      [],
      "nothing read from the other beamline's staging",
    );
    assert.equal(catalogue.archivals.length, 0, 'no file published');
  });

  it("tags the staged objects of a run under its beamline's folder, and tags nothing when the run has no recorded beamline", async () => {
    const calls: { runUid: string; beamline: string }[] = [];
    const tagger: StagingTagger = {
      tagRun: async (run) => {
        calls.push(run);
        return 2;
      },
    };
    const logs: string[] = [];
    assert.equal(await tagStagedRun(tagger, { runUid: 'R1', beamline: 'id21' }, RunState.Failed, (m) => logs.push(m)), 2);
    assert.deepEqual(calls, [{ runUid: 'R1', beamline: 'id21' }]);
    assert.equal(stagingRunPrefix(calls[0]!.beamline, calls[0]!.runUid), 'staging/id21/R1/');
    assert.equal(await tagStagedRun(tagger, { runUid: 'R2', beamline: undefined }, RunState.Failed, (m) => logs.push(m)), undefined);
    assert.equal(calls.length, 1, 'no staging folder to tag without a beamline');
    assert.match(logs.at(-1)!, /no recorded data policy/);
  });
});
