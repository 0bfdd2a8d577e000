// Aborted and failed scans: the partial data (fewer points than npoints) is written exactly as published and the file says why the scan ended.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { H5wasmScanFileWriter } from '../../src/adapters/h5wasm-scan-file-writer.js';
import { buildScanLayout } from '../../src/core/nexus/scan-layouts.js';
import { type PlanChannel } from '../../src/core/nexus/layout.js';
import type { ChannelSlice } from '../../src/core/archive/ports.js';
import type { EventDescriptor, RunStart, RunStop, StreamDatum, StreamResource } from '../../src/core/contract/generated-types.js';
import { projectRoot, venvPython } from '../../local/services.js';
import { buildRun } from './archive-fixtures.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

for (const endReason of ['USER_ABORT', 'FAILURE'] as const) {
  describe(`a scan ended ${endReason} after 7 of 10 points`, () => {
    it('holds the 7 published points bit for bit and end_reason', async () => {
      const run = buildRun({
        points: 7,
        chunkPoints: 3,
        channels: [
          { name: 'axis:sy', dtype: '<f8', units: 'mm', values: new Float64Array([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) },
          { name: 'ctrl:diode1', dtype: '<f4', values: new Float32Array([1, 2, Number.NaN, 4, 5, 6, 7]) },
        ],
        scanInfo: { title: 'ascan sy 0 0.9 9 0.1', type: 'ascan', npoints: 10, count_time: 0.1, end_reason: endReason },
      });
      const of = <T>(type: string) => run.documents.filter((d) => d['detail-type'] === type).map((d) => d.detail as T);
      const stop = { ...(run.stop.detail as RunStop) };
      stop.bliss = { ...stop.bliss, end_reason: endReason };
      const plan = buildScanLayout({
        start: of<RunStart>('RunStart')[0]!,
        stop,
        descriptors: of<EventDescriptor>('EventDescriptor'),
        resources: of<StreamResource>('StreamResource'),
        scanInfo: JSON.parse(Buffer.from(run.scanInfo!.bytes).toString('utf8')) as Record<string, unknown>,
        points: stop.bliss.points as Record<string, number>,
        fileName: 'f.h5',
        creator: 'beamline-archive test',
        hdf5Version: '2.0.0',
      });
      const chunks = new Map(run.chunks.map((c) => [c.key, c.bytes]));
      const datums = of<StreamDatum>('StreamDatum');
      const file = await (
        await H5wasmScanFileWriter.create()
      ).write(plan, async function* (channel: PlanChannel): AsyncGenerator<ChannelSlice> {
        for (const d of datums.filter((x) => x.stream_resource === channel.resourceUid))
          yield { start: d.indices.start, stop: d.indices.stop, bytes: chunks.get(d.chunk.key)! };
      });
      try {
        const dumped = spawnSync(venvPython, [join(projectRoot, 'test/support/h5py-dump-scan.py'), file.path], { encoding: 'utf8' });
        assert.equal(dumped.status, 0, dumped.stderr);
        const dump = JSON.parse(dumped.stdout) as {
          datasets: Record<string, { dtype: string; shape: number[]; sha256?: string; value?: unknown }>;
        };
        assert.equal(dump.datasets['/3.1/end_reason']?.value, endReason);
        assert.deepEqual(dump.datasets['/3.1/instrument/sy/value'], {
          dtype: '<f8',
          shape: [7],
          sha256: sha(run.channelBytes['axis:sy']!),
        });
        assert.deepEqual(dump.datasets['/3.1/instrument/diode1/data'], {
          dtype: '<f4',
          shape: [7],
          sha256: sha(run.channelBytes['ctrl:diode1']!),
        });
      } finally {
        await file.dispose();
      }
    });
  });
}
