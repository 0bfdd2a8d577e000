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

/** Longest segment: a longer name is cut and keeps its hash (names up to the contract's 200 characters and more). */
export const MAX_SEGMENT = 120;
const HASH_CHARS = 8;
/** A name kept as it is: letters, digits, `.`, `_`, `-`, not starting with `.` or `-`, at most MAX_SEGMENT. */
const PLAIN = new RegExp(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,${MAX_SEGMENT - 1}}$`);
/** A segment this rule made from another name: `<plain part>~<8 hex>`; kept as it is (ids round-trip). */
const HASHED = new RegExp(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,${MAX_SEGMENT - HASH_CHARS - 2}}~[0-9a-f]{${HASH_CHARS}}$`);

/**
 * THE naming rule: every place a user-chosen name (proposal, beamline, session, collection,
 * dataset, channel, detector, export id …) becomes an S3 key segment, a folder, a catalogue key
 * or a dataset id goes through this one function (docs/architecture.md, "Names and keys").
 *
 * - A plain name (letters, digits, `.`, `_`, `-`, not starting with `.` or `-`, at most 120
 *   characters) is kept as it is: `sample1`, `0001`, `run1.5`.
 * - Any other name is never refused: every other character becomes `_` (a leading `.` or `-`
 *   too), the result is cut to fit, and `~<first 8 hex of sha256(name)>` is appended, so two names
 *   never share a segment (`a:b` → `a_b~…`, distinct from `a_b`): `a/../b` → `a_.._b~5c1f…`,
 *   `run 1.5` → `run_1.5~…`, `échantillon` → `_chantillon~…`, `..` → `_.~…`, a 300-character
 *   name → its first 111 cleaned characters + hash.
 * - A segment this rule made (`<plain>~<8 hex>`) is kept as it is, so the dataset id the archive
 *   shows (`p/b/s/a_.._b~5c1f…/run_1.5~…`) names the same dataset when it is given back.
 * - Only an empty name is refused (nothing to name a folder with).
 */
export function safeSegment(name: string, what = 'name'): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidInputError(`${what} is empty: it cannot name a folder`, { name: String(name) });
  }
  if (PLAIN.test(name) || HASHED.test(name)) return name;
  const cleaned = name
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^[.-]/, '_')
    .slice(0, MAX_SEGMENT - HASH_CHARS - 1);
  return `${cleaned}~${createHash('sha256').update(name).digest('hex').slice(0, HASH_CHARS)}`;
}

/** Whether `name` is already a segment (plain, or made by safeSegment): what a dataset id's parts must be. */
export function isSegment(name: string): boolean {
  return typeof name === 'string' && (PLAIN.test(name) || HASHED.test(name));
}

/**
 * The dataset a data policy names, in segments (each name through safeSegment): the scan writer's
 * folder, the dataset catalogue's key and id, the run record's dataset index are all this.
 */
export function datasetKeyOf(policy: DataPolicy): DataPolicy {
  return {
    proposal: safeSegment(policy.proposal, 'proposal'),
    beamline: safeSegment(policy.beamline, 'beamline'),
    session: safeSegment(policy.session, 'session'),
    collection: safeSegment(policy.collection, 'collection'),
    dataset: safeSegment(policy.dataset, 'dataset'),
  };
}

/** A channel name such as `axis:sy` as a key segment (`axis_sy~<hash>`, see safeSegment). */
export function channelSegment(channel: string): string {
  return safeSegment(channel, 'channel name');
}

/**
 * A beamline name that may appear in an event source, an IAM condition, a role name and a staging
 * key: lower case letters, digits, `-` and `_`, starting with a letter or digit, at most 32
 * characters (id21, id16b, bm05, id16a-ni). src/core/access/edge-source.ts applies it to sources.
 */
export const BEAMLINE_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/**
 * The beamline segment of staging keys: the beamline name as the edge uses it (lower case,
 * `^[a-z0-9][a-z0-9_-]{0,31}$`, src/core/access/edge-source.ts), so each beamline's bridge role
 * may put under `staging/<beamline>/*` only (infra/constructs/bridge-roles.ts, docs/adr/0021).
 * Any other name is refused: it could not be a bridge's beamline.
 */
export function stagingBeamline(beamline: string): string {
  const name = String(beamline).trim().toLowerCase();
  if (!BEAMLINE_NAME.test(name)) {
    throw new InvalidInputError(
      `staging: beamline ${JSON.stringify(String(beamline).slice(0, 100))} is not a beamline name: letters, digits, '-' and '_', starting with a letter or digit, at most 32 characters (e.g. id21)`,
      { name: String(beamline).slice(0, 100) },
    );
  }
  return name;
}

/** Staging prefix of one run: `staging/<beamline>/<run>/` (its chunks and scan_info.json). */
export function stagingRunPrefix(beamline: string, runUid: string): string {
  return `${Prefix.Staging}${stagingBeamline(beamline)}/${safeSegment(runUid, 'run uid')}/`;
}

/** Staging prefix of one channel of one run: `staging/<beamline>/<run>/<channel>/` (trailing slash). */
export function stagingChannelPrefix(beamline: string, runUid: string, channel: string): string {
  return `${stagingRunPrefix(beamline, runUid)}${channelSegment(channel)}/`;
}

/** Deterministic key of the chunk holding points [start, stop) of a channel: a re-sent chunk overwrites itself. */
export function stagingChunkKey(beamline: string, runUid: string, channel: string, start: number, stop: number): string {
  return `${stagingChannelPrefix(beamline, runUid, channel)}${pad(start)}-${pad(stop)}.bin`;
}

/** Where the bridge stages the final scan_info of a run: `staging/<beamline>/<run>/scan_info.json`. */
export function stagingScanInfoKey(beamline: string, runUid: string): string {
  return `${stagingRunPrefix(beamline, runUid)}scan_info.json`;
}

function pad(n: number): string {
  return String(n).padStart(12, '0');
}

/** Dataset folder: `archive/<proposal>/<beamline>/<session>/<collection>/<collection>_<dataset>/` (names as segments). */
export function datasetPrefix(policy: DataPolicy): string {
  const { proposal, beamline, session, collection, dataset } = datasetKeyOf(policy);
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
