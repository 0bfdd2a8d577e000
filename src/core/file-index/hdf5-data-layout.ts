/**
 * Where one dataset's bytes are, from its data layout message: the offset of compact data, the
 * address and size of contiguous data, or the chunk index (B-tree v1 type 1, or the single chunk of
 * a layout v4 message). Other chunk indexes and virtual datasets are reported with
 * `UnsupportedHdf5StructureError`, never guessed. The object headers, groups and links that lead to
 * the dataset are walked by hdf5-storage-map.ts, which calls this for every dataset it meets.
 */
import {
  Cursor,
  Hdf5FormatError,
  UNDEFINED,
  UnsupportedHdf5StructureError,
  type DataStorage,
  type Message,
  type StoredChunk,
} from './hdf5-format.js';

/** Reads `length` bytes at a file address (relative to the superblock's base address), with the file's sizes of offsets and lengths. */
export interface StructureAt {
  readonly sizes: { offset: number; length: number };
  at(address: number, length: number): Promise<Cursor>;
}

export async function readDataLayout(reader: StructureAt, message: Message, path: string): Promise<DataStorage> {
  const c = new Cursor(message.data, reader.sizes, message.address);
  const version = c.u8();
  if (version !== 3 && version !== 4)
    throw new UnsupportedHdf5StructureError(`data layout message version ${version} of ${path} is not supported`);
  const layoutClass = c.u8();
  if (layoutClass === 0) {
    const bytes = c.u16();
    return { layout: 'compact', address: message.address + c.pos, bytes };
  }
  if (layoutClass === 1) {
    const address = c.addr();
    const bytes = c.len();
    return { layout: 'contiguous', address: address === UNDEFINED ? null : address, bytes };
  }
  if (layoutClass !== 2)
    throw new UnsupportedHdf5StructureError(`${path} has data layout class ${layoutClass} (virtual datasets are not indexed)`);
  if (version === 3) {
    const dimensionality = c.u8();
    const btree = c.addr();
    const dims = Array.from({ length: dimensionality }, () => c.u32());
    const chunkShape = dims.slice(0, -1);
    const chunks: StoredChunk[] = [];
    if (btree !== UNDEFINED) await chunkBtree(reader, btree, dimensionality, chunks, path);
    chunks.sort((a, b) => compareCoordinates(a.offset, b.offset));
    return { layout: 'chunked', chunkShape, chunks };
  }
  const flags = c.u8();
  const dimensionality = c.u8();
  const encoded = c.u8();
  const dims = Array.from({ length: dimensionality }, () => c.uint(encoded));
  const indexType = c.u8();
  const chunkShape = dims.slice(0, -1);
  if (indexType === 1) {
    const filtered = (flags & 0x02) !== 0;
    const bytes = filtered ? c.len() : chunkShape.reduce((a, b) => a * b, 1) * (dims[dims.length - 1] ?? 1);
    const filterMask = filtered ? c.u32() : 0;
    const address = c.addr();
    return {
      layout: 'chunked',
      chunkShape,
      chunks: address === UNDEFINED ? [] : [{ offset: chunkShape.map(() => 0), address, bytes, filterMask }],
    };
  }
  const names: Record<number, string> = { 2: 'implicit', 3: 'fixed array', 4: 'extensible array', 5: 'B-tree v2' };
  throw new UnsupportedHdf5StructureError(
    `${path} uses a ${names[indexType] ?? `type ${indexType}`} chunk index, which the file index does not read (files written with the default, earliest file format use B-tree v1)`,
  );
}

async function chunkBtree(reader: StructureAt, address: number, dimensionality: number, out: StoredChunk[], path: string): Promise<void> {
  const head = await reader.at(address, 8 + 2 * reader.sizes.offset);
  if (head.tag(4) !== 'TREE') throw new Hdf5FormatError(`chunk B-tree node of ${path} at ${address} has no TREE signature`);
  const type = head.u8();
  if (type !== 1) throw new Hdf5FormatError(`chunk B-tree node of ${path} at ${address} has type ${type}`);
  const level = head.u8();
  const used = head.u16();
  const keyBytes = 8 + 8 * dimensionality;
  const c = await reader.at(address + head.pos + 2 * reader.sizes.offset, (used + 1) * keyBytes + used * reader.sizes.offset);
  for (let i = 0; i < used; i++) {
    const bytes = c.u32();
    const filterMask = c.u32();
    const offset = Array.from({ length: dimensionality }, () => c.uint(8)).slice(0, -1);
    const child = c.addr();
    if (level === 0) out.push({ offset, address: child, bytes, filterMask });
    else await chunkBtree(reader, child, dimensionality, out, path);
  }
}

function compareCoordinates(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
