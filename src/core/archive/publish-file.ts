import { createHash } from 'node:crypto';
import type { ObjectStore, StoredObject } from '../ports.js';
import { tmpKeyOf } from '../object-keys.js';
import { VerificationError } from './errors.js';

export interface PublishOptions {
  contentType: string;
  /** The file is read back and hashed when it is at most this big (bounded memory). */
  verifyDownloadMaxBytes: number;
  /** Context for errors (run uid, dataset …). */
  context?: Record<string, unknown>;
  /** Runs once the `.tmp` object is verified, before the final key is written (e.g. record the file's ownership). */
  beforePublish?: (file: StoredObject) => Promise<void>;
}

/**
 * The one way a file reaches a final key: upload to `<final>.tmp` (hashed while it streams),
 * check its size (and, up to a bound, its bytes read back), copy it to the final key, check the
 * copy's size, remove the `.tmp`. A reader never sees a partial object at the final key.
 */
export async function publishLocalFile(store: ObjectStore, localPath: string, localBytes: number, finalKey: string, options: PublishOptions): Promise<StoredObject> {
  const tmpKey = tmpKeyOf(finalKey);
  const context = { ...options.context, key: tmpKey };
  const uploaded = await store.uploadFile(tmpKey, localPath, options.contentType);
  const head = await store.head(tmpKey);
  if (head?.bytes !== localBytes || uploaded.bytes !== localBytes) {
    throw new VerificationError(`s3://${store.bucket}/${tmpKey} has ${head?.bytes ?? 'no'} bytes, the local file ${localBytes}`, context);
  }
  if (localBytes <= options.verifyDownloadMaxBytes) {
    const sha = createHash('sha256').update(await store.get(tmpKey)).digest('hex');
    if (sha !== uploaded.sha256) {
      throw new VerificationError(`s3://${store.bucket}/${tmpKey} reads back with sha256 ${sha}, the upload hashed ${uploaded.sha256}`, context);
    }
  }
  const file: StoredObject = { key: finalKey, bytes: localBytes, sha256: uploaded.sha256 };
  await options.beforePublish?.(file);
  await store.copy(tmpKey, finalKey);
  const published = await store.head(finalKey);
  if (published?.bytes !== localBytes) {
    throw new VerificationError(`s3://${store.bucket}/${finalKey} has ${published?.bytes ?? 'no'} bytes after the copy, expected ${localBytes}`, { ...options.context, key: finalKey });
  }
  await store.delete(tmpKey);
  return file;
}
