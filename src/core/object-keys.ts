import type { DataPolicy } from './contract/generated-types.js';
import { createHash } from 'node:crypto';
import { InvalidInputError } from './errors.js';

/** Top-level prefixes of the archive bucket; IAM grants are scoped to them. */
export const Prefix = {
  /** Bulk data the bridge stages (claim checks); expired by a lifecycle rule. */
  Staging: 'staging/',
  /** Published scan files, by data-policy path. */
  Archive: 'archive/',
  /** Derived data saved through the analysis store, by derived run uid. */
  Analysis: 'analysis/',
  /** On-demand exports (NXstxm, NeXus, CSV), one folder per export id. */
  Exports: 'exports/',
} as const;

/** Suffix of objects under construction; a lifecycle rule removes abandoned ones. */
export const TMP_SUFFIX = '.tmp';

const MAX_SEGMENT = 120;

/**
 * Turns a user-chosen name (session, collection, dataset, channel …) into one safe key segment.
 * A name made only of letters, digits, `.`, `_` and `-` is kept as it is; otherwise every other
 * character becomes `_`, a leading dot too, and a `~<8 hex of sha256(name)>` suffix keeps two
 * names from ever sharing a segment. Names that are empty, only dots (`.`, `..`), contain control
 * characters, or are too long are rejected with a reason.
 */
export function safeSegment(name: string, what = 'name'): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidInputError(`${what} is empty: it cannot name a folder`, { name: String(name) });
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    throw new InvalidInputError(`${what} ${JSON.stringify(name)} contains control characters`, { name });
  }
  if (name.length > MAX_SEGMENT) {
    throw new InvalidInputError(`${what} is ${name.length} characters long (at most ${MAX_SEGMENT})`, { name });
  }
  if (/^\.+$/.test(name)) {
    throw new InvalidInputError(`${what} ${JSON.stringify(name)} is a relative path component`, { name });
  }
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\./, '_');
  // One name, one segment: a rewritten name carries a hash of the original, so `a:b` and `a_b`
  // (or `a:b` and `a;b`) can never share a key and overwrite each other.
  return cleaned === name ? name : `${cleaned}~${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/** A channel name such as `axis:sy` as a key segment (`axis_sy~<hash>`, see safeSegment). */
export function channelSegment(channel: string): string {
  return safeSegment(channel, 'channel name');
}

/** Staging prefix of one channel of one run: `staging/<run>/<channel>/` (trailing slash). */
export function stagingChannelPrefix(runUid: string, channel: string): string {
  return `${Prefix.Staging}${safeSegment(runUid, 'run uid')}/${channelSegment(channel)}/`;
}

/** Deterministic key of the chunk holding points [start, stop) of a channel: a re-sent chunk overwrites itself. */
export function stagingChunkKey(runUid: string, channel: string, start: number, stop: number): string {
  return `${stagingChannelPrefix(runUid, channel)}${pad(start)}-${pad(stop)}.bin`;
}

/** Where the bridge stages the final scan_info of a run. */
export function stagingScanInfoKey(runUid: string): string {
  return `${Prefix.Staging}${safeSegment(runUid, 'run uid')}/scan_info.json`;
}

function pad(n: number): string {
  return String(n).padStart(12, '0');
}

/** Dataset folder: `archive/<proposal>/<beamline>/<session>/<collection>/<collection>_<dataset>/`. */
export function datasetPrefix(policy: DataPolicy): string {
  const proposal = safeSegment(policy.proposal, 'proposal');
  const beamline = safeSegment(policy.beamline, 'beamline');
  const session = safeSegment(policy.session, 'session');
  const collection = safeSegment(policy.collection, 'collection');
  const dataset = safeSegment(policy.dataset, 'dataset');
  return `${Prefix.Archive}${proposal}/${beamline}/${session}/${collection}/${collection}_${dataset}/`;
}

/** Final key of the scan file of scan number `scanNumber` in its dataset folder. */
export function scanFileKey(policy: DataPolicy, scanNumber: number): string {
  if (!Number.isSafeInteger(scanNumber) || scanNumber < 0) {
    throw new InvalidInputError(`scan number ${scanNumber} is not a non-negative integer`);
  }
  const prefix = datasetPrefix(policy);
  const base = prefix.slice(0, -1).split('/').pop()!;
  return `${prefix}${base}_${String(scanNumber).padStart(4, '0')}.h5`;
}

// --- Lima detector files (bridge/lima-follower.ts, docs/bridge.md "Lima detectors") ---

/**
 * Folder of a scan's detector files, next to its scan file as BLISS lays them out:
 * `<dataset folder>/scan<NNNN>/`. The scan file links them as `scan<NNNN>/<file>`, which resolves in
 * S3 and in a downloaded dataset folder alike.
 */
export function scanDetectorFolder(policy: DataPolicy, scanNumber: number): string {
  const fileKey = scanFileKey(policy, scanNumber);
  return `${fileKey.slice(0, fileKey.lastIndexOf('/') + 1)}scan${String(scanNumber).padStart(4, '0')}/`;
}

/** Key of Lima file number `fileNumber` of a detector: `<dataset folder>/scan<NNNN>/<detector>_<NNNN>.h5`. */
export function limaFileKey(policy: DataPolicy, scanNumber: number, detector: string, fileNumber: number): string {
  if (!Number.isSafeInteger(fileNumber) || fileNumber < 0) {
    throw new InvalidInputError(`Lima file number ${fileNumber} is not a non-negative integer`, { name: detector });
  }
  return `${scanDetectorFolder(policy, scanNumber)}${safeSegment(detector, 'detector name')}_${String(fileNumber).padStart(4, '0')}.h5`;
}

// --- end Lima detector files ---

export function tmpKeyOf(finalKey: string): string {
  return `${finalKey}${TMP_SUFFIX}`;
}

/** The index of an archived file (src/core/file-index/model.ts), next to it: what the portal reads it by. */
export function fileIndexKeyOf(fileKey: string): string {
  return `${fileKey}.index.json`;
}

/** Suffix of the partial file of a failed export, kept for diagnosis (like suitcase's `.err`); never a final object. */
export const ERR_SUFFIX = '.err';

export function errKeyOf(finalKey: string): string {
  return `${finalKey}${ERR_SUFFIX}`;
}

/** Folder of one export: `exports/<export id>/`. */
export function exportPrefix(exportId: string): string {
  return `${Prefix.Exports}${safeSegment(exportId, 'export id')}/`;
}

/** Final key of one file of an export: `exports/<export id>/<file name>` (the name sanitised, see safeSegment). */
export function exportFileKey(exportId: string, fileName: string): string {
  return `${exportPrefix(exportId)}${safeSegment(fileName, 'export file name')}`;
}

/**
 * The data-policy placement of a BLISS scan. The ESRF path
 * `/data/visitor/<proposal>/<beamline>/<session>/RAW_DATA/<collection>/<collection>_<dataset>/…`
 * is authoritative when present; otherwise the identity fields and the bridge's beamline are used.
 */
export function dataPolicyOf(
  identity: { proposal?: string; session?: string; collection?: string; dataset?: string; path?: string },
  beamline: string,
): DataPolicy {
  const match = identity.path
    ? /^\/data\/(?:visitor|inhouse\d*|tmp_data)?\/?([^/]+)\/([^/]+)\/([^/]+)\/RAW_DATA\/([^/]+)\/\4_([^/]+)\//.exec(identity.path)
    : null;
  if (match) {
    const [, proposal, bl, session, collection, dataset] = match as unknown as [string, string, string, string, string, string];
    return { proposal, beamline: bl, session, collection, dataset };
  }
  return {
    proposal: identity.proposal || 'unknown_proposal',
    beamline,
    session: identity.session || 'unknown_session',
    collection: identity.collection || 'unknown_collection',
    dataset: identity.dataset || 'unknown_dataset',
  };
}
