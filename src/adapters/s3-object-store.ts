import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import type { CopyOptions, ObjectHead, ObjectStore, ObjectVersion, StoredObject, WriteCondition } from '../core/ports.js';
import { ArchiveError, ObjectNotFoundError, WriteConditionFailedError } from '../core/errors.js';
import { TMP_SUFFIX } from '../core/object-keys.js';

export { ObjectNotFoundError };

/** A file being uploaded became shorter than it was when the upload began (truncated or rewritten meanwhile). */
export class FileShrankError extends ArchiveError {
  override name = 'FileShrankError';
  constructor(key: string, sizeAtStart: number, sizeRead: number) {
    super(
      `file for s3 object ${key} became shorter while it was uploaded: ${sizeAtStart} bytes when the upload began, ${sizeRead} readable; nothing stored`,
      { key, sizeAtStart, sizeRead },
    );
  }
}

export interface S3ObjectStoreOptions {
  /** Part size of multipart uploads (S3 minimum 5 MiB). */
  partSize?: number;
  /**
   * Largest object copied in one request (CopyObject, or one UploadPartCopy for a conditional copy):
   * S3's limit is 5 GB; tests set it small to drive the part-by-part copy with small objects.
   */
  singleCopyMaxBytes?: number;
  /** Part size of a part-by-part copy (S3: 5 MiB to 5 GB); default 1 GiB. */
  copyPartBytes?: number;
}

const DEFAULT_PART = 16 * 1024 * 1024;
/** S3 refuses a single CopyObject (and a single UploadPartCopy) above 5 GB; larger publishes go part by part. */
const SINGLE_COPY_LIMIT = 5 * 1024 ** 3;
const DEFAULT_COPY_PART = 1024 ** 3;
/** Parts copied at once (server-side: no bytes pass through this process). */
const COPY_CONCURRENCY = 4;

function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `.tmp` objects carry the tag state=tmp: the bucket's lifecycle rule expires abandoned ones. */
function tagsFor(key: string): string | undefined {
  return key.endsWith(TMP_SUFFIX) ? 'state=tmp' : undefined;
}

export class S3ObjectStore implements ObjectStore {
  private readonly partSize: number;
  private readonly singleCopyMaxBytes: number;
  private readonly copyPartBytes: number;

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    options: S3ObjectStoreOptions = {},
  ) {
    this.partSize = Math.max(options.partSize ?? DEFAULT_PART, 5 * 1024 * 1024);
    this.singleCopyMaxBytes = Math.min(options.singleCopyMaxBytes ?? SINGLE_COPY_LIMIT, SINGLE_COPY_LIMIT);
    this.copyPartBytes = Math.min(Math.max(options.copyPartBytes ?? DEFAULT_COPY_PART, 5 * 1024 * 1024), SINGLE_COPY_LIMIT);
  }

  async put(key: string, body: Uint8Array | string, contentType = 'application/octet-stream'): Promise<StoredObject> {
    // Hashed here, on the event loop: WebCrypto's digest would run on the thread pool, but it first
    // copies the body on this thread, which cost the bridge more than the hash itself (0.9 ms per
    // MiB against 0.6, bench/bridge-throughput.ts).
    const sha256 = sha256Hex(body);
    const tagging = tagsFor(key);
    // The body is hashed once, here: S3 checks it against ChecksumSHA256 on receipt (so the SDK
    // computes no CRC32 of its own), and the SigV4 signature uses the same digest as its payload
    // hash instead of hashing the body a second time (bench/bridge-throughput.ts).
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      Body: body,
      ContentType: contentType,
      ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64'),
      Metadata: { sha256 },
      ...(tagging ? { Tagging: tagging } : {}),
    });
    command.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) request.headers['x-amz-content-sha256'] = sha256;
        return next(args);
      },
      { step: 'build', name: 'signedPayloadSha256' },
    );
    const out = await this.s3.send(command);
    return { key, bytes: typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength, sha256, ...versionOf(out.VersionId) };
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!out.Body) throw new ObjectNotFoundError(`s3://${this.bucket}/${key} has no body`, { key });
      return await out.Body.transformToByteArray();
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') {
        throw new ObjectNotFoundError(`s3://${this.bucket}/${key} does not exist`, { key }, { cause: error });
      }
      throw error;
    }
  }

  /** Streams an object to a local file, hashed while it streams (bounded memory whatever its size). */
  async downloadFile(key: string, path: string): Promise<{ bytes: number; sha256: string }> {
    let out;
    try {
      out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') {
        throw new ObjectNotFoundError(`s3://${this.bucket}/${key} does not exist`, { key }, { cause: error });
      }
      throw error;
    }
    if (!out.Body) throw new ObjectNotFoundError(`s3://${this.bucket}/${key} has no body`, { key });
    const hash = createHash('sha256');
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        bytes += chunk.byteLength;
        done(null, chunk);
      },
    });
    await pipeline(out.Body as Readable, count, createWriteStream(path));
    return { bytes, sha256: hash.digest('hex') };
  }

  async head(key: string): Promise<(ObjectHead & { contentType?: string | undefined }) | undefined> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        bytes: out.ContentLength ?? 0,
        etag: out.ETag,
        versionId: out.VersionId,
        sha256: out.Metadata?.sha256,
        contentType: out.ContentType,
      };
    } catch (error) {
      if (
        error instanceof NotFound ||
        (error as { name?: string }).name === 'NotFound' ||
        (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
      )
        return undefined;
      throw error;
    }
  }

  /** Streams a file: one PUT when it fits in a part, else a multipart upload (aborted on failure). */
  async uploadFile(key: string, path: string, contentType = 'application/octet-stream'): Promise<StoredObject> {
    const file = await open(path, 'r');
    try {
      return await this.uploadFileHandle(key, file, contentType);
    } finally {
      await file.close();
    }
  }

  /**
   * Streams a file already opened by the caller, read by position from its start (the handle's own position is
   * neither used nor moved, so a retry can pass the same handle again): one PUT when it fits in a part, else a
   * multipart upload (aborted on failure). What is uploaded is the file that was opened, whatever its path names
   * meanwhile (a symbolic link swapped in after the caller checked the handle changes nothing). The caller closes it.
   */
  async uploadFileHandle(key: string, file: FileHandle, contentType = 'application/octet-stream'): Promise<StoredObject> {
    // The length the file has now is what is uploaded, in one PUT or in parts alike: bytes appended meanwhile are
    // left out (a multipart upload would otherwise chase a growing file, each part read at another moment), and a
    // file cut short meanwhile is an error (retried: the next attempt uploads the file as it is then).
    const { size } = await file.stat();
    if (size <= this.partSize) {
      const body = await readAt(file, 0, size);
      if (body.length < size) throw new FileShrankError(key, size, body.length);
      return this.put(key, body, contentType);
    }
    const tagging = tagsFor(key);
    const created = await this.s3.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        ContentType: contentType,
        ...(tagging ? { Tagging: tagging } : {}),
      }),
    );
    const uploadId = created.UploadId!;
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let partNumber = 1; bytes < size; partNumber += 1) {
        const wanted = Math.min(this.partSize, size - bytes);
        const part = await readAt(file, bytes, wanted);
        if (part.length < wanted) throw new FileShrankError(key, size, bytes + part.length);
        hash.update(part);
        const out = await this.s3.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: part,
          }),
        );
        parts.push({ ETag: out.ETag!, PartNumber: partNumber });
        bytes += part.length;
      }
      const out = await this.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
      return { key, bytes, sha256: hash.digest('hex'), ...versionOf(out.VersionId) };
    } catch (error) {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Server-side copy; the target never carries the tmp tag. With metadata, the target's user
   * metadata is replaced (content type kept). A conditional copy (If-None-Match: * or If-Match:
   * <ETag>) is a multipart copy whose CompleteMultipartUpload carries the condition — the one
   * conditional write both S3 and the emulators enforce (moto 5.2 ignores conditions on CopyObject)
   * — so a 412 leaves the target as it was and becomes WriteConditionFailedError. Unconditional
   * copies above 5 GB go part by part too.
   */
  async copy(sourceKey: string, targetKey: string, options: CopyOptions = {}): Promise<ObjectVersion> {
    const source = await this.head(sourceKey);
    if (!source) throw new ObjectNotFoundError(`cannot copy: s3://${this.bucket}/${sourceKey} does not exist`, { key: sourceKey });
    const copySource = `${this.bucket}/${encodeURIComponent(sourceKey).replace(/%2F/g, '/')}`;
    const tagging = tagsFor(targetKey);
    const condition = conditionHeaders(options.condition);
    const refused = (error: unknown): never => {
      if (isPreconditionFailed(error)) {
        throw new WriteConditionFailedError(
          `s3://${this.bucket}/${targetKey}: the conditional write (${describe(options.condition)}) was refused, nothing written`,
          { key: targetKey },
          { cause: error },
        );
      }
      throw error;
    };
    if (!options.condition && source.bytes <= this.singleCopyMaxBytes) {
      const metadata = options.metadata
        ? {
            MetadataDirective: 'REPLACE' as const,
            Metadata: options.metadata,
            ...(source.contentType ? { ContentType: source.contentType } : {}),
          }
        : {};
      const out = await this.s3.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: targetKey,
          CopySource: copySource,
          TaggingDirective: 'REPLACE',
          Tagging: tagging ?? '',
          ...metadata,
        }),
      );
      return { etag: out.CopyObjectResult?.ETag, versionId: out.VersionId };
    }
    const created = await this.s3.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: targetKey,
        ...(options.metadata ? { Metadata: options.metadata } : {}),
        ...(source.contentType ? { ContentType: source.contentType } : {}),
      }),
    );
    const uploadId = created.UploadId!;
    try {
      // One part up to the single-copy limit (a part may be under 5 MiB only when it is the last), else
      // copyPartBytes parts (1 GiB: 10,000 parts reach 10 TiB), COPY_CONCURRENCY at a time.
      const step = source.bytes <= this.singleCopyMaxBytes ? Math.max(source.bytes, 1) : this.copyPartBytes;
      const ranges: { n: number; offset: number; end: number }[] = [];
      for (let offset = 0, n = 1; offset < source.bytes || n === 1; offset += step, n += 1)
        ranges.push({ n, offset, end: Math.min(offset + step, source.bytes) - 1 });
      const parts: { ETag: string; PartNumber: number }[] = new Array(ranges.length);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(COPY_CONCURRENCY, ranges.length) }, async () => {
          while (next < ranges.length) {
            const { n, offset, end } = ranges[next++]!;
            const out = await this.s3.send(
              new UploadPartCopyCommand({
                Bucket: this.bucket,
                Key: targetKey,
                UploadId: uploadId,
                PartNumber: n,
                CopySource: copySource,
                ...(source.bytes > 0 ? { CopySourceRange: `bytes=${offset}-${end}` } : {}),
              }),
            );
            parts[n - 1] = { ETag: out.CopyPartResult!.ETag!, PartNumber: n };
          }
        }),
      );
      const out = await this.s3
        .send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: targetKey,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
            ...condition,
          }),
        )
        .catch(refused);
      return { etag: out.ETag, versionId: out.VersionId };
    } catch (error) {
      await this.s3
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: targetKey, UploadId: uploadId }))
        .catch(() => undefined);
      throw error;
    }
  }

  async delete(key: string, versionId?: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
  }
}

/** A version id worth keeping: present in a versioned bucket (an unversioned one says nothing, or 'null'). */
function versionOf(versionId: string | undefined): { versionId?: string } {
  return versionId && versionId !== 'null' ? { versionId } : {};
}

function conditionHeaders(condition: WriteCondition | undefined): { IfNoneMatch?: string; IfMatch?: string } {
  if (!condition) return {};
  return 'ifNoneMatch' in condition ? { IfNoneMatch: condition.ifNoneMatch } : { IfMatch: condition.ifMatch };
}

function describe(condition: WriteCondition | undefined): string {
  if (!condition) return 'none';
  return 'ifNoneMatch' in condition ? 'If-None-Match: *' : `If-Match: ${condition.ifMatch}`;
}

/** S3's answer to a write whose condition does not hold: 412 PreconditionFailed. */
function isPreconditionFailed(error: unknown): boolean {
  const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return e.$metadata?.httpStatusCode === 412 || e.name === 'PreconditionFailed' || e.Code === 'PreconditionFailed';
}

/** Up to `length` bytes of an open file from `position` (fewer only at its end), without moving the handle's position. */
async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}
