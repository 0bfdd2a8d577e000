import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { createAwsClients, type AwsClients } from '../../src/adapters/aws-clients.js';
import { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import { type AwsEmulator, emulatorCredentials, startAwsEmulator } from '../../local/aws-target.js';

export interface S3StoreFixture {
  clients: AwsClients;
  store: S3ObjectStore;
  bucket: string;
  /** A scratch folder, removed after the suite. */
  dir: string;
}

/**
 * Registers before/after hooks in the calling suite: the emulator (or AWS_ENDPOINT_URL, e.g.
 * LocalStack), a fresh bucket, an S3ObjectStore on it with 5 MiB parts, and a scratch folder.
 * The returned object is filled in by `before`.
 */
export function useS3Store(name: string): S3StoreFixture {
  let aws: AwsEmulator | undefined;
  const fixture = { dir: mkdtempSync(join(tmpdir(), `ba-${name}-`)) } as S3StoreFixture;
  before(async () => {
    const endpoint = (aws = await startAwsEmulator()).url;
    fixture.clients = createAwsClients({ region: 'eu-west-1', endpoint, credentials: emulatorCredentials() });
    fixture.bucket = `${name}-${Date.now()}`;
    await fixture.clients.s3.send(
      new CreateBucketCommand({ Bucket: fixture.bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }),
    );
    fixture.store = new S3ObjectStore(fixture.clients.s3, fixture.bucket, { partSize: 5 * 1024 * 1024 });
  });
  after(async () => {
    rmSync(fixture.dir, { recursive: true, force: true });
    fixture.clients?.s3.destroy();
    await aws?.stop();
  });
  return fixture;
}
