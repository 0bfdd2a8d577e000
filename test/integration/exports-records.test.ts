/**
 * The export service's adapters on their own: export records in DynamoDB (the emulator, table from
 * the CDK template) with their conditional state changes, and download links signed exactly as
 * botocore signs them (the judge is boto3's generate_presigned_url at the same instant).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.js';
import { venvPython } from '../../local/services.js';
import { DynamoDbExportCatalogue } from '../../src/adapters/dynamodb-export-catalogue.js';
import { S3DownloadLinks } from '../../src/adapters/s3-download-links.js';
import { exportIdOf, requestFingerprint } from '../../src/core/exports/export-request.js';
import type { NewExportRecord } from '../../src/core/exports/ports.js';

const BOTO = `
import datetime, sys, json, boto3, botocore.auth
from botocore.config import Config
args = json.loads(sys.argv[1])
fixed = datetime.datetime.fromisoformat(args["time"])
botocore.auth.get_current_datetime = lambda *a, **k: fixed
s3 = boto3.client("s3", region_name=args["region"], endpoint_url=args["endpoint"], aws_access_key_id=args["key"],
                  aws_secret_access_key=args["secret"], config=Config(signature_version="s3v4", s3={"addressing_style": args["style"]}))
print(s3.generate_presigned_url("get_object", Params={"Bucket": args["bucket"], "Key": args["object"]}, ExpiresIn=args["expires"]))
`;

function botoLink(args: Record<string, unknown>): string {
  const result = spawnSync(venvPython, ['-c', BOTO, JSON.stringify(args)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`boto3 could not presign: ${result.stderr}`);
  return result.stdout.trim();
}

describe('export records (DynamoDB) and download links (SigV4 query signing)', () => {
  let env: LocalEnvironment;
  let catalogue: DynamoDbExportCatalogue;

  before(async () => {
    env = await startLocalEnvironment({ redis: false });
    catalogue = new DynamoDbExportCatalogue(env.clients.dynamo, env.resources.table.name, () => new Date('2026-11-22T06:00:00.000Z'));
  });
  after(async () => {
    await env?.stop();
  });

  const request = (requestId: string): NewExportRecord => ({
    exportId: exportIdOf(requestId),
    requestId,
    format: 'csv',
    runs: ['R1'],
    options: {},
    origin: 'api',
    fingerprint: requestFingerprint({ runs: ['R1'], format: 'csv', options: {} }),
    requestedAt: '2026-11-22T06:00:00.000Z',
  });

  it('derives the export id and the fingerprint from the request alone (key order of options does not matter)', () => {
    assert.match(exportIdOf('a'), /^exp-[0-9a-f]{24}$/);
    assert.equal(exportIdOf('a'), exportIdOf('a'));
    assert.notEqual(exportIdOf('a'), exportIdOf('b'));
    assert.equal(
      requestFingerprint({ runs: ['x'], format: 'csv', options: { a: 1, b: { c: 2, d: 3 } } }),
      requestFingerprint({ runs: ['x'], format: 'csv', options: { b: { d: 3, c: 2 }, a: 1 } }),
    );
    assert.notEqual(requestFingerprint({ runs: ['x', 'y'], format: 'csv' }), requestFingerprint({ runs: ['y', 'x'], format: 'csv' }));
  });

  it('creates a record once; a second create returns the stored one', async () => {
    const first = await catalogue.create(request('rec-1'));
    assert.equal(first.created, true);
    assert.equal(first.record.state, 'REQUESTED');
    const second = await catalogue.create({ ...request('rec-1'), requestedAt: '2030-01-01T00:00:00.000Z' });
    assert.equal(second.created, false);
    assert.equal(second.record.requestedAt, '2026-11-22T06:00:00.000Z');
  });

  it('lets one build claim a record; another claim waits until the lease ran out, then takes it over', async () => {
    const id = (await catalogue.create(request('rec-2'))).record.exportId;
    const claimed = await catalogue.claim(id, '2026-11-22T06:00:00.000Z', '2026-11-22T06:15:00.000Z');
    assert.equal(claimed?.state, 'BUILDING');
    assert.equal(claimed?.attempts, 1);
    assert.equal(await catalogue.claim(id, '2026-11-22T06:05:00.000Z', '2026-11-22T06:20:00.000Z'), undefined, 'lease still held');
    const takenOver = await catalogue.claim(id, '2026-11-22T06:16:00.000Z', '2026-11-22T06:31:00.000Z');
    assert.equal(takenOver?.attempts, 2);
    assert.equal(takenOver?.leaseUntil, '2026-11-22T06:31:00.000Z');
    assert.equal(
      await catalogue.claim('exp-000000000000000000000000', '2026-11-22T06:00:00.000Z', '2026-11-22T06:15:00.000Z'),
      undefined,
      'no record, no claim',
    );
  });

  it('records progress while BUILDING only, COMPLETED with files, and never FAILED over COMPLETED', async () => {
    const id = (await catalogue.create(request('rec-3'))).record.exportId;
    await catalogue.progress(id, { step: 'loading', done: 0, total: 1, at: '2026-11-22T06:00:01.000Z' });
    assert.equal((await catalogue.get(id))?.progress, undefined, 'not BUILDING: progress ignored');
    await catalogue.claim(id, '2026-11-22T06:00:00.000Z', '2026-11-22T06:15:00.000Z');
    await catalogue.progress(id, { step: 'writing', done: 1, total: 2, detail: 'a.csv', at: '2026-11-22T06:00:02.000Z' });
    assert.deepEqual((await catalogue.get(id))?.progress, {
      step: 'writing',
      done: 1,
      total: 2,
      detail: 'a.csv',
      at: '2026-11-22T06:00:02.000Z',
    });
    const files = [{ name: 'a.csv', bucket: 'b', key: `exports/${id}/a.csv`, bytes: 3, sha256: 'a'.repeat(64), contentType: 'text/csv' }];
    await catalogue.completed(id, { files, provenance: `export:${id}`, notes: ['n'], completedAt: '2026-11-22T06:00:03.000Z' });
    const done = await catalogue.get(id);
    assert.equal(done?.state, 'COMPLETED');
    assert.deepEqual(done?.files, files);
    assert.equal(done?.progress, undefined);
    assert.equal(done?.leaseUntil, undefined);
    assert.equal(
      await catalogue.failed(id, { reason: 'late', errors: [{ message: 'late' }], errorFiles: [], failedAt: '2026-11-22T06:00:04.000Z' }),
      'already-completed',
    );
    assert.equal((await catalogue.get(id))?.state, 'COMPLETED');
    assert.equal(done?.announced, undefined);
    await catalogue.announced(id);
    assert.equal((await catalogue.get(id))?.announced, true);
  });

  it('records FAILED with the reason, errors and error files', async () => {
    const id = (await catalogue.create(request('rec-4'))).record.exportId;
    await catalogue.claim(id, '2026-11-22T06:00:00.000Z', '2026-11-22T06:15:00.000Z');
    const failure = {
      reason: 'no',
      errors: [{ message: 'no', run_uid: 'R1', stream: 'primary' }],
      errorFiles: [{ bucket: 'b', key: `exports/${id}/x.nxs.err`, bytes: 10 }],
      failedAt: '2026-11-22T06:00:05.000Z',
    };
    assert.equal(await catalogue.failed(id, failure), 'failed');
    const record = await catalogue.get(id);
    assert.equal(record?.state, 'FAILED');
    assert.deepEqual(
      [record?.reason, record?.errors, record?.errorFiles, record?.failedAt],
      [failure.reason, failure.errors, failure.errorFiles, failure.failedAt],
    );
    assert.equal(
      await catalogue.claim(id, '2030-01-01T00:00:00.000Z', '2030-01-01T00:15:00.000Z'),
      undefined,
      'a FAILED export is never rebuilt',
    );
  });

  it('signs download links exactly as botocore does, for AWS (virtual-hosted) and an emulator (path-style)', async () => {
    const time = '2026-11-22T06:00:00';
    const keys = { key: 'AKIDEXAMPLE', secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
    const object = 'exports/exp-1/01M80_primary run~1.csv';
    for (const [endpoint, style] of [
      ['https://s3.eu-west-1.amazonaws.com', 'virtual'],
      ['http://127.0.0.1:5000', 'path'],
    ] as const) {
      const s3 = new S3Client({
        region: 'eu-west-1',
        credentials: { accessKeyId: keys.key, secretAccessKey: keys.secret },
        ...(style === 'path' ? { endpoint, forcePathStyle: true } : {}),
      });
      const ours = await new S3DownloadLinks(s3, 'my-bucket', () => new Date(`${time}Z`)).linkTo(object, 900);
      assert.equal(
        ours,
        botoLink({ ...keys, time, region: 'eu-west-1', endpoint, style, bucket: 'my-bucket', object, expires: 900 }),
        style,
      );
    }
  });

  it('serves the object through a link signed against the environment', async () => {
    const bucket = env.resources.bucket.name;
    await env.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'exports/exp-links/a.csv', Body: 'x,y\n1,2\n' }));
    const link = await new S3DownloadLinks(env.clients.s3, bucket).linkTo('exports/exp-links/a.csv', 60);
    const response = await fetch(link);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'x,y\n1,2\n');
  });
});
