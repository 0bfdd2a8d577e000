/**
 * An ObjectStore in memory, with the S3 adapter's semantics where the core relies on them: reads of
 * an absent key throw ObjectNotFoundError, conditional writes (If-None-Match / If-Match on the ETag)
 * refuse with WriteConditionFailedError, copies carry the metadata asked for, every write keeps a
 * copy of the bytes (never a view of the caller's buffer). For unit tests and nothing in production
 * (test/unit/architecture.test.ts).
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { readFile, writeFile } from 'node:fs/promises';
import { ObjectNotFoundError, WriteConditionFailedError } from '../../core/errors.js';
import type { CopyOptions, ObjectHead, ObjectStore, ObjectVersion, StoredObject } from '../../core/ports.js';

export type ObjectStoreOperation = 'put' | 'get' | 'head' | 'uploadFile' | 'uploadFileHandle' | 'downloadFile' | 'copy' | 'delete';

export interface MemoryObjectStoreOptions {
  /**
   * A fault to inject: called before every operation; the error it returns is thrown instead
   * (an outage, throttling, or a test's "must not be called").
   */
  fail?: (operation: ObjectStoreOperation, key: string) => Error | undefined;
}

const sha256Of = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  /** Every operation asked of the store, in order (the source key for a copy). */
  readonly calls: { operation: ObjectStoreOperation; key: string }[] = [];
  private readonly metadata = new Map<string, Record<string, string>>();

  constructor(
    readonly bucket = 'memory-bucket',
    private readonly options: MemoryObjectStoreOptions = {},
  ) {}

  /** The keys asked for by one kind of operation, in order. */
  keysOf(operation: ObjectStoreOperation): string[] {
    return this.calls.filter((c) => c.operation === operation).map((c) => c.key);
  }

  /**
   * A store whose objects are `sizes` (zero bytes of each size) and that answers only HEAD: any
   * other operation throws `refusal` (a test's "must not read or write").
   */
  static headOnly(bucket: string, sizes: Record<string, number>, refusal: string): MemoryObjectStore {
    const store = new MemoryObjectStore(bucket, { fail: (operation) => (operation === 'head' ? undefined : new Error(refusal)) });
    for (const [key, bytes] of Object.entries(sizes)) store.objects.set(key, new Uint8Array(bytes));
    return store;
  }

  private enter(operation: ObjectStoreOperation, key: string): void {
    this.calls.push({ operation, key });
    const error = this.options.fail?.(operation, key);
    if (error) throw error;
  }

  private store(key: string, body: Uint8Array | string): StoredObject {
    const bytes = typeof body === 'string' ? new Uint8Array(Buffer.from(body)) : new Uint8Array(body);
    this.objects.set(key, bytes);
    this.metadata.delete(key);
    return { key, bytes: bytes.byteLength, sha256: sha256Of(bytes) };
  }

  async put(key: string, body: Uint8Array | string): Promise<StoredObject> {
    this.enter('put', key);
    return this.store(key, body);
  }

  async get(key: string): Promise<Uint8Array> {
    this.enter('get', key);
    const bytes = this.objects.get(key);
    if (!bytes) throw new ObjectNotFoundError(`memory://${this.bucket}/${key} does not exist`, { key });
    return bytes.slice();
  }

  /** ETags are the content's sha256 here (S3's are MD5s): enough for conditional writes. */
  async head(key: string): Promise<ObjectHead | undefined> {
    this.enter('head', key);
    return this.headOf(key);
  }

  private headOf(key: string): ObjectHead | undefined {
    const bytes = this.objects.get(key);
    if (!bytes) return undefined;
    return { bytes: bytes.byteLength, etag: `"${sha256Of(bytes)}"`, sha256: this.metadata.get(key)?.sha256 };
  }

  /** Reads the local file whole (the files of unit tests are small). */
  async uploadFile(key: string, path: string): Promise<StoredObject> {
    this.enter('uploadFile', key);
    return this.store(key, await readFile(path));
  }

  async uploadFileHandle(key: string, file: FileHandle): Promise<StoredObject> {
    this.enter('uploadFileHandle', key);
    const { size } = await file.stat();
    const bytes = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await file.read(bytes, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return this.store(key, bytes.subarray(0, at));
  }

  async downloadFile(key: string, path: string): Promise<{ bytes: number; sha256: string }> {
    this.enter('downloadFile', key);
    const bytes = this.objects.get(key);
    if (!bytes) throw new ObjectNotFoundError(`memory://${this.bucket}/${key} does not exist`, { key });
    await writeFile(path, bytes);
    return { bytes: bytes.byteLength, sha256: sha256Of(bytes) };
  }

  async copy(source: string, target: string, options: CopyOptions = {}): Promise<ObjectVersion> {
    this.enter('copy', source);
    const bytes = this.objects.get(source);
    if (!bytes) throw new ObjectNotFoundError(`memory://${this.bucket}/${source} does not exist`, { key: source });
    const existing = this.headOf(target);
    const condition = options.condition;
    if (condition && ('ifNoneMatch' in condition ? existing !== undefined : existing?.etag !== condition.ifMatch)) {
      throw new WriteConditionFailedError(
        `memory://${this.bucket}/${target}: the write condition ${JSON.stringify(condition)} does not hold`,
        { key: target },
      );
    }
    this.objects.set(target, bytes.slice());
    if (options.metadata) this.metadata.set(target, options.metadata);
    else this.metadata.delete(target);
    return { etag: this.headOf(target)!.etag };
  }

  async delete(key: string): Promise<void> {
    this.enter('delete', key);
    this.objects.delete(key);
    this.metadata.delete(key);
  }
}
