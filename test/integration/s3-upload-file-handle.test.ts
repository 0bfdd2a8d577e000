/**
 * S3ObjectStore.uploadFileHandle against the emulator: the bridge uploads Lima files from the handle it opened and
 * checked, so what is stored must be that file's bytes, in one PUT or in parts, and the same handle must serve a retry.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { ListMultipartUploadsCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import { useS3Store } from './s3-store-fixture.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('S3ObjectStore.uploadFileHandle against the emulator', () => {
  const fx = useS3Store('s3-handle');

  it('uploads a small file in one PUT and a file of several parts as a multipart upload, twice from the same handle', async () => {
    for (const [name, size] of [
      ['small.h5', 4096],
      ['big.h5', 11 * 1024 * 1024 + 123],
      ['exact.h5', 10 * 1024 * 1024],
    ] as const) {
      const content = randomBytes(size);
      const path = join(fx.dir, name);
      writeFileSync(path, content);
      const handle = await open(path, 'r');
      try {
        for (const attempt of [1, 2]) {
          const key = `archive/p/scan0001/${attempt}-${name}`;
          const stored = await fx.store.uploadFileHandle(key, handle, 'application/x-hdf5');
          assert.deepEqual(stored, { key, bytes: size, sha256: sha256(content) }, `${name}, attempt ${attempt}`);
          assert.equal(sha256(await fx.store.get(key)), sha256(content), `${name}, attempt ${attempt}: object in S3`);
        }
      } finally {
        await handle.close();
      }
    }
  });

  /** The fx.store on a client that runs `during` once, when the first part of a multipart upload is sent. */
  function storeDuringFirstPart(during: () => void): S3ObjectStore {
    let done = false;
    const s3 = {
      send: (command: Parameters<S3Client['send']>[0]) => {
        if (command instanceof UploadPartCommand && !done) {
          done = true;
          during();
        }
        return fx.clients.s3.send(command as never);
      },
    } as unknown as S3Client;
    return new S3ObjectStore(s3, fx.store.bucket, { partSize: 5 * 1024 * 1024 });
  }

  it('a file appended to while it is uploaded in parts: the length it had when the upload began is uploaded, as in one PUT', async () => {
    const content = randomBytes(10 * 1024 * 1024);
    const path = join(fx.dir, 'growing.h5');
    writeFileSync(path, content);
    const growing = storeDuringFirstPart(() => appendFileSync(path, randomBytes(7 * 1024 * 1024)));
    const handle = await open(path, 'r');
    try {
      const stored = await growing.uploadFileHandle('archive/p/scan0001/growing.h5', handle);
      assert.deepEqual(stored, { key: 'archive/p/scan0001/growing.h5', bytes: content.length, sha256: sha256(content) });
      assert.equal(sha256(await fx.store.get(stored.key)), sha256(content));
    } finally {
      await handle.close();
    }
  });

  it('a file cut short while it is uploaded in parts: an error naming both sizes, nothing stored, and a retry uploads what is there now', async () => {
    const content = randomBytes(12 * 1024 * 1024);
    const path = join(fx.dir, 'shrinking.h5');
    writeFileSync(path, content);
    const key = 'archive/p/scan0001/shrinking.h5';
    const shrinking = storeDuringFirstPart(() => truncateSync(path, 7 * 1024 * 1024));
    const handle = await open(path, 'r');
    try {
      await assert.rejects(shrinking.uploadFileHandle(key, handle), /shrinking\.h5|12582912 bytes.*7340032|7340032.*12582912/);
      assert.equal(await fx.store.head(key), undefined, 'no truncated object in S3');
      const uploads = await fx.clients.s3.send(new ListMultipartUploadsCommand({ Bucket: fx.store.bucket, Prefix: key }));
      assert.equal(uploads.Uploads?.length ?? 0, 0, 'the multipart upload was aborted');
      const stored = await shrinking.uploadFileHandle(key, handle);
      assert.deepEqual(stored, { key, bytes: 7 * 1024 * 1024, sha256: sha256(content.subarray(0, 7 * 1024 * 1024)) });
    } finally {
      await handle.close();
    }
  });

  it('uploads the file that was opened even when its path names another file by then', async () => {
    const content = randomBytes(6 * 1024 * 1024);
    const path = join(fx.dir, 'pilatus_0000.h5');
    const other = join(fx.dir, 'other.txt');
    writeFileSync(path, content);
    writeFileSync(other, 'another file');
    const handle = await open(path, 'r');
    try {
      unlinkSync(path);
      symlinkSync(other, path);
      const stored = await fx.store.uploadFileHandle('archive/p/scan0001/pilatus_0000.h5', handle);
      assert.equal(stored.sha256, sha256(content));
      assert.equal(sha256(await fx.store.get(stored.key)), sha256(content));
    } finally {
      await handle.close();
    }
  });
});
