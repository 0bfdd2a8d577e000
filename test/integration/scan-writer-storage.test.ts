/**
 * The scan file storage setting, from the deployment to the file: the CDK app is synthesized with
 * the context `scanFileGzipSpectra=5`, `scanFileGzipMinBytes=100000` and `scanFileMaxChunkBytes=8192`, provisioned into the
 * emulator, and the local runner gives the scan-writer the environment of its template function;
 * a scan with an MCA published by the real blissdata goes through the bridge and the pipeline, and
 * h5py reads the filter and chunks of the archived file (the 154 kB spectra gzip 5, the 2.4 kB scalars
 * under the threshold plain).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { startBridge, type RunningBridge } from '../../bridge/bridge.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import type { RunRecord } from '../../src/core/archive/ports.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.js';
import { initBlissDataStore, publishScan } from '../../local/pipeline.js';
import { venvPython } from '../../local/services.js';
import { emulatorCredentials } from '../../local/aws-target.js';

describe('scan file storage set per deployment reaches the archived file', () => {
  let env: LocalEnvironment;
  let bridge: RunningBridge | undefined;
  const work = mkdtempSync(join(tmpdir(), 'ba-storage-'));

  before(async () => {
    env = await startLocalEnvironment({
      context: { scanFileGzipSpectra: '5', scanFileGzipMinBytes: '100000', scanFileMaxChunkBytes: '8192' },
    });
    await env.startRunner({ log: () => undefined, environment: { LOG_LEVEL: 'ERROR' } });
    if (env.started.redis) await initBlissDataStore(env.redisUrl!);
    bridge = await startBridge({
      limaRoots: [tmpdir()],
      redisUrl: env.redisUrl!,
      bucket: env.resources.bucket.name,
      eventBusName: env.resources.bus.name,
      beamline: 'id00',
      from: '0',
      aws: { region: env.region, endpoint: env.awsEndpoint, credentials: emulatorCredentials() },
      logLevel: 'ERROR',
    });
  });

  after(async () => {
    rmSync(work, { recursive: true, force: true });
    try {
      await Promise.race([bridge?.stop(), new Promise((r) => setTimeout(r, 20_000).unref())]);
    } finally {
      await env?.stop();
    }
  });

  it('the template carries the setting to the scan-writer, and h5py sees gzip 5 and 8 KiB chunks on the spectra, scalars under the threshold plain', async () => {
    const compute = env.templates.find((t) => JSON.stringify(t).includes('NEXUS_GZIP_SPECTRA'));
    assert.ok(compute, 'a synthesized template sets NEXUS_GZIP_SPECTRA');

    const values = join(work, 'values.npz');
    const scan = await publishScan(env.redisUrl!, {
      type: 'ascan',
      points: 300,
      counters: 2,
      spectrum: 128,
      batch: 25,
      number: 7,
      dumpValues: values,
    });
    const catalogue = new DynamoDbRunCatalogue(env.clients.dynamo, env.resources.table.name);
    let record: RunRecord | undefined;
    for (const deadline = Date.now() + 90_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      record = await catalogue.getRun(scan.run_uid);
      if (record?.state === 'ARCHIVED' || record?.state === 'FAILED') break;
    }
    assert.equal(record?.state, 'ARCHIVED', JSON.stringify(record?.failure));
    const file = join(work, 'scan.h5');
    const object = await env.clients.s3.send(new GetObjectCommand({ Bucket: env.resources.bucket.name, Key: record.file!.key }));
    writeFileSync(file, await object.Body!.transformToByteArray());

    const script = [
      'import h5py, json, sys, numpy as np',
      'f = h5py.File(sys.argv[1], "r"); v = np.load(sys.argv[2]); out = {}',
      'for name, path in (("mca1:spectrum_det0", "/7.1/instrument/spectrum_det0/data"),',
      '                   ("simulation_diode_sampling_controller:diode1", "/7.1/instrument/diode1/data"), ("axis:sy", "/7.1/instrument/sy/value")):',
      '    d = f[path]; want = v[name.replace(":", "__")]',
      '    out[name] = {"compression": d.compression, "opts": d.compression_opts, "chunks": list(d.chunks),',
      '                 "identical": d.dtype == want.dtype and d.shape == want.shape and d[()].tobytes() == want.tobytes()}',
      'print(json.dumps(out))',
    ].join('\n');
    const read = spawnSync(venvPython, ['-c', script, file, values], { encoding: 'utf8' });
    assert.equal(read.status, 0, read.stderr);
    const got = JSON.parse(read.stdout) as Record<
      string,
      { compression: string | null; opts: number | null; chunks: number[]; identical: boolean }
    >;
    // 8192-byte chunks: 16 spectra of 128 uint32 (512 bytes), 1024 float64 scalars (more than the 300 points).
    assert.deepEqual(got['mca1:spectrum_det0'], { compression: 'gzip', opts: 5, chunks: [16, 128], identical: true });
    assert.deepEqual(got['simulation_diode_sampling_controller:diode1'], { compression: null, opts: null, chunks: [300], identical: true });
    assert.deepEqual(got['axis:sy'], { compression: null, opts: null, chunks: [300], identical: true });
  });
});
