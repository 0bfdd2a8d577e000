// How channel datasets are stored is the scan-writer's configuration: read and validated at the
// edge (functions/scan-writer/storage-config.ts), carried by the plan, and visible to h5py in the file.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { H5wasmScanFileWriter } from '../../src/adapters/h5wasm-scan-file-writer.js';
import { buildScanLayout } from '../../src/core/nexus/scan-layouts.js';
import { type NexusPlan, type PlanChannel } from '../../src/core/nexus/layout.js';
import { DEFAULT_STORAGE, type StorageOptions } from '../../src/core/nexus/writers/channel-writer.js';
import type { ChannelSlice } from '../../src/core/archive/ports.js';
import type { EventDescriptor, RunStart, RunStop, StreamDatum, StreamResource } from '../../src/core/contract/generated-types.js';
import { STORAGE_ENV, StorageConfigError, storageEnvironment, storageOptionsFromEnv } from '../../functions/scan-writer/storage-config.js';
import { projectRoot, venvPython } from '../../local/services.js';
import { buildRun, type FixtureRun } from './archive-fixtures.js';

const POINTS = 100;

/** An ascan with a motor, a float32 counter, a 16-bin uint32 spectrum and 8×6 uint16 frames. */
function scanWithEveryKind(): FixtureRun {
  return buildRun({
    points: POINTS,
    chunkPoints: 7,
    channels: [
      { name: 'axis:sy', dtype: '<f8', units: 'mm', values: new Float64Array(POINTS).map((_, i) => i / 10) },
      { name: 'ctrl:diode1', dtype: '<f4', values: new Float32Array(POINTS).map((_, i) => Math.fround(Math.cos(i))) },
      {
        name: 'mca1:spectrum',
        dtype: '<u4',
        pointShape: [16],
        role: 'spectrum',
        values: new Uint32Array(POINTS * 16).map((_, i) => (i % 50) * 3),
      },
      { name: 'cam:image', dtype: '<u2', pointShape: [8, 6], values: new Uint16Array(POINTS * 48).map((_, i) => i % 7) },
    ],
    scanInfo: { title: 'ascan sy 0 9.9 99 0.1', type: 'ascan', npoints: POINTS, count_time: 0.1 },
  });
}

function planOf(run: FixtureRun, storage?: StorageOptions): NexusPlan {
  const of = <T>(type: string) => run.documents.filter((d) => d['detail-type'] === type).map((d) => d.detail as T);
  const stop = run.stop.detail as RunStop;
  return buildScanLayout({
    start: of<RunStart>('RunStart')[0]!,
    stop,
    descriptors: of<EventDescriptor>('EventDescriptor'),
    resources: of<StreamResource>('StreamResource'),
    scanInfo: JSON.parse(Buffer.from(run.scanInfo!.bytes).toString('utf8')) as Record<string, unknown>,
    points: stop.bliss.points as Record<string, number>,
    fileName: 'f.h5',
    creator: 'beamline-archive test',
    hdf5Version: '2.0.0',
    storage,
  });
}

const channelAt = (plan: NexusPlan, suffix: string): PlanChannel => {
  const found = plan.channels.find((c) => c.path.endsWith(suffix));
  assert.ok(found, `a channel at …${suffix}`);
  return found;
};

describe('scan-writer storage configuration (environment → StorageOptions)', () => {
  it('keeps the documented default when nothing is set: gzip 4 from 1 MiB, 1 MiB chunks', () => {
    assert.deepEqual(storageOptionsFromEnv({}), DEFAULT_STORAGE);
    assert.deepEqual(DEFAULT_STORAGE, { maxChunkBytes: 1048576, maxSliceBytes: 8388608, gzip: 4, gzipMinBytes: 1048576 });
    assert.deepEqual(storageOptionsFromEnv({ [STORAGE_ENV.gzipImages]: '' }), DEFAULT_STORAGE);
  });

  it('reads gzip levels, the threshold and the chunk size; 0 turns compression off', () => {
    assert.deepEqual(storageOptionsFromEnv({ NEXUS_GZIP_SPECTRA: '4', NEXUS_GZIP_IMAGES: ' 1 ', NEXUS_MAX_CHUNK_BYTES: '65536' }), {
      ...DEFAULT_STORAGE,
      gzipSpectra: 4,
      gzipImages: 1,
      maxChunkBytes: 65536,
    });
    assert.deepEqual(storageOptionsFromEnv({ NEXUS_GZIP: '0' }), { ...DEFAULT_STORAGE, gzip: 0 });
    assert.deepEqual(storageOptionsFromEnv({ NEXUS_GZIP: '1', NEXUS_GZIP_MIN_BYTES: '0', NEXUS_GZIP_SPECTRA: '0' }), {
      ...DEFAULT_STORAGE,
      gzip: 1,
      gzipMinBytes: 0,
      gzipSpectra: 0,
    });
  });

  for (const [variable, value] of [
    ['NEXUS_GZIP_IMAGES', '12'],
    ['NEXUS_GZIP_SPECTRA', 'fast'],
    ['NEXUS_GZIP_SPECTRA', '-1'],
    ['NEXUS_GZIP', '10'],
    ['NEXUS_GZIP_MIN_BYTES', '1e6'],
    ['NEXUS_MAX_CHUNK_BYTES', '100'],
  ] as const) {
    it(`refuses ${variable}=${value} with the variable and what it accepts`, () => {
      assert.throws(
        () => storageOptionsFromEnv({ [variable]: value }),
        (error: unknown) => {
          assert.ok(error instanceof StorageConfigError);
          assert.equal(error.name, 'StorageConfigError');
          assert.equal(error.variable, variable);
          assert.match(error.message, new RegExp(`^scan-writer: ${variable} must be .*integer from \\d+ to \\d+.*got "${value}"$`));
          return true;
        },
      );
    });
  }

  it('gives the CDK app the same variables back, and refuses what the function would refuse', () => {
    const env = storageEnvironment({ gzipSpectra: 3, gzipImages: 0 });
    assert.deepEqual(env, { NEXUS_GZIP_SPECTRA: '3', NEXUS_GZIP_IMAGES: '0' });
    assert.deepEqual(storageOptionsFromEnv(env), { ...DEFAULT_STORAGE, gzipSpectra: 3, gzipImages: 0 });
    assert.throws(() => storageEnvironment({ maxChunkBytes: 1 << 30 }), /NEXUS_MAX_CHUNK_BYTES must be a chunk size in bytes/);
  });
});

describe('the plan carries the storage options', () => {
  it('compresses spectra and images at the configured levels, small datasets never, and sizes chunks by maxChunkBytes', () => {
    const run = scanWithEveryKind();
    const plain = planOf(run);
    // Every dataset of this scan is under 1 MiB: the default leaves them all plain.
    for (const c of plain.channels) assert.equal(c.gzip, undefined, `${c.path} uncompressed under gzipMinBytes`);
    const all = planOf(run, storageOptionsFromEnv({ NEXUS_GZIP_MIN_BYTES: '0' }));
    for (const c of all.channels) assert.equal(c.gzip, 4, `${c.path} gzip 4 from 0 bytes`);

    const plan = planOf(
      run,
      storageOptionsFromEnv({
        NEXUS_GZIP_SPECTRA: '4',
        NEXUS_GZIP_IMAGES: '2',
        NEXUS_GZIP_MIN_BYTES: '1000',
        NEXUS_MAX_CHUNK_BYTES: '4096',
      }),
    );
    assert.equal(channelAt(plan, '/spectrum/data').gzip, 4);
    assert.equal(channelAt(plan, '/image/data').gzip, 2);
    assert.equal(channelAt(plan, '/diode1/data').gzip, undefined);
    assert.equal(channelAt(plan, '/sy/value').gzip, undefined);
    // 4096-byte chunks: 64 spectra of 64 bytes, 42 frames of 96 bytes; never more rows than points (100).
    assert.equal(channelAt(plan, '/spectrum/data').chunkRows, 64);
    assert.equal(channelAt(plan, '/image/data').chunkRows, 42);
    assert.equal(channelAt(plan, '/sy/value').chunkRows, POINTS);
    assert.equal(channelAt(plain, '/spectrum/data').chunkRows, POINTS);
  });
});

describe('h5py sees the configured filter and chunks in the written file', () => {
  it('gzip on spectra and images at their levels, whole points per chunk, scalars uncompressed, values bit for bit', async () => {
    const run = scanWithEveryKind();
    const plan = planOf(
      run,
      storageOptionsFromEnv({
        NEXUS_GZIP_SPECTRA: '4',
        NEXUS_GZIP_IMAGES: '6',
        NEXUS_GZIP_MIN_BYTES: '1000',
        NEXUS_MAX_CHUNK_BYTES: '4096',
      }),
    );
    const chunks = new Map(run.chunks.map((c) => [c.key, c.bytes]));
    const datums = run.documents.filter((d) => d['detail-type'] === 'StreamDatum').map((d) => d.detail as StreamDatum);
    const file = await (
      await H5wasmScanFileWriter.create()
    ).write(plan, async function* (channel: PlanChannel): AsyncGenerator<ChannelSlice> {
      for (const d of datums.filter((x) => x.stream_resource === channel.resourceUid))
        yield { start: d.indices.start, stop: d.indices.stop, bytes: chunks.get(d.chunk.key)! };
    });
    try {
      const script = [
        'import h5py, json, sys, hashlib',
        'f = h5py.File(sys.argv[1], "r")',
        'out = {}',
        'for p in ("/3.1/instrument/spectrum/data", "/3.1/instrument/image/data", "/3.1/instrument/diode1/data", "/3.1/instrument/sy/value"):',
        '    d = f[p]',
        '    out[p] = {"compression": d.compression, "opts": d.compression_opts, "chunks": list(d.chunks) if d.chunks else None,',
        '              "shape": list(d.shape), "sha256": hashlib.sha256(d[()].tobytes()).hexdigest()}',
        'print(json.dumps(out))',
      ].join('\n');
      const read = spawnSync(venvPython, ['-c', script, file.path], { encoding: 'utf8', cwd: projectRoot });
      assert.equal(read.status, 0, read.stderr);
      const got = JSON.parse(read.stdout) as Record<
        string,
        { compression: string | null; opts: number | null; chunks: number[] | null; shape: number[]; sha256: string }
      >;
      const sha = (name: string) => createHash('sha256').update(run.channelBytes[name]!).digest('hex');
      assert.deepEqual(got['/3.1/instrument/spectrum/data'], {
        compression: 'gzip',
        opts: 4,
        chunks: [64, 16],
        shape: [POINTS, 16],
        sha256: sha('mca1:spectrum'),
      });
      assert.deepEqual(got['/3.1/instrument/image/data'], {
        compression: 'gzip',
        opts: 6,
        chunks: [42, 8, 6],
        shape: [POINTS, 8, 6],
        sha256: sha('cam:image'),
      });
      assert.deepEqual(got['/3.1/instrument/diode1/data'], {
        compression: null,
        opts: null,
        chunks: [POINTS],
        shape: [POINTS],
        sha256: sha('ctrl:diode1'),
      });
      assert.deepEqual(got['/3.1/instrument/sy/value'], {
        compression: null,
        opts: null,
        chunks: [POINTS],
        shape: [POINTS],
        sha256: sha('axis:sy'),
      });
    } finally {
      await file.dispose();
    }
  });
});
