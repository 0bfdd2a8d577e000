import { createHash } from 'node:crypto';
import type { ObjectStore, ObjectVersion, StoredObject, WriteCondition } from '../ports.js';
import { tmpKeyOf } from '../object-keys.js';
import { WriteConditionFailedError } from '../errors.js';
import { FinalObjectConflictError, VerificationError } from './errors.js';

export interface PublishOptions {
  contentType: string;
  /** The file is read back and hashed when it is at most this big (bounded memory). */
  verifyDownloadMaxBytes: number;
  /** Context for errors (run uid, dataset …). */
  context?: Record<string, unknown>;
  /** Runs once the `.tmp` object is verified, before the final key is written (e.g. record the file's ownership). */
  beforePublish?: (file: StoredObject) => Promise<void>;
  /**
   * Write the final key conditionally (S3 conditional writes): `ifNoneMatch: '*'` for a new object,
   * `ifMatch` (the ETag the record knows) to replace one on purpose. Without it the copy overwrites.
   * A new object whose key already holds the very same file (same sha256 and size: an earlier
   * attempt published it) is taken as published; any other refusal is FinalObjectConflictError.
   */
  condition?: WriteCondition;
}

/** A published file and the version of the final object that holds it. */
export type PublishedFile = StoredObject & ObjectVersion;

/**
 * The one way a file reaches a final key: upload to `<final>.tmp` (hashed while it streams from
 * one open handle: the bytes hashed are the bytes sent), check its size (and, up to a bound, its
 * bytes read back), copy it to the final key (conditionally when asked; the final object carries
 * its sha256 as metadata), check the copy's size, remove the `.tmp` — on failure too. A reader never
 * sees a partial object at the final key.
 */
export async function publishLocalFile(
  store: ObjectStore,
  localPath: string,
  localBytes: number,
  finalKey: string,
  options: PublishOptions,
): Promise<PublishedFile> {
  const tmpKey = tmpKeyOf(finalKey);
  const context = { ...options.context, key: tmpKey };
  let uploadedTmp: StoredObject | undefined;
  try {
    const uploaded = await store.uploadFile(tmpKey, localPath, options.contentType);
    uploadedTmp = uploaded;
    const head = await store.head(tmpKey);
    if (head?.bytes !== localBytes || uploaded.bytes !== localBytes) {
      throw new VerificationError(`s3://${store.bucket}/${tmpKey} has ${head?.bytes ?? 'no'} bytes, the local file ${localBytes}`, context);
    }
    if (localBytes <= options.verifyDownloadMaxBytes) {
      const sha = createHash('sha256')
        .update(await store.get(tmpKey))
        .digest('hex');
      if (sha !== uploaded.sha256) {
        throw new VerificationError(
          `s3://${store.bucket}/${tmpKey} reads back with sha256 ${sha}, the upload hashed ${uploaded.sha256}`,
          context,
        );
      }
    }
    const file: StoredObject = { key: finalKey, bytes: localBytes, sha256: uploaded.sha256 };
    await options.beforePublish?.(file);
    let version: ObjectVersion | void;
    try {
      version = await store.copy(tmpKey, finalKey, {
        metadata: { sha256: file.sha256 },
        ...(options.condition ? { condition: options.condition } : {}),
      });
    } catch (error) {
      if (!(error instanceof WriteConditionFailedError)) throw error;
      version = await alreadyPublished(store, file, options, error);
    }
    const published = await store.head(finalKey);
    if (published?.bytes !== localBytes) {
      throw new VerificationError(
        `s3://${store.bucket}/${finalKey} has ${published?.bytes ?? 'no'} bytes after the copy, expected ${localBytes}`,
        { ...options.context, key: finalKey },
      );
    }
    return { ...file, etag: version?.etag ?? published.etag, versionId: version?.versionId ?? published.versionId };
  } finally {
    // Published or not, the .tmp object goes — the very version uploaded, so a versioned bucket keeps no copy of it either.
    if (uploadedTmp) await store.delete(tmpKey, uploadedTmp.versionId);
  }
}

/** After a refused If-None-Match: the object there is this very file (an earlier attempt's copy), or a conflict. */
async function alreadyPublished(
  store: ObjectStore,
  file: StoredObject,
  options: PublishOptions,
  refusal: WriteConditionFailedError,
): Promise<ObjectVersion> {
  const there = await store.head(file.key);
  const where = `s3://${store.bucket}/${file.key}`;
  if (options.condition && 'ifNoneMatch' in options.condition && there?.sha256 === file.sha256 && there.bytes === file.bytes) {
    return { etag: there.etag, versionId: there.versionId };
  }
  const holds = there ? `${there.bytes} bytes with sha256 ${there.sha256 ?? 'not recorded'}` : 'another version';
  const why =
    options.condition && 'ifMatch' in options.condition
      ? `changed since the re-archive was asked for (expected ETag ${options.condition.ifMatch}, it now holds ${holds})`
      : `already holds other content (${holds}), not this file (${file.bytes} bytes, sha256 ${file.sha256})`;
  throw new FinalObjectConflictError(`${where} ${why}; nothing was replaced`, { ...options.context, key: file.key }, { cause: refusal });
}
