/**
 * run-recorder + scan-writer against the AWS emulator (moto, or AWS_ENDPOINT_URL): documents go
 * through the run-recorder Lambda entry as SQS events, the RunStop through the scan-writer entry,
 * and the published file is judged by h5py (test/support/h5py-dump-scan.py and judge_scan_file.py)
 * and nexusformat's nxcheck. Run Archived is captured by an EventBridge rule delivering to SQS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { AwsClients } from '../../src/adapters/aws-clients.js';
import type { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import { projectRoot, venvBin, venvPython } from '../../local/services.js';
import { validateEvent, type BusEvent } from '../../src/core/contract/validators.js';
import { fileIndexKeyOf, scanFileKey, tmpKeyOf } from '../../src/core/object-keys.js';
import type { FileIndex } from '../../src/core/file-index/model.js';
import type { RunStart, RunStop, StreamDatum } from '../../src/core/contract/generated-types.js';
import { buildRun, sampleScan, type FixtureRun } from '../unit/archive-fixtures.js';
import {
  queueOfSources,
  sqsEvent,
  stageRun,
  startArchiveStack,
  type ArchiveStack,
  type SqsHandler as Handler,
} from '../support/archive-stack.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('scan-writer and run-recorder against the emulator', () => {
  let stack: ArchiveStack | undefined;
  let clients: AwsClients;
  let store: S3ObjectStore;
  let recorder: Handler;
  let writer: Handler;
  let queueUrl: string;
  let deadLetterUrl: string;
  const bucket = `archive-${Date.now()}`;
  const table = `catalogue-${Date.now()}`;
  const work = mkdtempSync(join(tmpdir(), 'ba-scan-writer-'));

  before(async () => {
    stack = await startArchiveStack({ name: 'archive', bucket, table, functionEnv: {} });
    ({ clients, store } = stack);
    // The functions' own dead-letter queue: where they park what no retry can fix (DEAD_LETTER_QUEUE_URL).
    deadLetterUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: `dlq-${Date.now()}` }))).QueueUrl!;
    process.env.DEAD_LETTER_QUEUE_URL = deadLetterUrl;
    queueUrl = await queueOfSources(stack, 'scan-writer-out', ['beamline-archive.scan-writer', 'beamline-archive.run-recorder']);
    recorder = (await import('../../functions/run-recorder/handler.js')).handler as Handler;
    writer = (await import('../../functions/scan-writer/handler.js')).handler as Handler;
  });

  after(async () => {
    rmSync(work, { recursive: true, force: true });
    await stack?.stop();
  });

  const stage = (run: FixtureRun) => stageRun(store, run);

  /** Documents through the run-recorder, shuffled deterministically and in batches of 10. */
  async function record(documents: readonly BusEvent[]): Promise<void> {
    const shuffled = [...documents]
      .map((d, i) => [(i * 7919) % 104729, d] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([, d]) => d);
    for (let i = 0; i < shuffled.length; i += 10) {
      const out = await recorder(sqsEvent(shuffled.slice(i, i + 10)));
      assert.deepEqual(out.batchItemFailures, []);
    }
  }

  async function download(key: string): Promise<{ path: string; bytes: Uint8Array }> {
    const bytes = await store.get(key);
    const path = join(work, `${randomUUID()}.h5`);
    writeFileSync(path, bytes);
    return { path, bytes };
  }

  async function receiveAll(): Promise<BusEvent[]> {
    const got: BusEvent[] = [];
    for (let i = 0; i < 3; i += 1) {
      const out = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of out.Messages ?? []) got.push(validateEvent(JSON.parse(m.Body!)));
      if ((out.Messages ?? []).length === 0 && got.length > 0) break;
    }
    return got;
  }

  const run = sampleScan(25, { bucket });
  const start = run.documents[0]!.detail as RunStart;
  const finalKey = scanFileKey(start.data_policy, start.scan_id);
  let firstSha = '';

  it('records documents, writes the scan file, publishes it and announces Run Archived', async () => {
    await stage(run);
    await record([...run.documents, run.stop]);
    const out = await writer(sqsEvent([run.stop]));
    assert.deepEqual(out.batchItemFailures, []);

    assert.equal(await store.head(tmpKeyOf(finalKey)), undefined, 'the .tmp object is removed');
    const file = await download(finalKey);
    firstSha = sha(file.bytes);
    // The file's index is next to it, describes these bytes and locates the spectrum's chunks where h5py does (issue 16).
    const index = JSON.parse(Buffer.from(await store.get(fileIndexKeyOf(finalKey))).toString('utf8')) as FileIndex;
    assert.deepEqual(
      index.file,
      { bytes: file.bytes.byteLength, sha256: firstSha, etag: (await store.head(finalKey))?.etag },
      'the index names the object it describes (size, sha256, ETag)',
    );
    const located = spawnSync(venvPython, [join(projectRoot, 'test/support/h5py-storage-map.py'), file.path], { encoding: 'utf8' });
    const spectrum = index.entries['/3.1/instrument/spectrum/data'];
    assert.ok(spectrum?.kind === 'dataset' && spectrum.storage.layout === 'chunked');
    assert.deepEqual(
      spectrum.storage.chunks,
      (JSON.parse(located.stdout) as Record<string, { chunks: number[][] }>)['/3.1/instrument/spectrum/data']!.chunks,
    );

    const dumped = spawnSync(venvPython, [join(projectRoot, 'test/support/h5py-dump-scan.py'), file.path], { encoding: 'utf8' });
    assert.equal(dumped.status, 0, dumped.stderr);
    const dump = JSON.parse(dumped.stdout) as {
      attrs: Record<string, Record<string, unknown>>;
      links: Record<string, string>;
      is_str: Record<string, boolean>;
      datasets: Record<string, { dtype: string; shape: number[]; sha256?: string; value?: string }>;
    };
    const expected = {
      '/3.1/instrument/sy/value': ['axis:sy', '<f8', [25]],
      '/3.1/instrument/diode1/data': ['simulation_diode_sampling_controller:diode1', '<f4', [25]],
      '/3.1/instrument/counts/data': ['simulation_counter_controller:counts', '<i2', [25]],
      '/3.1/instrument/spectrum/data': ['mca1:spectrum', '<u4', [25, 16]],
    } as const;
    for (const [path, [channel, dtype, shape]] of Object.entries(expected)) {
      assert.deepEqual(
        dump.datasets[path],
        { dtype, shape, sha256: sha(run.channelBytes[channel]!) },
        `${path} holds the staged bytes of ${channel}`,
      );
      assert.equal(dump.links[`/3.1/measurement/${path.split('/')[3]}`], path);
    }
    assert.equal(dump.attrs['/']!.NX_class, 'NXroot');
    assert.equal(dump.attrs['/']!.default, '3.1');
    assert.equal(dump.attrs['/']!.creator, 'beamline-archive 0.1.0');
    assert.equal(dump.attrs['/']!.file_name, 'sample1_0001_0003.h5');
    assert.equal(dump.attrs['/3.1']!.NX_class, 'NXentry');
    assert.equal(dump.attrs['/3.1/instrument']!.NX_class, 'NXinstrument');
    assert.equal(dump.attrs['/3.1/instrument/sy']!.NX_class, 'NXpositioner');
    assert.equal(dump.attrs['/3.1/instrument/sy/value']!.units, 'mm');
    assert.equal(dump.attrs['/3.1/instrument/diode1']!.NX_class, 'NXdetector');
    assert.equal(dump.attrs['/3.1/measurement']!.NX_class, 'NXcollection');
    assert.deepEqual(dump.attrs['/3.1/plotselect'], { NX_class: 'NXdata', signal: 'diode1', axes: ['sy'] });
    assert.equal(dump.links['/3.1/plotselect/diode1'], '/3.1/instrument/diode1/data');
    assert.equal(dump.datasets['/3.1/title']!.value, 'ascan sy 0 1 24 0.1');
    assert.equal(dump.datasets['/3.1/start_time']!.value, '2026-11-22T10:00:00.000000+01:00');
    assert.equal(dump.datasets['/3.1/end_time']!.value, '2026-11-22T10:00:02.000000+01:00');
    assert.equal(dump.datasets['/3.1/end_reason']!.value, 'SUCCESS');
    assert.equal(dump.datasets['/3.1/sample/name']!.value, 'sample1');
    assert.equal(dump.is_str['/3.1/title'], true, 'strings are variable-length UTF-8');

    const manifest: Record<string, { file: string; dtype: string; shape: number[] }> = {};
    for (const [, [channel, dtype, shape]] of Object.entries(expected)) {
      const f = join(work, `${channel.replace(/:/g, '_')}.bin`);
      writeFileSync(f, run.channelBytes[channel]!);
      manifest[channel] = { file: f, dtype, shape: [...shape] };
    }
    writeFileSync(join(work, 'manifest.json'), JSON.stringify(manifest));
    const npz = spawnSync(
      venvPython,
      [join(projectRoot, 'test/support/h5py-values-npz.py'), join(work, 'manifest.json'), join(work, 'values.npz')],
      { encoding: 'utf8' },
    );
    assert.equal(npz.status, 0, npz.stderr);
    const judged = spawnSync(
      venvPython,
      [
        join(projectRoot, 'test/support/judge_scan_file.py'),
        file.path,
        '--values',
        join(work, 'values.npz'),
        '--scan-number',
        '3',
        '--title',
        'ascan sy 0 1 24 0.1',
        '--sample-name',
        'sample1',
        '--end-reason',
        'SUCCESS',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(judged.status, 0, judged.stdout + judged.stderr);

    // nxcheck's only error is the entry name: NeXus's naming rule wants names that start with a
    // letter, the BLISS writer convention (DESIGN.md) names entries `<scan>.1`. Anything else fails.
    const nxcheck = spawnSync(join(venvBin, 'nxcheck'), ['-e', file.path], { encoding: 'utf8' });
    // eslint-disable-next-line no-control-regex -- strips nxcheck's ANSI colours
    const report = (nxcheck.stdout + nxcheck.stderr).replace(/\u001b\[[0-9;]*m/g, '');
    const errorLines = report
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /invalid|error|not |missing/i.test(l) && !/^Total number of errors/.test(l));
    assert.deepEqual(errorLines, ['"3.1" is an invalid name'], report);
    assert.match(report, /Total number of errors: 1\b/, report);

    const runItem = await clients.dynamo.send(new GetCommand({ TableName: table, Key: { pk: `RUN#${run.runUid}`, sk: 'RUN' } }));
    assert.equal(runItem.Item?.state, 'ARCHIVED');
    assert.deepEqual(runItem.Item?.file, { bucket, key: finalKey, bytes: file.bytes.byteLength, sha256: firstSha });
    assert.equal(runItem.Item?.points['mca1:spectrum'], 25);
    assert.equal(runItem.Item?.gsi1pk, 'DATASET#ihch123#id00#20261122#sample1#0001');

    const announced = (await receiveAll()).filter((e) => e['detail-type'] === 'Run Archived');
    assert.equal(announced.length, 1);
    assert.deepEqual((announced[0]!.detail as { file: unknown }).file, {
      bucket,
      key: finalKey,
      bytes: file.bytes.byteLength,
      sha256: firstSha,
    });
  });

  it('writes the same bytes when the RunStop is delivered again: one object, one run record, one file record', async () => {
    const out = await writer(sqsEvent([run.stop]));
    assert.deepEqual(out.batchItemFailures, []);
    const file = await download(finalKey);
    assert.equal(sha(file.bytes), firstSha, 'byte-for-byte identical file');
    const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'archive/' }));
    assert.deepEqual(
      listed.Contents?.map((o) => o.Key),
      [finalKey, fileIndexKeyOf(finalKey)],
    );
    const runItems = await clients.dynamo.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND sk = :sk',
        ExpressionAttributeValues: { ':pk': `RUN#${run.runUid}`, ':sk': 'RUN' },
      }),
    );
    assert.equal(runItems.Count, 1);
    const fileItem = await clients.dynamo.send(new GetCommand({ TableName: table, Key: { pk: `FILE#${finalKey}`, sk: 'FILE' } }));
    assert.equal(fileItem.Item?.run_uid, run.runUid);
    assert.equal(fileItem.Item?.sha256, firstSha);
    await receiveAll();
  });

  it('fails the RunStop record while datums are still in flight, and writes nothing', async () => {
    const late = sampleScan(9, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ6EZU', scanId: 4 });
    await stage(late);
    const lastDatum = [...late.documents].reverse().find((d) => d['detail-type'] === 'StreamDatum')!;
    await record([...late.documents.filter((d) => d !== lastDatum), late.stop]);
    const event = sqsEvent([late.stop]);
    const out = await writer(event);
    assert.deepEqual(out.batchItemFailures, [{ itemIdentifier: event.Records[0]!.messageId }]);
    const key = scanFileKey((late.documents[0]!.detail as RunStart).data_policy, 4);
    assert.equal(await store.head(key), undefined);
    assert.equal(await store.head(tmpKeyOf(key)), undefined);

    await record([lastDatum]);
    assert.deepEqual((await writer(sqsEvent([late.stop]))).batchItemFailures, [], 'the redelivered RunStop succeeds once the datum is in');
    assert.ok(await store.head(key));
    await receiveAll();
  });

  it('archives a run with a trimmed channel: the declared gap is recorded, never filled with invented data', async () => {
    const trimmed = sampleScan(9, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ6EZY', scanId: 11 });
    const isDiode = (d: { detail: unknown }) => ((d.detail as StreamDatum).stream_resource ?? '').endsWith('diode1');
    const firstDiode = trimmed.documents.find((d) => d['detail-type'] === 'StreamDatum' && isDiode(d))!;
    const { indices } = firstDiode.detail as StreamDatum;
    const stop = trimmed.stop.detail as RunStop;
    stop.bliss.documents.stream_datum -= 1;
    stop.bliss.gaps = [{ stream: 'simulation_diode_sampling_controller:diode1', start: indices.start, stop: indices.stop }];
    trimmed.documents = trimmed.documents.filter((d) => d !== firstDiode);
    trimmed.chunks = trimmed.chunks.filter((c) => c.key !== (firstDiode.detail as StreamDatum).chunk.key);
    await stage(trimmed);
    await record([...trimmed.documents, trimmed.stop]);
    assert.deepEqual((await writer(sqsEvent([trimmed.stop]))).batchItemFailures, []);

    const runItem = await clients.dynamo.send(new GetCommand({ TableName: table, Key: { pk: `RUN#${trimmed.runUid}`, sk: 'RUN' } }));
    assert.equal(runItem.Item?.state, 'ARCHIVED');
    assert.deepEqual(runItem.Item?.gaps, { 'simulation_diode_sampling_controller:diode1': [[indices.start, indices.stop]] });
    const file = await download(scanFileKey((trimmed.documents[0]!.detail as RunStart).data_policy, 11));
    const read = spawnSync(
      venvPython,
      [
        '-c',
        [
          'import sys, h5py, json',
          'f = h5py.File(sys.argv[1], "r")',
          'd = f["11.1/measurement/diode1"]',
          'print(json.dumps({"missing": d.attrs.get("missing_points"), "n": d.shape[0], "tail": d[3:].tolist()}))',
        ].join('\n'),
        file.path,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(read.status, 0, read.stderr);
    const seen = JSON.parse(read.stdout) as { missing: string; n: number; tail: number[] };
    assert.equal(seen.missing, `[${indices.start}, ${indices.stop})`);
    assert.equal(seen.n, 9);
    // sampleScan's diode1 values (float32), as staged for points 3..8.
    const published = new Float32Array(9).map((_, i) => Math.fround(Math.sin(i) * 1e3 + 0.1));
    assert.deepEqual(indices, { start: 0, stop: 3 });
    assert.deepEqual(seen.tail, [...published.slice(3)], 'the points after the gap are archived as published');
    await receiveAll();
  });

  it("refuses a StreamDatum that points outside its run's staging folder (e.g. at a published file)", async () => {
    const forged = sampleScan(6, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ6EZZ', scanId: 12 });
    const datum = forged.documents.find((d) => d['detail-type'] === 'StreamDatum')!;
    (datum.detail as StreamDatum).chunk.key = finalKey;
    await stage(forged);
    await record([...forged.documents, forged.stop]);
    assert.deepEqual((await writer(sqsEvent([forged.stop]))).batchItemFailures, []);
    const item = await clients.dynamo.send(new GetCommand({ TableName: table, Key: { pk: `RUN#${forged.runUid}`, sk: 'RUN' } }));
    assert.equal(item.Item?.state, 'FAILED');
    assert.match(String(item.Item?.failure.reason), /outside staging\/id00\/01M80JDTHSB2YF8F4WA7YZ6EZZ\//);
    assert.equal(await store.head(scanFileKey((forged.documents[0]!.detail as RunStart).data_policy, 12)), undefined);
    await receiveAll();
  });

  it('records a run whose final key belongs to another run as FAILED and announces Run Failed', async () => {
    const intruder = sampleScan(5, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ6EZV' }); // same data policy and scan number 3 as the first run
    await stage(intruder);
    await record([...intruder.documents, intruder.stop]);
    assert.deepEqual((await writer(sqsEvent([intruder.stop]))).batchItemFailures, []);
    assert.equal(sha(await store.get(finalKey)), firstSha, "the first run's file is untouched");
    assert.equal(await store.head(tmpKeyOf(finalKey)), undefined);
    const record2 = await clients.dynamo.send(new GetCommand({ TableName: table, Key: { pk: `RUN#${intruder.runUid}`, sk: 'RUN' } }));
    assert.equal(record2.Item?.state, 'FAILED');
    assert.match(String(record2.Item?.failure.reason), /already belongs to run 01M80JDTHSB2YF8F4WA7YZ6EZT/);
    const failed = (await receiveAll()).filter((e) => e['detail-type'] === 'Run Failed');
    assert.equal(failed.length, 1);
  });

  it('fails a run whose staged chunk was deleted before the writer ran: FAILED in one delivery, naming the key', async () => {
    const lost = sampleScan(7, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ6F01', scanId: 21 });
    await stage(lost);
    await record([...lost.documents, lost.stop]);
    const deleted = lost.chunks.find((c) => c.key.includes('diode1'))!.key;
    await clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: deleted }));

    const out = await writer(sqsEvent([lost.stop]));
    assert.deepEqual(out.batchItemFailures, [], 'no retry: the record is done in its first delivery');
    const item = await clients.dynamo.send(new GetCommand({ TableName: table, Key: { pk: `RUN#${lost.runUid}`, sk: 'RUN' } }));
    assert.equal(item.Item?.state, 'FAILED');
    assert.equal(item.Item?.failure.stage, 'scan-writer');
    assert.ok(String(item.Item?.failure.reason).includes(`s3://${bucket}/${deleted}`), String(item.Item?.failure.reason));
    assert.equal(item.Item?.gsi4pk, 'RUNSTATE#FAILED', 'listed with the failed runs');
    const failed = (await receiveAll()).filter(
      (e) => e['detail-type'] === 'Run Failed' && (e.detail as { run_uid: string }).run_uid === lost.runUid,
    );
    assert.equal(failed.length, 1, 'Run Failed announced once');
    assert.ok((failed[0]!.detail as { errors: { message: string }[] }).errors[0]!.message.includes(deleted));
    assert.equal(await store.head(scanFileKey((lost.documents[0]!.detail as RunStart).data_policy, 21)), undefined, 'nothing published');
    const parked = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: deadLetterUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    assert.equal(parked.Attributes?.ApproximateNumberOfMessages, '0', 'a run that ended FAILED leaves nothing in the DLQ');
  });

  it('parks an invalid document in the DLQ at once with the reason, fails its run, and records the valid ones of the batch', async () => {
    const other = sampleScan(3, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ6EZW', scanId: 9 });
    const bad = { ...other.documents[1]!, detail: { ...other.documents[1]!.detail, data_keys: 'not an object' } };
    const event = sqsEvent([other.documents[0]!, bad]);
    const out = await recorder(event);
    assert.deepEqual(out.batchItemFailures, [], 'no retry: the invalid document is parked in its first delivery');
    const r = await clients.dynamo.send(new GetCommand({ TableName: table, Key: { pk: `RUN#${other.runUid}`, sk: 'RUN' } }));
    assert.equal(r.Item?.state, 'FAILED', 'the run can never be complete without that document');
    assert.equal(r.Item?.failure.stage, 'run-recorder');
    assert.match(String(r.Item?.failure.reason), /EventDescriptor document of the run cannot be recorded: .*data_keys/);
    const docs = await clients.dynamo.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :d)',
        ExpressionAttributeValues: { ':pk': `RUN#${other.runUid}`, ':d': 'DOC#EventDescriptor' },
      }),
    );
    assert.equal(docs.Count, 0, 'nothing invalid enters the catalogue');
    const parked = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: deadLetterUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ['All'] }),
    );
    assert.equal(parked.Messages?.length, 1);
    const message = parked.Messages![0]!;
    assert.equal(message.Body, event.Records[1]!.body, 'the original event is kept for inspection and redrive');
    assert.equal(message.MessageAttributes?.['beamline-archive-error']?.StringValue, 'ContractError');
    assert.equal(message.MessageAttributes?.['beamline-archive-function']?.StringValue, 'run-recorder');
    assert.equal(message.MessageAttributes?.['beamline-archive-run-uid']?.StringValue, other.runUid);
    assert.match(message.MessageAttributes?.['beamline-archive-reason']?.StringValue ?? '', /data_keys/);
    const failed = (await receiveAll()).filter((e) => e['detail-type'] === 'Run Failed' && e.source === 'beamline-archive.run-recorder');
    assert.equal(failed.length, 1, 'Run Failed announced by the run-recorder');
  });

  it('writes a 10,000 points × 20 channels scan', async (t) => {
    const points = 10_000;
    const channels = Array.from({ length: 20 }, (_, i) =>
      i === 0
        ? { name: 'axis:sy', dtype: '<f8', values: new Float64Array(points).map((_, j) => j * 1e-3) }
        : i % 2 === 0
          ? { name: `ctrl:c${i}`, dtype: '<f8', values: new Float64Array(points).map((_, j) => Math.sin(i + j)) }
          : { name: `ctrl:c${i}`, dtype: '<f4', values: new Float32Array(points).map((_, j) => Math.cos(i * j)) },
    );
    const big = buildRun({ bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ6EZX', scanId: 10, points, chunkPoints: 1000, channels });
    await stage(big);
    await record([...big.documents, big.stop]);
    const t0 = performance.now();
    assert.deepEqual((await writer(sqsEvent([big.stop]))).batchItemFailures, []);
    const ms = performance.now() - t0;
    const key = scanFileKey((big.documents[0]!.detail as RunStart).data_policy, 10);
    const size = (await store.head(key))!.bytes;
    t.diagnostic(JSON.stringify({ points, channels: 20, chunks: big.chunks.length, writerMs: Math.round(ms), fileBytes: size }));
    const dumped = spawnSync(venvPython, [join(projectRoot, 'test/support/h5py-dump-scan.py'), (await download(key)).path], {
      encoding: 'utf8',
    });
    const dump = JSON.parse(dumped.stdout) as { datasets: Record<string, { sha256?: string }> };
    assert.equal(dump.datasets['/10.1/instrument/c19/data']!.sha256, sha(big.channelBytes['ctrl:c19']!));
  });
});
