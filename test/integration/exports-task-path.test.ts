/**
 * Exports at any size, the task path end to end (docs/exports.md "Exports at any size"): with the
 * export-worker's temp space capped below what an export needs (CAPACITY_LAMBDA_MAX_BYTES, as a 10
 * GiB /tmp is for a bigger request), the worker hands the build to the task engine (TASK_ENGINE=
 * process: a child process running the container entry point functions/archive-task/main.ts with
 * TASK_JOB {"kind":"export"}), which builds and publishes it. Read back by h5py and Python's csv
 * module, the task's NeXus and CSV exports are the same as the function's (streamed, slice by slice)
 * and hold the staged bytes of every channel; the export record names the engine that built it.
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
import { CreateEventBusCommand } from '@aws-sdk/client-eventbridge';
import type { SQSEvent } from 'aws-lambda';
import { createAwsClients, type AwsClients } from '../../src/adapters/aws-clients.js';
import { localTasks } from '../../src/adapters/child-process-task-engine.js';
import { createLogger } from '../../src/adapters/logger.js';
import { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import { exportIdOf } from '../../src/core/exports/export-request.js';
import { projectRoot, venvPython } from '../../local/services.js';
import { credentialsEnvironment, emulatorCredentials, startAwsEmulator, type AwsEmulator } from '../../local/aws-target.js';
import { sampleScan, type FixtureRun } from '../unit/archive-fixtures.js';
import { sqsEvent } from '../support/archive-stack.js';

const REGION = 'eu-west-1';
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** An Export Requested event as a client on the bus sends it. */
const exportRequested = (requestId: string, runs: string[], format: string) => ({
  version: '0',
  id: randomUUID(),
  'detail-type': 'Export Requested',
  source: 'beamline-archive.export-client',
  account: '123456789012',
  time: '2026-11-22T10:05:00Z',
  region: REGION,
  resources: [],
  detail: { request_id: requestId, runs, format },
});

type Handler = (event: SQSEvent) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

describe('exports over the threshold: the task engine builds them', () => {
  let aws: AwsEmulator | undefined;
  let clients: AwsClients;
  let store: S3ObjectStore;
  let recorder: Handler;
  let writer: Handler;
  const bucket = `archive-${Date.now()}`;
  const table = `catalogue-${Date.now()}`;
  const work = mkdtempSync(join(tmpdir(), 'ba-export-task-'));
  const saved = { ...process.env };
  const run: FixtureRun = sampleScan(3000, { bucket, runUid: '01M80JDTHSB2YF8F4WA7YZ6EXP', scanId: 21 });

  before(async () => {
    const endpoint = (aws = await startAwsEmulator()).url;
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: REGION,
      ...credentialsEnvironment(),
      BUCKET_NAME: bucket,
      TABLE_NAME: table,
      EVENT_BUS_NAME: `bus-${Date.now()}`,
      BEAMLINE_ARCHIVE_REPOSITORY: 'https://example.org/beamline-archive.git',
      NOT_READY_WAIT_SECONDS: '0',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'ERROR',
      // A task engine is configured; whether a build goes there is the capacity check's (CAPACITY_LAMBDA_MAX_BYTES below).
      TASK_ENGINE: 'process',
    });
    clients = createAwsClients({ region: REGION, endpoint, credentials: emulatorCredentials() });
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
    await clients.dynamo.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk'].map((n) => ({ AttributeName: n, AttributeType: 'S' as const })),
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'gsi1',
            KeySchema: [
              { AttributeName: 'gsi1pk', KeyType: 'HASH' },
              { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
    await waitUntilTableExists({ client: clients.dynamo, maxWaitTime: 30 }, { TableName: table });
    await clients.events.send(new CreateEventBusCommand({ Name: process.env.EVENT_BUS_NAME! }));
    store = new S3ObjectStore(clients.s3, bucket);
    recorder = (await import('../../functions/run-recorder/handler.js')).handler as Handler;
    writer = (await import('../../functions/scan-writer/handler.js')).handler as Handler;
    // The run, archived by the scan-writer function (its file fits the function's temp space).
    for (const c of run.chunks) await store.put(c.key, c.bytes);
    if (run.scanInfo) await store.put(run.scanInfo.key, run.scanInfo.bytes, 'application/json');
    const documents = [...run.documents, run.stop];
    for (let i = 0; i < documents.length; i += 10)
      assert.deepEqual((await recorder(sqsEvent(documents.slice(i, i + 10)))).batchItemFailures, []);
    assert.deepEqual((await writer(sqsEvent([run.stop]))).batchItemFailures, []);
    assert.equal((await item(`RUN#${run.runUid}`, 'RUN'))?.state, 'ARCHIVED');
  });

  after(async () => {
    rmSync(work, { recursive: true, force: true });
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await aws?.stop();
  });

  const item = async (pk: string, sk: string) =>
    (await clients.dynamo.send(new GetCommand({ TableName: table, Key: { pk, sk }, ConsistentRead: true }))).Item;

  /** An export-worker function with these capacity settings on top of the environment. */
  async function worker(env: Record<string, string>): Promise<Handler> {
    const { createHandler } = await import('../../functions/export-worker/handler.js');
    const { buildExportWorkerService } = await import('../../functions/export-worker/compose.js');
    const logger = createLogger('export-worker', 'ERROR');
    return createHandler({
      service: buildExportWorkerService(logger, { kind: 'lambda', ref: 'export-worker' }, { ...process.env, ...env }),
      logger,
    }) as Handler;
  }

  /** Requests an export on the given worker; returns the record once it ended (waiting for a task it started). */
  async function exportOn(handler: Handler, requestId: string, format: string) {
    const before = new Set(localTasks().keys());
    assert.deepEqual((await handler(sqsEvent([exportRequested(requestId, [run.runUid], format)]))).batchItemFailures, []);
    const started = [...localTasks().values()].filter((t) => !before.has(t.ref));
    const exportId = exportIdOf(requestId);
    const handedOver = await item(`EXPORT#${exportId}`, 'EXPORT');
    for (const task of started) assert.equal(await task.exited, 0, 'the task ended cleanly');
    return { exportId, started, handedOver, record: (await item(`EXPORT#${exportId}`, 'EXPORT'))! };
  }

  function h5pyDump(bytes: Uint8Array, name: string) {
    const path = join(work, name);
    writeFileSync(path, bytes);
    const dumped = spawnSync(venvPython, [join(projectRoot, 'test/support/h5py-dump-scan.py'), path], { encoding: 'utf8' });
    assert.equal(dumped.status, 0, dumped.stderr);
    return JSON.parse(dumped.stdout) as {
      datasets: Record<string, { dtype: string; shape: number[]; sha256?: string; value?: unknown }>;
      attrs: Record<string, Record<string, unknown>>;
    };
  }

  it('NeXus and CSV: the function builds a small export; over the threshold the task builds the same content, and the record names the task', async () => {
    const fits = await worker({});
    // 64 KiB of temp space for "the function": the 3000-point run's scan file alone is bigger.
    const capped = await worker({ CAPACITY_LAMBDA_MAX_BYTES: String(64 * 1024) });

    const here = await exportOn(fits, 'nexus-here', 'nexus');
    assert.deepEqual(here.started, [], 'no task for an export that fits the function');
    assert.equal(here.record.state, 'COMPLETED');
    assert.deepEqual(here.record.engine, { kind: 'lambda', ref: 'export-worker' });

    const task = await exportOn(capped, 'nexus-task', 'nexus');
    assert.equal(task.started.length, 1, 'one task started');
    assert.deepEqual(task.started[0]!.job, { kind: 'export', exportId: task.exportId });
    assert.deepEqual(task.handedOver?.engine, { kind: 'task', ref: task.started[0]!.ref }, 'the record says which task builds it');
    assert.match(
      String(task.handedOver?.hand_over?.reason),
      /the export needs ~.* of temp space .*the function has 64\.0 KiB of temp space/,
    );
    assert.equal(task.record.state, 'COMPLETED', String(task.record.reason));
    assert.deepEqual(task.record.engine, { kind: 'task', ref: task.started[0]!.ref });

    // Read back by h5py: the same datasets, dtypes, shapes and bytes; the channels hold the staged bytes.
    const files = [here, task].map((e) => e.record.files as { key: string; sha256: string; bytes: number }[]);
    const dumps = await Promise.all(
      files.map(async ([file], i) => {
        const bytes = await store.get(file!.key);
        assert.equal(sha(bytes), file!.sha256);
        return h5pyDump(bytes, `export-${i}.nxs`);
      }),
    );
    assert.deepEqual(dumps[1]!.datasets, dumps[0]!.datasets, "the task's NeXus export holds what the function's does");
    const expected = {
      '/entry1/primary/axis_sy': ['axis:sy', '<f8', [3000]],
      '/entry1/primary/simulation_diode_sampling_controller_diode1': ['simulation_diode_sampling_controller:diode1', '<f4', [3000]],
      '/entry1/primary/simulation_counter_controller_counts': ['simulation_counter_controller:counts', '<i2', [3000]],
      '/entry1/primary/mca1_spectrum': ['mca1:spectrum', '<u4', [3000, 16]],
    } as const;
    for (const [path, [channel, dtype, shape]] of Object.entries(expected)) {
      assert.deepEqual(
        dumps[1]!.datasets[path],
        { dtype, shape, sha256: sha(run.channelBytes[channel]!) },
        `${path}: the staged bytes of ${channel}`,
      );
    }
    const seq = new BigInt64Array(3000).map((_, i) => BigInt(i + 1));
    assert.deepEqual(dumps[1]!.datasets['/entry1/primary/seq_num'], {
      dtype: '<i8',
      shape: [3000],
      sha256: sha(new Uint8Array(seq.buffer)),
    });

    // CSV: the task's tables are the function's, byte for byte.
    const csvHere = await exportOn(fits, 'csv-here', 'csv');
    const csvTask = await exportOn(capped, 'csv-task', 'csv');
    assert.equal(csvTask.started.length, 1);
    assert.equal(csvTask.record.state, 'COMPLETED', String(csvTask.record.reason));
    const tables = (record: Record<string, unknown>) =>
      (record.files as { name: string; sha256: string; bytes: number }[]).map((f) => [f.name, f.sha256, f.bytes]);
    assert.deepEqual(tables(csvTask.record), tables(csvHere.record));
    const [table] = csvTask.record.files as { key: string }[];
    const text = Buffer.from(await store.get(table!.key)).toString('utf8');
    const check = spawnSync(
      venvPython,
      [
        '-c',
        `
import csv, io, sys, struct
rows = list(csv.reader(io.StringIO(sys.stdin.read(), newline='')))
print(len(rows) - 1, ','.join(rows[0]))
`,
      ],
      { input: text, encoding: 'utf8' },
    );
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stdout, /^3000 seq_num,/);

    // Nothing left behind: no .tmp, no .err, only the published files.
    const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'exports/' }));
    assert.deepEqual(
      (listed.Contents ?? []).map((o) => o.Key!).filter((k) => /\.(tmp|err)$/.test(k)),
      [],
    );
  });

  it('fails an export that fits no engine at once, with the sizes, and starts no task', async () => {
    const strict = await worker({ CAPACITY_LAMBDA_MAX_BYTES: String(64 * 1024), TASK_MAX_BYTES: String(64 * 1024) });
    const out = await exportOn(strict, 'nexus-nowhere', 'nexus');
    assert.deepEqual(out.started, []);
    assert.equal(out.record.state, 'FAILED');
    assert.match(
      String(out.record.reason),
      /cannot be built: the export needs .*more than any engine takes .*the task engine takes up to 64\.0 KiB/,
    );
    const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `exports/${out.exportId}/` }));
    assert.deepEqual(listed.Contents ?? [], []);
  });
});
