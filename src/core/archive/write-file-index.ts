/**
 * The scan file's range index (`<file>.index.json`, docs/file-index.md), written by the archive use case
 * (archive-run.ts) once the file is published: it can leave the index missing, never fail the run.
 */
import type { ArchivedFile } from '../contract/generated-types.js';
import { fileIndexKeyOf } from '../object-keys.js';
import type { ObjectStore } from '../ports.js';
import type { ScanFileIndexer } from './ports.js';

type Log = (message: string, context: Record<string, unknown>) => void;

/** Attempts at writing the index (a failed PUT is retried; a file the indexer cannot describe is not). */
const INDEX_ATTEMPTS = 3;

/**
 * The index of the published bytes (`<file>.index.json`, with the final object's size, sha256 and
 * ETag), stored before the run is ARCHIVED. The file is already published, so nothing here may fail
 * the run: an indexer error of any kind (a structure it does not read, a RangeError or a bound met on
 * a hostile file) or a PUT that keeps failing is logged and returned as the reason the index is
 * missing (recorded on the run, counted by the handler); an index left by an earlier version of the
 * file (a re-archive) is removed, so no reader pairs it with the new bytes. The portal reads the
 * file whole instead.
 */
export async function writeIndex(
  indexer: ScanFileIndexer,
  path: string,
  file: ArchivedFile & { etag?: string | undefined },
  store: ObjectStore,
  log: Log | undefined,
): Promise<string | undefined> {
  const key = fileIndexKeyOf(file.key);
  let index: Uint8Array;
  try {
    index = await indexer.index(path, file);
  } catch (error) {
    const reason = `the scan file could not be indexed (${(error as Error).name}: ${(error as Error).message})`.slice(0, 1000);
    log?.('the scan file has no index: the portal reads it whole', { key: file.key, error: (error as Error).name, reason });
    await removeStaleIndex(store, key, log);
    return reason;
  }
  for (let attempt = 1; ; attempt += 1) {
    try {
      await store.put(key, index, 'application/json');
      return undefined;
    } catch (error) {
      if (attempt >= INDEX_ATTEMPTS) {
        const reason = `the index could not be stored after ${INDEX_ATTEMPTS} attempts (${(error as Error).message})`.slice(0, 1000);
        log?.('the scan file has no index: the portal reads it whole', { key: file.key, error: (error as Error).name, reason });
        await removeStaleIndex(store, key, log);
        return reason;
      }
    }
  }
}

async function removeStaleIndex(store: ObjectStore, key: string, log: Log | undefined): Promise<void> {
  await store.delete(key).catch((error: unknown) =>
    log?.("an earlier index could not be removed (readers refuse it: its ETag and sha256 are not the file's)", {
      key,
      error: String(error),
    }),
  );
}
