import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAwsClients } from '../../src/adapters/aws-clients.js';
import { ObjectNotFoundError, S3ObjectStore } from '../../src/adapters/s3-object-store.js';
import { useS3Store } from './s3-store-fixture.js';
import { emulatorCredentials } from '../../local/aws-target.js';

describe('S3ObjectStore against the emulator', () => {
  const fx = useS3Store('s3-store');

  it('puts and gets bytes with their sha256', async () => {
    const body = randomBytes(1000);
    const stored = await fx.store.put('staging/r/c/0-10.bin', body);
    assert.equal(stored.bytes, 1000);
    assert.equal(stored.sha256, createHash('sha256').update(body).digest('hex'));
    assert.deepEqual(Buffer.from(await fx.store.get('staging/r/c/0-10.bin')), body);
    assert.equal((await fx.store.head('staging/r/c/0-10.bin'))?.bytes, 1000);
  });

  it('sends the body hashed once: the sha256 as S3 checksum and as the signed payload hash, no CRC32', async () => {
    // moto neither stores nor verifies checksums, so the request itself is what is checked: a
    // loopback endpoint records the headers of the PUT the SDK sends (real S3 verifies both).
    const seen: Record<string, string | string[] | undefined>[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { ETag: '"0"' });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const local = createAwsClients({ region: 'eu-west-1', endpoint, credentials: emulatorCredentials() });
      const body = randomBytes(4096);
      const stored = await new S3ObjectStore(local.s3, 'capture').put('staging/r/c/0-512.bin', body);
      local.s3.destroy();
      assert.equal(seen.length, 1);
      const headers = seen[0]!;
      assert.equal(headers['x-amz-content-sha256'], stored.sha256, 'SigV4 payload hash is the body sha256 (hex)');
      assert.equal(headers['x-amz-checksum-sha256'], createHash('sha256').update(body).digest('base64'), 'S3 checksum of the body');
      assert.equal(headers['x-amz-checksum-crc32'], undefined, 'no second checksum');
      assert.match(String(headers.authorization), /SignedHeaders=[^,]*x-amz-content-sha256/);
    } finally {
      server.close();
    }
  });

  it('reports a missing object as ObjectNotFoundError naming the key, and head as undefined', async () => {
    await assert.rejects(
      fx.store.get('staging/none'),
      (e: unknown) => e instanceof ObjectNotFoundError && /staging\/none does not exist/.test(e.message),
    );
    assert.equal(await fx.store.head('staging/none'), undefined);
  });

  it('uploads a file larger than a part as a multipart upload, checksum over the whole file', async () => {
    const content = randomBytes(11 * 1024 * 1024 + 123);
    const path = join(fx.dir, 'big.h5');
    writeFileSync(path, content);
    const stored = await fx.store.uploadFile('archive/p/big.h5.tmp', path);
    assert.equal(stored.bytes, content.length);
    assert.equal(stored.sha256, createHash('sha256').update(content).digest('hex'));
    assert.deepEqual(Buffer.from(await fx.store.get('archive/p/big.h5.tmp')), content);
  });

  it('tags .tmp objects for the lifecycle rule and publishes the final copy untagged', async () => {
    await fx.store.put('archive/p/f.h5.tmp', 'x');
    const tmpTags = await fx.clients.s3.send(new GetObjectTaggingCommand({ Bucket: fx.store.bucket, Key: 'archive/p/f.h5.tmp' }));
    assert.deepEqual(tmpTags.TagSet, [{ Key: 'state', Value: 'tmp' }]);
    await fx.store.copy('archive/p/f.h5.tmp', 'archive/p/f.h5');
    await fx.store.delete('archive/p/f.h5.tmp');
    const finalTags = await fx.clients.s3.send(new GetObjectTaggingCommand({ Bucket: fx.store.bucket, Key: 'archive/p/f.h5' }));
    assert.deepEqual(finalTags.TagSet ?? [], []);
    assert.equal(Buffer.from(await fx.store.get('archive/p/f.h5')).toString(), 'x');
    assert.equal(await fx.store.head('archive/p/f.h5.tmp'), undefined);
  });

  it("publishes an object above the single-copy limit part by part (as one over S3's 5 GB), conditionally: If-None-Match holds, bytes and metadata intact", async () => {
    // The limit as configuration: 6 MiB here stands for 5 GB, 5 MiB parts for 1 GiB ones.
    const sent: string[] = [];
    const s3 = createAwsClients({
      region: 'eu-west-1',
      endpoint: await fx.clients.s3.config.endpoint!().then((e) => `${e.protocol}//${e.hostname}:${e.port}`),
      credentials: emulatorCredentials(),
    }).s3;
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        sent.push(context.commandName ?? '?');
        return next(args);
      },
      { step: 'initialize' },
    );
    const store = new S3ObjectStore(s3, fx.bucket, {
      partSize: 5 * 1024 * 1024,
      singleCopyMaxBytes: 6 * 1024 * 1024,
      copyPartBytes: 5 * 1024 * 1024,
    });
    const content = randomBytes(12 * 1024 * 1024 + 3);
    await store.put('archive/p/huge.h5.tmp', content);
    sent.length = 0;
    await store.copy('archive/p/huge.h5.tmp', 'archive/p/huge.h5', { metadata: { sha256: 'abc' }, condition: { ifNoneMatch: '*' } });
    assert.deepEqual(
      sent.filter((c) => c !== 'HeadObjectCommand'),
      [
        'CreateMultipartUploadCommand',
        'UploadPartCopyCommand',
        'UploadPartCopyCommand',
        'UploadPartCopyCommand',
        'CompleteMultipartUploadCommand',
      ],
      'three part copies (5 + 5 + 2 MiB), no CopyObject',
    );
    assert.deepEqual(Buffer.from(await store.get('archive/p/huge.h5')), content);
    assert.equal((await store.head('archive/p/huge.h5'))?.sha256, 'abc');
    // The condition still holds part by part: a second publish over it is refused, the object unchanged.
    await store.put('archive/p/other.h5.tmp', randomBytes(12 * 1024 * 1024));
    await assert.rejects(
      store.copy('archive/p/other.h5.tmp', 'archive/p/huge.h5', { condition: { ifNoneMatch: '*' } }),
      (e: Error) => e.name === 'WriteConditionFailedError',
    );
    assert.deepEqual(Buffer.from(await store.get('archive/p/huge.h5')), content);
    // Unconditional copies above the limit go part by part too.
    sent.length = 0;
    await store.copy('archive/p/huge.h5.tmp', 'archive/p/huge-copy.h5');
    assert.equal(sent.filter((c) => c === 'UploadPartCopyCommand').length, 3);
    assert.deepEqual(Buffer.from(await store.get('archive/p/huge-copy.h5')), content);
    s3.destroy();
  });

  it('refuses to publish a .tmp that does not exist', async () => {
    await assert.rejects(fx.store.copy('archive/p/missing.h5.tmp', 'archive/p/missing.h5'), ObjectNotFoundError);
    assert.equal(await fx.store.head('archive/p/missing.h5'), undefined);
  });
});
