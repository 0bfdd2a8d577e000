/**
 * Lima2 detector streams (package blissdata-lima2 2.0.2, plugin `lima2`, protocol 2): like Lima v1,
 * the frames never go through Redis, but the stream and the files differ:
 *
 * - the stream is numeric (uint32): each entry is the number of contiguous frames the Lima2 backend
 *   has so far (`Lima2Stream.__len__` takes the latest one);
 * - the info gives no file pattern but `master_file: [path, data_path]`: the Lima2 conductor writes
 *   `<base_path>/<prefix>_master.h5` once the acquisition is over, with a virtual dataset at
 *   `data_path` (`<entry>/<instrument>/<detector>/data`) that maps every frame, in scan order, to the
 *   receiver files `<prefix>_<receiver>_<file:05d>.h5` of the same folder (relative source names);
 * - several receivers can share the frames (single receiver, round robin with an ordering fixed at
 *   prepare time, or dynamic dispatch decided by the detector): which frames a receiver file holds is
 *   known to the conductor's lookup table and recorded only in the master file's virtual dataset.
 *   blissdata-lima2 reads frames after the scan through that virtual dataset (`_fetch_from_disk`),
 *   and blisswriter links it as is (one external link to the master file's data path).
 *
 * So the archive carries the folder as Lima2 left it: every receiver file (uploaded as soon as the
 * same receiver has started its next file, the rest at the end) and the master file last, all under
 * their own names next to each other, so the master's relative virtual sources still resolve. This
 * module is the pure part: the stream info, the status entries and the receiver file names.
 */
import { InvalidInputError } from '../errors.js';
import type { NumericDtype } from '../event-model/dtype.js';
import { limaDtypeOf } from './lima-files.js';

/** `file_format` of the StreamResource of a Lima2 stream: the frames are read through the master file's virtual dataset. */
export const LIMA2_FILE_FORMAT = 'HDF5-Lima2-master';

/** The only Lima2 protocol blissdata-lima2 2.0.2 speaks. */
export const LIMA2_PROTOCOL_VERSION = 2;

/** Where a Lima2 stream's frames are saved, from the stream info. */
export interface Lima2Saving {
  stream: string;
  dtype: NumericDtype;
  /** Frame shape as published: [channels, height, width] (BLISS's Lima2 channel). */
  frameShape: number[];
  /** The master file the conductor writes at the end, absolute on the beamline disk. */
  masterPath: string;
  /** Its folder (with a trailing `/`) and the receiver files' name prefix. */
  folder: string;
  prefix: string;
  /** The virtual dataset in the master file, made absolute (`/entry_0000/instrument/det/data`). */
  dataPath: string;
}

/** One receiver file: `<prefix>_<receiver>_<fileIndex:05d>.h5`. */
export interface Lima2ReceiverFile {
  name: string;
  receiver: number;
  fileIndex: number;
}

/**
 * Reads a Lima2 stream's info. A stream without a master file (saving disabled, or a frame source
 * that is not saved) has its frames only in the receivers' memory and cannot be archived: the error
 * says so, with the stream name.
 */
export function parseLima2Saving(
  stream: string,
  info: Record<string, unknown>,
  encoding: { type: string; dtype_str?: unknown },
): Lima2Saving {
  const fail = (what: string): never => {
    throw new InvalidInputError(`Lima2 stream ${stream}: ${what}`, { stream });
  };
  if (encoding.type !== 'numeric' || encoding.dtype_str !== '<u4') {
    fail(`encoding ${JSON.stringify(encoding)} is not the uint32 frame counter of blissdata-lima2 (numeric, <u4)`);
  }
  if (info.protocol_version !== LIMA2_PROTOCOL_VERSION) {
    fail(`protocol_version is ${JSON.stringify(info.protocol_version)}, only ${LIMA2_PROTOCOL_VERSION} is known`);
  }
  const dtype = limaDtypeOf(info.dtype, stream);
  const shape = info.shape;
  if (!Array.isArray(shape) || shape.length < 2 || shape.length > 3 || !shape.every((d) => Number.isSafeInteger(d) && (d as number) > 0)) {
    fail(`info.shape ${JSON.stringify(shape)} is not a frame shape [channels, height, width]`);
  }
  const master = info.master_file;
  if (master === null || master === undefined) {
    fail('the frames are saved to no file (master_file is null): they exist only in the Lima2 receivers and cannot be archived');
  }
  if (!Array.isArray(master) || master.length !== 2 || typeof master[0] !== 'string' || typeof master[1] !== 'string') {
    return fail(`master_file ${JSON.stringify(master)} is not [file path, data path]`);
  }
  const [masterPath, rawDataPath] = master as [string, string];
  const match = /^(\/(?:.*\/)?)([^/]+)_master\.h5$/.exec(masterPath);
  if (!match) fail(`master_file ${JSON.stringify(masterPath)} is not an absolute <folder>/<prefix>_master.h5 path`);
  const dataPath = `/${rawDataPath.replace(/^\/+/, '')}`;
  if (dataPath === '/' || dataPath.split('/').includes('..'))
    fail(`master_file data path ${JSON.stringify(rawDataPath)} is not an HDF5 dataset path`);
  return { stream, dtype, frameShape: shape as number[], masterPath, folder: match![1]!, prefix: match![2]!, dataPath };
}

/** The name Lima2 gives a receiver's file (lima2 conductor: `{prefix}_{receiver}_{file:05d}.h5`). */
export function lima2ReceiverFileName(prefix: string, receiver: number, fileIndex: number): string {
  return `${prefix}_${receiver}_${String(fileIndex).padStart(5, '0')}.h5`;
}

/** The receiver and file index of a receiver file name of this prefix; undefined for any other name (the master file included). */
export function parseLima2ReceiverFile(prefix: string, name: string): Lima2ReceiverFile | undefined {
  if (!name.startsWith(`${prefix}_`)) return undefined;
  const match = /^(\d+)_(\d{5,})\.h5$/.exec(name.slice(prefix.length + 1));
  if (!match) return undefined;
  const receiver = Number(match[1]);
  const fileIndex = Number(match[2]);
  return lima2ReceiverFileName(prefix, receiver, fileIndex) === name ? { name, receiver, fileIndex } : undefined;
}

/**
 * The receiver files of a folder listing that are complete: a receiver writes its files one after
 * the other, so every file but its latest is closed; once `ended` (the master file exists: the
 * conductor writes it after the last frame is indexed) every file is. Sorted by receiver, then file.
 */
export function completeLima2Files(prefix: string, names: readonly string[], ended: boolean): Lima2ReceiverFile[] {
  const files = names.map((n) => parseLima2ReceiverFile(prefix, n)).filter((f): f is Lima2ReceiverFile => f !== undefined);
  const latest = new Map<number, number>();
  for (const f of files) latest.set(f.receiver, Math.max(latest.get(f.receiver) ?? -1, f.fileIndex));
  return files
    .filter((f) => ended || f.fileIndex < latest.get(f.receiver)!)
    .sort((a, b) => a.receiver - b.receiver || a.fileIndex - b.fileIndex);
}

/**
 * Receivers whose file indices do not run 0, 1, 2 … without a hole: a file Lima2 wrote and that is no
 * longer there (or never appeared). Returns one message per hole.
 */
export function lima2FileHoles(prefix: string, files: readonly Lima2ReceiverFile[]): string[] {
  const byReceiver = new Map<number, number[]>();
  for (const f of files) (byReceiver.get(f.receiver) ?? byReceiver.set(f.receiver, []).get(f.receiver)!).push(f.fileIndex);
  const holes: string[] = [];
  for (const [receiver, indices] of [...byReceiver].sort((a, b) => a[0] - b[0])) {
    const present = new Set(indices);
    const last = Math.max(...indices);
    for (let k = 0; k < last; k++)
      if (!present.has(k)) holes.push(`${lima2ReceiverFileName(prefix, receiver, k)} is missing (receiver ${receiver} has file ${last})`);
  }
  return holes;
}

/**
 * One status entry of a Lima2 stream: a batch of uint32 counts (raw little-endian bytes, blissdata's
 * numeric encoding); the last one is the number of contiguous frames available.
 */
export function parseLima2Status(stream: string, index: number, payload: Buffer | undefined): number {
  if (!payload || payload.length === 0 || payload.length % 4 !== 0) {
    throw new InvalidInputError(
      `Lima2 stream ${stream}: status entry ${index} has ${payload?.length ?? 0} bytes, not a batch of uint32 frame counts`,
      { stream, index },
    );
  }
  return payload.readUInt32LE(payload.length - 4);
}

/**
 * One uploaded receiver file as the master file's StreamDatum records it (field `lima2.receiver_files`;
 * a StreamDatum detail admits extra fields, event-model's too): where it is in S3, its bytes and
 * sha256, and where it came from. Which scan frames it holds is what the master's virtual dataset says.
 */
export interface Lima2ReceiverRecord {
  receiver: number;
  file_index: number;
  key: string;
  bytes: number;
  sha256: string;
  source_path: string;
}

/** The `lima2` field of a master file's StreamDatum. */
export interface Lima2DatumFiles {
  receiver_files: Lima2ReceiverRecord[];
}

/**
 * Receiver records per StreamDatum: a PutEvents entry is at most 256 KiB and a record is ~400 bytes
 * (two paths, a key, a sha256), so 300 keep a datum far below the limit.
 */
export const LIMA2_RECORDS_PER_DATUM = 300;

/**
 * The StreamDatums announcing a master file of `frames` frames with these receiver records: one
 * when they fit, else the frames [0, frames) cut into as many contiguous ranges as needed, each
 * carrying its share of the records (the scan writer joins them again: same file, contiguous).
 */
export function lima2DatumParts(
  frames: number,
  records: readonly Lima2ReceiverRecord[],
  perDatum = LIMA2_RECORDS_PER_DATUM,
): { start: number; stop: number; records: Lima2ReceiverRecord[] }[] {
  const parts = Math.max(1, Math.min(frames, Math.ceil(records.length / perDatum)));
  const share = Math.ceil(records.length / parts);
  return Array.from({ length: parts }, (_, j) => ({
    start: Math.floor((j * frames) / parts),
    stop: Math.floor(((j + 1) * frames) / parts),
    records: records.slice(j * share, (j + 1) * share),
  }));
}

/** Reads the `lima2` field of a StreamDatum; undefined when absent, an error message when malformed. */
export function parseLima2DatumFiles(value: unknown): Lima2DatumFiles | string | undefined {
  if (value === undefined) return undefined;
  const files = (value as { receiver_files?: unknown } | null)?.receiver_files;
  if (!Array.isArray(files)) return `lima2.receiver_files is not a list`;
  for (const [i, f] of files.entries()) {
    const r = f as Partial<Lima2ReceiverRecord> | null;
    const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
    if (
      !count(r?.receiver) ||
      !count(r?.file_index) ||
      typeof r?.key !== 'string' ||
      !count(r.bytes) ||
      typeof r.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(r.sha256) ||
      typeof r.source_path !== 'string'
    ) {
      return `lima2.receiver_files[${i}] is not {receiver, file_index, key, bytes, sha256, source_path}`;
    }
  }
  return { receiver_files: files as Lima2ReceiverRecord[] };
}

/** Whether the info of a StreamResource's parameters says the files are a Lima2 master file and its receivers. */
export function isLima2FileFormat(fileFormat: unknown): boolean {
  return fileFormat === LIMA2_FILE_FORMAT;
}
