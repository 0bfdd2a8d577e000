// Provenance rules (required pieces, parents that exist, no cycles), lineage both ways, PROV-JSON.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryProvenanceStore } from '../../src/adapters/memory/analysis-stores.js';
import { ProvenanceConflictError, ProvenanceIncompleteError } from '../../src/core/provenance/errors.js';
import { lineage } from '../../src/core/provenance/lineage.js';
import { missingProvenance } from '../../src/core/provenance/validate-provenance.js';
import { toProvJson } from '../../src/core/provenance/prov-json.js';
import { recordProvenance } from '../../src/core/provenance/record-provenance.js';

const sha = (c: string) => c.repeat(64);
export const completeProvenance = (parents: string[]) => ({
  parents,
  inputs: [{ uri: 's3://bucket-a/archive/p/id00/s/c/c_d/c_d_0001.h5', sha256: sha('a'), bytes: 1024 }],
  software: { name: 'pyFAI-integrate', version: '2025.1', commit: 'abc1234', repository: 'https://github.com/silx-kit/pyFAI' },
  parameters: { npt: 1000, unit: 'q_nm^-1' },
  agent: { name: 'Ada Lovelace', identifier: 'orcid:0000-0001' },
  started_at: '2026-11-22T10:00:00Z',
  ended_at: '2026-11-22T10:05:00Z',
  activity: 'azimuthal-integration',
});

let counter = 0;
const deps = (store: MemoryProvenanceStore) => ({
  store,
  now: () => new Date('2026-11-22T11:00:00Z'),
  newUid: () => `ACT${(counter += 1)}`,
});
const rawRuns = new Set(['run:RAW1', 'run:RAW2']);
const newStore = () => new MemoryProvenanceStore((e) => rawRuns.has(e.ref));

describe('provenance is required and validated', () => {
  const cases: [string, (p: Record<string, unknown>) => void, RegExp][] = [
    [
      'no parents',
      (p) => {
        p.parents = [];
      },
      /provenance\.parents: at least one parent/,
    ],
    [
      'a malformed parent',
      (p) => {
        p.parents = ['raw1'];
      },
      /parents\[0\].*not an entity reference/,
    ],
    [
      'no input files',
      (p) => {
        delete p.inputs;
      },
      /provenance\.inputs: at least one input file/,
    ],
    [
      'an input without checksum',
      (p) => {
        p.inputs = [{ uri: 's3://bkt/k' }];
      },
      /inputs\[0\]\.sha256 \(checksum of s3:\/\/bkt\/k\)/,
    ],
    [
      'a checksum that is not sha256',
      (p) => {
        p.inputs = [{ uri: 's3://bkt/k', sha256: 'abc' }];
      },
      /inputs\[0\]\.sha256: 64 lowercase hex/,
    ],
    [
      'no software',
      (p) => {
        delete p.software;
      },
      /provenance\.software \{name/,
    ],
    [
      'no software name',
      (p) => {
        p.software = { version: '1', repository: 'https://x.org/r' };
      },
      /provenance\.software\.name/,
    ],
    [
      'neither version nor commit',
      (p) => {
        p.software = { name: 'x', repository: 'https://x.org/r' };
      },
      /software\.version or provenance\.software\.commit/,
    ],
    [
      'a commit that is not a hash',
      (p) => {
        p.software = { name: 'x', commit: 'main', repository: 'https://x.org/r' };
      },
      /software\.commit: a hex commit hash/,
    ],
    [
      'no repository URL',
      (p) => {
        p.software = { name: 'x', version: '1' };
      },
      /software\.repository \(URL/,
    ],
    [
      'a repository that is not a URL',
      (p) => {
        p.software = { name: 'x', version: '1', repository: 'my laptop' };
      },
      /software\.repository: a URL/,
    ],
    [
      'no parameters',
      (p) => {
        delete p.parameters;
      },
      /provenance\.parameters \(an object/,
    ],
    [
      'no agent (who)',
      (p) => {
        delete p.agent;
      },
      /provenance\.agent \{name\}/,
    ],
    [
      'no start time (when)',
      (p) => {
        delete p.started_at;
      },
      /provenance\.started_at \(ISO 8601/,
    ],
    [
      'a start time without zone',
      (p) => {
        p.started_at = '2026-11-22 10:00';
      },
      /started_at: an ISO 8601 time with zone/,
    ],
    [
      'an end before the start',
      (p) => {
        p.ended_at = '2026-11-22T09:00:00Z';
      },
      /ended_at: not before started_at/,
    ],
  ];
  for (const [name, mutate, expected] of cases) {
    it(`rejects ${name}`, async () => {
      const input = completeProvenance(['run:RAW1']) as unknown as Record<string, unknown>;
      mutate(input);
      await assert.rejects(
        recordProvenance('run:D1', input, deps(newStore())),
        (e: unknown) => e instanceof ProvenanceIncompleteError && e.missing.some((m) => expected.test(m)),
      );
    });
  }

  it('lists every missing piece at once', () => {
    assert.deepEqual(missingProvenance({}), [
      'provenance.parents: at least one parent (run:<uid>, dataset:<…>, file:s3://…, export:<id>)',
      'provenance.inputs: at least one input file {uri, sha256}',
      'provenance.software {name, version or commit, repository}',
      'provenance.parameters (an object; {} when there are none)',
      'provenance.agent {name} (who ran it)',
      'provenance.started_at (ISO 8601 time)',
    ]);
    assert.deepEqual(missingProvenance(undefined), ['provenance (parents, inputs, software, parameters, agent, started_at)']);
  });

  it('rejects parents that are not in the catalogue, naming each', async () => {
    await assert.rejects(
      recordProvenance('run:D1', completeProvenance(['run:RAW1', 'run:NOPE', 'dataset:p/b/s/c/d']), deps(newStore())),
      (e: unknown) => {
        assert.ok(e instanceof ProvenanceIncompleteError);
        assert.deepEqual(e.missing, [
          'provenance.parents: run:NOPE does not exist in the catalogue',
          'provenance.parents: dataset:p/b/s/c/d does not exist in the catalogue',
        ]);
        return true;
      },
    );
  });
});

describe('no cycles by construction', () => {
  it('refuses a second record for an entity, an entity that has children, and an entity as its own parent', async () => {
    const store = newStore();
    await recordProvenance('run:D1', completeProvenance(['run:RAW1']), deps(store));
    await assert.rejects(recordProvenance('run:D1', completeProvenance(['run:RAW2']), deps(store)), ProvenanceConflictError);
    // RAW1 has a child now: giving it D1 as parent would close the cycle RAW1 → D1 → RAW1.
    await assert.rejects(
      recordProvenance('run:RAW1', completeProvenance(['run:D1']), deps(store)),
      (e: unknown) => e instanceof ProvenanceConflictError && /already has entities derived from it/.test((e as Error).message),
    );
    await assert.rejects(recordProvenance('run:D2', completeProvenance(['run:D2']), deps(store)), /does not exist|own parent/);
  });

  it('checks outputs like inputs, refuses an output that is also a parent, or that has a lineage already', async () => {
    const store = newStore();
    await assert.rejects(
      recordProvenance('run:D7', completeProvenance(['run:RAW1']), deps(store), { outputs: [{ uri: 'not a uri', sha256: 'x' } as never] }),
      (e: unknown) =>
        e instanceof ProvenanceIncompleteError &&
        /outputs\[0\]\.uri/.test((e as Error).message) &&
        /outputs\[0\]\.sha256/.test((e as Error).message),
    );
    await assert.rejects(
      recordProvenance('run:D7', completeProvenance(['run:RAW1', 'file:s3://bkt/x.npy']), deps(store), {
        outputs: [{ uri: 's3://bkt/x.npy', sha256: sha('1') }],
      }),
      /is also a parent \(a cycle\)|does not exist/,
    );
    await recordProvenance('run:D8', completeProvenance(['run:RAW1']), deps(store), {
      outputs: [{ uri: 's3://bkt/d8.npy', sha256: sha('2') }],
    });
    // d8.npy already descends from D8: a later run cannot claim to have generated it.
    await assert.rejects(
      recordProvenance('run:D9', completeProvenance(['run:RAW2']), deps(store), {
        outputs: [{ uri: 's3://bkt/d8.npy', sha256: sha('2') }],
      }),
      (e: unknown) => e instanceof ProvenanceConflictError || /lineage of its own/.test(String(e)),
    );
    assert.equal(await store.get('run:D7'), undefined, 'nothing half-written');
  });

  it('treats a re-record with the same activity uid as a duplicate (idempotent producers)', async () => {
    const store = newStore();
    const first = await recordProvenance('file:s3://bkt/archive/x.h5', completeProvenance(['run:RAW1']), deps(store), {
      activityUid: 'write-RAW1',
    });
    const again = await recordProvenance('file:s3://bkt/archive/x.h5', completeProvenance(['run:RAW1']), deps(store), {
      activityUid: 'write-RAW1',
    });
    assert.equal(first.status, 'stored');
    assert.equal(again.status, 'duplicate');
  });
});

describe('lineage and PROV-JSON', () => {
  /** RAW1, RAW2 → scan files → D1 (from both raw runs) → D2 (from D1 and RAW2) → export E. */
  async function graph() {
    const store = newStore();
    await recordProvenance(
      'file:s3://bkt/archive/one.h5',
      { ...completeProvenance(['run:RAW1']), activity: 'scan-file-writing' },
      deps(store),
    );
    await recordProvenance('run:D1', completeProvenance(['run:RAW1', 'run:RAW2', 'file:s3://bkt/archive/one.h5']), deps(store), {
      outputs: [{ uri: 's3://bkt/analysis/D1/primary/q/000000000000-000000000010.npy', sha256: sha('c'), bytes: 208 }],
    });
    await recordProvenance('run:D2', { ...completeProvenance(['run:D1', 'run:RAW2']), activity: 'peak-fit' }, deps(store));
    await recordProvenance('export:E1', { ...completeProvenance(['run:D2']), activity: 'csv-export' }, deps(store));
    return store;
  }

  it('walks ancestors to any depth, and descendants', async () => {
    const store = await graph();
    const up = await lineage('export:E1', 'ancestors', store);
    assert.deepEqual(
      up.nodes.map((n) => [n.entity, n.depth]),
      [
        ['export:E1', 0],
        ['run:D2', 1],
        ['run:D1', 2],
        ['run:RAW2', 2],
        ['file:s3://bkt/archive/one.h5', 3],
        ['run:RAW1', 3],
      ],
    );
    assert.equal(up.nodes.find((n) => n.entity === 'run:RAW1')?.record, undefined, 'raw runs have no record');
    assert.equal(up.nodes.find((n) => n.entity === 'run:D1')?.record?.software.name, 'pyFAI-integrate');
    const down = await lineage('run:RAW1', 'descendants', store);
    assert.deepEqual(down.nodes.map((n) => n.entity).sort(), [
      'export:E1',
      'file:s3://bkt/analysis/D1/primary/q/000000000000-000000000010.npy',
      'file:s3://bkt/archive/one.h5',
      'run:D1',
      'run:D2',
      'run:RAW1',
    ]);
    assert.ok(down.edges.every((e) => typeof e.child === 'string' && typeof e.parent === 'string'));
    const limited = await lineage('export:E1', 'ancestors', store, { maxDepth: 1 });
    assert.deepEqual(
      limited.nodes.map((n) => n.entity),
      ['export:E1', 'run:D2'],
    );
    const outputUp = await lineage('file:s3://bkt/analysis/D1/primary/q/000000000000-000000000010.npy', 'ancestors', store);
    assert.ok(
      outputUp.nodes.some((n) => n.entity === 'run:RAW1'),
      'a data object reaches the raw scans',
    );
  });

  it('exports entities, activities, agents and used/wasGeneratedBy/wasDerivedFrom/wasAssociatedWith', async () => {
    const doc = toProvJson(await lineage('run:D2', 'ancestors', await graph()));
    assert.equal(doc.prefix.ba, 'https://beamline-archive.dev/prov#');
    for (const id of ['ba:run/D2', 'ba:run/D1', 'ba:run/RAW1', 'ba:run/RAW2', 'ba:file/bkt/archive/one.h5'])
      assert.ok(doc.entity[id], `entity ${id}`);
    assert.equal(doc.entity['ba:run/RAW1']?.['prov:type'], 'ba:RawRun');
    assert.equal(Object.keys(doc.activity).length, 3, 'D2, D1 and the scan file were generated by activities');
    const activityOf = (entity: string) =>
      Object.values(doc.wasGeneratedBy).find((g) => g['prov:entity'] === entity)?.['prov:activity'] as string;
    const d2 = activityOf('ba:run/D2');
    assert.ok(doc.activity[d2]);
    assert.equal(doc.activity[d2]?.['prov:label'], 'peak-fit');
    assert.deepEqual((doc.activity[d2]?.['prov:startTime'] as { $: string }).$, '2026-11-22T10:00:00Z');
    const used = Object.values(doc.used)
      .filter((u) => u['prov:activity'] === d2)
      .map((u) => u['prov:entity'])
      .sort();
    assert.deepEqual(used, ['ba:file/bucket-a/archive/p/id00/s/c/c_d/c_d_0001.h5', 'ba:run/D1', 'ba:run/RAW2']);
    const derived = Object.values(doc.wasDerivedFrom)
      .filter((d) => d['prov:generatedEntity'] === 'ba:run/D2')
      .map((d) => d['prov:usedEntity'])
      .sort();
    assert.deepEqual(derived, ['ba:run/D1', 'ba:run/RAW2']);
    const agents = Object.values(doc.wasAssociatedWith)
      .filter((a) => a['prov:activity'] === d2)
      .map((a) => a['prov:agent'] as string);
    assert.deepEqual(agents.map((a) => doc.agent[a]?.['prov:type']).sort(), ['prov:Person', 'prov:SoftwareAgent']);
    const software = agents.find((a) => doc.agent[a]?.['prov:type'] === 'prov:SoftwareAgent')!;
    assert.equal(doc.agent[software]?.['ba:commit'], 'abc1234');
    assert.equal(doc.entity['ba:file/bucket-a/archive/p/id00/s/c/c_d/c_d_0001.h5']?.['ba:sha256'], sha('a'));
    assert.ok(
      Object.values(doc.wasGeneratedBy).some((g) => g['prov:entity'] === 'ba:file/bkt/analysis/D1/primary/q/000000000000-000000000010.npy'),
      'output files generated by D1',
    );
  });
});
