/**
 * The big path end to end (docs/big-scans.md): with the function's temp space capped below the
 * file (CAPACITY_LAMBDA_MAX_BYTES, as a 10 GiB /tmp is for a bigger scan), the scan-writer Lambda
 * entry hands the run to the task engine (TASK_ENGINE=process: a child process running the
 * container entry point functions/archive-task/main.ts, as the local runner does), which writes and
 * publishes the file: values bit for bit by h5py, the run record says engine=task and which task.
 * A redelivered RunStop starts no second task; a scan too big for every engine is FAILED at once,
 * with the sizes, before anything is written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { CreateTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { CreateEventBusCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { createAwsClients, type AwsClients } from '../../src/adapters/aws-clients.js';
import { localTasks } from '../../src/adapters/child-process-task-engine.js';
import { createLogger } from '../../src/adapters/logger.js';
import { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import { projectRoot, venvPython } from '../../local/services.js';
import { credentialsEnvironment, emulatorCredentials, startAwsEmulator, type AwsEmulator } from '../../local/aws-target.js';
import { validateEvent, type BusEvent } from '../../src/core/contract/validators.js';
import { scanFileKey } from '../../src/core/object-keys.js';
import type { RunStart } from '../../src/core/contract/generated-types.js';
import { sampleScan, type FixtureRun } from '../unit/archive-fixtures.js';

const REGION = 'eu-west-1';
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function sqsEvent(events: readonly unknown[]): SQSEvent {
  return {
    Records: events.map((e) => {
      const body = JSON.stringify(e);
      return {
        messageId: randomUUID(), receiptHandle: randomUUID(), body, md5OfBody: createHash('md5').update(body).digest('hex'),
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' },
        messageAttributes: {}, eventSource: 'aws:sqs', eventSourceARN: `arn:aws:sqs:${REGION}:123456789012:q`, awsRegion: REGION,
      };
    }),
  };
}

type Handler = (event: SQSEvent) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

describe('scan-writer big path: the task engine', () => {
  let aws: AwsEmulator | undefined;
  let clients: AwsClients;
  let store: S3ObjectStore;
  let recorder: Handler;
  let writer: Handler;
  let queueUrl: string;
  const bucket = `archive-${Date.now()}`;
  const table = `catalogue-${Date.now()}`;
  const work = mkdtempSync(join(tmpdir(), 'ba-task-path-'));
  const saved = { ...process.env };

  before(async () => {
    const endpoint = (aws = await startAwsEmulator()).url;
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: endpoint, AWS_REGION: REGION, ...credentialsEnvironment(),
      BUCKET_NAME: bucket, TABLE_NAME: table, EVENT_BUS_NAME: `bus-${Date.now()}`, BEAMLINE_ARCHIVE_REPOSITORY: 'https://example.org/beamline-archive.git',
      NOT_READY_WAIT_SECONDS: '0', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'ERROR',
      // The big-path threshold as configuration: any file over 64 KiB does not fit "the function".
      TASK_ENGINE: 'process', CAPACITY_LAMBDA_MAX_BYTES: String(64 * 1024), CAPACITY_OVERHEAD_BYTES: '0',
    });
    clients = createAwsClients({ region: REGION, endpoint, credentials: emulatorCredentials() });
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
    await clients.dynamo.send(new CreateTableCommand({
      TableName: table, BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk'].map((n) => ({ AttributeName: n, AttributeType: 'S' as const })),
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      GlobalSecondaryIndexes: [{ IndexName: 'gsi1', KeySchema: [{ AttributeName: 'gsi1pk', KeyType: 'HASH' }, { AttributeName: 'gsi1sk', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } }],
    }));
    await waitUntilTableExists({ client: clients.dynamo, maxWaitTime: 30 }, { TableName: table });
    const bus = process.env.EVENT_BUS_NAME!;
    await clients.events.send(new CreateEventBusCommand({ Name: bus }));
    queueUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: `archived-${Date.now()}` }))).QueueUrl!;
    const arn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await clients.events.send(new PutRuleCommand({ Name: 'scan-writer-out', EventBusName: bus, EventPattern: JSON.stringify({ source: ['beamline-archive.scan-writer'] }) }));
    await clients.events.send(new PutTargetsCommand({ Rule: 'scan-writer-out', EventBusName: bus, Targets: [{ Id: 'q', Arn: arn }] }));
    store = new S3ObjectStore(clients.s3, bucket);
    recorder = (await import('../../functions/run-recorder/handler.js')).handler as Handler;
    writer = (await import('../../functions/scan-writer/handler.js')).handler as Handler;
  });

  after(async () => {
    rmSync(work, { recursive: true, force: true });
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await aws?.stop();
  });

  async function stageAndRecord(run: FixtureRun): Promise<void> {
    for (const c of run.chunks) await store.put(c.key, c.bytes);
    if (run.scanInfo) await store.put(run.scanInfo.key, run.scanInfo.bytes, 'application/json');
    const documents = [...run.documents, run.stop];
    for (let i = 0; i < documents.length; i += 10) assert.deepEqual((await recorder(sqsEvent(documents.slice(i, i + 10)))).batchItemFailures, []);
  }

  const runItem = async (runUid: string) => (await clients.dynamo.send(new GetCommand({ TableName: table, Key: { pk: `RUN#${runUid}`, sk: 'RUN' }, ConsistentRead: true }))).Item;

  it('hands a run over the threshold to the task, which archives it: values bit for bit, engine=task on the record', async () => {
    const run = sampleScan(2000, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ6TSK', scanId: 11 });
    const finalKey = scanFileKey((run.documents[0]!.detail as RunStart).data_policy, 11);
    await stageAndRecord(run);
    const before = new Set(localTasks().keys());

    assert.deepEqual((await writer(sqsEvent([run.stop]))).batchItemFailures, []);
    const started = [...localTasks().values()].filter((t) => !before.has(t.ref));
    assert.equal(started.length, 1, 'one task started');
    const task = started[0]!;
    assert.deepEqual(task.job, { kind: 'archive-run', runUid: run.runUid });
    const handedOver = await runItem(run.runUid);
    assert.deepEqual(handedOver?.engine, { kind: 'task', ref: task.ref }, 'the record says which task writes the file');
    assert.match(String(handedOver?.handover?.reason), /KiB of temp space/);

    // A redelivered RunStop while the task runs: acknowledged, no second task.
    assert.deepEqual((await writer(sqsEvent([run.stop]))).batchItemFailures, []);
    assert.equal([...localTasks().values()].filter((t) => !before.has(t.ref)).length, 1, 'no second task');

    assert.equal(await task.exited, 0, 'the task ended cleanly');
    const record = await runItem(run.runUid);
    assert.equal(record?.state, 'ARCHIVED');
    assert.deepEqual(record?.engine, { kind: 'task', ref: task.ref });
    assert.equal(record?.handover, undefined, 'the hand-over ends with the task');
    const bytes = await store.get(finalKey);
    assert.equal(record?.file?.sha256, sha(bytes));
    const path = join(work, 'task.h5');
    writeFileSync(path, bytes);
    const dumped = spawnSync(venvPython, [join(projectRoot, 'test/support/h5py-dump-scan.py'), path], { encoding: 'utf8' });
    assert.equal(dumped.status, 0, dumped.stderr);
    const dump = JSON.parse(dumped.stdout) as { datasets: Record<string, { dtype: string; shape: number[]; sha256?: string }> };
    const expected = {
      '/11.1/instrument/sy/value': ['axis:sy', '<f8', [2000]],
      '/11.1/instrument/diode1/data': ['simulation_diode_sampling_controller:diode1', '<f4', [2000]],
      '/11.1/instrument/counts/data': ['simulation_counter_controller:counts', '<i2', [2000]],
      '/11.1/instrument/spectrum/data': ['mca1:spectrum', '<u4', [2000, 16]],
    } as const;
    for (const [p, [channel, dtype, shape]] of Object.entries(expected)) {
      assert.deepEqual(dump.datasets[p], { dtype, shape, sha256: sha(run.channelBytes[channel]!) }, `${p} holds the staged bytes of ${channel}, read by h5py`);
    }
    const events: BusEvent[] = [];
    for (let i = 0; i < 3 && events.length === 0; i += 1) {
      const out = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of out.Messages ?? []) events.push(validateEvent(JSON.parse(m.Body!)));
    }
    assert.deepEqual(events.map((e) => [e['detail-type'], (e.detail as { run_uid: string }).run_uid]), [['Run Archived', run.runUid]]);
  });

  it('fails a scan too big for every engine at once, with the sizes, before anything is written', async () => {
    const { createHandler } = await import('../../functions/scan-writer/handler.js');
    const { composeArchive } = await import('../../functions/scan-writer/compose.js');
    // The task engine takes at most 32 KiB here: a 2000-point scan fits neither it nor "the function".
    const composed = await composeArchive({ ...process.env, TASK_MAX_BYTES: String(32 * 1024) });
    const strict = createHandler({
      catalogue: composed.catalogue, store: composed.store, writer: composed.writer, publisher: composed.publisher,
      capacity: composed.config.capacity.capacity, taskEngine: { engine: composed.taskEngine!, handOvers: composed.runs },
      logger: createLogger('scan-writer', 'ERROR'), notReadyWaitMs: 0,
    });
    const run = sampleScan(2000, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ6BIG', scanId: 12 });
    await stageAndRecord(run);
    const before = localTasks().size;
    assert.deepEqual((await strict(sqsEvent([run.stop]))).batchItemFailures, []);
    assert.equal(localTasks().size, before, 'no task started');
    const record = await runItem(run.runUid);
    assert.equal(record?.state, 'FAILED');
    assert.match(String(record?.failure?.reason), /cannot be archived: the file needs ~\d+(\.\d)? KiB .*more than any engine takes .*task engine up to 32\.0 KiB/);
    const key = scanFileKey((run.documents[0]!.detail as RunStart).data_policy, 12);
    const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }));
    assert.deepEqual(listed.Contents ?? [], [], 'nothing at the final key, no .tmp');
    const claim = await clients.dynamo.send(new GetCommand({ TableName: table, Key: { pk: `FILE#${key}`, sk: 'FILE' } }));
    assert.equal(claim.Item, undefined, 'the final key was not even claimed');
  });
});
