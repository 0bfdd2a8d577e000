// The scan writer's catalogue, wrapped: archiving a run records its scan file's provenance (parent
// the raw run, inputs the staged chunks with sha256, the archive's version), once per file.
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { MemoryProvenanceStore } from '../../src/adapters/memory/analysis-stores.js';
import { MemoryRunCatalogue } from '../../src/adapters/memory/run-catalogue.js';
import type { ArchivedRun, StoredDocument } from '../../src/core/archive/ports.js';
import { lineage } from '../../src/core/provenance/lineage.js';
import { archiveSoftware, withScanFileProvenance } from '../../src/core/provenance/scan-file-provenance.js';

const sha = (c: string) => c.repeat(64);
const datum = (channel: string, start: number, stop: number, c: string): StoredDocument => ({
  detailType: 'StreamDatum',
  uid: `RAW1/resource/${channel}/${start}-${stop}`,
  body: {
    uid: `RAW1/resource/${channel}/${start}-${stop}`,
    stream_resource: `RAW1/resource/${channel}`,
    descriptor: 'RAW1/descriptor/primary',
    indices: { start, stop },
    seq_nums: { start: start + 1, stop: stop + 1 },
    chunk: { bucket: 'bkt', key: `staging/RAW1/${channel}/${start}-${stop}.bin`, bytes: 80, sha256: sha(c) },
  },
});

describe('scan file provenance', () => {
  it('is recorded when the run is archived, with chunks as inputs; a redelivery records nothing new', async () => {
    const catalogue = MemoryRunCatalogue.holding('RAW1', [
      datum('diode', 10, 20, 'c'),
      datum('axis:sy', 0, 10, 'a'),
      datum('diode', 0, 10, 'b'),
      { detailType: 'RunStart', uid: 'RAW1', body: {} },
    ]);
    const archived = catalogue.archivals;
    const store = new MemoryProvenanceStore((e) => e.ref === 'run:RAW1');
    const wrapped = withScanFileProvenance(
      catalogue,
      store,
      archiveSoftware('0.1.0', 'https://git.example.org/beamline-archive.git', 'deadbeef'),
      () => new Date('2026-11-22T10:00:10Z'),
    );
    const run: ArchivedRun = {
      runUid: 'RAW1',
      file: { bucket: 'bkt', key: 'archive/p/b/s/c/c_d/c_d_0001.h5', bytes: 5000, sha256: sha('f') },
      points: { 'axis:sy': 10, diode: 10 },
      archivedAt: '2026-11-22T10:00:09Z',
    };
    await wrapped.runArchived(run);
    await wrapped.runArchived(run);
    assert.equal(archived.length, 2);
    assert.deepEqual(await wrapped.getRun('RAW1'), await catalogue.getRun('RAW1'), "other methods are the wrapped catalogue's");
    const record = await store.get('file:s3://bkt/archive/p/b/s/c/c_d/c_d_0001.h5');
    assert.ok(record);
    assert.deepEqual(record.parents, ['run:RAW1']);
    // One input per channel (its staging folder), whatever the number of chunks: the digest of its
    // chunks' sha256 in index order, and their total size.
    const digest = (...hex: string[]) => createHash('sha256').update(hex.join('\n')).digest('hex');
    const documents = createHash('sha256').update(`RunStart\nRAW1\n{}\n`).digest('hex');
    assert.deepEqual(
      record.inputs.map((i) => [i.uri, i.sha256, i.bytes]),
      [
        ['catalogue:run/RAW1/documents', documents, undefined],
        ['s3://bkt/staging/RAW1/axis:sy/', digest(sha('a')), 80],
        ['s3://bkt/staging/RAW1/diode/', digest(sha('b'), sha('c')), 160],
      ],
    );
    assert.deepEqual(record.software, {
      name: 'beamline-archive',
      version: '0.1.0',
      commit: 'deadbeef',
      repository: 'https://git.example.org/beamline-archive.git',
    });
    assert.deepEqual(record.parameters, { run_start: 'RAW1', run_stop: 'RAW1/stop', points: { 'axis:sy': 10, diode: 10 } });
    assert.equal(archived.length, 2, 'the run is archived after its provenance is recorded');
    assert.equal(store.records.size, 1);
    const down = await lineage('run:RAW1', 'descendants', store);
    assert.deepEqual(
      down.nodes.map((n) => n.entity),
      ['run:RAW1', 'file:s3://bkt/archive/p/b/s/c/c_d/c_d_0001.h5'],
    );
  });

  it('a scan that ended before its first point has its documents as input, and is archived', async () => {
    const stop = { uid: 'RAW2/stop', run_start: 'RAW2', exit_status: 'fail', bliss: { points: {} } };
    const catalogue = MemoryRunCatalogue.holding('RAW2', [
      { detailType: 'RunStop', uid: 'RAW2/stop', body: stop },
      { detailType: 'RunStart', uid: 'RAW2', body: { uid: 'RAW2' } },
    ]);
    const archived = catalogue.archivals;
    const store = new MemoryProvenanceStore((e) => e.ref === 'run:RAW2');
    const wrapped = withScanFileProvenance(
      catalogue,
      store,
      archiveSoftware('0.1.0', 'https://git.example.org/beamline-archive.git'),
      () => new Date('2026-11-22T10:00:10Z'),
    );
    await wrapped.runArchived({
      runUid: 'RAW2',
      file: { bucket: 'bkt', key: 'archive/p/b/s/c/c_d/c_d_0002.h5', bytes: 3000, sha256: sha('e') },
      points: {},
      archivedAt: '2026-11-22T10:00:09Z',
    });
    assert.equal(archived.length, 1);
    const record = await store.get('file:s3://bkt/archive/p/b/s/c/c_d/c_d_0002.h5');
    const expected = createHash('sha256')
      .update(`RunStart\nRAW2\n{"uid":"RAW2"}\nRunStop\nRAW2/stop\n${JSON.stringify(stop)}\n`)
      .digest('hex');
    assert.deepEqual(record?.inputs, [{ uri: 'catalogue:run/RAW2/documents', sha256: expected }]);
  });
});
