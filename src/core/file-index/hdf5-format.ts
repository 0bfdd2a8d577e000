/**
 * What the storage map (hdf5-storage-map.ts) reads and gives: its result types and errors, and the
 * little-endian cursor over the on-disk structures of the HDF5 File Format Specification (3.0).
 */
import { ArchiveError } from '../errors.js';

/** Random access to the file's bytes. */
export interface ByteSource {
  read(offset: number, length: number): Promise<Uint8Array>;
}

export class UnsupportedHdf5StructureError extends ArchiveError {
  override name = 'UnsupportedHdf5StructureError';
}

export class Hdf5FormatError extends ArchiveError {
  override name = 'Hdf5FormatError';
}

/** One stored chunk: its first element's coordinates, file address, stored size and filter mask (bit i set: filter i skipped). */
export interface StoredChunk {
  offset: number[];
  address: number;
  bytes: number;
  filterMask: number;
}

export type DataStorage =
  | { layout: 'contiguous'; address: number | null; bytes: number }
  | { layout: 'compact'; address: number; bytes: number }
  | { layout: 'chunked'; chunkShape: number[]; chunks: StoredChunk[] };

export type StorageEntry =
  | { kind: 'group'; children: string[] }
  | { kind: 'dataset'; storage: DataStorage }
  | { kind: 'datatype' }
  | { kind: 'soft-link'; target: string }
  | { kind: 'external-link'; file: string; target: string }
  /** A second name of an object already listed under `target` (HDF5 hard link). */
  | { kind: 'hard-link'; target: string };

export interface StorageMap {
  superblockVersion: number;
  /** Absolute path → entry ("/" is the root group). */
  entries: Map<string, StorageEntry>;
}

export const UNDEFINED = 2 ** 64 - 1;
export const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Little-endian reader over one block of bytes read from the file. */
export class Cursor {
  pos = 0;
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly sizes: { offset: number; length: number },
    readonly base = 0,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number): void {
    if (this.pos + n > this.bytes.byteLength)
      throw new Hdf5FormatError(`truncated structure at file offset ${this.base + this.pos} (need ${n} bytes)`);
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  uint(n: number): number {
    this.need(n);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + this.bytes[this.pos + i]!;
    this.pos += n;
    return v;
  }
  /** An address (sizeof offsets); HDF5's undefined address (all bits set) becomes UNDEFINED. */
  addr(): number {
    const n = this.sizes.offset;
    this.need(n);
    const allOnes = this.bytes.subarray(this.pos, this.pos + n).every((b) => b === 0xff);
    const v = this.uint(n);
    return allOnes ? UNDEFINED : v;
  }
  len(): number {
    return this.uint(this.sizes.length);
  }
  tag(n: number): string {
    this.need(n);
    const s = String.fromCharCode(...this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
  cstring(): string {
    const end = this.bytes.indexOf(0, this.pos);
    if (end < 0) throw new Hdf5FormatError(`unterminated string at file offset ${this.base + this.pos}`);
    const s = new TextDecoder().decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
  text(n: number): string {
    this.need(n);
    const s = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
}

export interface Message {
  type: number;
  data: Uint8Array;
  address: number;
}

export const MSG = { LinkInfo: 0x02, Layout: 0x08, Link: 0x06, Continuation: 0x10, SymbolTable: 0x11, Datatype: 0x03 } as const;
