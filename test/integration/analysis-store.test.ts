// The analysis store end to end on the local environment (moto provisioned from the CDK app, the
// local function-URL gateway with SigV4 checks): two raw scans recorded through the real
// run-recorder handler, a derived run saved from both, a derived run of that derived run, lineage
// both ways, PROV-JSON, missing provenance refused with the list, data read back bit for bit,
// unsigned requests refused; the CLI against the same URL.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SQSEvent } from 'aws-lambda';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { createLogger } from '../../src/adapters/logger.js';
import { AnalysisApiError, AnalysisClient } from '../../src/client/analysis-client.js';
import { loadJson, samplePath } from '../../src/core/contract/schema-files.js';
import { createHandler as createRunRecorder } from '../../functions/run-recorder/handler.js';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.js';
import type { HttpGateway } from '../../local/http-gateway.js';
import { projectRoot } from '../../local/services.js';
import { credentialsEnvironment, emulatorCredentials } from '../../local/aws-target.js';

const credentials = emulatorCredentials();
const RAW = ['01RAWSCANAAAAAAAAAAAAAAAA1', '01RAWSCANAAAAAAAAAAAAAAAA2'];

const provenanceOf = (parents: string[], inputs: { uri: string; sha256: string }[]) => ({
  parents,
  inputs,
  software: { name: 'pyFAI-integrate', version: '2025.1', commit: '0123abcd', repository: 'https://github.com/silx-kit/pyFAI' },
  parameters: { npt: 4, unit: 'q_nm^-1' },
  agent: { name: 'Ada Lovelace', identifier: 'orcid:0000-0002-1825-0097' },
  started_at: '2026-11-22T10:00:00Z',
  activity: 'azimuthal-integration',
});

describe('analysis store through the function URL', () => {
  let env: LocalEnvironment;
  let gateway: HttpGateway;
  let client: AnalysisClient;
  let bucket: string;
  const scanFile = (i: number) => `archive/ihch123/id00/20261122/sample1/sample1_0001/sample1_0001_000${i + 1}.h5`;

  before(async () => {
    env = await startLocalEnvironment({ redis: false });
    gateway = await env.startHttpGateway();
    client = new AnalysisClient(gateway.urlOf('analysis-api'), { region: env.region, credentials });
    bucket = env.resources.bucket.name;
    // Two raw scans, recorded by the real run-recorder handler from contract RunStart events.
    const catalogue = new DynamoDbRunCatalogue(env.clients.dynamo, env.resources.table.name);
    const recorder = createRunRecorder({ catalogue, logger: createLogger('run-recorder', 'ERROR') });
    const sample = loadJson(samplePath('run-start')) as { detail: { uid: string; scan_id: number } };
    const event: SQSEvent = {
      Records: RAW.map((uid, i) => ({
        messageId: `m${i}`,
        receiptHandle: 'r',
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:q',
        awsRegion: 'eu-west-1',
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 's', ApproximateFirstReceiveTimestamp: '0' },
        messageAttributes: {},
        body: JSON.stringify({ ...sample, detail: { ...sample.detail, uid, scan_id: i + 1 } }),
      })),
    };
    assert.deepEqual((await recorder(event)).batchItemFailures, []);
    // Their scan files, claimed in the catalogue as the scan writer does.
    for (const [i, uid] of RAW.entries())
      await catalogue.claimFile({ bucket, key: scanFile(i), bytes: 100, sha256: String(i + 1).repeat(64) }, uid);
  });
  after(async () => {
    await env?.stop();
  });

  const points = (n: number, offset: number) =>
    Array.from({ length: n }, (_, i) => ({
      primary: { q: [i + 0.5, i + 1.25, offset / 3, 1e-30 * (i + 1)], intensity: i * offset + 0.1, ok: i % 2 === 0 },
      ...(i < 2 ? { fit: { chi2: 1 / (i + 3) } } : {}),
    }));
  let derived: string;

  it('refuses unsigned requests with 401 (anonymous: sign in)', async () => {
    const response = await fetch(`${gateway.urlOf('analysis-api')}runs`, { method: 'POST', body: '{}' });
    assert.equal(response.status, 401);
  });

  it('saves a derived run of two raw scans: documents, data in S3, provenance; reads every key back bit for bit', async () => {
    const saved = await client.save({
      metadata: { plan_name: 'integrate', sample: 'sample1' },
      data: points(5, 3),
      writers: { q: 'BA_HDF5_ARRAY', intensity: 'BA_CSV' },
      dtypes: { 'primary/q': '<f4' },
      units: { q: 'nm^-1' },
      chunk_points: 3,
      provenance: provenanceOf(
        [`run:${RAW[0]}`, `run:${RAW[1]}`, `file:s3://${bucket}/${scanFile(0)}`],
        RAW.map((_, i) => ({ uri: `s3://${bucket}/${scanFile(i)}`, sha256: String(i + 1).repeat(64) })),
      ),
    });
    derived = saved.uid;
    assert.deepEqual(saved.points, { primary: 5, fit: 2 });
    assert.deepEqual(saved.documents, { descriptor: 2, stream_resource: 4, stream_datum: 7 });
    assert.ok(saved.files.every((f) => f.uri.startsWith(`s3://${bucket}/analysis/${derived}/`)));
    assert.ok(
      saved.files.some((f) => f.uri.endsWith('.h5')) &&
        saved.files.some((f) => f.uri.endsWith('.csv')) &&
        saved.files.some((f) => f.uri.endsWith('.npy')),
    );

    const content = await client.get(derived, { data: true });
    const kinds = content.documents.map((d) => d.detailType);
    for (const kind of ['RunStart', 'EventDescriptor', 'StreamResource', 'StreamDatum', 'RunStop']) assert.ok(kinds.includes(kind), kind);
    const start = content.documents.find((d) => d.detailType === 'RunStart')!.body as {
      plan_name: string;
      analysis: { parents: string[] };
    };
    assert.equal(start.plan_name, 'integrate');
    assert.equal(start.analysis.parents.length, 3);
    const primary = content.streams!.primary!;
    assert.equal(primary.q!.dtype, '<f4');
    assert.deepEqual(primary.q!.shape, [5, 4]);
    const expectedQ = points(5, 3).map((p) => p.primary.q.map((v) => Math.fround(v)));
    assert.deepEqual(primary.q!.values, expectedQ);
    assert.deepEqual(
      primary.intensity!.values,
      points(5, 3).map((p) => p.primary.intensity),
    );
    assert.deepEqual(primary.ok!.values, [true, false, true, false, true]);
    assert.equal(primary.ok!.dtype, '|b1');
    assert.deepEqual(content.streams!.fit!.chi2!.values, [1 / 3, 1 / 4]);
  });

  it('refuses a save without complete provenance with 400 and the list of what is missing; nothing is stored', async () => {
    const error = await client
      .save({
        data: points(2, 1),
        provenance: { parents: ['run:01NOTARUN'], inputs: [{ uri: 's3://x/y' }], software: { name: 'fit' }, agent: {} },
      })
      .catch((e: unknown) => e);
    assert.ok(error instanceof AnalysisApiError);
    assert.equal(error.status, 400);
    assert.equal(error.error, 'ProvenanceIncompleteError');
    assert.deepEqual(error.missing, [
      'provenance.inputs[0].sha256 (checksum of s3://x/y)',
      'provenance.software.version or provenance.software.commit',
      'provenance.software.repository (URL of the source)',
      'provenance.parameters (an object; {} when there are none)',
      'provenance.agent.name',
      'provenance.started_at (ISO 8601 time)',
    ]);
    const unknown = await client
      .save({ data: points(2, 1), provenance: provenanceOf(['run:01NOTARUN'], [{ uri: 's3://x/y', sha256: 'f'.repeat(64) }]) })
      .catch((e: unknown) => e);
    assert.ok(unknown instanceof AnalysisApiError);
    assert.deepEqual(unknown.missing, ['provenance.parents: run:01NOTARUN does not exist in the catalogue']);
    const noProvenance = await client.save({ data: points(2, 1), provenance: undefined }).catch((e: unknown) => e);
    assert.equal((noProvenance as AnalysisApiError).status, 400);
    const badData = await client
      .save({
        data: [{ primary: { a: [1, 2] } }, { primary: { a: [1] } }],
        provenance: provenanceOf([`run:${RAW[0]}`], [{ uri: 's3://x/y', sha256: 'f'.repeat(64) }]),
      })
      .catch((e: unknown) => e);
    assert.equal((badData as AnalysisApiError).status, 400);
    assert.match((badData as AnalysisApiError).problems[0]!, /point 1 does not have the shape \[2\]/);
    // The archive's own files get their provenance from the archive, never from a caller.
    const forged = await client
      .recordProvenance(
        'file:s3://any-bucket/archive/p/b/s/c/c_d/c_d_0099.h5',
        provenanceOf([`run:${RAW[0]}`], [{ uri: 's3://x/y', sha256: 'f'.repeat(64) }]) as never,
      )
      .catch((e: unknown) => e);
    assert.equal((forged as AnalysisApiError).status, 400);
    assert.match(String((forged as AnalysisApiError).message), /archive's own/);
  });

  let second: string;
  it('saves a derived run of the derived run and a raw scan, then answers lineage both ways', async () => {
    const first = await client.get(derived);
    const inputs = first.documents
      .filter((d) => d.detailType === 'StreamDatum')
      .map((d) => {
        const chunk = (d.body as { chunk: { bucket: string; key: string; sha256: string } }).chunk;
        return { uri: `s3://${chunk.bucket}/${chunk.key}`, sha256: chunk.sha256 };
      });
    const saved = await client.save({
      data: [{ peaks: { position: 1.5 } }, { peaks: { position: 2.75 } }],
      provenance: { ...provenanceOf([`run:${derived}`, `run:${RAW[1]}`], inputs), activity: 'peak-fit' },
    });
    second = saved.uid;

    const up = await client.lineage(`run:${second}`, 'ancestors');
    const depthOf = (entity: string) => up.nodes.find((n) => n.entity === entity)?.depth;
    assert.equal(depthOf(`run:${derived}`), 1);
    assert.equal(depthOf(`run:${RAW[1]}`), 1);
    assert.equal(depthOf(`run:${RAW[0]}`), 2);
    assert.equal(depthOf(`file:s3://${bucket}/${scanFile(0)}`), 2);

    const down = await client.lineage(`run:${RAW[0]}`, 'descendants');
    const entities = down.nodes.map((n) => n.entity);
    assert.ok(entities.includes(`run:${derived}`) && entities.includes(`run:${second}`), entities.join(' '));
    assert.equal(down.nodes.find((n) => n.entity === `run:${second}`)?.depth, 2);
    assert.ok(
      entities.some((e) => e.startsWith(`file:s3://${bucket}/analysis/${derived}/`)),
      'the data objects of the derived run are its children',
    );
    const depth1 = await client.lineage(`run:${RAW[0]}`, 'descendants', 1);
    assert.ok(!depth1.nodes.some((n) => n.entity === `run:${second}`));
  });

  it('exports the lineage as PROV-JSON', async () => {
    const doc = await client.prov(`run:${second}`, 'ancestors');
    assert.ok(doc.entity[`ba:run/${second}`] && doc.entity[`ba:run/${derived}`] && doc.entity[`ba:run/${RAW[0]}`]);
    assert.equal(Object.keys(doc.activity).length, 2);
    assert.ok(
      Object.values(doc.wasDerivedFrom).some(
        (d) => d['prov:generatedEntity'] === `ba:run/${second}` && d['prov:usedEntity'] === `ba:run/${derived}`,
      ),
    );
    assert.ok(
      Object.values(doc.wasDerivedFrom).some(
        (d) => d['prov:generatedEntity'] === `ba:run/${derived}` && d['prov:usedEntity'] === `ba:run/${RAW[0]}`,
      ),
    );
    assert.ok(Object.values(doc.used).length >= 4);
    assert.ok(Object.values(doc.agent).some((a) => a['prov:type'] === 'prov:SoftwareAgent'));
    assert.ok(Object.values(doc.agent).some((a) => a['prov:type'] === 'prov:Person'));
    assert.equal(Object.keys(doc.wasAssociatedWith).length, 4);
  });

  it('records provenance of a file (not of an export: the archive records those) and refuses a cycle (409)', async () => {
    const input = [{ uri: 's3://x/y', sha256: 'e'.repeat(64) }];
    // Exports are the archive's own: recording their provenance in advance made a victim's export FAILED (issue 15).
    const owned = await client
      .recordProvenance('export:nxstxm-1', { ...provenanceOf([`run:${second}`], input), activity: 'export' } as never)
      .catch((e: unknown) => e);
    assert.equal((owned as AnalysisApiError).status, 400);
    const fit = 'file:s3://results-bucket/fits/fit.json';
    const record = await client.recordProvenance(fit, provenanceOf([`run:${second}`], input) as never, [
      { uri: 's3://results-bucket/fits/fit.h5', sha256: 'f'.repeat(64) },
    ]);
    assert.equal(record.entity, fit);
    const up = await client.lineage(fit, 'ancestors');
    assert.ok(
      up.nodes.some((n) => n.entity === `run:${RAW[0]}`),
      'the result reaches back to the raw scan',
    );
    await client.recordProvenance(
      'file:s3://results-bucket/fits/plot.png',
      provenanceOf(['file:s3://results-bucket/fits/fit.h5'], input) as never,
    );
    const cycle = await client
      .recordProvenance('file:s3://results-bucket/fits/fit.h5', provenanceOf(['file:s3://results-bucket/fits/plot.png'], input) as never)
      .catch((e: unknown) => e);
    assert.equal((cycle as AnalysisApiError).status, 409);
  });

  it('the CLI prints the lineage and reports missing provenance with exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'analysis-cli-'));
    try {
      const cliEnv = {
        ...process.env,
        ANALYSIS_API_URL: gateway.urlOf('analysis-api'),
        ...credentialsEnvironment(),
        AWS_REGION: env.region,
      };
      // Asynchronous: the gateway answering the CLI runs in this process.
      const cli = (...args: string[]) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
          const child = spawn(process.execPath, [join(projectRoot, 'bin', 'beamline-archive.mjs'), 'analysis', ...args], { env: cliEnv });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d: Buffer) => {
            stdout += d.toString();
          });
          child.stderr.on('data', (d: Buffer) => {
            stderr += d.toString();
          });
          child.once('error', reject);
          child.once('close', (status) => resolve({ status, stdout, stderr }));
        });
      const lineageOut = await cli('lineage', `run:${second}`);
      assert.equal(lineageOut.status, 0, lineageOut.stderr);
      assert.ok((JSON.parse(lineageOut.stdout) as { nodes: { entity: string }[] }).nodes.some((n) => n.entity === `run:${RAW[0]}`));
      writeFileSync(
        join(dir, 'request.json'),
        JSON.stringify({ data: [{ primary: { x: 1 } }], provenance: { parents: [`run:${RAW[0]}`] } }),
      );
      const refused = await cli('save', '--request', join(dir, 'request.json'));
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /- provenance\.inputs: at least one input file/);
      assert.match(refused.stderr, /- provenance\.agent \{name\}/);
      const help = await cli('--help');
      assert.equal(help.status, 0);
      assert.match(help.stdout, /lineage ENTITY/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
