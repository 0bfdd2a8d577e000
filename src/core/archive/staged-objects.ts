/**
 * Staged objects of a run (`staging/<run>/…`: chunks and scan_info.json) as the archive use cases
 * read them. The bridge sends RunStop only once every chunk is durably in S3 (docs/architecture.md),
 * so an object missing behind a RunStop was deleted: retrying cannot bring it back.
 */
import { MissingInputError, ObjectNotFoundError, type ErrorContext } from '../errors.js';
import type { ObjectStore } from '../ports.js';

/** Reads a staged object; a missing one is a MissingInputError naming `s3://<bucket>/<key>` and what it held. */
export async function getStagedObject(store: ObjectStore, key: string, what: string, context: ErrorContext = {}): Promise<Uint8Array> {
  try {
    return await store.get(key);
  } catch (error) {
    if (!(error instanceof ObjectNotFoundError)) throw error;
    throw new MissingInputError(
      `staged object s3://${store.bucket}/${key} (${what}) is missing: it was deleted before the scan-writer read it; the run cannot be archived from staging`,
      { ...context, key },
      { cause: error },
    );
  }
}
