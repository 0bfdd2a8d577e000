/**
 * NXstxm exports as a service, all real: STXM runs of a Bluesky RunEngine (ophyd.sim devices,
 * test/support/stxm-runs.py) published into Redis by tools/bluesky-publisher, forwarded by the
 * bridge CLI, archived by the local pipeline; the export asked for through the export API and built
 * by the export-worker from the archived scan files; the file judged by nexusformat's
 * `nxcheck -a NXstxm` on every entry and by h5py against what the RunEngine emitted. Runs of two
 * scan types in one NXstxm request end FAILED with the builder's reason and no final object.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { HttpGateway } from '../../local/http-gateway.js';
import { run, startLocalPipeline, type LocalPipeline } from '../../local/pipeline.js';
import { projectRoot, venvBin, venvPython } from '../../local/services.js';
import { DynamoDbExportCatalogue } from '../../src/adapters/dynamodb-export-catalogue.js';
import { signedRequest } from '../../src/adapters/signed-http.js';
import type { ExportRecord } from '../../src/core/exports/ports.js';
import { eventually } from '../support/sqs-helpers.js';
import { credentialsEnvironment, emulatorCredentials } from '../../local/aws-target.js';

const STREAM = 'bluesky:documents';
const STXM = join(projectRoot, 'test', 'support', 'stxm-runs.py');
const RUNS = ['sample_image_stack', 'sample_image', 'sample_point_spectra'] as const;
const credentials = emulatorCredentials();

/** Publishes the documents of a .jsonl file (as the RunEngine emitted them) with the archive's Bluesky publisher. */
const PUBLISH = `
import json, sys
sys.path.insert(0, sys.argv[1])
from beamline_archive_bluesky import RedisDocumentPublisher
publish = RedisDocumentPublisher(sys.argv[2], stream=sys.argv[3])
for path in sys.argv[4:]:
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            publish(d["name"], d["doc"])
`;

function nxcheck(path: string, entry: string): { errors: number; warnings: number; report: string } {
  const checked = spawnSync(join(venvBin, 'nxcheck'), ['-a', 'NXstxm', '-p', `/${entry}`, path], { encoding: 'utf8' });
  // eslint-disable-next-line no-control-regex -- strips nxcheck's ANSI colours
  const report = (checked.stdout + checked.stderr).replace(/\u001b\[[0-9;]*m/g, '');
  const errors = /Total number of errors: (\d+)/.exec(report);
  const warnings = /Total number of warnings: (\d+)/.exec(report);
  assert.ok(errors && warnings, `nxcheck gave no totals:\n${report}`);
  return { errors: Number(errors[1]), warnings: Number(warnings[1]), report };
}

describe('NXstxm exports of archived Bluesky STXM runs', () => {
  let pipeline: LocalPipeline;
  let gateway: HttpGateway;
  let url: string;
  let bridge: ChildProcess | undefined;
  let bridgeStderr = '';
  let exports: DynamoDbExportCatalogue;
  const work = mkdtempSync(join(tmpdir(), 'exports-nxstxm-'));
  const uids: Record<string, string> = {};

  before(async () => {
    pipeline = await startLocalPipeline({ logLevel: 'ERROR' });
    gateway = await pipeline.env.startHttpGateway();
    url = gateway.urlOf('export-api').replace(/\/$/, '');
    exports = new DynamoDbExportCatalogue(pipeline.env.clients.dynamo, pipeline.env.resources.table.name);
    bridge = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(projectRoot, 'bridge', 'cli.ts'),
        '--redis-url',
        pipeline.redisUrl,
        '--bus',
        pipeline.env.resources.bus.name,
        '--bucket',
        pipeline.bucket,
        '--beamline',
        'sm00',
        '--checkpoint',
        join(work, 'checkpoint.json'),
        '--dead-letter',
        join(work, 'dead-letter.jsonl'),
        '--flush-ms',
        '200',
        '--log-level',
        'WARN',
        '--bluesky-stream',
        STREAM,
        '--bluesky-defaults',
        'proposal=stxm123,session=20261122,collection=stxm,dataset=0001',
        '--lima-root',
        work,
      ],
      {
        cwd: projectRoot,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          AWS_ENDPOINT_URL: pipeline.env.awsEndpoint,
          AWS_REGION: pipeline.env.region,
          ...credentialsEnvironment(),
        },
      },
    );
    bridge.stderr!.on('data', (d: Buffer) => {
      bridgeStderr = (bridgeStderr + d.toString()).slice(-20_000);
    });

    const generated = await run(venvPython, [STXM, 'generate', work]);
    assert.equal(generated.code, 0, generated.stderr);
    const files = RUNS.map((name) => join(work, `${name}.jsonl`));
    for (const [i, name] of RUNS.entries()) {
      uids[name] = (JSON.parse(readFileSync(files[i]!, 'utf8').split('\n')[0]!) as { doc: { uid: string } }).doc.uid;
    }
    const published = await run(venvPython, [
      '-c',
      PUBLISH,
      join(projectRoot, 'tools', 'bluesky-publisher'),
      pipeline.redisUrl,
      STREAM,
      ...files,
    ]);
    assert.equal(published.code, 0, published.stderr);
    for (const name of RUNS) {
      const record = await pipeline.waitForRun(uids[name]!, { timeoutMs: 180_000 });
      assert.equal(record.state, 'ARCHIVED', `${name}: ${JSON.stringify(record)}\n${bridgeStderr}`);
    }
  });

  after(async () => {
    if (bridge && bridge.exitCode === null) {
      const exited = new Promise((r) => bridge!.once('exit', r));
      bridge.kill('SIGTERM');
      await exited;
    }
    await pipeline?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const api = (path: string, method = 'GET', body?: unknown) =>
    signedRequest({ url: `${url}${path}`, method, ...(body !== undefined ? { body } : {}) }, { region: pipeline.env.region, credentials });

  async function finished(exportId: string): Promise<ExportRecord> {
    let record: ExportRecord | undefined;
    await eventually(
      async () => {
        record = await exports.get(exportId);
        return record?.state === 'COMPLETED' || record?.state === 'FAILED';
      },
      120_000,
      `export ${exportId} finished`,
    );
    return record!;
  }

  it('builds an NXstxm file from the archive that nxcheck accepts on every entry and h5py finds equal to what the RunEngine emitted', async () => {
    const requested = await api('/exports', 'POST', { request_id: 'stxm-stack-1', runs: [uids.sample_image_stack], format: 'nxstxm' });
    assert.equal(requested.status, 202, requested.body);
    const record = await finished((requested.json as { export_id: string }).export_id);
    assert.equal(record.state, 'COMPLETED', record.reason);
    assert.equal(record.files?.length, 1);
    const local = join(work, 'stack.h5');
    await pipeline.download(record.files![0]!.key, local);
    const listed = spawnSync(
      venvPython,
      [
        '-c',
        'import h5py, sys; f = h5py.File(sys.argv[1], "r"); print(" ".join(k for k in f if f[k].attrs.get("NX_class") == "NXentry"))',
        local,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(listed.status, 0, listed.stderr);
    const entries = listed.stdout.trim().split(/\s+/).filter(Boolean);
    assert.ok(entries.length > 1, `a stack has an entry per region and polarization: ${entries.join(' ')}`);
    for (const entry of entries) {
      const { errors, warnings, report } = nxcheck(local, entry);
      assert.equal(errors, 0, `/${entry}:\n${report}`);
      assert.equal(warnings, 0, `/${entry}:\n${report}`);
    }
    const judged = spawnSync(venvPython, [STXM, 'judge', work, local, 'sample_image_stack'], { encoding: 'utf8' });
    assert.equal(judged.status, 0, judged.stdout + judged.stderr);
    const report = JSON.parse(judged.stdout) as { entries: number; values: number; problems: string[] };
    assert.deepEqual(report.problems, []);
    assert.equal(report.entries, entries.length);
    assert.ok(report.values > 0);
  });

  it('refuses runs of two scan types in one NXstxm file: FAILED with the reason, nothing under exports/', async () => {
    const requested = await api('/exports', 'POST', {
      request_id: 'stxm-mixed-1',
      runs: [uids.sample_image, uids.sample_point_spectra],
      format: 'nxstxm',
    });
    assert.equal(requested.status, 202, requested.body);
    const exportId = (requested.json as { export_id: string }).export_id;
    const record = await finished(exportId);
    assert.equal(record.state, 'FAILED');
    assert.match(record.reason!, /these runs cannot share one NXstxm file: their stxm_scan_type differs/);
    const listed = await pipeline.env.clients.s3.send(
      new ListObjectsV2Command({ Bucket: pipeline.bucket, Prefix: `exports/${exportId}/` }),
    );
    assert.deepEqual(listed.Contents ?? [], []);
    const shown = (await api(`/exports/${exportId}`)).json as { state: string; reason: string };
    assert.equal(shown.state, 'FAILED');
    assert.equal(shown.reason, record.reason);
  });
});
