/**
 * A custom procedure like BLISS's demo, end to end: it opens its own dataset, adds FLUO, writes
 * fields before and after two scans published with the real blissdata package, and closes the
 * dataset. The scans go through the bridge, the bus and the functions; the dataset through the
 * IAM-authorised API. Checked: the catalogue records and the master file, read back by h5py from
 * the dataset folder downloaded as a whole (its external links resolve to the scan files).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startLocalPipeline, type LocalPipeline } from '../../local/pipeline.js';
import { signedRequest } from '../../src/adapters/signed-http.js';
import { datasetPrefix } from '../../src/core/object-keys.js';
import { eventually } from '../support/sqs-helpers.js';
import { readMaster } from '../integration/datasets-support.js';
import { spawnSync } from 'node:child_process';
import { httpRangeSource, IndexedFile, parseFileIndex } from '../../src/client/indexed-file-reader.js';
import { projectRoot, venvPython } from '../../local/services.js';
import { emulatorCredentials } from '../../local/aws-target.js';

describe('custom procedure: own dataset, FLUO, fields around blissdata scans, close', () => {
  let pipeline: LocalPipeline;
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'ba-datasets-e2e-'));
  const ref = { proposal: 'ihch123', beamline: 'id00', session: '20261122', collection: 'fluo_sample', dataset: 'map01' };
  const id = Object.values(ref).join('/');
  const api = (path: string, method = 'GET', body?: unknown) =>
    signedRequest(
      { url: `${url}${path}`, method, ...(body !== undefined ? { body } : {}) },
      { region: pipeline.env.region, credentials: emulatorCredentials() },
    );

  before(async () => {
    pipeline = await startLocalPipeline({ logLevel: 'ERROR' });
    url = (await pipeline.env.startHttpGateway()).urlOf('dataset-api').replace(/\/$/, '');
  });
  after(async () => {
    await pipeline?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the procedure and closes the dataset with its master file', async () => {
    // Before the scans: open, add FLUO, describe the sample and the map.
    const opened = await api('/datasets', 'POST', {
      dataset: ref,
      metadata: { Sample_name: 'fluo_sample', Sample_description: 'NIST SRM 1832' },
    });
    assert.equal(opened.status, 201, opened.body);
    assert.equal((await api(`/datasets/${id}/techniques`, 'POST', { technique: 'FLUO' })).status, 200);
    const before = await api(`/datasets/${id}/metadata`, 'PATCH', {
      fields: { FLUO_scanDim1: '5', FLUO_scanDim2: '4', FLUO_scanAxis1: 'sy', scanNumber: '1' },
    });
    assert.equal(before.status, 200, before.body);

    // The scans, published with blissdata into this dataset's folder.
    const scans = [];
    for (const number of [1, 2]) {
      const scan = await pipeline.publish({
        type: 'ascan',
        number,
        points: 20,
        counters: 2,
        collection: ref.collection,
        dataset: ref.dataset,
        sampleName: 'fluo_sample',
      });
      scans.push(scan);
    }
    for (const scan of scans) assert.equal((await pipeline.waitForRun(scan.run_uid)).state, 'ARCHIVED');

    // After the scans: the measured values.
    const afterScans = await api(`/datasets/${id}/metadata`, 'PATCH', {
      fields: { FLUO_i0: '1.25e5', FLUO_it: '9.8e4', FLUO_dwellTime: '0.1', FLUO_pixelSize: '2.5' },
    });
    assert.equal(afterScans.status, 200, afterScans.body);
    const missing = (await api(`/datasets/${id}/missing`)).json as { mandatory: string[]; techniques: { FLUO: string[] } };
    assert.deepEqual(missing.mandatory, ['endDate']);
    assert.ok(!missing.techniques.FLUO.includes('FLUO_i0'));

    // Both scans joined the dataset and their files are known (dataset-recorder, from the bus).
    await eventually(
      async () => {
        const listed = (await api(`/datasets/${id}/scans`)).json as { scans: { fileKey?: string }[] };
        return listed.scans.length === 2 && listed.scans.every((s) => s.fileKey);
      },
      60_000,
      'scans joined with their files',
    );

    const closed = await api(`/datasets/${id}/close`, 'POST');
    assert.equal(closed.status, 200, closed.body);
    const record = closed.json as {
      state: string;
      end_date: string;
      missing: { mandatory: string[]; techniques: { FLUO: string[] } };
      master_file: { key: string };
    };
    assert.equal(record.state, 'CLOSED');
    assert.deepEqual(record.missing.mandatory, []);
    assert.ok(record.missing.techniques.FLUO.includes('FLUO_scanRange1'), 'unset technique fields are recorded');
    assert.equal(record.master_file.key, `${datasetPrefix(ref)}fluo_sample_map01.h5`);

    // The catalogue: by proposal, open datasets no longer list it, a late edit is refused.
    const listed = (await api('/datasets?proposal=ihch123')).json as { datasets: { id: string; state: string }[] };
    assert.deepEqual(
      listed.datasets.filter((d) => d.id === id).map((d) => d.state),
      ['CLOSED'],
    );
    const open = (await api('/datasets?open=true')).json as { datasets: { id: string }[] };
    assert.ok(!open.datasets.some((d) => d.id === id));
    assert.equal((await api(`/datasets/${id}/metadata`, 'PATCH', { fields: { FLUO_i0: '1' } })).status, 409);
    const late = await pipeline.publish({ type: 'ct', number: 3, collection: ref.collection, dataset: ref.dataset });
    await pipeline.waitForRun(late.run_uid);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(
      ((await api(`/datasets/${id}/scans`)).json as { scans: unknown[] }).scans.length,
      2,
      'a scan after the close does not join',
    );

    // Download the dataset folder as a whole; h5py reads the master file and follows its links.
    const prefix = datasetPrefix(ref);
    const objects = await pipeline.env.clients.s3.send(new ListObjectsV2Command({ Bucket: pipeline.bucket, Prefix: prefix }));
    for (const object of objects.Contents ?? []) {
      const out = await pipeline.env.clients.s3.send(new GetObjectCommand({ Bucket: pipeline.bucket, Key: object.Key! }));
      writeFileSync(join(dir, object.Key!.slice(prefix.length)), await out.Body!.transformToByteArray());
    }
    const dump = readMaster(join(dir, 'fluo_sample_map01.h5'));
    for (const n of [1, 2]) {
      const entry = dump.entries[`${n}.1`]!;
      assert.equal(entry.kind, 'ExternalLink');
      assert.equal(entry.file, `fluo_sample_map01_000${n}.h5`);
      assert.equal(entry.resolves, true, `${n}.1 resolves in the downloaded folder`);
      assert.equal(entry.nx_class, 'NXentry');
      assert.match(String(entry.title), /^ascan/);
    }
    assert.equal(dump.entries['3.1'], undefined);
    assert.equal(dump.fields.definition?.value, 'FLUO');
    assert.deepEqual(dump.fields['FLUO/i0'], { value: 125000 });
    assert.deepEqual(dump.fields['FLUO/dwellTime'], { value: 0.1, units: 's' });
    assert.deepEqual(dump.fields['FLUO/pixelSize'], { value: 2.5, units: 'μm' });
    assert.equal(dump.fields['FLUO/scanAxis_1']?.value, 'sy');
    assert.equal(dump.fields['sample/name']?.value, 'fluo_sample');
    assert.equal(dump.fields['sample/description']?.value, 'NIST SRM 1832');
    assert.equal(dump.fields.end_time?.value, record.end_date);
    assert.equal(dump.groups.FLUO, 'NXsubentry');

    // The portal's file route (docs/adr/0009): presigned URLs of a scan file and its index; a channel
    // read by range requests equals h5py's read of the whole downloaded file.
    const listedScans = (await api(`/datasets/${id}/scans`)).json as { scans: { runUid: string; fileKey: string }[] };
    const first = listedScans.scans.find((s) => s.fileKey.endsWith('_0001.h5'))!;
    const links = (await api(`/datasets/${id}/scans/${first.runUid}/file`)).json as {
      url: string;
      index_url: string;
      file: { key: string };
    };
    assert.equal(links.file.key, first.fileKey);
    const file = new IndexedFile(parseFileIndex(await (await fetch(links.index_url)).json()), httpRangeSource(links.url));
    const channels = Object.keys(file.index.entries).filter(
      (p) => /^\/1\.1\/instrument\/[^/]+\/data$/.test(p) && file.index.entries[p]?.kind === 'dataset',
    );
    assert.ok(channels.length >= 2, `channels: ${channels.join(', ')}`);
    const judged = spawnSync(
      venvPython,
      [join(projectRoot, 'test/support/h5py-select.py'), join(dir, 'fluo_sample_map01_0001.h5'), ...channels],
      { encoding: 'utf8' },
    );
    assert.equal(judged.status, 0, judged.stderr);
    for (const channel of channels) {
      assert.deepEqual(
        Array.from((await file.read(channel)) as ArrayLike<number>, Number),
        (JSON.parse(judged.stdout) as Record<string, number[]>)[channel],
        channel,
      );
    }
    assert.ok(file.source.stats.bytes < file.index.file.bytes, `read ${file.source.stats.bytes} of ${file.index.file.bytes} bytes`);
    assert.equal((await api(`/datasets/${id}/scans/01NOTASCAN/file`)).status, 404);
  });
});
