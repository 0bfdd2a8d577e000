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
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import h5wasm from 'h5wasm/node';
import type { Dataset, File as H5File, Group } from 'h5wasm/node';

export type { Dataset, Group, H5File };

/** The loaded wasm module (its heap, its file system). */
export type H5Module = Awaited<typeof h5wasm.ready>;

/** Waits for the wasm module; cheap after the first call (composition roots await it once). */
export function loadH5wasm(): Promise<H5Module> {
  return h5wasm.ready;
}

/** Opens (`r`, `a`) or creates (`w`) an HDF5 file on the local file system. Call inside atFixedTime. */
export function openHdf5File(path: string, mode: 'r' | 'a' | 'w'): H5File {
  return new h5wasm.File(path, mode);
}

/** The first three lines of an HDF5 (or any) error message, on one line. */
export function hdf5Diagnostic(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 3).join(' | ');
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
