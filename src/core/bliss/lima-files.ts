/**
 * Lima detector streams (blissdata 2.4.5 `LimaStream`, plugin `lima`, legacy format `lima_v1`):
 * the images never go through Redis. The stream is JSON-encoded and each entry is a status
 * `{"last_index": i, "last_index_saved": j}` (the latest one is all that matters); the stream
 * info's `lima_info` says where the files are. This module is the pure arithmetic the bridge
 * needs, the same as blissdata's `LimaClient`:
 *
 * - a scan frame `f` is frame `f mod frame_per_acquisition` of acquisition `f div frame_per_acquisition`;
 *   an acquisition is split in files of `frame_per_file` frames (the last one of an acquisition can
 *   be short), so `file number = acquisition × files_per_acquisition + file_in_acquisition + file_offset`
 *   and the file is `file_path % file_number` (a printf pattern such as `…/scan0001/pilatus_%04d.h5`);
 * - a file is complete (closed by Lima) once a frame of a later file is saved, or once the stream
 *   is sealed (then the last file holds the frames up to `last_index_saved`).
 */
import type { DataPolicy } from '../contract/generated-types.js';
import { InvalidInputError } from '../errors.js';
import type { StreamModel } from './scan-model.js';
import { parseDtype, type NumericDtype } from '../event-model/dtype.js';
import { isRecord } from '../guards.js';

/** Where a Lima stream's frames are saved, from the stream info. */
export interface LimaSaving {
  stream: string;
  dtype: NumericDtype;
  /** Frame shape as published: [height, width] (blissdata's `shape`). */
  frameShape: number[];
  /** printf-style pattern of the file path, one integer conversion (the file number). */
  filePath: string;
  /** Dataset of the frames inside each file, e.g. `/entry_0000/measurement/data`. */
  dataPath: string;
  /** `HDF5`, `HDF5BS`, `HDF5GZ` … (Lima's saving format; only HDF5 variants can be linked). */
  fileFormat: string;
  fileOffset: number;
  framesPerFile: number;
  /** 0 or absent in the info: the whole scan is one acquisition. */
  framesPerAcquisition: number;
}

/** One Lima file: scan frames [start, stop) are frames [0, stop - start) of `data_path` in it. */
export interface LimaFileRange {
  fileNumber: number;
  start: number;
  stop: number;
}

/** Latest status of a Lima stream: -1 when nothing was acquired/saved yet. */
export interface LimaStatus {
  lastIndex: number;
  lastIndexSaved: number;
}

const NUMPY_NAMES: Record<string, string> = {
  bool: '|b1',
  int8: '|i1',
  uint8: '|u1',
  int16: '<i2',
  uint16: '<u2',
  int32: '<i4',
  uint32: '<u4',
  int64: '<i8',
  uint64: '<u8',
  float16: '<f2',
  float32: '<f4',
  float64: '<f8',
};

/** Whether a data stream is a Lima (version 1 protocol) image stream. */
export function isLimaStream(model: Pick<StreamModel, 'info'>): boolean {
  return model.info.plugin === 'lima' || (model.info.plugin === undefined && model.info.format === 'lima_v1');
}

/** Whether a data stream is a Lima2 stream (plugin `lima2`, package blissdata-lima2): a numeric frame counter plus a master file. */
export function isLima2Stream(model: Pick<StreamModel, 'info'>): boolean {
  return model.info.plugin === 'lima2' || (model.info.plugin === undefined && model.info.format === 'lima_v2');
}

/** numpy dtype name (`uint16`) or string (`<u2`) → NumericDtype. */
export function limaDtypeOf(value: unknown, stream: string): NumericDtype {
  if (typeof value !== 'string') throw new InvalidInputError(`Lima stream ${stream}: info.dtype is missing`, { stream });
  return parseDtype(NUMPY_NAMES[value] ?? value, stream);
}

/**
 * Reads the saving parameters of a Lima stream's info. A stream saved to no file (no `file_path`:
 * images only in the detector's memory) or in a format that is not HDF5 cannot be archived: the
 * error says so, with the stream name.
 */
export function parseLimaSaving(stream: string, info: Record<string, unknown>): LimaSaving {
  const fail = (what: string): never => {
    throw new InvalidInputError(`Lima stream ${stream}: ${what}`, { stream });
  };
  const lima = info.lima_info;
  if (!isRecord(lima)) return fail('info.lima_info is missing');
  if (lima.protocol_version !== 1) fail(`lima_info.protocol_version is ${JSON.stringify(lima.protocol_version)}, only 1 is known`);
  if (typeof lima.file_path !== 'string' || lima.file_path.length === 0) {
    return fail(
      'the detector saves no file (lima_info has no file_path): its images exist only in the detector memory and cannot be archived',
    );
  }
  const dtype = limaDtypeOf(info.dtype, stream);
  const shape = info.shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isSafeInteger(d) && (d as number) > 0)) {
    return fail(`info.shape ${JSON.stringify(shape)} is not a frame shape [height, width]`);
  }
  const count = (name: string, min: number): number => {
    const value = lima[name];
    if (!Number.isSafeInteger(value) || (value as number) < min)
      fail(`lima_info.${name} is ${JSON.stringify(value)}, not an integer ≥ ${min}`);
    return value as number;
  };
  const fileFormat = typeof lima.file_format === 'string' ? lima.file_format : fail('lima_info.file_format is missing');
  if (!/^hdf5/i.test(fileFormat))
    fail(`file_format ${JSON.stringify(fileFormat)} is not HDF5: its frames cannot be linked from a NeXus file`);
  const dataPath =
    typeof lima.data_path === 'string' && lima.data_path.startsWith('/')
      ? lima.data_path
      : fail(`lima_info.data_path ${JSON.stringify(lima.data_path)} is not an absolute HDF5 path`);
  formatFileNumber(lima.file_path, 0, stream);
  return {
    stream,
    dtype,
    frameShape: shape as number[],
    filePath: lima.file_path,
    dataPath,
    fileFormat,
    fileOffset: count('file_offset', 0),
    framesPerFile: count('frame_per_file', 1),
    framesPerAcquisition: lima.frame_per_acquisition === undefined ? 0 : count('frame_per_acquisition', 0),
  };
}

/** `pattern % n` for a printf pattern with exactly one integer conversion (`%d`, `%04d`, `%5d`) and `%%`. */
export function formatFileNumber(pattern: string, n: number, stream = ''): string {
  let conversions = 0;
  const out = pattern.replace(/%(%|(0?)(\d*)d)/g, (_m, all: string, zero: string, width: string) => {
    if (all === '%') return '%';
    conversions++;
    const digits = String(n);
    return width ? digits.padStart(Number(width), zero ? '0' : ' ') : digits;
  });
  if (conversions !== 1 || /%(?!%)/.test(pattern.replace(/%(%|0?\d*d)/g, ''))) {
    throw new InvalidInputError(`Lima stream ${stream}: file_path ${JSON.stringify(pattern)} is not a pattern with one %d conversion`, {
      stream,
    });
  }
  return out;
}

/** The file of a scan frame and its index in that file (blissdata LimaClient._file_ref). */
export function frameLocation(saving: LimaSaving, frame: number): { fileNumber: number; indexInFile: number; fileFirstFrame: number } {
  const perAcq = saving.framesPerAcquisition;
  const acquisition = perAcq > 0 ? Math.floor(frame / perAcq) : 0;
  const inAcquisition = perAcq > 0 ? frame % perAcq : frame;
  const fileInAcquisition = Math.floor(inAcquisition / saving.framesPerFile);
  const indexInFile = inAcquisition % saving.framesPerFile;
  const filesPerAcquisition = perAcq > 0 ? Math.ceil(perAcq / saving.framesPerFile) : 0;
  return {
    fileNumber: acquisition * filesPerAcquisition + fileInAcquisition + saving.fileOffset,
    indexInFile,
    fileFirstFrame: frame - indexInFile,
  };
}

/**
 * Frames [0, n) whose files are complete: every frame when the stream is sealed (up to
 * last_index_saved), else the frames before the file that holds last_index_saved (Lima may still
 * be writing it). blissdata LimaClient._last_readable_index + 1.
 */
export function completeFrames(saving: LimaSaving, lastIndexSaved: number, sealed: boolean): number {
  if (lastIndexSaved < 0) return 0;
  if (sealed) return lastIndexSaved + 1;
  return frameLocation(saving, lastIndexSaved).fileFirstFrame;
}

/** The files holding scan frames [from, to), in order; each range starts at a file's first frame unless `from` is inside one. */
/**
 * Files one step of the follower may cover at most. Lima saves a few files per second; a status
 * claiming more (e.g. last_index_saved 2^52 from a broken or hostile publisher) would otherwise
 * build one entry per file and exhaust memory: it is refused as a malformed status instead.
 */
export const MAX_FILES_PER_STEP = 100_000;

export function filesOf(saving: LimaSaving, from: number, to: number, stream = 'lima'): LimaFileRange[] {
  const files: LimaFileRange[] = [];
  for (let start = from; start < to;) {
    if (files.length >= MAX_FILES_PER_STEP) {
      throw new InvalidInputError(
        `Lima stream ${stream}: frames [${from}, ${to}) saved at once span more than ${MAX_FILES_PER_STEP} files of ${saving.framesPerFile} frames; the status is not believable`,
        { stream, indexRange: [from, to] },
      );
    }
    const at = frameLocation(saving, start);
    const perAcq = saving.framesPerAcquisition;
    const fileEnd = at.fileFirstFrame + saving.framesPerFile;
    const acquisitionEnd = perAcq > 0 ? (Math.floor(start / perAcq) + 1) * perAcq : Infinity;
    const stop = Math.min(to, fileEnd, acquisitionEnd);
    files.push({ fileNumber: at.fileNumber, start, stop });
    start = stop;
  }
  return files;
}

/** Parses one status entry payload (JSON `{"last_index": i, "last_index_saved": j}`). */
export function parseLimaStatus(stream: string, index: number, payload: Buffer | undefined): LimaStatus {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload?.toString('utf8') ?? '');
  } catch (error) {
    throw new InvalidInputError(`Lima stream ${stream}: status entry ${index} is not JSON`, { stream, index }, { cause: error });
  }
  const value = (name: string): number => {
    const v = isRecord(parsed) ? parsed[name] : undefined;
    if (v === undefined) return -1;
    if (!Number.isSafeInteger(v) || (v as number) < -1) {
      throw new InvalidInputError(`Lima stream ${stream}: status entry ${index} has ${name} ${JSON.stringify(v)}, not a frame index`, {
        stream,
        index,
      });
    }
    return v as number;
  };
  if (!isRecord(parsed)) throw new InvalidInputError(`Lima stream ${stream}: status entry ${index} is not an object`, { stream, index });
  return { lastIndex: value('last_index'), lastIndexSaved: value('last_index_saved') };
}

/**
 * The folder a scan saves into: the folder of its scan file (`scan_info.filename`, absolute). BLISS
 * puts a scan's Lima files below it (`<folder>/scan<NNNN>/<detector>_<NNNN>.h5`, Lima2 likewise), and
 * the bridge reads local files only there. Undefined when the scan info names no absolute scan file.
 */
export function scanSaveFolder(info: Record<string, unknown>): string | undefined {
  const filename = info.filename;
  if (typeof filename !== 'string' || !filename.startsWith('/')) return undefined;
  const segments = filename.split('/');
  // eslint-disable-next-line no-control-regex
  if (segments.some((s) => s === '..' || s === '.') || /[\u0000-\u001f]/.test(filename)) return undefined;
  const folder = filename.slice(0, filename.lastIndexOf('/'));
  return folder.length > 0 ? folder : undefined;
}

/**
 * Why a file path taken from a stream info (a Lima `file_path` pattern, a Lima2 master file) is not a
 * path inside the scan's save folder; undefined when it is. Only the text is checked here (no `.`/`..`
 * segment, no control character, strictly below `folder`); symbolic links are resolved by the bridge
 * before it reads the file.
 */
/**
 * The trailing segments of a scan's data-policy folder, the folder of the dataset it is archived in
 * (ESRF data policy: `<root>/<proposal>/<beamline>/<session>/RAW_DATA/<collection>/<collection>_<dataset>`,
 * whatever the root: `/data/visitor`, `/data/<beamline>/inhouse` …).
 */
export function dataPolicyFolderSegments(policy: DataPolicy): string[] {
  return [policy.proposal, policy.beamline, policy.session, 'RAW_DATA', policy.collection, `${policy.collection}_${policy.dataset}`];
}

/**
 * Why `path` (an absolute path from a stream info) is not below the scan's own data-policy folder
 * (a folder ending in dataPolicyFolderSegments); undefined when it is. A scan can then never take
 * Lima files from another dataset's (or proposal's) folder into the dataset it is archived in.
 */
export function pathOutsideDataPolicyFolder(path: string, policy: DataPolicy): string | undefined {
  const want = dataPolicyFolderSegments(policy);
  const segments = path.split('/').slice(0, -1);
  for (let i = 0; i + want.length <= segments.length; i++) {
    if (want.every((w, k) => segments[i + k] === w)) return undefined;
  }
  return `${JSON.stringify(path)} is not below the scan's data-policy folder …/${want.join('/')}/`;
}

export function pathOutsideFolder(path: string, folder: string | undefined): string | undefined {
  if (folder === undefined) return 'the scan info has no absolute filename, so the scan has no save folder to read Lima files from';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(path)) return `${JSON.stringify(path)} contains control characters`;
  const segments = path.split('/');
  if (!path.startsWith('/') || segments.some((s) => s === '..' || s === '.'))
    return `${JSON.stringify(path)} is not an absolute path without . or .. segments`;
  const base = folder.endsWith('/') ? folder : `${folder}/`;
  if (!path.startsWith(base) || path.length === base.length) return `${JSON.stringify(path)} is outside the scan's save folder ${folder}`;
  return undefined;
}
