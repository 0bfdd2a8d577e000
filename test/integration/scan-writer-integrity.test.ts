/**
 * What the archive says it archived is really there (issue 17 items 1 and 2), against the AWS
 * emulator (moto, or AWS_ENDPOINT_URL) with real h5wasm files judged by h5py:
 *
 * - the scan writer's temp folder on a tmpfs smaller than the file: HDF5 meets "No space left on
 *   device" mid-write → FAILED with that reason (before the fix: ARCHIVED with a file of zeros);
 * - the temp folder filled up just before HDF5 closes the file (the close flushes and fails) → FAILED;
 * - a staged chunk whose bytes do not match its StreamDatum's sha256 → FAILED;
 * - a final key already holding other content → FAILED, that object untouched (If-None-Match);
 * - a replayed RunStop of an archived run → the final object's bytes and version unchanged;
 * - an explicit re-archive (Rearchive Requested) → a new version, the old one kept, the record says why.
 *
 * Every failure leaves nothing at the final key, no `.tmp` object and nothing in the temp folder.
 * Mounting the tmpfs needs root (the CI machine and this environment run as root).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import type { AwsClients } from '../../src/adapters/aws-clients.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge-publisher.js';
import { H5wasmScanFileWriter } from '../../src/adapters/h5wasm-scan-file-writer.js';
import { createLogger } from '../../src/adapters/logger.js';
import type { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import { createHandler as createRecorder } from '../../functions/run-recorder/handler.js';
import { createHandler as createScanWriter } from '../../functions/scan-writer/handler.js';
import { venvPython } from '../../local/services.js';
import { scanFileKey, tmpKeyOf } from '../../src/core/object-keys.js';
import type { RunStart, StreamDatum } from '../../src/core/contract/generated-types.js';
import { buildRun, type FixtureRun } from '../unit/archive-fixtures.js';
import { REGION, sqsEvent, stageRun, startArchiveStack, type ArchiveStack, type SqsHandler as Handler } from '../support/archive-stack.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** `channels` float64 counters (plus the positioner) of `points` points: about points × channels × 8 bytes. */
function scan(scanId: number, points: number, channels: number, runUid: string, bucket: string): FixtureRun {
  return buildRun({
    bucket,
    runUid,
    scanId,
    points,
    chunkPoints: 5000,
    channels: [
      { name: 'axis:sy', dtype: '<f8', values: new Float64Array(points).map((_, j) => j * 1e-3) },
      ...Array.from({ length: channels }, (_, i) => ({
        name: `ctrl:c${i}`,
        dtype: '<f8',
        values: new Float64Array(points).map((_, j) => Math.sin(i * 31 + j)),
      })),
    ],
  });
}

function mountTmpfs(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ba-tmpfs-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  assert.equal(mounted.status, 0, `this test mounts a ${size} tmpfs as the scan writer's temp folder and needs root: ${mounted.stderr}`);
  return dir;
}

/** Fills a file system up to its last byte (what another process, or a bigger file, does to /tmp). */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (let size = block.length; size >= 1; size = Math.floor(size / 2)) {
      for (;;) {
        try {
          writeSync(fd, block, 0, size);
        } catch {
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

describe('scan files are published only when whole, and final objects are never replaced by accident', () => {
  let stack: ArchiveStack | undefined;
  let clients: AwsClients;
  let store: S3ObjectStore;
  let bucket: string;
  let catalogue: DynamoDbRunCatalogue;
  let publisher: EventBridgePublisher;
  let recorder: Handler;
  const work = mkdtempSync(join(tmpdir(), 'ba-integrity-'));
  const mounts: string[] = [];
  const logger = createLogger('scan-writer', process.env.TEST_LOG_LEVEL ?? 'ERROR');

  before(async () => {
    stack = await startArchiveStack({ name: 'integrity', versioned: true, partSize: 5 * 1024 * 1024 });
    ({ clients, store, bucket } = stack);
    catalogue = new DynamoDbRunCatalogue(clients.dynamo, stack.table);
    publisher = new EventBridgePublisher(clients.events, { eventBusName: stack.bus });
    recorder = createRecorder({ catalogue, logger }) as Handler;
  });

  after(async () => {
    try {
      // Lazy: after a failed write the wasm module may still hold a descriptor of the (emptied, removed) file.
      for (const dir of mounts) spawnSync('umount', ['-l', dir]);
      for (const dir of mounts) rmSync(dir, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    } finally {
      await stack?.stop();
    }
  });

  async function scanWriter(options: { workDir?: string; beforeClose?: (path: string) => void } = {}): Promise<Handler> {
    return createScanWriter({
      catalogue,
      store,
      publisher,
      logger,
      notReadyWaitMs: 0,
      writer: await H5wasmScanFileWriter.create(options),
    }) as Handler;
  }

  async function stageAndRecord(run: FixtureRun): Promise<string> {
    await stageRun(store, run);
    for (let i = 0; i < run.documents.length; i += 10)
      assert.deepEqual((await recorder(sqsEvent(run.documents.slice(i, i + 10)))).batchItemFailures, []);
    assert.deepEqual((await recorder(sqsEvent([run.stop]))).batchItemFailures, []);
    const start = run.documents[0]!.detail as RunStart;
    return scanFileKey(start.data_policy, start.scan_id);
  }

  async function versions(key: string): Promise<{ versionId: string; bytes: number }[]> {
    const out = await clients.s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    return (out.Versions ?? []).filter((v) => v.Key === key).map((v) => ({ versionId: v.VersionId!, bytes: v.Size! }));
  }

  async function assertFailedCleanly(runUid: string, key: string, reason: RegExp): Promise<void> {
    const record = await catalogue.getRun(runUid);
    assert.equal(record?.state, 'FAILED', `run ${runUid} is ${record?.state}`);
    assert.match(String(record.failure?.reason), reason);
    assert.equal(await store.head(tmpKeyOf(key)), undefined, 'no .tmp object left');
    assert.deepEqual(await versions(tmpKeyOf(key)), [], 'no .tmp version left either');
  }

  /** h5py opens the archived file and finds every channel's published values. */
  async function judgeWithH5py(key: string, run: FixtureRun, entry: string): Promise<void> {
    const path = join(work, `${randomUUID()}.h5`);
    writeFileSync(path, await store.get(key));
    const script = [
      'import sys, json, h5py, hashlib',
      'f = h5py.File(sys.argv[1], "r"); e = f[sys.argv[2]]',
      'print(json.dumps({k: hashlib.sha256(e["measurement"][k.split(":")[-1]][()].tobytes()).hexdigest() for k in json.loads(sys.argv[3])}))',
    ].join('\n');
    const read = spawnSync(venvPython, ['-c', script, path, entry, JSON.stringify(Object.keys(run.channelBytes))], { encoding: 'utf8' });
    assert.equal(read.status, 0, read.stderr);
    const got = JSON.parse(read.stdout) as Record<string, string>;
    for (const [name, bytes] of Object.entries(run.channelBytes)) assert.equal(got[name], sha(bytes), `${name} read back by h5py`);
  }

  it('a temp folder smaller than the file: FAILED with HDF5\'s "No space left on device", never ARCHIVED with a broken file', async () => {
    const tmpfs = mountTmpfs('2m');
    mounts.push(tmpfs);
    const run = scan(21, 40_000, 8, '01M80JDTHSB2YF8F4WA7YZ7A01', bucket); // 2.9 MB of channel data
    const key = await stageAndRecord(run);
    const writer = await scanWriter({ workDir: tmpfs });
    assert.deepEqual((await writer(sqsEvent([run.stop]))).batchItemFailures, [], 'FAILED is recorded, the message is not retried');
    await assertFailedCleanly(
      run.runUid,
      key,
      /HDF5 could not write points \[\d+, \d+\) of ctrl:c\d+ \(\/21\.1\/instrument\/c\d+\/data\) in .*scan\.h5: .*No space left on device/,
    );
    assert.equal(await store.head(key), undefined, 'nothing at the final key');
    assert.deepEqual(readdirSync(tmpfs), [], 'the temp folder is empty again');
  });

  it('an HDF5 error at close (the disk fills up just before the file is closed): FAILED naming the close', async () => {
    const tmpfs = mountTmpfs('8m');
    mounts.push(tmpfs);
    const run = scan(22, 20_000, 8, '01M80JDTHSB2YF8F4WA7YZ7A02', bucket);
    const key = await stageAndRecord(run);
    let filler: string | undefined;
    const writer = await scanWriter({
      workDir: tmpfs,
      beforeClose: () => {
        filler = fill(tmpfs);
      },
    });
    assert.deepEqual((await writer(sqsEvent([run.stop]))).batchItemFailures, []);
    assert.ok(filler, 'the fault was injected');
    await assertFailedCleanly(run.runUid, key, /HDF5 could not close the file in .*scan\.h5: .*No space left on device/);
    assert.equal(await store.head(key), undefined);
    rmSync(filler!);
    assert.deepEqual(readdirSync(tmpfs), []);
  });

  it('a staged chunk whose bytes do not match its recorded sha256: FAILED, nothing published', async () => {
    const run = scan(23, 12_000, 3, '01M80JDTHSB2YF8F4WA7YZ7A03', bucket);
    const datum = run.documents.find((d) => d['detail-type'] === 'StreamDatum')!.detail as StreamDatum;
    const chunk = run.chunks.find((c) => c.key === datum.chunk.key)!;
    chunk.bytes = chunk.bytes.slice();
    chunk.bytes[17] = chunk.bytes[17]! ^ 0xff; // same size, other bytes
    const key = await stageAndRecord(run);
    assert.deepEqual((await (await scanWriter())(sqsEvent([run.stop]))).batchItemFailures, []);
    await assertFailedCleanly(run.runUid, key, /does not match the sha256 of its StreamDatum/);
    assert.equal(await store.head(key), undefined);
  });

  it('a final key already holding other content: FAILED, the object there untouched (If-None-Match: *)', async () => {
    const run = scan(24, 1000, 2, '01M80JDTHSB2YF8F4WA7YZ7A04', bucket);
    const key = await stageAndRecord(run);
    const squatter = new TextEncoder().encode("not this run's scan file");
    await store.put(key, squatter);
    const before = await versions(key);
    assert.deepEqual((await (await scanWriter())(sqsEvent([run.stop]))).batchItemFailures, []);
    await assertFailedCleanly(run.runUid, key, /already holds other content .*nothing was replaced/);
    assert.deepEqual(await store.get(key), squatter);
    assert.deepEqual(await versions(key), before, 'no new version of the final object');
  });

  it("a replayed RunStop of an archived run: acknowledged, the final object's bytes and version unchanged; an explicit re-archive makes a new version and keeps the old", async () => {
    const run = scan(25, 3000, 4, '01M80JDTHSB2YF8F4WA7YZ7A05', bucket);
    const key = await stageAndRecord(run);
    const writer = await scanWriter();
    assert.deepEqual((await writer(sqsEvent([run.stop]))).batchItemFailures, []);
    const archived = await catalogue.getRun(run.runUid);
    assert.equal(archived?.state, 'ARCHIVED', JSON.stringify(archived?.failure));
    await judgeWithH5py(key, run, '25.1');
    const first = await versions(key);
    assert.equal(first.length, 1);
    const firstBytes = await store.get(key);
    assert.equal(sha(firstBytes), archived.file?.sha256);
    assert.equal(archived.object?.versionId, first[0]!.versionId);

    for (let i = 0; i < 2; i += 1) assert.deepEqual((await writer(sqsEvent([run.stop]))).batchItemFailures, []);
    assert.deepEqual(await versions(key), first, 'replays wrote no new version');
    assert.equal(sha(await store.get(key)), sha(firstBytes));
    assert.deepEqual((await catalogue.getRun(run.runUid))?.file, archived.file);

    // On purpose: an operator's Rearchive Requested (e.g. after a writer upgrade) writes a new version over the known ETag.
    const request = {
      version: '0',
      id: randomUUID(),
      source: 'beamline-archive.operator',
      'detail-type': 'Rearchive Requested',
      account: '123456789012',
      time: '2026-11-23T08:00:00Z',
      region: REGION,
      resources: [],
      detail: { run_uid: run.runUid, reason: 'writer upgrade', requested_by: 'operator@example.org' },
    };
    assert.deepEqual((await writer(sqsEvent([request]))).batchItemFailures, []);
    const after = await versions(key);
    assert.equal(after.length, 2, 'a new version of the final object');
    assert.ok(
      after.some((v) => v.versionId === first[0]!.versionId),
      'the old version is kept',
    );
    const rearchived = await catalogue.getRun(run.runUid);
    assert.equal(rearchived?.state, 'ARCHIVED');
    assert.notEqual(rearchived.object?.versionId, first[0]!.versionId);
    assert.ok(after.some((v) => v.versionId === rearchived.object?.versionId));
    assert.equal(rearchived.rearchives?.length, 1);
    assert.equal(rearchived.rearchives[0]!.reason, 'writer upgrade');
    assert.equal(rearchived.rearchives[0]!.requestedBy, 'operator@example.org');
    assert.equal(rearchived.rearchives[0]!.previous.versionId, first[0]!.versionId);
    assert.equal(rearchived.rearchives[0]!.previous.sha256, archived.file?.sha256);
    await judgeWithH5py(key, run, '25.1');

    // A re-archive of a run that is not ARCHIVED is refused and changes nothing.
    const other = scan(26, 100, 1, '01M80JDTHSB2YF8F4WA7YZ7A06', bucket);
    const otherKey = await stageAndRecord(other);
    assert.deepEqual(
      (await writer(sqsEvent([{ ...request, id: randomUUID(), detail: { ...request.detail, run_uid: other.runUid } }]))).batchItemFailures,
      [],
    );
    assert.equal((await catalogue.getRun(other.runUid))?.state, 'RECORDING');
    assert.equal(await store.head(otherKey), undefined);
  });
});
