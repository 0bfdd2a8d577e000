import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { H5wasmScanFileWriter, sha256File } from '../../src/adapters/h5wasm-scan-file-writer.js';
import { buildScanLayout } from '../../src/core/nexus/scan-layouts.js';
import { type PlanChannel } from '../../src/core/nexus/layout.js';
import type { ChannelSlice } from '../../src/core/archive/ports.js';
import type { EventDescriptor, RunStart, RunStop, StreamDatum, StreamResource } from '../../src/core/contract/generated-types.js';
import { projectRoot, venvPython } from '../../local/services.js';
import { sampleScan } from './archive-fixtures.js';

describe('h5wasm scan file writer', () => {
  const run = sampleScan(12);
  const of = <T>(type: string) => run.documents.filter((d) => d['detail-type'] === type).map((d) => d.detail as T);
  const stop = run.stop.detail as RunStop;
  const plan = buildScanLayout({
    start: of<RunStart>('RunStart')[0]!,
    stop,
    descriptors: of<EventDescriptor>('EventDescriptor'),
    resources: of<StreamResource>('StreamResource'),
    points: stop.bliss.points as Record<string, number>,
    fileName: 'f.h5',
    creator: 'beamline-archive test',
    hdf5Version: '2.0.0',
  });
  const chunks = new Map(run.chunks.map((c) => [c.key, c.bytes]));
  const datums = of<StreamDatum>('StreamDatum');
  async function* slices(channel: PlanChannel): AsyncGenerator<ChannelSlice> {
    for (const d of datums.filter((x) => x.stream_resource === channel.resourceUid)) {
      yield { start: d.indices.start, stop: d.indices.stop, bytes: chunks.get(d.chunk.key)! };
    }
  }

  it('writes byte-for-byte the same file at different wall-clock times, with object times at the run stop', async () => {
    const writer = await H5wasmScanFileWriter.create();
    const first = await writer.write(plan, slices);
    await sleep(1100);
    const second = await writer.write(plan, slices);
    try {
      assert.equal(await sha256File(second.path), await sha256File(first.path));
      assert.equal(second.bytes, first.bytes);
      const times = spawnSync(
        venvPython,
        ['-c', 'import h5py,sys; f=h5py.File(sys.argv[1]); print(h5py.h5o.get_info(f["3.1/instrument/sy/value"].id).ctime)', first.path],
        { encoding: 'utf8' },
      );
      assert.equal(times.stdout.trim(), String(Math.floor(stop.time)), times.stderr);
      const dumped = spawnSync(venvPython, [join(projectRoot, 'test/support/h5py-dump-scan.py'), first.path], { encoding: 'utf8' });
      const dump = JSON.parse(dumped.stdout) as { datasets: Record<string, { dtype: string; shape: number[] }> };
      assert.deepEqual(dump.datasets['/3.1/instrument/spectrum/data'], {
        ...dump.datasets['/3.1/instrument/spectrum/data'],
        dtype: '<u4',
        shape: [12, 16],
      });
    } finally {
      await first.dispose();
      await second.dispose();
    }
  });

  it('reads the file back in steps: timers (the SQS visibility heartbeat) fire while it is verified', async () => {
    // 16 bytes per step: every channel of the 12-point scan is read back in many selections.
    let closing = false;
    const writer = await H5wasmScanFileWriter.create({
      verifyReadBytes: 16,
      beforeClose: () => {
        closing = true;
      },
    });
    let beats = 0;
    const timer = setInterval(() => {
      if (closing) beats += 1;
    }, 0);
    let written: Awaited<ReturnType<typeof writer.write>> | undefined;
    try {
      written = await writer.write(plan, slices);
    } finally {
      clearInterval(timer);
      await written?.dispose();
    }
    // One synchronous read-back (before) lets the timer fire at most once, at the stat that follows it.
    assert.ok(beats >= 5, `a timer fired ${beats} times while the file was closed and read back`);
  });

  it('reports the HDF5 version it writes with', async () => {
    assert.match((await H5wasmScanFileWriter.create()).hdf5Version, /^\d+\.\d+\.\d+$/);
  });
});
