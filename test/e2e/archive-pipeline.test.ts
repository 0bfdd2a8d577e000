/**
 * The backbone end to end: scans published with the real blissdata package into the real Redis,
 * the bridge and the local Lambda runner against the emulator provisioned from the CDK template,
 * and every archived file judged by h5py against the published values, bit for bit.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { run, startLocalPipeline, type LocalPipeline, type PublishOptions, type PublishedScan } from '../../local/pipeline.js';
import { projectRoot, venvPython } from '../../local/services.js';
import { DetailType } from '../../src/core/contract/detail-types.js';
import { bridgeSourceOf } from '../../src/core/access/edge-source.js';

const judgeScript = join(projectRoot, 'test', 'support', 'judge_scan_file.py');

describe('BLISS scan → bridge → bus → functions → NeXus file in S3', () => {
  let pipeline: LocalPipeline;
  const dir = mkdtempSync(join(tmpdir(), 'ba-e2e-'));
  const scans: { options: PublishOptions; published?: PublishedScan }[] = [
    { options: { type: 'ascan', number: 1, points: 300, counters: 3, batch: 10, dtype: 'float64', sampleName: 'gold foil' } },
    { options: { type: 'loopscan', number: 2, points: 120, counters: 2, batch: 7, dtype: 'float32', spectrum: 16 } },
    { options: { type: 'ascan', number: 3, points: 50, counters: 2, batch: 1, dtype: 'int16' } },
  ];

  before(async () => {
    pipeline = await startLocalPipeline({ chunkPoints: 64, logLevel: 'ERROR' });
    await Promise.all(
      scans.map(async (scan, i) => {
        scan.published = await pipeline.publish({ ...scan.options, dumpValues: join(dir, `scan${i}.npz`) });
      }),
    );
  });

  after(async () => {
    await pipeline?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('archives every scan, and h5py reads back exactly what blissdata published', async () => {
    for (const [i, scan] of scans.entries()) {
      const published = scan.published!;
      const record = await pipeline.waitForRun(published.run_uid);
      assert.equal(record.state, 'ARCHIVED', `run ${published.run_uid}: ${JSON.stringify(record)}`);
      const file = record.file!;
      assert.match(
        file.key,
        new RegExp(`^archive/ihch123/id00/20261122/sample1/sample1_0001/sample1_0001_000${scan.options.number}\\.h5$`),
      );
      const local = join(dir, `scan${i}.h5`);
      await pipeline.download(file.key, local);
      const args = [
        judgeScript,
        local,
        '--values',
        join(dir, `scan${i}.npz`),
        '--scan-number',
        String(scan.options.number),
        '--end-reason',
        'SUCCESS',
      ];
      if (scan.options.sampleName) args.push('--sample-name', scan.options.sampleName);
      const { stdout, stderr } = await run(venvPython, args);
      const verdict = JSON.parse(stdout || '{}') as { ok: boolean; problems: string[]; channels: Record<string, { identical: boolean }> };
      assert.deepEqual(verdict.problems, [], stderr);
      assert.ok(verdict.ok);
      assert.deepEqual(Object.keys(verdict.channels).sort(), Object.keys(published.channels).sort());
      assert.ok(Object.values(verdict.channels).every((c) => c.identical));
      for (const [channel, points] of Object.entries(record.points ?? {})) {
        assert.equal(points, published.points, `points of ${channel}`);
      }
    }
  });

  it('leaves no .tmp object behind, only the final files and their indexes', async () => {
    const listed = await pipeline.env.clients.s3.send(new ListObjectsV2Command({ Bucket: pipeline.bucket, Prefix: 'archive/' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!).sort();
    const files = scans.map((s) => `archive/ihch123/id00/20261122/sample1/sample1_0001/sample1_0001_000${s.options.number}.h5`);
    assert.deepEqual(keys, files.flatMap((f) => [f, `${f}.index.json`]).sort());
  });

  it('survives a duplicate RunStop: one final object, same bytes, one catalogue record', async () => {
    const published = scans[0]!.published!;
    const before = await pipeline.catalogue.getRun(published.run_uid);
    const objectBefore = await pipeline.env.clients.s3.send(new GetObjectCommand({ Bucket: pipeline.bucket, Key: before!.file!.key }));
    const bytesBefore = await objectBefore.Body!.transformToByteArray();
    const [stop] = (await pipeline.catalogue.listDocuments(published.run_uid)).filter((d) => d.detailType === DetailType.RunStop);
    assert.ok(stop, 'the RunStop document is in the catalogue');
    await pipeline.env.clients.events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: pipeline.env.resources.bus.name,
            Source: bridgeSourceOf(before!.dataPolicy!.beamline),
            DetailType: DetailType.RunStop,
            Detail: JSON.stringify(stop.body),
          },
        ],
      }),
    );
    await new Promise((r) => setTimeout(r, 1500));
    await pipeline.runner.waitForIdle({ timeoutMs: 60_000 });
    const after = await pipeline.catalogue.getRun(published.run_uid);
    assert.equal(after?.state, 'ARCHIVED');
    assert.deepEqual(after?.file, before?.file);
    const objectAfter = await pipeline.env.clients.s3.send(new GetObjectCommand({ Bucket: pipeline.bucket, Key: before!.file!.key }));
    assert.deepEqual(Buffer.from(await objectAfter.Body!.transformToByteArray()), Buffer.from(bytesBefore));
    const runItems = await pipeline.env.clients.dynamo.send(
      new QueryCommand({
        TableName: pipeline.env.resources.table.name,
        KeyConditionExpression: 'pk = :pk AND sk = :sk',
        ExpressionAttributeValues: { ':pk': `RUN#${published.run_uid}`, ':sk': 'RUN' },
      }),
    );
    assert.equal(runItems.Items?.length, 1);
  });

  it('marks an undecodable scan FAILED with stream and index, while a good scan still archives', async () => {
    const [broken, good] = await Promise.all([
      pipeline.publish({ type: 'ascan', number: 10, points: 40, counters: 2, batch: 5, corrupt: 'truncated' }),
      pipeline.publish({ type: 'ascan', number: 11, points: 40, counters: 2, batch: 5 }),
    ]);
    const failed = await pipeline.waitForRun(broken.run_uid);
    assert.equal(failed.state, 'FAILED');
    const text = JSON.stringify(failed);
    assert.ok(text.includes(broken.corrupt!.stream), `the failure names the stream: ${text}`);
    assert.ok(text.includes(String(broken.corrupt!.index)), `the failure names the index: ${text}`);
    const archived = await pipeline.waitForRun(good.run_uid);
    assert.equal(archived.state, 'ARCHIVED');
    const head = await pipeline.env.clients.s3.send(
      new ListObjectsV2Command({ Bucket: pipeline.bucket, Prefix: 'archive/ihch123/id00/20261122/sample1/sample1_0001/sample1_0001_0010' }),
    );
    assert.equal(head.KeyCount ?? 0, 0, 'no file for the broken scan');
  });

  it('keeps hostile collection and dataset names inside the archive folder', async () => {
    const hostile = await pipeline.publish({
      type: 'ct',
      number: 20,
      points: 1,
      counters: 1,
      collection: '../../etc',
      dataset: 'x\u0007y',
    });
    const record = await pipeline.waitForRun(hostile.run_uid);
    if (record.state === 'ARCHIVED') {
      const key = record.file!.key;
      assert.ok(key.startsWith('archive/ihch123/id00/'), key);
      assert.ok(!key.split('/').some((part) => part === '..' || part === '.' || part === ''), key);
    } else {
      assert.equal(record.state, 'FAILED');
      assert.match(JSON.stringify(record), /control characters|relative path/);
    }
  });
});
