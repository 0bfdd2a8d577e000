/**
 * The scan writer's check of uploaded Lima files (src/core/bliss/lima-archive.ts): in the scan's
 * detector folder, present with the recorded size, checked by HEAD only (an object store that
 * refuses every read proves it), and returned as paths relative to the scan file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkLimaFiles } from '../../src/core/bliss/lima-archive.js';
import { limaDatumOf, limaResourceOf } from '../../src/core/bliss/lima-documents.js';
import { parseLimaSaving } from '../../src/core/bliss/lima-files.js';
import { ChunkCoverageError } from '../../src/core/archive/errors.js';
import type { StreamDatum } from '../../src/core/contract/generated-types.js';
import { limaFileKey, scanDetectorFolder } from '../../src/core/object-keys.js';
import { MemoryObjectStore } from '../../src/adapters/memory/object-store.js';

const RUN = '01M80KDGXSJDA8HERZJGME1B5Q';
const policy = { proposal: 'ihch123', beamline: 'id00', session: '20261122', collection: 'sample1', dataset: '0001' };
const saving = parseLimaSaving('pilatus:image', {
  plugin: 'lima',
  dtype: 'uint16',
  shape: [6, 8],
  lima_info: {
    protocol_version: 1,
    frame_per_acquisition: 25,
    file_path: '/data/p_%04d.h5',
    data_path: '/entry_0000/measurement/data',
    file_format: 'HDF5',
    file_offset: 0,
    frame_per_file: 10,
  },
});

/** HEAD answers from the objects of these sizes; any read or write fails the test. */
const headOnlyStore = (sizes: Record<string, number>) =>
  MemoryObjectStore.headOnly('bkt', sizes, 'the scan writer must not read or write Lima files');

function documents(keys: string[]): { resource: ReturnType<typeof limaResourceOf>; datums: StreamDatum[] } {
  const resource = limaResourceOf(RUN, 'bkt', scanDetectorFolder(policy, 1), saving);
  const ranges = [
    { fileNumber: 0, start: 0, stop: 10 },
    { fileNumber: 1, start: 10, stop: 20 },
    { fileNumber: 2, start: 20, stop: 25 },
  ];
  const datums = ranges.map((r, i) =>
    limaDatumOf(RUN, 'bkt', 'pilatus:image', r, 0, `/data/p_000${i}.h5`, { key: keys[i]!, bytes: 1000 + i, sha256: 'a'.repeat(64) }),
  );
  return { resource, datums };
}

const keys = [0, 1, 2].map((n) => limaFileKey(policy, 1, 'pilatus', n));
const run = { runUid: RUN, policy, scanNumber: 1 };

describe('scan writer: uploaded Lima files', () => {
  it('are checked by HEAD and linked by their path relative to the scan file', async () => {
    const { resource, datums } = documents(keys);
    const store = headOnlyStore(Object.fromEntries(keys.map((k, i) => [k, 1000 + i])));
    const files = await checkLimaFiles(run, [resource], new Map([['pilatus:image', datums]]), store);
    assert.deepEqual(files['pilatus:image'], [
      { file: 'scan0001/pilatus_0000.h5', start: 0, stop: 10, frameOffset: 0 },
      { file: 'scan0001/pilatus_0001.h5', start: 10, stop: 20, frameOffset: 0 },
      { file: 'scan0001/pilatus_0002.h5', start: 20, stop: 25, frameOffset: 0 },
    ]);
    assert.deepEqual(store.keysOf('head'), keys);
  });

  it('a missing file, a wrong size and a key outside the detector folder are all reported with file and frames', async () => {
    const outside = 'archive/ihch123/id00/20261122/sample1/sample1_0002/scan0001/pilatus_0002.h5';
    const { resource, datums } = documents([keys[0]!, keys[1]!, outside]);
    const store = headOnlyStore({ [keys[1]!]: 7 });
    await assert.rejects(checkLimaFiles(run, [resource], new Map([['pilatus:image', datums]]), store), (error: unknown) => {
      assert.ok(error instanceof ChunkCoverageError);
      const messages = error.errors.map((e) => `${e.stream}@${e.index}: ${e.message}`);
      assert.equal(messages.length, 3, messages.join('\n'));
      assert.match(
        messages[0]!,
        /pilatus:image@0: Lima file s3:\/\/bkt\/.*pilatus_0000\.h5 \(frames \[0, 10\) of pilatus:image, from \/data\/p_0000\.h5\) does not exist/,
      );
      assert.match(messages[1]!, /pilatus:image@10: .*pilatus_0001\.h5 .* has 7 bytes, its StreamDatum says 1001/);
      assert.match(messages[2]!, /pilatus:image@20: .*sample1_0002.* is outside the scan's detector folder/);
      return true;
    });
  });

  it('a resource whose uri is not the scan detector folder is refused', async () => {
    const { resource, datums } = documents(keys);
    const moved = { ...resource, uri: 's3://bkt/archive/elsewhere/' };
    const store = headOnlyStore(Object.fromEntries(keys.map((k, i) => [k, 1000 + i])));
    await assert.rejects(
      checkLimaFiles(run, [moved], new Map([['pilatus:image', datums]]), store),
      /points at s3:\/\/bkt\/archive\/elsewhere\//,
    );
  });

  it('channels that are not Lima are left alone', async () => {
    const store = headOnlyStore({});
    const chunks = { ...documents(keys).resource, mimetype: 'application/x-beamline-archive-chunks' as const };
    assert.deepEqual(await checkLimaFiles(run, [chunks], new Map(), store), {});
    assert.deepEqual(store.keysOf('head'), []);
  });
});
