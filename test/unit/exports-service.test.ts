/**
 * The export service's rules that the integration tests cannot provoke on demand, with in-memory
 * versions of its ports (same semantics as the DynamoDB/S3 adapters, which
 * test/integration/exports-records.test.ts checks against the emulator) and the real local
 * workspace: a transient upload failure publishes nothing and the retry after the lease completes;
 * a lost announcement is re-sent without a rebuild; a request id reused on the bus is a conflict;
 * JSON channels are left out and noted; a scan file that is not the recorded one fails the export.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { MemoryProvenanceStore } from '../../src/adapters/memory/analysis-stores.js';
import { MemoryEventBus } from '../../src/adapters/memory/event-bus.js';
import { MemoryExportCatalogue } from '../../src/adapters/memory/export-catalogue.js';
import { MemoryObjectStore, type ObjectStoreOperation } from '../../src/adapters/memory/object-store.js';
import { MemoryRunCatalogue } from '../../src/adapters/memory/run-catalogue.js';
import { createLocalExportWorkspace } from '../../src/adapters/local-export-workspace.js';
import { readRows } from '../../src/core/exports/column-source.js';
import type { NdArray } from '../../src/core/analysis/ndarray.js';
import { RunState, type RunRecord, type StoredDocument, type TaskJob } from '../../src/core/archive/ports.js';
import { DetailType, EventSource } from '../../src/core/contract/detail-types.js';
import type { ExportRequested } from '../../src/core/contract/generated-types.js';
import { ArchiveError } from '../../src/core/errors.js';
import { exportIdOf } from '../../src/core/exports/export-request.js';
import { ExportService } from '../../src/core/exports/export-service.js';
import type { ExportServiceDeps } from '../../src/core/exports/service-deps.js';
import { ExportState, type ArchivedChannelReader } from '../../src/core/exports/ports.js';
import { ExportConflictError } from '../../src/core/exports/service-errors.js';

/** The bucket: `failUploads` makes chosen keys fail once (an S3 outage). */
function bucket(name: string) {
  const failUploads = new Set<string>();
  const fail = (operation: ObjectStoreOperation, key: string) =>
    operation === 'uploadFile' && failUploads.delete(key) ? new Error(`simulated S3 outage while uploading ${key}`) : undefined;
  return Object.assign(new MemoryObjectStore(name, { fail }), { failUploads });
}

/** The bus: `refuseNext` entries are refused as throttled (transient). */
function bus(): MemoryEventBus & { refuseNext: number } {
  const refuse = () => {
    if (events.refuseNext <= 0) return undefined;
    events.refuseNext -= 1;
    return { reason: 'ThrottlingException', transient: true };
  };
  const events = Object.assign(new MemoryEventBus({ refuse }), { refuseNext: 0 });
  return events;
}

const f8 = (values: number[]): NdArray => ({
  dtype: '<f8',
  shape: [values.length],
  bytes: new Uint8Array(new Float64Array(values).buffer),
});

/** Two archived BLISS-like runs: channels `axis:sy` and `diode` (numbers) and `log` (a JSON channel). */
function world(extra: Partial<ExportServiceDeps> = {}) {
  const store = bucket('archive-bucket');
  const runs = new Map<string, { record: RunRecord; docs: StoredDocument[]; arrays: Record<string, NdArray> }>();
  for (const [i, uid] of ['RUN_A', 'RUN_B'].entries()) {
    const key = `archive/p/b/s/c/c_d/c_d_000${i + 1}.h5`;
    const bytes = new Uint8Array(Buffer.from(`scan file of ${uid}`));
    store.objects.set(key, bytes);
    const paths = {
      'axis:sy': `/${i + 1}.1/instrument/sy/value`,
      diode: `/${i + 1}.1/instrument/diode/data`,
      log: `/${i + 1}.1/instrument/log/data`,
    };
    runs.set(uid, {
      record: {
        runUid: uid,
        state: RunState.Archived,
        channelPaths: paths,
        file: { bucket: store.bucket, key, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') },
      },
      docs: [
        {
          detailType: DetailType.RunStart,
          uid,
          body: { uid, time: 1_790_000_000 + i, scan_id: i + 1, plan_name: 'ascan', title: `ascan ${i + 1}` },
        },
        {
          detailType: DetailType.EventDescriptor,
          uid: `${uid}/descriptor/primary`,
          body: {
            uid: `${uid}/descriptor/primary`,
            run_start: uid,
            time: 1_790_000_000 + i,
            name: 'primary',
            data_keys: {
              'axis:sy': { dtype: 'number', dtype_numpy: '<f8', shape: [], source: 'sy', external: 'STREAM:', units: 'mm' },
              diode: { dtype: 'number', dtype_numpy: '<f8', shape: [], source: 'diode', external: 'STREAM:' },
              log: { dtype: 'string', dtype_numpy: '|O8', shape: [], source: 'log', external: 'STREAM:' },
            },
            not_archived: [{ channel: 'primary/label', reason: 'dtype string is not archived' }],
          },
        },
        {
          detailType: DetailType.RunStop,
          uid: `${uid}/stop`,
          body: { uid: `${uid}/stop`, run_start: uid, time: 1_790_000_010 + i, exit_status: 'success' },
        },
      ],
      arrays: { [paths['axis:sy']]: f8([0, 0.5, 1]), [paths.diode]: f8([10 + i, 11, 12.25]) },
    });
  }
  const runCatalogue = new MemoryRunCatalogue();
  for (const [uid, run] of runs) {
    runCatalogue.runs.set(uid, run.record);
    runCatalogue.documents.set(uid, run.docs);
  }
  const reader: ArchivedChannelReader = {
    async open(localPath, context) {
      // The service streamed the run's scan file to local disk before opening it there.
      assert.deepEqual(new Uint8Array(await readFile(localPath)), store.objects.get(runs.get(context.runUid)!.record.file!.key));
      const arrays = runs.get(context.runUid)!.arrays;
      return {
        column: (path) => {
          const a = arrays[path];
          if (!a) throw new Error(`no dataset ${path}`);
          return { dtype: a.dtype, shape: a.shape, rows: (start, stop) => structuredClone(readRows(a, start, stop)) };
        },
        close: async () => undefined,
      };
    },
  };
  let clock = new Date('2026-11-22T06:00:00.000Z');
  const exports = new MemoryExportCatalogue();
  const events = bus();
  const provenance = new MemoryProvenanceStore((e) => e.kind === 'run' && runs.has(e.id));
  const deps: ExportServiceDeps = {
    exports,
    runs: runCatalogue,
    store,
    reader,
    publisher: events,
    workspace: (fileTime) => createLocalExportWorkspace({ fileTimeMs: fileTime.getTime() }),
    provenance: {
      store: provenance,
      software: { name: 'beamline-archive', version: '0.1.0', repository: 'https://example.org/beamline-archive' },
    },
    creator: 'beamline-archive 0.1.0',
    now: () => clock,
    leaseMs: 15 * 60_000,
    ...extra,
  };
  const service = new ExportService(deps);
  return {
    service,
    deps,
    store,
    exports,
    bus: events,
    runs,
    provenance,
    advance: (ms: number) => {
      clock = new Date(clock.getTime() + ms);
    },
  };
}

const request = (requestId: string, runs: string[], format = 'csv'): ExportRequested => ({
  request_id: requestId,
  runs: runs as ExportRequested['runs'],
  format,
});

describe('export service', () => {
  /** Capacity as the worker (lambda) or the task sees it: the function may use 10 bytes of temp space (every export is "too big"). */
  const capacity = (kind: 'lambda' | 'task', taskMaxBytes: number, jobs: TaskJob[]): NonNullable<ExportServiceDeps['capacity']> => ({
    config: {
      rates: { fetchBytesPerSecond: 1e8, writeBytesPerSecond: 1e8, uploadBytesPerSecond: 1e8 },
      margin: 0.3,
      lambdaMaxBytes: 10,
      task: { maxBytes: taskMaxBytes, maxSeconds: 3600, memoryBytes: 16 * 2 ** 30 },
    },
    here: async () => ({ kind, freeBytes: 2 ** 30, remainingMs: 900_000, memoryBytes: 3 * 2 ** 30 }),
    taskEngine: {
      start: async (job) => {
        jobs.push(job);
        return { ref: `local-task/${jobs.length}` };
      },
    },
  });

  it('hands an export that does not fit the function to the task engine; the task builds it and the record names the task', async () => {
    const jobs: TaskJob[] = [];
    const w = world({ capacity: capacity('lambda', 2 ** 30, jobs), engine: { kind: 'lambda', ref: 'export-worker' } });
    const id = exportIdOf('too-big');
    const handed = await w.service.handleRequested(request('too-big', ['RUN_A', 'RUN_B']), EventSource.ExportClient);
    assert.equal(handed.state, ExportState.Building);
    assert.deepEqual(jobs, [{ kind: 'export', exportId: id }]);
    const stored = (await w.exports.get(id))!;
    assert.deepEqual(stored.engine, { kind: 'task', ref: 'local-task/1' });
    assert.match(
      stored.handOver!.reason,
      /the export needs ~\d+ B of temp space \(scan files 36 B \+ export 0 B\).*the function has 10 B of temp space/,
    );
    assert.ok(
      stored.leaseUntil! > new Date(Date.parse('2026-11-22T06:00:00Z') + 3599_000).toISOString(),
      'leased for as long as the task may run',
    );
    assert.deepEqual(
      [...w.store.objects.keys()].filter((k) => k.startsWith('exports/')),
      [],
      'the function wrote nothing',
    );
    // A redelivery while the task runs is dropped: no second task.
    await w.service.handleRequested(request('too-big', ['RUN_A', 'RUN_B']), EventSource.ExportClient);
    assert.equal(jobs.length, 1);

    // The task: the same service over the same stores, checked against the task's limits.
    const task = new ExportService({ ...w.deps, engine: { kind: 'task', ref: 'local-task/1' }, capacity: capacity('task', 2 ** 30, jobs) });
    const done = await task.buildHandedOver(id);
    assert.equal(done.state, ExportState.Completed);
    assert.deepEqual((await w.exports.get(id))!.engine, { kind: 'task', ref: 'local-task/1' });
    assert.equal(
      Buffer.from(w.store.objects.get(`exports/${id}/RUN_B_primary.csv`)!).toString(),
      'seq_num,axis:sy,diode\r\n1,0,11\r\n2,0.5,11\r\n3,1,12.25\r\n',
    );
    assert.deepEqual(
      w.bus.events.map((e) => e.detailType),
      [DetailType.ExportCompleted],
    );
    // Started again (ECS retried the task): the export is done, nothing is rebuilt or re-announced.
    assert.equal((await task.buildHandedOver(id)).state, ExportState.Completed);
    assert.equal(w.bus.events.length, 1);
    assert.equal(jobs.length, 1);
  });

  it('fails an export that fits no engine at once, with the sizes, before any scan file is read', async () => {
    const jobs: TaskJob[] = [];
    const w = world({ capacity: capacity('lambda', 20, jobs) });
    const read: string[] = [];
    const { get, downloadFile } = w.store;
    w.store.get = async (key) => {
      read.push(key);
      return get.call(w.store, key);
    };
    w.store.downloadFile = async (key, path) => {
      read.push(key);
      return downloadFile.call(w.store, key, path);
    };
    const failed = await w.service.handleRequested(request('way-too-big', ['RUN_A', 'RUN_B']), EventSource.ExportClient);
    assert.equal(failed.state, ExportState.Failed);
    assert.match(
      failed.reason!,
      /cannot be built: the export needs ~36 B of temp space .*more than any engine takes \(the function has 10 B .*the task engine takes up to 20 B/,
    );
    assert.deepEqual(jobs, [], 'no task started');
    assert.deepEqual(read, [], 'no scan file downloaded');
    assert.deepEqual(
      w.bus.events.map((e) => e.detailType),
      [DetailType.ExportFailed],
    );
  });

  it('publishes nothing when one upload fails, and the retry after the lease publishes every file', async () => {
    const w = world();
    const id = exportIdOf('two-files');
    w.store.failUploads.add(`exports/${id}/RUN_B_primary.csv.tmp`);
    await assert.rejects(
      w.service.handleRequested(request('two-files', ['RUN_A', 'RUN_B']), EventSource.ExportClient),
      /simulated S3 outage/,
    );
    assert.deepEqual(
      [...w.store.objects.keys()].filter((k) => k.startsWith('exports/') && !k.endsWith('.tmp')),
      [],
      'no final object after a failed upload',
    );
    assert.equal((await w.exports.get(id))!.state, ExportState.Building);
    // A redelivery inside the lease leaves the (presumed running) build alone …
    assert.equal(
      (await w.service.handleRequested(request('two-files', ['RUN_A', 'RUN_B']), EventSource.ExportClient)).state,
      ExportState.Building,
    );
    // … one after it takes it over and completes.
    w.advance(16 * 60_000);
    const done = await w.service.handleRequested(request('two-files', ['RUN_A', 'RUN_B']), EventSource.ExportClient);
    assert.equal(done.state, ExportState.Completed);
    assert.equal((await w.exports.get(id))!.attempts, 2);
    assert.deepEqual(
      done.files!.map((f) => f.key),
      [`exports/${id}/RUN_A_primary.csv`, `exports/${id}/RUN_B_primary.csv`],
    );
    assert.deepEqual(
      [...w.store.objects.keys()].filter((k) => k.startsWith('exports/')).sort(),
      done.files!.map((f) => f.key).sort(),
      'no .tmp left',
    );
    const csv = Buffer.from(w.store.objects.get(`exports/${id}/RUN_B_primary.csv`)!).toString();
    assert.equal(csv, 'seq_num,axis:sy,diode\r\n1,0,11\r\n2,0.5,11\r\n3,1,12.25\r\n');
    assert.deepEqual(
      w.bus.events.map((e) => [e.detailType, e.source]),
      [[DetailType.ExportCompleted, EventSource.Exports]],
    );
    assert.deepEqual(
      (await w.exports.get(id))!.notes?.filter((n) => /JSON channel/.test(n)).length,
      2,
      'the JSON channel of each run is named in the notes',
    );
    assert.ok(
      (await w.exports.get(id))!.notes?.includes(
        'run RUN_A, stream primary: primary/label was not archived (dtype string is not archived), left out',
      ),
    );
  });

  it('a repeated API request revives a build whose worker died and whose event is gone (lease over), not a live one', async () => {
    const w = world();
    const id = exportIdOf('stalled');
    w.store.failUploads.add(`exports/${id}/RUN_A_primary.csv.tmp`);
    await assert.rejects(
      w.service
        .request(request('stalled', ['RUN_A']))
        .then(() => w.service.handleRequested(request('stalled', ['RUN_A']), EventSource.ExportApi)),
    );
    assert.equal((await w.exports.get(id))!.state, ExportState.Building);
    const requested = () => w.bus.events.filter((e) => e.detailType === DetailType.ExportRequested).length;
    assert.equal(requested(), 1);
    // Inside the lease the build may still be running: a repeat does not ask for another one.
    assert.equal((await w.service.request(request('stalled', ['RUN_A']))).created, false);
    assert.equal(requested(), 1, 'no second Export Requested while the lease holds');
    // The worker's message went to the DLQ; once the lease ran out, the repeat puts the request on the bus again …
    w.advance(16 * 60_000);
    const again = await w.service.request(request('stalled', ['RUN_A']));
    assert.equal(again.record.state, ExportState.Building);
    assert.equal(requested(), 2, 'a BUILDING record whose lease ran out is requested again');
    // … and that event completes it.
    const done = await w.service.handleRequested(w.bus.events.at(-1)!.detail as ExportRequested, EventSource.ExportApi);
    assert.equal(done.state, ExportState.Completed);
    assert.equal((await w.exports.get(id))!.attempts, 2);
  });

  it('re-announces a finished export whose announcement was lost, without building it again', async () => {
    const w = world();
    const id = exportIdOf('lost-event');
    w.bus.refuseNext = 1;
    await assert.rejects(
      w.service.handleRequested(request('lost-event', ['RUN_A']), EventSource.ExportApi),
      (e: unknown) => e instanceof ArchiveError && /the bus refused Export Completed/.test(e.message),
    );
    const record = (await w.exports.get(id))!;
    assert.equal(record.state, ExportState.Completed);
    assert.equal(record.announced, undefined);
    const again = await w.service.handleRequested(request('lost-event', ['RUN_A']), EventSource.ExportApi);
    assert.equal(again.state, ExportState.Completed);
    assert.equal((await w.exports.get(id))!.attempts, 1, 'built once');
    assert.equal((await w.exports.get(id))!.announced, true);
    assert.equal(w.bus.events.filter((e) => e.detailType === DetailType.ExportCompleted).length, 1);
    await w.service.handleRequested(request('lost-event', ['RUN_A']), EventSource.ExportApi);
    assert.equal(w.bus.events.length, 1, 'an announced export is not announced again');
  });

  it('refuses a request id reused with other content, leaving the first export as it was', async () => {
    const w = world();
    await w.service.handleRequested(request('reused', ['RUN_A']), EventSource.ExportClient);
    const before = await w.exports.get(exportIdOf('reused'));
    await assert.rejects(w.service.handleRequested(request('reused', ['RUN_A', 'RUN_B']), EventSource.ExportClient), ExportConflictError);
    await assert.rejects(
      w.service.request(request('reused', ['RUN_A'], 'nexus')),
      /request id reused was already used for a csv export of RUN_A/,
    );
    assert.deepEqual(await w.exports.get(exportIdOf('reused')), before);
  });

  it('fails an export whose scan file is not the one the run record describes, naming run and key', async () => {
    const w = world();
    const key = w.runs.get('RUN_A')!.record.file!.key;
    w.store.objects.set(key, new Uint8Array(Buffer.from('scan file of RUN_X')));
    const failed = await w.service.handleRequested(request('tampered', ['RUN_A']), EventSource.ExportClient);
    assert.equal(failed.state, ExportState.Failed);
    assert.match(
      failed.reason!,
      new RegExp(`s3://archive-bucket/${key} \\(18 bytes, sha256 [0-9a-f]{64}\\) is not the scan file run RUN_A recorded`),
    );
    assert.deepEqual(failed.errors, [{ message: failed.reason, run_uid: 'RUN_A', key }]);
    assert.deepEqual(
      [...w.store.objects.keys()].filter((k) => k.startsWith('exports/')),
      [],
    );
    assert.deepEqual(
      w.bus.events.map((e) => e.detailType),
      [DetailType.ExportFailed],
    );
    assert.equal(
      await w.provenance.get(`export:${exportIdOf('tampered')}`),
      undefined,
      'no provenance for an export that was never published',
    );
  });

  it('fails (does not retry until the DLQ) an export whose scan file was deleted, and refuses one of another size before downloading it', async () => {
    const w = world();
    const key = w.runs.get('RUN_A')!.record.file!.key;
    w.store.objects.delete(key);
    const missing = await w.service.handleRequested(request('deleted', ['RUN_A']), EventSource.ExportClient);
    assert.equal(missing.state, ExportState.Failed);
    assert.equal(
      missing.reason,
      `the scan file s3://archive-bucket/${key} of run RUN_A is missing from the archive bucket; re-archive the run to export it`,
    );
    assert.deepEqual(missing.errors, [{ message: missing.reason, run_uid: 'RUN_A', key }]);
    w.store.objects.set(key, new Uint8Array(Buffer.from('short')));
    const gets: string[] = [];
    const get = w.store.get.bind(w.store);
    w.store.get = async (k: string) => {
      gets.push(k);
      return get(k);
    };
    const resized = await w.service.handleRequested(request('resized', ['RUN_A']), EventSource.ExportClient);
    assert.equal(resized.reason, `s3://archive-bucket/${key} (5 bytes) is not the scan file run RUN_A recorded (18 bytes)`);
    assert.deepEqual(gets, [], 'a file of the wrong size is not downloaded');
    assert.deepEqual(
      w.bus.events.map((e) => e.detailType),
      [DetailType.ExportFailed, DetailType.ExportFailed],
    );
  });

  it('leaves a Lima detector channel out with a note (its frames are in files the scan file only links) instead of failing the export', async () => {
    const w = world();
    const runA = w.runs.get('RUN_A')!;
    const limaPath = '/1.1/instrument/lima_image/data';
    runA.record.channelPaths!['lima:image'] = limaPath;
    const descriptor = runA.docs.find((d) => d.detailType === DetailType.EventDescriptor)!.body as { data_keys: Record<string, unknown> };
    descriptor.data_keys['lima:image'] = { dtype: 'array', dtype_numpy: '<u2', shape: [4, 5], source: 'lima', external: 'STREAM:' };
    runA.docs.push({
      detailType: DetailType.StreamResource,
      uid: 'RUN_A/resource/lima:image',
      body: {
        uid: 'RUN_A/resource/lima:image',
        run_start: 'RUN_A',
        data_key: 'lima:image',
        mimetype: 'application/x-hdf5-lima',
        uri: 's3://archive-bucket/archive/p/b/s/c/c_d/scan0001/',
        parameters: { dtype_numpy: '<u2', point_shape: [4, 5], data_path: '/entry_0000/measurement/data' },
      },
    });
    // (the test reader, like h5wasm on a link whose file is not there, has no dataset at limaPath)
    const done = await w.service.handleRequested(request('lima', ['RUN_A'], 'nexus'), EventSource.ExportClient);
    assert.equal(done.state, ExportState.Completed, done.reason);
    assert.ok(
      done.notes?.includes(
        'run RUN_A, stream primary: lima:image is a Lima detector (frames in its own files, linked from the scan file), left out',
      ),
      done.notes?.join('\n'),
    );
  });

  it('exports points lost before archiving (run record gaps; 0 in the scan file) as empty CSV cells, with a note', async () => {
    const w = world();
    w.runs.get('RUN_B')!.record.gaps = { diode: [[1, 2]] };
    const done = await w.service.handleRequested(request('gaps', ['RUN_B']), EventSource.ExportClient);
    assert.equal(done.state, ExportState.Completed, done.reason);
    const csv = Buffer.from(w.store.objects.get(`exports/${exportIdOf('gaps')}/RUN_B_primary.csv`)!).toString();
    assert.equal(csv, 'seq_num,axis:sy,diode\r\n1,0,11\r\n2,0.5,\r\n3,1,12.25\r\n');
    assert.ok(
      done.notes?.includes('RUN_B_primary.csv: points lost before archiving (trimmed in Redis) are empty cells: diode [1, 2)'),
      done.notes?.join('\n'),
    );
  });

  it('the API refuses at once unknown formats, unknown runs and runs that are not ARCHIVED, recording nothing', async () => {
    const w = world();
    w.runs.get('RUN_B')!.record.state = RunState.Recording;
    await assert.rejects(
      w.service.request(request('r1', ['RUN_A'], 'xlsx')),
      /unknown export format "xlsx": use one of nxstxm, nexus, csv/,
    );
    await assert.rejects(w.service.request(request('r2', ['NOPE'])), /run NOPE is not in the catalogue/);
    await assert.rejects(w.service.request(request('r3', ['RUN_B'])), /run RUN_B is not archived yet: it is RECORDING/);
    await assert.rejects(w.service.request(request('r4', ['RUN_A', 'RUN_A'])), /runs lists a run twice: RUN_A/);
    assert.equal(w.exports.records.size, 0);
    assert.equal(w.bus.events.length, 0);
    const { created, record } = await w.service.request(
      { ...request('r5', ['RUN_A']), requester: 'someone else' },
      'arn:aws:iam::1:user/me',
    );
    assert.equal(created, true);
    assert.equal(record.requester, 'arn:aws:iam::1:user/me', 'the signed caller, not the body');
    assert.deepEqual(
      w.bus.events.map((e) => [e.detailType, e.source]),
      [[DetailType.ExportRequested, EventSource.ExportApi]],
    );
  });
});
