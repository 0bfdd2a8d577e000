/**
 * Builds the index of an HDF5 file on local disk (src/core/file-index/model.ts): names, dtypes,
 * shapes, filters and attributes from h5wasm (through h5wasm-runtime.ts, the one module that
 * imports it), byte locations from the file's own structures (src/core/file-index/hdf5-storage-map.ts:
 * h5wasm 0.10 has no H5Dget_offset / H5Dget_chunk_info).
 */
import { open } from 'node:fs/promises';
import { ArchiveError } from '../core/errors.js';
import { readStorageMap, type ByteSource, type StorageEntry } from '../core/file-index/hdf5-storage-map.js';
import {
  FILE_INDEX_FORMAT,
  FILE_INDEX_VERSION,
  INLINE_VALUE_BYTES,
  type FileIndex,
  type IndexAttribute,
  type IndexDtype,
  type IndexEntry,
  type IndexStorage,
} from '../core/file-index/model.js';
import type { ScanFileIndexer } from '../core/archive/ports.js';
import { hdf5Diagnostic, loadH5wasm, openHdf5File, type Dataset, type Group, type H5File } from './h5wasm-runtime.js';

export class FileIndexError extends ArchiveError {
  override name = 'FileIndexError';
}

interface H5Metadata {
  type: number;
  size: number;
  littleEndian: boolean;
  signed: boolean;
  vlen: boolean;
  cset?: number;
  shape: number[] | null;
  maxshape: number[] | null;
}

const CLASSES = ['integer', 'float', 'time', 'string', 'bitfield', 'opaque', 'compound', 'reference', 'enum', 'vlen', 'array'];

function dtypeOf(m: H5Metadata): IndexDtype {
  const cls = CLASSES[m.type] ?? `class-${m.type}`;
  const order = m.littleEndian ? '<' : '>';
  const code =
    cls === 'float'
      ? `${order}f${m.size}`
      : cls === 'integer'
        ? `${order}${m.signed ? 'i' : 'u'}${m.size}`
        : cls === 'string'
          ? m.vlen
            ? 'O'
            : `|S${m.size}`
          : `|V${m.size}`;
  return {
    class: cls,
    code,
    size: m.size,
    littleEndian: m.littleEndian,
    ...(cls === 'integer' ? { signed: m.signed } : {}),
    ...(m.vlen ? { vlen: true } : {}),
    ...(cls === 'string' ? { charset: m.cset === 1 ? 'utf-8' : 'ascii' } : {}),
  };
}

function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<unknown>, jsonSafe);
  if (Array.isArray(value)) return value.map(jsonSafe);
  return value;
}

function attributesOf(object: Group | Dataset): Record<string, IndexAttribute> {
  const out: Record<string, IndexAttribute> = {};
  for (const [name, attr] of Object.entries(object.attrs)) {
    const metadata = attr.metadata as unknown as H5Metadata;
    out[name] = { dtype: dtypeOf(metadata), shape: metadata.shape, value: jsonSafe(attr.json_value) };
  }
  return out;
}

function storageOf(entry: StorageEntry, path: string): IndexStorage {
  if (entry.kind !== 'dataset') throw new FileIndexError(`${path} is a dataset for h5wasm but a ${entry.kind} in the file's structures`);
  const s = entry.storage;
  if (s.layout !== 'chunked') return s;
  return { layout: 'chunked', chunkShape: s.chunkShape, chunks: s.chunks.map((c) => [c.address, c.bytes, c.filterMask, ...c.offset]) };
}

function fileSource(handle: Awaited<ReturnType<typeof open>>): ByteSource {
  return {
    async read(offset, length) {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    },
  };
}

/** Indexes a local HDF5 file. `file` (size, sha256) is what the index says it describes. */
export async function indexHdf5File(path: string, file: { bytes: number; sha256: string; etag?: string | undefined }): Promise<FileIndex> {
  const handle = await open(path, 'r');
  let map;
  try {
    map = await readStorageMap(fileSource(handle));
  } finally {
    await handle.close();
  }
  await loadH5wasm();
  let h5: H5File | undefined;
  const entries: Record<string, IndexEntry> = {};
  try {
    h5 = openHdf5File(path, 'r');
    for (const [name, located] of map.entries) {
      if (located.kind === 'soft-link' || located.kind === 'external-link' || located.kind === 'hard-link' || located.kind === 'datatype') {
        entries[name] = located;
        continue;
      }
      const object = name === '/' ? h5 : h5.get(name);
      if (located.kind === 'group') {
        if (!object || !('keys' in object))
          throw new FileIndexError(`${name} is a group in the file's structures but not for h5wasm`, { key: name });
        // The links read from the file's structures are the ones HDF5 itself lists: nothing missed, nothing invented.
        const listed = [...(object as Group).keys()].sort();
        if (listed.join('\0') !== [...located.children].sort().join('\0')) {
          throw new FileIndexError(
            `group ${name}: the file's structures list ${located.children.length} links, HDF5 lists ${listed.length}`,
            { key: name },
          );
        }
        entries[name] = { kind: 'group', children: located.children, attributes: attributesOf(object as Group) };
        continue;
      }
      if (!object || !('shape' in object))
        throw new FileIndexError(`${name} is a dataset in the file's structures but not for h5wasm`, { key: name });
      const dataset = object as Dataset;
      const metadata = dataset.metadata as unknown as H5Metadata;
      const storage = storageOf(located, name);
      const dtype = dtypeOf(metadata);
      const storedBytes = storage.layout === 'chunked' ? storage.chunks.reduce((n, c) => n + c[1], 0) : storage.bytes;
      const inline = dtype.class === 'string' || storedBytes <= INLINE_VALUE_BYTES;
      entries[name] = {
        kind: 'dataset',
        dtype,
        shape: metadata.shape,
        maxshape: metadata.maxshape,
        filters: dataset.filters.map((f) => ({ id: f.id, name: f.name, cdValues: [...f.cd_values] })),
        storage,
        attributes: attributesOf(dataset),
        ...(inline ? { value: jsonSafe(dataset.json_value) } : {}),
      };
    }
  } catch (error) {
    if (error instanceof ArchiveError) throw error;
    throw new FileIndexError(`h5wasm could not read ${path} for its index: ${hdf5Diagnostic(error)}`, { key: path }, { cause: error });
  } finally {
    h5?.close();
  }
  return {
    format: FILE_INDEX_FORMAT,
    version: FILE_INDEX_VERSION,
    file: { bytes: file.bytes, sha256: file.sha256, ...(file.etag ? { etag: file.etag } : {}) },
    hdf5: { superblockVersion: map.superblockVersion },
    entries,
  };
}

/** The scan writer's indexer (port ScanFileIndexer): the index as the JSON bytes to store. */
export const h5wasmFileIndexer: ScanFileIndexer = {
  async index(path, file) {
    return new TextEncoder().encode(JSON.stringify(await indexHdf5File(path, file)));
  },
};
