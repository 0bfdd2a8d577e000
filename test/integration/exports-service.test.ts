/**
 * Exports as a service through the local environment: BLISS scans published by the real blissdata
 * package, followed by the bridge, archived by the scan-writer; exports asked for through the API
 * (function URL, SigV4), a bus event and the CLI; built by the export-worker the runner plays; files
 * read back by Python's csv module and h5py and compared with what blissdata published.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { HttpGateway } from '../../local/http-gateway.js';
import { startLocalPipeline, type LocalPipeline, type PublishedScan } from '../../local/pipeline.js';
import { projectRoot, venvPython } from '../../local/services.js';
import { DynamoDbExportCatalogue } from '../../src/adapters/dynamodb-export-catalogue.js';
import { DynamoDbProvenanceStore } from '../../src/adapters/dynamodb-provenance-store.js';
import { runPk, RUN_SK } from '../../src/adapters/dynamodb-run-catalogue.js';
import { signedRequest, type SignedResponse } from '../../src/adapters/signed-http.js';
import { loadJson, samplePath } from '../../src/core/contract/schema-files.js';
import { validateEvent, type BusEvent } from '../../src/core/contract/validators.js';
import { exportIdOf } from '../../src/core/exports/export-request.js';
import type { ExportRecord } from '../../src/core/exports/ports.js';
import { eventually, receiveAll } from '../support/sqs-helpers.js';
import { credentialsEnvironment, emulatorCredentials } from '../../local/aws-target.js';

const credentials = emulatorCredentials();

interface ApiRecord {
  export_id: string;
  request_id: string;
  state: string;
  format: string;
  runs: string[];
  attempts: number;
  provenance?: string;
  files?: { name: string; bucket: string; key: string; bytes: number; sha256: string }[];
  reason?: string;
  errors?: { message: string }[];
  error_files?: { key: string; bytes: number }[];
}

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/beamline-archive.mjs', 'export', ...args], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? '', ...credentialsEnvironment(), AWS_REGION: 'eu-west-1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Compares CSV tables (Python csv + float) and NeXus files (h5py) with the values blissdata published (.npz). */
const JUDGE = `
import csv, json, sys
import h5py, numpy as np
kind, path, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
out = {"compared": [], "problems": []}
def published(npz, key):
    return np.load(npz)[key.replace(":", "__")]
if kind == "csv":
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    if header[0] != "seq_num": out["problems"].append("first column is %s" % header[0])
    for i, name in enumerate(header):
        if name in ("seq_num", "time"): continue
        values = published(spec["npz"], name)
        got = [float(r[i]) for r in body]
        if len(got) != len(values) or any(a != float(b) for a, b in zip(got, values)):
            out["problems"].append("%s differs" % name)
        out["compared"].append(name)
    if [int(r[0]) for r in body] != list(range(1, len(body) + 1)): out["problems"].append("seq_num is not 1..n")
else:
    with h5py.File(path, "r") as f:
        for entry, npz in zip(spec["entries"], spec["npz"]):
            stream = f[entry]["primary"]
            for name, ds in stream.items():
                if not isinstance(ds, h5py.Dataset) or "data_key" not in ds.attrs: continue
                key = ds.attrs["data_key"]
                key = key.decode() if isinstance(key, bytes) else str(key)
                values = published(npz, key)
                if ds.dtype != values.dtype or not np.array_equal(ds[()], values):
                    out["problems"].append("%s/%s differs (%s vs %s)" % (entry, key, ds.dtype, values.dtype))
                out["compared"].append("%s/%s" % (entry, key))
print(json.dumps(out))
`;

function judge(kind: 'csv' | 'nexus', path: string, spec: unknown): { compared: string[]; problems: string[] } {
  const result = spawnSync(venvPython, ['-c', JUDGE, kind, path, JSON.stringify(spec)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the Python judge could not read ${path}: ${result.stderr}`);
  return JSON.parse(result.stdout) as { compared: string[]; problems: string[] };
}

describe('exports through the API, the bus and the CLI', () => {
  let pipeline: LocalPipeline;
  /** Who the SigV4-signed requests of this test are (the gateway's IAM principal): the owner of their exports. */
  const SERVICE_CALLER = () => `iam:arn:aws:iam::${pipeline.env.resources.accountId}:user/${emulatorCredentials().accessKeyId}`;
  let gateway: HttpGateway;
  let url: string;
  let watchQueue: string;
  let dir: string;
  let exports: DynamoDbExportCatalogue;
  let provenance: DynamoDbProvenanceStore;
  const scans: { published: PublishedScan; npz: string }[] = [];
  const seen: BusEvent[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'exports-service-'));
    pipeline = await startLocalPipeline();
    const { env } = pipeline;
    gateway = await env.startHttpGateway();
    url = gateway.urlOf('export-api').replace(/\/$/, '');
    exports = new DynamoDbExportCatalogue(env.clients.dynamo, env.resources.table.name);
    provenance = new DynamoDbProvenanceStore(env.clients.dynamo, env.resources.table.name, pipeline.bucket);
    // A rule of the test: every event of the export worker lands in a queue we read.
    const queue = await env.clients.sqs.send(new CreateQueueCommand({ QueueName: `${env.resources.bus.name}-exports-watch` }));
    watchQueue = queue.QueueUrl!;
    const arn = (await env.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: watchQueue, AttributeNames: ['QueueArn'] })))
      .Attributes!.QueueArn!;
    await env.clients.events.send(
      new PutRuleCommand({
        Name: 'watch-exports',
        EventBusName: env.resources.bus.name,
        EventPattern: JSON.stringify({ source: ['beamline-archive.exports'] }),
      }),
    );
    await env.clients.events.send(
      new PutTargetsCommand({ Rule: 'watch-exports', EventBusName: env.resources.bus.name, Targets: [{ Id: 'q', Arn: arn }] }),
    );
    for (const [i, options] of [
      { points: 30, counters: 2 },
      { points: 25, counters: 3 },
    ].entries()) {
      const npz = join(dir, `scan${i}.npz`);
      const published = await pipeline.publish({ type: 'ascan', number: i + 1, batch: 5, ...options, dumpValues: npz });
      scans.push({ published, npz });
    }
    for (const { published } of scans) assert.equal((await pipeline.waitForRun(published.run_uid)).state, 'ARCHIVED');
  });
  after(async () => {
    await pipeline?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const api = (path: string, method = 'GET', body?: unknown): Promise<SignedResponse> =>
    signedRequest({ url: `${url}${path}`, method, ...(body !== undefined ? { body } : {}) }, { region: pipeline.env.region, credentials });

  async function finished(exportId: string, timeoutMs = 90_000): Promise<ExportRecord> {
    let record: ExportRecord | undefined;
    await eventually(
      async () => {
        record = await exports.get(exportId);
        return record?.state === 'COMPLETED' || record?.state === 'FAILED';
      },
      timeoutMs,
      `export ${exportId} COMPLETED or FAILED`,
    );
    return record!;
  }

  async function keysUnder(prefix: string): Promise<string[]> {
    const out = await pipeline.env.clients.s3.send(new ListObjectsV2Command({ Bucket: pipeline.bucket, Prefix: prefix }));
    return (out.Contents ?? []).map((o) => o.Key!).sort();
  }

  async function objectBytes(key: string): Promise<Uint8Array> {
    const out = await pipeline.env.clients.s3.send(new GetObjectCommand({ Bucket: pipeline.bucket, Key: key }));
    return out.Body!.transformToByteArray();
  }

  async function eventsFor(exportId: string, count: number): Promise<BusEvent[]> {
    await eventually(
      async () => {
        const messages = await receiveAll(pipeline.env.clients.sqs, watchQueue, { consume: true });
        seen.push(...messages.map((m) => validateEvent(JSON.parse(m.Body!))));
        return seen.filter((e) => (e.detail as { export_id: string }).export_id === exportId).length >= count;
      },
      30_000,
      `${count} event(s) of export ${exportId}`,
    );
    return seen.filter((e) => (e.detail as { export_id: string }).export_id === exportId);
  }

  const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

  it('API: a CSV export is requested (202), built, published, recorded with sizes, checksums and provenance, and reads back equal', async () => {
    const run = scans[0]!.published.run_uid;
    const requested = await api('/exports', 'POST', { request_id: 'csv-api-1', runs: [run], format: 'csv' });
    assert.equal(requested.status, 202, requested.body);
    const { export_id: exportId } = requested.json as ApiRecord;
    assert.equal(exportId, exportIdOf('csv-api-1', SERVICE_CALLER()));
    const record = await finished(exportId);
    assert.equal(record.state, 'COMPLETED', record.reason);
    assert.equal(record.attempts, 1);
    assert.equal(record.origin, 'api');
    const shown = (await api(`/exports/${exportId}`)).json as ApiRecord;
    assert.equal(shown.state, 'COMPLETED');
    assert.equal(shown.files!.length, 1);
    const file = shown.files![0]!;
    assert.equal(file.key, `exports/${exportId}/${run}_primary.csv`);
    const bytes = await objectBytes(file.key);
    assert.equal(bytes.byteLength, file.bytes);
    assert.equal(sha256(bytes), file.sha256);
    assert.deepEqual(await keysUnder(`exports/${exportId}/`), [file.key], 'no .tmp or .err left');

    const path = join(dir, 'api.csv');
    await pipeline.download(file.key, path);
    const verdict = judge('csv', path, { npz: scans[0]!.npz });
    assert.deepEqual(verdict.problems, []);
    assert.deepEqual(verdict.compared.sort(), Object.keys(scans[0]!.published.channels).sort(), 'every channel blissdata published');

    const prov = await provenance.get(`export:${exportId}`);
    assert.ok(prov, 'provenance record');
    assert.deepEqual(prov.parents, [`run:${run}`]);
    const archived = await pipeline.catalogue.getRun(run);
    assert.deepEqual(prov.inputs, [
      { uri: `s3://${pipeline.bucket}/${archived!.file!.key}`, sha256: archived!.file!.sha256, bytes: archived!.file!.bytes },
    ]);
    assert.deepEqual(prov.outputs, [{ uri: `s3://${pipeline.bucket}/${file.key}`, sha256: file.sha256, bytes: file.bytes }]);
    assert.equal(prov.software.name, 'beamline-archive');
    assert.ok(prov.software.repository.length > 0);
    assert.equal(shown.provenance, `export:${exportId}`);

    const [completed] = await eventsFor(exportId, 1);
    assert.equal(completed!['detail-type'], 'Export Completed');
    assert.deepEqual((completed!.detail as { files: unknown[] }).files, [
      { bucket: pipeline.bucket, key: file.key, bytes: file.bytes, sha256: file.sha256 },
    ]);

    const links = await api(`/exports/${exportId}/download`);
    assert.equal(links.status, 200);
    const link = (links.json as { files: { url: string }[] }).files[0]!;
    const fetched = new Uint8Array(await (await fetch(link.url)).arrayBuffer());
    assert.equal(sha256(fetched), file.sha256, 'the presigned link serves the published file');
  });

  it('idempotent: the same request id gives the same export (200, one build, same key); other content is a 409', async () => {
    const run = scans[0]!.published.run_uid;
    const again = await api('/exports', 'POST', { request_id: 'csv-api-1', runs: [run], format: 'csv' });
    assert.equal(again.status, 200);
    const record = again.json as ApiRecord;
    assert.equal(record.export_id, exportIdOf('csv-api-1', SERVICE_CALLER()));
    assert.equal(record.state, 'COMPLETED');
    assert.equal(record.attempts, 1, 'built once');
    // The same request id on the bus (another client) names another export: this one is left alone, built once, one key.
    await pipeline.env.clients.events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: pipeline.env.resources.bus.name,
            Source: 'beamline-archive.export-client',
            DetailType: 'Export Requested',
            Detail: JSON.stringify({ request_id: 'csv-api-1', runs: [run], format: 'csv' }),
          },
        ],
      }),
    );
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((await exports.get(record.export_id))!.attempts, 1);
    assert.deepEqual(await keysUnder(`exports/${record.export_id}/`), [record.files![0]!.key]);

    const conflict = await api('/exports', 'POST', { request_id: 'csv-api-1', runs: [run], format: 'nexus' });
    assert.equal(conflict.status, 409);
    assert.match((conflict.json as { error: string }).error, /request id csv-api-1 was already used for a csv export/);
  });

  it('bus: an Export Requested from a client builds a NeXus file with one entry per run, equal to the published data', async () => {
    const runs = scans.map((s) => s.published.run_uid);
    await pipeline.env.clients.events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: pipeline.env.resources.bus.name,
            Source: 'beamline-archive.export-client',
            DetailType: 'Export Requested',
            Detail: JSON.stringify({ request_id: 'nexus-bus-1', runs, format: 'nexus', requester: 'workflow-42' }),
          },
        ],
      }),
    );
    const exportId = exportIdOf('nexus-bus-1');
    const record = await finished(exportId);
    assert.equal(record.state, 'COMPLETED', record.reason);
    assert.equal(record.origin, 'bus');
    assert.equal(record.files!.length, 1);
    const file = record.files![0]!;
    assert.equal(file.contentType, 'application/x-hdf5');
    const bytes = await objectBytes(file.key);
    assert.equal(bytes.byteLength, file.bytes);
    assert.equal(sha256(bytes), file.sha256);
    const path = join(dir, 'bus.h5');
    await pipeline.download(file.key, path);
    const verdict = judge('nexus', path, { entries: ['entry1', 'entry2'], npz: scans.map((s) => s.npz) });
    assert.deepEqual(verdict.problems, []);
    const expected = scans.flatMap((s, i) => Object.keys(s.published.channels).map((c) => `entry${i + 1}/${c}`));
    assert.deepEqual(verdict.compared.sort(), expected.sort(), 'every channel of both runs');
    const prov = await provenance.get(`export:${exportId}`);
    assert.deepEqual(
      prov!.parents,
      runs.map((r) => `run:${r}`),
    );
    assert.equal(prov!.agent.name, 'bus:workflow-42', 'a bus client names a requester; it is kept as a label, never as an identity');
    const [completed] = await eventsFor(exportId, 1);
    assert.equal(completed!['detail-type'], 'Export Completed');
  });

  it('a build whose worker died after publishing is taken over once its lease ran out, and rebuilds the same bytes', async () => {
    const exportId = exportIdOf('nexus-bus-1');
    const before = (await exports.get(exportId))!;
    assert.equal(before.state, 'COMPLETED');
    // What a worker killed between the final copy and its COMPLETED update leaves behind.
    await pipeline.env.clients.dynamo.send(
      new UpdateCommand({
        TableName: pipeline.env.resources.table.name,
        Key: { pk: `EXPORT#${exportId}`, sk: 'EXPORT' },
        UpdateExpression: 'SET #state = :building, lease_until = :expired REMOVE files, completed_at, announced',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':building': 'BUILDING', ':expired': '2000-01-01T00:00:00.000Z' },
      }),
    );
    await pipeline.env.clients.events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: pipeline.env.resources.bus.name,
            Source: 'beamline-archive.export-client',
            DetailType: 'Export Requested',
            Detail: JSON.stringify({ request_id: 'nexus-bus-1', runs: before.runs, format: 'nexus', requester: 'workflow-42' }),
          },
        ],
      }),
    );
    let after: ExportRecord | undefined;
    await eventually(
      async () => {
        after = await exports.get(exportId);
        return after?.state === 'COMPLETED' && after.attempts === 2;
      },
      60_000,
      'the export rebuilt by a second attempt',
    );
    assert.deepEqual(after!.files, before.files, 'same keys, sizes and sha256: the build is deterministic');
    assert.deepEqual(
      await keysUnder(`exports/${exportId}/`),
      before.files!.map((f) => f.key),
    );
    const events = await eventsFor(exportId, 2);
    assert.deepEqual(
      events.map((e) => e['detail-type']),
      ['Export Completed', 'Export Completed'],
    );
  });

  it('CLI: export request --wait --download prints progress, downloads the checked file; status and errors', async () => {
    const cliEnv = { EXPORT_API_URL: url };
    const run = scans[1]!.published.run_uid;
    const out = join(dir, 'cli-out');
    const requested = await cli(
      ['request', '--runs', run, '--format', 'csv', '--request-id', 'csv-cli-1', '--download', out, '--interval', '0.2'],
      cliEnv,
    );
    assert.equal(requested.code, 0, requested.stderr);
    const exportId = exportIdOf('csv-cli-1', SERVICE_CALLER());
    assert.match(requested.stderr, new RegExp(`export ${exportId} \\(request csv-cli-1\\): REQUESTED`));
    assert.match(requested.stderr, new RegExp(`\\[\\s*\\d+\\.\\ds\\] ${exportId} COMPLETED`));
    const record = JSON.parse(requested.stdout) as ApiRecord;
    assert.equal(record.state, 'COMPLETED');
    const file = record.files![0]!;
    const local = await readFile(join(out, `${run}_primary.csv`));
    assert.equal(sha256(local), file.sha256);
    assert.match(requested.stderr, /downloaded .*_primary\.csv \(\d+ bytes, sha256 [0-9a-f]{12}…\)/);
    assert.deepEqual(judge('csv', join(out, `${run}_primary.csv`), { npz: scans[1]!.npz }).problems, []);

    const status = await cli(['status', exportId], cliEnv);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as ApiRecord).files![0]!.sha256, file.sha256);
    const again = await cli(['download', exportId, join(dir, 'cli-again')], cliEnv);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(sha256(await readFile(join(dir, 'cli-again', `${run}_primary.csv`))), file.sha256);

    const unknown = await cli(['request', '--runs', 'NO_SUCH_RUN', '--format', 'csv'], cliEnv);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /run NO_SUCH_RUN is not in the catalogue \(HTTP 404\)/);
    const usage = await cli(['request', '--runs', run], cliEnv);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /request needs --format nxstxm\|nexus\|csv/);
    const help = await cli(['--help'], {});
    assert.equal(help.code, 0);
    assert.match(help.stdout, /request --runs UID\[,UID\.\.\.\] --format nxstxm\|nexus\|csv/);
  });

  it('API: bad requests get clear 400/404/409 errors and nothing is written under exports/', async () => {
    const run = scans[0]!.published.run_uid;
    const before = await keysUnder('exports/');
    const format = await api('/exports', 'POST', { request_id: 'bad-format', runs: [run], format: 'pdf' });
    assert.equal(format.status, 400);
    assert.match((format.json as { error: string }).error, /unknown export format "pdf": use one of nxstxm, nexus, csv/);
    const missing = await api('/exports', 'POST', { request_id: 'bad-run', runs: ['NO_SUCH_RUN'], format: 'csv' });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json, { error: 'run NO_SUCH_RUN is not in the catalogue', run_uid: 'NO_SUCH_RUN' });
    const body = await api('/exports', 'POST', { request_id: 'no runs', format: 'csv' });
    assert.equal(body.status, 400);
    assert.match((body.json as { error: string }).error, /must have required property 'runs'/);

    // A run that is still recording: its RunStart is on the bus, no RunStop.
    const sample = loadJson(samplePath('run-start')) as { source: string; detail: Record<string, unknown> };
    const recording = '01RECORDINGRUN00000000000X';
    await pipeline.env.clients.events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: pipeline.env.resources.bus.name,
            Source: sample.source,
            DetailType: 'RunStart',
            Detail: JSON.stringify({ ...sample.detail, uid: recording }),
          },
        ],
      }),
    );
    await eventually(async () => (await pipeline.catalogue.getRun(recording))?.state === 'RECORDING', 20_000, 'run RECORDING');
    const notArchived = await api('/exports', 'POST', { request_id: 'bad-recording', runs: [recording], format: 'csv' });
    assert.equal(notArchived.status, 409);
    assert.match((notArchived.json as { error: string }).error, new RegExp(`run ${recording} is not archived yet: it is RECORDING`));

    // A run archived before channel paths were recorded.
    const old = scans[1]!.published.run_uid;
    await pipeline.env.clients.dynamo.send(
      new UpdateCommand({
        TableName: pipeline.env.resources.table.name,
        Key: { pk: runPk(old), sk: RUN_SK },
        UpdateExpression: 'REMOVE channel_paths',
      }),
    );
    const reArchive = await api('/exports', 'POST', { request_id: 'bad-old', runs: [old], format: 'csv' });
    assert.equal(reArchive.status, 409);
    assert.match((reArchive.json as { error: string }).error, /archived before the archive recorded .* re-archive it/);

    assert.equal((await api('/exports/exp-000000000000000000000000')).status, 404);
    assert.equal(
      (await fetch(`${url}/exports/exp-000000000000000000000000`)).status,
      401,
      'unsigned requests are refused (anonymous: sign in)',
    );
    assert.deepEqual(await keysUnder('exports/'), before);
  });

  it('bus: an unknown format and runs NXstxm cannot take are recorded FAILED with the reason and announced; no final object', async () => {
    const run = scans[0]!.published.run_uid;
    await pipeline.env.clients.events.send(
      new PutEventsCommand({
        Entries: ['bus-pdf', 'bus-stxm'].map((id) => ({
          EventBusName: pipeline.env.resources.bus.name,
          Source: 'beamline-archive.export-client',
          DetailType: 'Export Requested',
          Detail: JSON.stringify({ request_id: id, runs: [run], format: id === 'bus-pdf' ? 'pdf' : 'nxstxm' }),
        })),
      }),
    );
    for (const [id, reason] of [
      ['bus-pdf', /unknown export format "pdf"/],
      ['bus-stxm', /has no "stxm" metadata in its start document/],
    ] as const) {
      const exportId = exportIdOf(id);
      const record = await finished(exportId);
      assert.equal(record.state, 'FAILED');
      assert.match(record.reason!, reason);
      const [failed] = await eventsFor(exportId, 1);
      assert.equal(failed!['detail-type'], 'Export Failed');
      assert.equal((failed!.detail as { reason: string }).reason, record.reason);
      assert.deepEqual(
        (await keysUnder(`exports/${exportId}/`)).filter((k) => !k.endsWith('.err')),
        [],
      );
      const download = await api(`/exports/${exportId}/download`);
      assert.equal(download.status, 409);
      assert.match((download.json as { error: string }).error, /has no files to download: it is FAILED/);
    }
  });

  it('a build failing after its files are uploaded keeps only <final>.err objects, records FAILED and announces it', async () => {
    const run = scans[0]!.published.run_uid;
    const exportId = exportIdOf('nexus-conflict-1', SERVICE_CALLER());
    // Someone already recorded a provenance for this export: the worker finds out only after its
    // .tmp upload (provenance is recorded just before the final keys are written).
    await provenance.put({
      entity: `export:${exportId}`,
      activity_uid: 'another-activity',
      parents: [],
      inputs: [],
      outputs: [],
      software: { name: 'elsewhere', repository: 'https://example.org/elsewhere' },
      parameters: {},
      agent: { name: 'test' },
      started_at: '2026-01-01T00:00:00.000Z',
      ended_at: '2026-01-01T00:00:00.000Z',
      recorded_at: '2026-01-01T00:00:00.000Z',
    });
    const requested = await api('/exports', 'POST', { request_id: 'nexus-conflict-1', runs: [run], format: 'nexus' });
    assert.equal(requested.status, 202);
    const record = await finished(exportId);
    assert.equal(record.state, 'FAILED');
    assert.match(record.reason!, new RegExp(`export:${exportId} already has a provenance record \\(activity another-activity\\)`));
    const keys = await keysUnder(`exports/${exportId}/`);
    assert.equal(keys.length, 1);
    assert.equal(keys[0], `exports/${exportId}/${exportId}.nxs.err`);
    assert.deepEqual(
      record.errorFiles?.map((f) => f.key),
      keys,
    );
    const [failed] = await eventsFor(exportId, 1);
    assert.equal(failed!['detail-type'], 'Export Failed');
    assert.deepEqual(
      (failed!.detail as { error_files: { key: string }[] }).error_files.map((f) => f.key),
      keys,
    );
  });
});
