/**
 * The index of an archived HDF5 file, written next to it as `<file>.index.json` (docs/file-index.md):
 * everything a viewer needs to show the tree and read any dataset by HTTP range requests of the
 * file, without opening it with an HDF5 library.
 *
 * Chunks are tuples `[address, bytes, filterMask, ...firstElementCoordinates]` (compact: a 10 GB
 * file of 1 MiB chunks has ~10,000 of them). Addresses are absolute byte offsets in the file.
 */
export const FILE_INDEX_FORMAT = 'beamline-archive/hdf5-index';
export const FILE_INDEX_VERSION = 1;

/** The element type, as h5wasm reports it. `class`: integer, float, string, compound, enum, ... */
export interface IndexDtype {
  class: string;
  /** numpy-style code: `<f8`, `<i4`, `>u2`, `S` (string) ... */
  code: string;
  size: number;
  littleEndian: boolean;
  signed?: boolean;
  vlen?: boolean;
  /** Strings: 'ascii' or 'utf-8'. */
  charset?: string;
}

export interface IndexAttribute {
  dtype: IndexDtype;
  /** [] a scalar, null HDF5's null dataspace. */
  shape: number[] | null;
  value: unknown;
}

export interface IndexFilter {
  id: number;
  name: string;
  cdValues: number[];
}

export type IndexChunk = [address: number, bytes: number, filterMask: number, ...offset: number[]];

export type IndexStorage =
  | { layout: 'contiguous'; address: number | null; bytes: number }
  | { layout: 'compact'; address: number; bytes: number }
  | { layout: 'chunked'; chunkShape: number[]; chunks: IndexChunk[] };

export type IndexEntry =
  | { kind: 'group'; children: string[]; attributes: Record<string, IndexAttribute> }
  | {
      kind: 'dataset';
      dtype: IndexDtype;
      /** [] a scalar, null HDF5's null dataspace (no value). */
      shape: number[] | null;
      maxshape: number[] | null;
      filters: IndexFilter[];
      storage: IndexStorage;
      attributes: Record<string, IndexAttribute>;
      /** Strings and small datasets (≤ INLINE_VALUE_BYTES): the value itself, so a viewer needs no read (variable-length strings live in the global heap). */
      value?: unknown;
    }
  | { kind: 'datatype' }
  | { kind: 'soft-link'; target: string }
  | { kind: 'external-link'; file: string; target: string }
  | { kind: 'hard-link'; target: string };

export interface FileIndex {
  format: typeof FILE_INDEX_FORMAT;
  version: typeof FILE_INDEX_VERSION;
  /**
   * The file this index describes: a reader checks it against the object it reads (its size from
   * Content-Range, its ETag, its sha256 metadata): an index left from another version is refused.
   */
  file: { bytes: number; sha256: string; etag?: string };
  hdf5: { superblockVersion: number };
  /** Absolute path → entry, parents before children. */
  entries: Record<string, IndexEntry>;
}

/** Datasets stored in at most this many bytes carry their value in the index. */
export const INLINE_VALUE_BYTES = 4096;
