/**
 * The big path end to end (docs/big-scans.md): with the function's temp space capped below the
 * file (CAPACITY_LAMBDA_MAX_BYTES, as a 10 GiB /tmp is for a bigger scan), the scan-writer Lambda
 * entry hands the run to the task engine (TASK_ENGINE=process: a child process running the
 * container entry point functions/archive-task/main.ts, as the local runner does), which writes and
 * publishes the file: values bit for bit by h5py, the run record says engine=task and which task.
 * A redelivered RunStop starts no second task; a scan too big for every engine is FAILED at once,
 * with the sizes, before anything is written.
 *
 * The review defects of session 5 (docs/big-scans.md), each failing before its fix:
 * - a task written file gets its `<file>.index.json` (size, sha256 and ETag of the final object);
 * - a replayed RunStop after the staged objects expired is acknowledged from the record, staging untouched;
 * - a re-archive too big for the function goes to the task with its request (new version, old one kept, index rewritten);
 * - a task that dies before its `finally` leaves a hand-over the watchdog leaves alone while it holds and
 *   marks STALLED (naming the task) once it expired; `runs retry` clears it; the new hand-over is attempt 2;
 * - the indexer failing (a RangeError) never fails a published run: ARCHIVED, index missing recorded, stale index removed;
 * - runArchived only from the expected state.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { AwsClients } from '../../src/adapters/aws-clients.js';
import { localTasks } from '../../src/adapters/child-process-task-engine.js';
import { createLogger } from '../../src/adapters/logger.js';
import type { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import { projectRoot, venvPython } from '../../local/services.js';
import { validateEvent, type BusEvent } from '../../src/core/contract/validators.js';
import { fileIndexKeyOf, scanFileKey } from '../../src/core/object-keys.js';
import type { FileIndex } from '../../src/core/file-index/model.js';
import type { RunStart } from '../../src/core/contract/generated-types.js';
import { sampleScan, type FixtureRun } from '../unit/archive-fixtures.js';
import {
  queueOfSources,
  REGION,
  sqsEvent,
  stageRun,
  startArchiveStack,
  type ArchiveStack,
  type SqsHandler as Handler,
} from '../support/archive-stack.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('scan-writer big path: the task engine', () => {
  let stack: ArchiveStack;
  let clients: AwsClients;
  let store: S3ObjectStore;
  let bucket: string;
  let table: string;
  let recorder: Handler;
  let writer: Handler;
  let queueUrl: string;
  const work = mkdtempSync(join(tmpdir(), 'ba-task-path-'));

  before(async () => {
    stack = await startArchiveStack({
      name: 'archive',
      versioned: true,
      // The big-path threshold as configuration: any file over 64 KiB does not fit "the function".
      functionEnv: { TASK_ENGINE: 'process', CAPACITY_LAMBDA_MAX_BYTES: String(64 * 1024), CAPACITY_OVERHEAD_BYTES: '0' },
    });
    ({ clients, store, bucket, table } = stack);
    queueUrl = await queueOfSources(stack, 'scan-writer-out', ['beamline-archive.scan-writer']);
    recorder = (await import('../../functions/run-recorder/handler.js')).handler as Handler;
    writer = (await import('../../functions/scan-writer/handler.js')).handler as Handler;
  });

  after(async () => {
    rmSync(work, { recursive: true, force: true });
    await stack?.stop();
  });

  async function stageAndRecord(run: FixtureRun): Promise<void> {
    await stageRun(store, run);
    const documents = [...run.documents, run.stop];
    for (let i = 0; i < documents.length; i += 10)
      assert.deepEqual((await recorder(sqsEvent(documents.slice(i, i + 10)))).batchItemFailures, []);
  }

  const runItem = async (runUid: string) =>
    (await clients.dynamo.send(new GetCommand({ TableName: table, Key: { pk: `RUN#${runUid}`, sk: 'RUN' }, ConsistentRead: true }))).Item;

  it('hands a run over the threshold to the task, which archives it: values bit for bit, engine=task on the record', async () => {
    const run = sampleScan(2000, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ6TSK', scanId: 11 });
    const finalKey = scanFileKey((run.documents[0]!.detail as RunStart).data_policy, 11);
    await stageAndRecord(run);
    const before = new Set(localTasks().keys());

    assert.deepEqual((await writer(sqsEvent([run.stop]))).batchItemFailures, []);
    const started = [...localTasks().values()].filter((t) => !before.has(t.ref));
    assert.equal(started.length, 1, 'one task started');
    const task = started[0]!;
    assert.deepEqual(task.job, { kind: 'archive-run', runUid: run.runUid, attempt: 1 });
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
      assert.deepEqual(
        dump.datasets[p],
        { dtype, shape, sha256: sha(run.channelBytes[channel]!) },
        `${p} holds the staged bytes of ${channel}, read by h5py`,
      );
    }
    const events: BusEvent[] = [];
    for (let i = 0; i < 3 && events.length === 0; i += 1) {
      const out = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of out.Messages ?? []) events.push(validateEvent(JSON.parse(m.Body!)));
    }
    assert.deepEqual(
      events.map((e) => [e['detail-type'], (e.detail as { run_uid: string }).run_uid]),
      [['Run Archived', run.runUid]],
    );

    // The task wrote the file's index too (before: only the function did), naming the very object it describes.
    const index = JSON.parse(Buffer.from(await store.get(fileIndexKeyOf(finalKey))).toString('utf8')) as FileIndex;
    assert.deepEqual(index.file, { bytes: bytes.byteLength, sha256: sha(bytes), etag: record?.object_version?.etag });
    assert.ok(index.entries['/11.1/instrument/spectrum/data'], 'the index lists the datasets');
    archivedRun = run;
  });

  let archivedRun: FixtureRun | undefined;

  async function drainEvents(): Promise<BusEvent[]> {
    const events: BusEvent[] = [];
    for (let i = 0; i < 3; i += 1) {
      const out = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of out.Messages ?? []) events.push(validateEvent(JSON.parse(m.Body!)));
      if ((out.Messages ?? []).length === 0 && events.length > 0) break;
    }
    return events;
  }

  it('acknowledges a replayed RunStop of an archived run from its record after its staged objects expired (staging untouched)', async () => {
    const run = archivedRun!;
    assert.ok(run, 'the first case archived the run');
    await drainEvents();
    // The lifecycle expired the staged data of the archived run.
    for (const c of run.chunks) await store.delete(c.key);
    if (run.scanInfo) await store.delete(run.scanInfo.key);
    const before = localTasks().size;
    const recordBefore = await runItem(run.runUid);
    assert.deepEqual((await writer(sqsEvent([run.stop]))).batchItemFailures, []);
    assert.equal(localTasks().size, before, 'no task started');
    const record = await runItem(run.runUid);
    assert.equal(record?.state, 'ARCHIVED');
    assert.deepEqual(record?.object_version, recordBefore?.object_version, 'nothing written');
    assert.equal(record?.failure, undefined);
    // Before: the scan_info read from staging failed first; the replay was logged as a failure and never re-announced.
    const events = await drainEvents();
    assert.deepEqual(
      events.map((e) => e['detail-type']),
      ['Run Archived'],
      'acknowledged: Run Archived announced again',
    );
  });

  it('hands a re-archive too big for the function to the task with its request: a new version, the old one kept, the index rewritten', async () => {
    // Staged again (the previous case expired it): a re-archive reads the run's data like the first archive.
    const run = archivedRun!;
    await stageRun(store, run);
    const finalKey = scanFileKey((run.documents[0]!.detail as RunStart).data_policy, 11);
    const first = await runItem(run.runUid);
    const before = new Set(localTasks().keys());
    const request = {
      version: '0',
      id: randomUUID(),
      source: 'beamline-archive.operator',
      'detail-type': 'Rearchive Requested',
      account: '123456789012',
      time: new Date().toISOString(),
      region: REGION,
      resources: [],
      detail: { run_uid: run.runUid, reason: 'writer upgrade', requested_by: 'operator@example.org' },
    };
    assert.deepEqual((await writer(sqsEvent([request]))).batchItemFailures, []);
    const started = [...localTasks().values()].filter((t) => !before.has(t.ref));
    // Before: the claim refused an ARCHIVED run and the request was acknowledged as "already handed over": dropped.
    assert.equal(started.length, 1, 'the re-archive went to a task');
    assert.deepEqual(started[0]!.job, {
      kind: 'archive-run',
      runUid: run.runUid,
      attempt: 2,
      rearchive: { reason: 'writer upgrade', requestedBy: 'operator@example.org' },
    });
    assert.equal(await started[0]!.exited, 0);
    const record = await runItem(run.runUid);
    assert.equal(record?.state, 'ARCHIVED');
    assert.notEqual(record?.object_version?.versionId, first?.object_version?.versionId, 'a new version');
    assert.equal(record?.rearchives?.length, 1);
    assert.equal(record?.rearchives?.[0]?.reason, 'writer upgrade');
    assert.equal(record?.rearchives?.[0]?.previous?.versionId, first?.object_version?.versionId, 'the version it replaced, kept');
    assert.deepEqual(record?.engine, { kind: 'task', ref: started[0]!.ref });
    const index = JSON.parse(Buffer.from(await store.get(fileIndexKeyOf(finalKey))).toString('utf8')) as FileIndex;
    assert.equal(index.file.etag, record?.object_version?.etag, 'the index names the new version');
    await drainEvents();
  });

  it('a task that dies before its finally: the watchdog leaves the hand-over alone while it holds, marks the run STALLED naming the task once it expired; runs retry clears it; the next hand-over is a new attempt', async () => {
    const { DynamoDbRunCatalogue } = await import('../../src/adapters/dynamodb-run-catalogue.js');
    const { EventBridgePublisher } = await import('../../src/adapters/eventbridge-publisher.js');
    const { watchRuns } = await import('../../src/core/archive/run-watchdog.js');
    const catalogue = new DynamoDbRunCatalogue(clients.dynamo, table);
    const publisher = new EventBridgePublisher(clients.events, { eventBusName: process.env.EVENT_BUS_NAME! });
    const run = sampleScan(2000, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZDEAD', scanId: 13 });
    await stageAndRecord(run);
    const before = new Set(localTasks().keys());
    assert.deepEqual((await writer(sqsEvent([run.stop]))).batchItemFailures, []);
    const task = [...localTasks().values()].find((t) => !before.has(t.ref))!;
    // The container is lost (OOM kill, host gone): no finally runs, nothing is recorded.
    process.kill(task.pid!, 'SIGKILL');
    assert.equal(await task.exited, null, 'killed');
    const held = await catalogue.getRun(run.runUid);
    assert.equal(held?.state, 'RECORDING');
    assert.equal(held?.handOver?.ref, task.ref);
    assert.equal(held?.handOver?.attempt, 1);

    const watch = (at: number) => watchRuns({ runs: catalogue, catalogue, publisher, now: () => new Date(at) });
    // Three hours on: past the 2 h limit after RunStop, but the hand-over (TASK_MAX_SECONDS 12 h + 15 min) holds: a long task is not stalled.
    const end = Date.parse(held!.endTime!);
    assert.deepEqual(
      (await watch(Math.max(Date.now(), end) + 3 * 3600_000)).stalled.map((s) => s.run_uid).filter((u) => u === run.runUid),
      [],
    );
    // Past the hand-over's expiry: STALLED, and the reason names the task. (Before: the claim never expired nor was seen.)
    const report = await watch(Date.parse(held!.handOver!.expiresAt) + 1000);
    const stalled = report.stalled.find((s) => s.run_uid === run.runUid);
    assert.ok(stalled, 'the run is STALLED');
    assert.match(stalled.reason, new RegExp(`archive task ${task.ref}, attempt 1, .*did not record the run ARCHIVED or FAILED`));
    assert.equal((await catalogue.getRun(run.runUid))?.state, 'STALLED');

    // runs retry: RECORDING again, the claim gone (before: it stayed and every RunStop was acknowledged as "already handed over").
    assert.equal(await catalogue.runRetried(run.runUid, new Date().toISOString()), 'retried');
    assert.equal((await catalogue.getRun(run.runUid))?.handOver, undefined);
    const again = new Set(localTasks().keys());
    assert.deepEqual((await writer(sqsEvent([run.stop]))).batchItemFailures, []);
    const second = [...localTasks().values()].find((t) => !again.has(t.ref));
    assert.ok(second, 'a new task');
    assert.deepEqual(second.job, { kind: 'archive-run', runUid: run.runUid, attempt: 2 }, 'a new attempt: its own RunTask client token');
    assert.equal(await second.exited, 0);
    const record = await catalogue.getRun(run.runUid);
    assert.equal(record?.state, 'ARCHIVED');
    assert.equal(record?.handOver, undefined, 'the second task ended its own claim');
    await drainEvents();
  });

  it('an indexer that throws (RangeError on a hostile file) never fails a published run: ARCHIVED, the index recorded missing, a stale index removed', async () => {
    const { createHandler } = await import('../../functions/scan-writer/handler.js');
    const { composeArchive } = await import('../../functions/scan-writer/compose.js');
    const composed = await composeArchive(process.env);
    const hostile = createHandler({
      catalogue: composed.catalogue,
      store: composed.store,
      writer: composed.writer,
      publisher: composed.publisher,
      indexer: {
        index: () => {
          throw new RangeError('Invalid typed array length: 4294967296');
        },
      },
      logger: createLogger('scan-writer', 'ERROR'),
      notReadyWaitMs: 0,
    });
    const run = sampleScan(50, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ1DX0', scanId: 14 });
    await stageAndRecord(run);
    const finalKey = scanFileKey((run.documents[0]!.detail as RunStart).data_policy, 14);
    // An index left from an earlier file at that key.
    await store.put(fileIndexKeyOf(finalKey), JSON.stringify({ stale: true }), 'application/json');
    assert.deepEqual((await hostile(sqsEvent([run.stop]))).batchItemFailures, []);
    const record = await runItem(run.runUid);
    // Before: the RangeError escaped after the publish; retries ended the published run FAILED.
    assert.equal(record?.state, 'ARCHIVED');
    assert.match(String(record?.index_missing), /RangeError: Invalid typed array length/);
    assert.equal(await store.head(fileIndexKeyOf(finalKey)), undefined, 'no stale index beside the new file');
    assert.equal(record?.file?.sha256, sha(await store.get(finalKey)));
    await drainEvents();
  });

  it('records ARCHIVED only from the expected state: not twice, and a re-archive only over the version it replaced', async () => {
    const { DynamoDbRunCatalogue } = await import('../../src/adapters/dynamodb-run-catalogue.js');
    const catalogue = new DynamoDbRunCatalogue(clients.dynamo, table);
    const runUid = '01M80JDTHSB2YF8F4WA7YZ1DX0';
    const now = await catalogue.getRun(runUid);
    assert.equal(now?.state, 'ARCHIVED');
    const file = now!.file!;
    // A second delivery that wrote the file meanwhile: its record is refused, the first stands.
    assert.equal(
      await catalogue.runArchived({ runUid, file, points: {}, archivedAt: '2030-01-01T00:00:00Z', object: { etag: '"other"' } }),
      'conflict',
    );
    assert.equal((await catalogue.getRun(runUid))?.archivedAt, now!.archivedAt);
    const previous = { ...file, etag: '"not-the-recorded-one"' };
    assert.equal(
      await catalogue.runArchived({
        runUid,
        file,
        points: {},
        archivedAt: '2030-01-01T00:00:00Z',
        object: { etag: '"new"' },
        rearchive: { reason: 'r', requestedBy: 'x', at: '2030-01-01T00:00:00Z', creator: 'c', previous },
      }),
      'conflict',
    );
    assert.equal(
      await catalogue.runArchived({
        runUid,
        file,
        points: now!.points ?? {},
        archivedAt: '2030-01-01T00:00:00Z',
        object: { etag: '"new"' },
        rearchive: {
          reason: 'r',
          requestedBy: 'x',
          at: '2030-01-01T00:00:00Z',
          creator: 'c',
          previous: { ...file, etag: now!.object!.etag },
        },
      }),
      'archived',
    );
  });

  it('fails a scan too big for every engine at once, with the sizes, before anything is written', async () => {
    const { createHandler } = await import('../../functions/scan-writer/handler.js');
    const { composeArchive } = await import('../../functions/scan-writer/compose.js');
    // The task engine takes at most 32 KiB here: a 2000-point scan fits neither it nor "the function".
    const composed = await composeArchive({ ...process.env, TASK_MAX_BYTES: String(32 * 1024) });
    const strict = createHandler({
      catalogue: composed.catalogue,
      store: composed.store,
      writer: composed.writer,
      publisher: composed.publisher,
      capacity: composed.config.capacity.capacity,
      taskEngine: { engine: composed.taskEngine!, handOvers: composed.runs },
      logger: createLogger('scan-writer', 'ERROR'),
      notReadyWaitMs: 0,
    });
    const run = sampleScan(2000, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ6BIG', scanId: 12 });
    await stageAndRecord(run);
    const before = localTasks().size;
    assert.deepEqual((await strict(sqsEvent([run.stop]))).batchItemFailures, []);
    assert.equal(localTasks().size, before, 'no task started');
    const record = await runItem(run.runUid);
    assert.equal(record?.state, 'FAILED');
    assert.match(
      String(record?.failure?.reason),
      /cannot be archived: the file needs ~\d+(\.\d)? KiB .*more than any engine takes .*task engine up to 32\.0 KiB/,
    );
    const key = scanFileKey((run.documents[0]!.detail as RunStart).data_policy, 12);
    const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }));
    assert.deepEqual(listed.Contents ?? [], [], 'nothing at the final key, no .tmp');
    const claim = await clients.dynamo.send(new GetCommand({ TableName: table, Key: { pk: `FILE#${key}`, sk: 'FILE' } }));
    assert.equal(claim.Item, undefined, 'the final key was not even claimed');
  });
});
