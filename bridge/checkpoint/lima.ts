/** The Lima part of a stream's checkpoint (bridge/lima-follower.ts keeps it). */
import type { StoredObject } from '../../src/core/ports.js';
import type { StreamCheckpoint } from './store.js';

/**
 * A Lima stream's checkpoint: the common one plus the files uploaded but not announced and the files
 * found missing; for Lima2, `receivers` holds the receiver files uploaded (by file name).
 */
export interface LimaStreamCheckpoint extends StreamCheckpoint {
  uploaded?: Record<string, StoredObject>;
  receivers?: Record<string, StoredObject>;
  missing?: { start: number; stop: number; path: string; message: string }[];
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

const isStored = (v: unknown): boolean => {
  const s = v as Partial<StoredObject> | null;
  return typeof s?.key === 'string' && isCount(s.bytes) && typeof s.sha256 === 'string' && /^[0-9a-f]{64}$/.test(s.sha256);
};

/** What is wrong with the Lima part of a stream's checkpoint (the common part is checked when the file is loaded). */
export function damagedLimaCheckpoint(cp: LimaStreamCheckpoint): string | undefined {
  for (const [file, stored] of Object.entries(cp.uploaded ?? {})) {
    if (!/^\d+$/.test(file) || !isStored(stored)) return `uploaded file ${JSON.stringify(file)} is not {key, bytes, sha256}`;
  }
  for (const [file, stored] of Object.entries(cp.receivers ?? {})) {
    // The names are Lima2's own (`<prefix>_<receiver>_<file:05d>.h5`, any prefix the conductor was given): one path segment.
    // eslint-disable-next-line no-control-regex
    if (!/^[^/\u0000-\u001f]+\.h5$/.test(file) || !isStored(stored))
      return `uploaded Lima2 receiver file ${JSON.stringify(file)} is not {key, bytes, sha256}`;
  }
  for (const m of cp.missing ?? []) {
    if (!isCount(m?.start) || !isCount(m.stop) || m.start >= m.stop || typeof m.path !== 'string' || typeof m.message !== 'string') {
      return `missing file ${JSON.stringify(m)} is not {start, stop, path, message}`;
    }
  }
  return undefined;
}
