/**
 * The only module that imports h5wasm (STYLE.md 5: fence off the wasm). The HDF5 adapters —
 * scan file writer, master file writer, export tree writer, archived channel reader, the analysis
 * store's HDF5 codec — get the library, its types and two shared rules from here:
 *
 * - Object times: h5wasm stamps every object with the JS clock (`Date.now()`) and has no
 *   track_times switch, so each h5wasm call runs inside `atFixedTime`, which pins the clock to the
 *   caller's time (a plan's file time, or 0): the same input always gives the same bytes.
 * - Diagnostics: the HDF5 C library reports a stack of many lines; `hdf5Diagnostic` keeps the first
 *   three on one line, and `atFixedTime` turns any failure into the caller's error type with the
 *   library's error as `cause`.
 * - Checked writes (issue 17): h5wasm's high-level API drops most statuses (`write_slice`,
 *   `create_group`, `create_attribute`, `flush` return nothing; its C++ helpers ignore the status of
 *   the `H5Dclose` that flushes a dataset's chunk cache), so a full disk went unnoticed and the file
 *   was published 62 % zeros. Writers therefore run every h5wasm call through `checkedHdf5`: HDF5's
 *   error stack is turned into an exception at the failing call (h5wasm's throwing error handler,
 *   active for that call only), every status that is returned is checked (`writeRows`, `resizeTo`,
 *   `createGroupAt`, `createDatasetAt`, `softLink`, `externalLink`, `flushFile`, `closeFile`), and the
 *   error names the file, the object and HDF5's own message (`hdf5Message`).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import h5wasm from 'h5wasm/node';
import type { Dataset, File as H5File, Group } from 'h5wasm/node';

export type { Dataset, Group, H5File };

/** The loaded wasm module (its heap, its file system). */
export type H5Module = Awaited<typeof h5wasm.ready>;

let loaded: H5Module | undefined;

/** Waits for the wasm module; cheap after the first call (composition roots await it once). */
export async function loadH5wasm(): Promise<H5Module> {
  loaded ??= await h5wasm.ready;
  return loaded;
}

function moduleOf(): H5Module {
  if (!loaded) throw new Error('h5wasm is not loaded: await loadH5wasm() first');
  return loaded;
}

/** Opens (`r`, `a`) or creates (`w`) an HDF5 file on the local file system. Call inside atFixedTime. */
export function openHdf5File(path: string, mode: 'r' | 'a' | 'w'): H5File {
  return new h5wasm.File(path, mode);
}

/** The first three lines of an HDF5 (or any) error message, on one line. */
export function hdf5Diagnostic(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, 3)
    .join(' | ');
}

/**
 * Runs synchronous h5wasm calls with `Date.now()` pinned to `timeMs`. An error of a type the caller
 * already raises (`keep`) passes through; any other becomes `wrap(diagnostic, cause)`.
 */
export function atFixedTime<T>(
  timeMs: number,
  fn: () => T,
  wrap: (diagnostic: string, cause: unknown) => Error,
  keep: (error: unknown) => boolean = () => false,
): T {
  const realNow = Date.now;
  Date.now = () => timeMs;
  try {
    return fn();
  } catch (error) {
    if (keep(error)) throw error;
    throw wrap(hdf5Diagnostic(error), error);
  } finally {
    Date.now = realNow;
  }
}

let cachedVersion: string | undefined;
/** The HDF5 version compiled into h5wasm (it has no API for it; the library banner is in its bundle). */
export function hdf5LibraryVersion(): string {
  if (cachedVersion) return cachedVersion;
  try {
    const util = join(dirname(fileURLToPath(import.meta.resolve('h5wasm/node'))), 'hdf5_util.js');
    const match = /HDF5 library version: (\d+\.\d+\.\d+)/.exec(readFileSync(util, 'latin1'));
    cachedVersion = match?.[1] ?? 'unknown';
  } catch {
    cachedVersion = 'unknown';
  }
  return cachedVersion;
}

/**
 * HDF5's own words from an error stack: the API call that failed (the stack's first entry) and, when
 * the deepest entry names a system error (`No space left on device`), that error; else the deepest
 * entry. One line.
 */
export function hdf5Message(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const entries = [...text.matchAll(/#\d+: .*? in (\w+\(\)): (.*)/g)].map((m) => `${m[1]}: ${m[2]!.trim()}`);
  const system = /error message = '([^']*)'/.exec(text)?.[1];
  if (entries.length === 0) return hdf5Diagnostic(error);
  const first = entries[0]!;
  const deepest = system ? `${entries[entries.length - 1]!.replace(/:? ?,? ?time = .*$/, '')} (${system})` : entries[entries.length - 1]!;
  return entries.length === 1 ? first : `${first} … ${deepest}`;
}

/** A status below zero returned by an h5wasm call (HDF5's `herr_t`/`hid_t` failure). */
export class Hdf5StatusError extends Error {
  override name = 'Hdf5StatusError';
}

/** What a checked HDF5 call is about: the file, the object (dataset, group, link) and the action. */
export interface Hdf5CallContext {
  /** Local path of the HDF5 file. */
  file: string;
  /** HDF5 path of the dataset, group or link concerned (absent for file-level calls). */
  object?: string;
  /** What the call does, as a phrase: `write points [0, 1000)`, `close the file`. */
  what: string;
  /** Object times are pinned to this instant (see atFixedTime). */
  timeMs: number;
}

let throwingDepth = 0;

/**
 * Runs synchronous h5wasm writing calls with the clock pinned (atFixedTime) and HDF5's error stack
 * turned into an exception at the call that fails; statuses returned by the helpers below are
 * checked. Any failure becomes `wrap(message, cause)`, where the message names the action, the
 * object, the file and HDF5's message; errors `keep` accepts pass through unchanged.
 */
export function checkedHdf5<T>(
  context: Hdf5CallContext,
  fn: () => T,
  wrap: (message: string, cause: unknown) => Error,
  keep: (error: unknown) => boolean = () => false,
): T {
  const module = moduleOf();
  const realNow = Date.now;
  Date.now = () => context.timeMs;
  if (throwingDepth++ === 0) module.activate_throwing_error_handler();
  try {
    return fn();
  } catch (error) {
    if (keep(error)) throw error;
    const object = context.object ? ` ${context.object}` : '';
    throw wrap(`HDF5 could not ${context.what}${object ? ` (${object.trim()})` : ''} in ${context.file}: ${hdf5Message(error)}`, error);
  } finally {
    if (--throwingDepth === 0) module.deactivate_throwing_error_handler();
    Date.now = realNow;
  }
}

function checkStatus(status: unknown, call: string): void {
  if (typeof status === 'number' && status < 0) throw new Hdf5StatusError(`${call} returned status ${status}`);
}

/** Numeric typed arrays the writers hand to HDF5. */
export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/**
 * Writes `data` (elements already in the dataset's type, little-endian) to the hyperslab `ranges` of
 * a dataset (`[start, stop)` per dimension; `[]` = the whole dimension), checking H5Dwrite's status.
 * One copy into the wasm heap (h5wasm's write_slice makes two and drops the status).
 */
export function writeRows(dataset: Dataset, ranges: readonly (readonly [number, number] | readonly [])[], data: NumericArray): void {
  const module = moduleOf();
  const shape = dataset.shape;
  if (!shape) throw new Hdf5StatusError(`${dataset.path} has no shape`);
  const offset = shape.map((_, i) => BigInt(ranges[i]?.[0] ?? 0));
  const count = shape.map((n, i) => BigInt((ranges[i]?.[1] ?? n) - (ranges[i]?.[0] ?? 0)));
  const elements = count.reduce((a, b) => a * b, 1n);
  if (BigInt(data.length) !== elements)
    throw new Hdf5StatusError(`${dataset.path}: ${data.length} elements for a selection of ${elements}`);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const pointer = module._malloc(Math.max(bytes.byteLength, 1));
  if (pointer === 0) throw new Hdf5StatusError(`wasm heap: cannot allocate ${bytes.byteLength} bytes`);
  try {
    module.HEAPU8.set(bytes, pointer);
    checkStatus(
      module.set_dataset_data(
        dataset.file_id,
        dataset.path,
        count,
        offset,
        count.map(() => 1n),
        BigInt(pointer),
      ),
      'H5Dwrite',
    );
  } finally {
    module._free(pointer);
  }
}

/**
 * Reads a selection of a dataset (`ranges` per dimension, as writeRows; a missing or empty range is
 * the whole dimension) into the wasm heap and hands `use` a view of those bytes, with no copy out of
 * the heap (the read-back check hashes it). The view is valid during `use` only. H5Dread's status
 * is checked. (h5wasm's `slice` copies every read twice into fresh arrays: on a 1.6 GB read-back that
 * was 1.6 GB of new ArrayBuffers to fault in and zero, the cold write's system time; issue 17 item 6.)
 */
export function withRows<T>(
  dataset: Dataset,
  ranges: readonly (readonly [number, number] | readonly [])[],
  use: (bytes: Uint8Array) => T,
): T {
  const module = moduleOf();
  const shape = dataset.shape;
  if (!shape) throw new Hdf5StatusError(`${dataset.path} has no shape`);
  const offset = shape.map((_, i) => BigInt(ranges[i]?.[0] ?? 0));
  const count = shape.map((n, i) => BigInt((ranges[i]?.[1] ?? n) - (ranges[i]?.[0] ?? 0)));
  const bytes = Number(count.reduce((a, b) => a * b, 1n)) * dataset.metadata.size;
  const pointer = module._malloc(Math.max(bytes, 1));
  if (pointer === 0) throw new Hdf5StatusError(`wasm heap: cannot allocate ${bytes} bytes`);
  try {
    checkStatus(
      module.get_dataset_data(
        dataset.file_id,
        dataset.path,
        count,
        offset,
        count.map(() => 1n),
        BigInt(pointer),
      ),
      'H5Dread',
    );
    return use(module.HEAPU8.subarray(pointer, pointer + bytes));
  } finally {
    module._free(pointer);
  }
}

/** Sets a dataset's extent (H5Dset_extent), checking the status. */
export function resizeTo(dataset: Dataset, shape: readonly number[]): void {
  checkStatus(dataset.resize([...shape]), 'H5Dset_extent');
}

/** Creates a group below `parent` and returns it (h5wasm returns no status: the group must exist afterwards). */
export function createGroupAt(parent: Group, name: string): Group {
  const group = parent.create_group(name);
  if (!group || group.type !== 'Group') throw new Hdf5StatusError(`H5Gcreate2 did not create ${parent.path}/${name}`);
  return group;
}

/** Creates a dataset below `parent` and returns it (h5wasm returns no status: the dataset must exist afterwards). */
export function createDatasetAt(parent: Group, args: Parameters<Group['create_dataset']>[0]): Dataset {
  const dataset = parent.create_dataset(args);
  if (!dataset || dataset.type !== 'Dataset') throw new Hdf5StatusError(`H5Dcreate2 did not create ${parent.path}/${args.name}`);
  return dataset;
}

/** H5Lcreate_soft, status checked. */
export function softLink(parent: Group, target: string, name: string): void {
  checkStatus(parent.create_soft_link(target, name), 'H5Lcreate_soft');
}

/** H5Lcreate_external, status checked. */
export function externalLink(parent: Group, file: string, target: string, name: string): void {
  checkStatus(parent.create_external_link(file, target, name), 'H5Lcreate_external');
}

/** H5Fflush of the whole file, status checked (h5wasm's File.flush drops it). */
export function flushFile(file: H5File): void {
  checkStatus(moduleOf().flush(file.file_id), 'H5Fflush');
}

/** Flushes then closes a file (H5Fflush, H5Fclose), both statuses checked. */
export function closeFile(file: H5File): void {
  flushFile(file);
  checkStatus(file.close(), 'H5Fclose');
}

/**
 * Reads rows [start, stop) of a dataset (all of its other dimensions) into a fresh byte array: one
 * copy out of the wasm heap (h5wasm's `slice` makes two and drops H5Dread's status, checked here).
 */
export function readRows(dataset: Dataset, start: number, stop: number, elementBytes: number): Uint8Array {
  const module = moduleOf();
  const shape = dataset.shape;
  if (!shape || shape.length === 0) throw new Hdf5StatusError(`${dataset.path} has no rows`);
  const offset = shape.map((_, i) => BigInt(i === 0 ? start : 0));
  const count = shape.map((n, i) => BigInt(i === 0 ? stop - start : n));
  const bytes = Number(count.reduce((a, b) => a * b, 1n)) * elementBytes;
  const pointer = module._malloc(Math.max(bytes, 1));
  if (pointer === 0) throw new Hdf5StatusError(`wasm heap: cannot allocate ${bytes} bytes`);
  try {
    checkStatus(
      module.get_dataset_data(
        dataset.file_id,
        dataset.path,
        count,
        offset,
        count.map(() => 1n),
        BigInt(pointer),
      ),
      'H5Dread',
    );
    return module.HEAPU8.slice(pointer, pointer + bytes);
  } finally {
    module._free(pointer);
  }
}
