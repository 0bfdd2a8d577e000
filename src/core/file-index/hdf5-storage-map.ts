/**
 * Where every dataset's bytes are in an HDF5 file: the chunk index (B-tree v1, or the single chunk
 * of a layout v4 message), the address and size of contiguous data, the offset of compact data.
 *
 * h5wasm 0.10 does not expose H5Dget_offset or H5Dget_chunk_info, so this reads the few on-disk
 * structures needed for it, following the HDF5 File Format Specification (version 3.0):
 * superblock (v0-v3), object headers (v1 and v2, with continuation blocks), groups (symbol table:
 * B-tree v1 type 0 + local heap + symbol nodes; or compact link messages), the data layout message
 * (v3; v4 with a single-chunk index) and chunk B-trees v1 (type 1). Anything else — dense link
 * storage (fractal heap), fixed/extensible array or B-tree v2 chunk indexes, virtual datasets — is
 * reported with `UnsupportedHdf5StructureError` naming the object, never guessed.
 * The data layout message and the chunk index it points to are read by hdf5-data-layout.ts.
 *
 * Pure: it reads through `ByteSource` (a local file in the scan writer, a buffer in tests).
 */
import {
  Cursor,
  Hdf5FormatError,
  MSG,
  SIGNATURE,
  UNDEFINED,
  UnsupportedHdf5StructureError,
  type ByteSource,
  type Message,
  type StorageEntry,
  type StorageMap,
} from './hdf5-format.js';
import { readDataLayout, type StructureAt } from './hdf5-data-layout.js';

export {
  Hdf5FormatError,
  UnsupportedHdf5StructureError,
  type ByteSource,
  type DataStorage,
  type StorageEntry,
  type StorageMap,
  type StoredChunk,
} from './hdf5-format.js';

export async function readStorageMap(source: ByteSource): Promise<StorageMap> {
  const reader = new StructureReader(source);
  return reader.read();
}

class StructureReader {
  private sizes = { offset: 8, length: 8 };
  private base = 0;
  private readonly entries = new Map<string, StorageEntry>();
  private readonly seen = new Map<number, string>();

  constructor(private readonly source: ByteSource) {}

  private async at(address: number, length: number): Promise<Cursor> {
    return new Cursor(await this.source.read(this.base + address, length), this.sizes, this.base + address);
  }

  /** What the data layout reader (hdf5-data-layout.ts) reads through: the file's sizes, once the superblock has set them. */
  private structureAt(): StructureAt {
    return { sizes: this.sizes, at: (address, length) => this.at(address, length) };
  }

  async read(): Promise<StorageMap> {
    const { version, root } = await this.superblock();
    await this.walk('/', root);
    return { superblockVersion: version, entries: this.entries };
  }

  private async superblock(): Promise<{ version: number; root: number }> {
    for (let at = 0; at < 2 ** 40; at = at === 0 ? 512 : at * 2) {
      const head = await this.source.read(at, 8);
      if (head.byteLength < 8) break;
      if (!SIGNATURE.every((b, i) => head[i] === b)) continue;
      const c = new Cursor(await this.source.read(at, 128), this.sizes, at);
      c.skip(8);
      const version = c.u8();
      if (version === 0 || version === 1) {
        c.skip(4); // free-space, root group symbol table, reserved, shared header versions
        this.sizes = { offset: c.u8(), length: c.u8() };
        c.skip(1);
        c.skip(4); // group leaf/internal node K
        c.skip(4); // consistency flags
        if (version === 1) c.skip(4); // indexed storage internal node K + reserved
        const sb = new Cursor(c.bytes.subarray(c.pos), this.sizes, at + c.pos);
        this.base = sb.addr();
        sb.addr();
        sb.addr();
        sb.addr(); // free space, end of file, driver information
        sb.addr(); // root entry: link name offset
        return { version, root: sb.addr() };
      }
      if (version === 2 || version === 3) {
        this.sizes = { offset: c.u8(), length: c.u8() };
        c.skip(1); // flags
        const sb = new Cursor(c.bytes.subarray(c.pos), this.sizes, at + c.pos);
        this.base = sb.addr();
        sb.addr();
        sb.addr(); // superblock extension, end of file
        return { version, root: sb.addr() };
      }
      throw new UnsupportedHdf5StructureError(`superblock version ${version} is not supported`);
    }
    throw new Hdf5FormatError('no HDF5 superblock found (not an HDF5 file)');
  }

  private async walk(path: string, address: number): Promise<void> {
    const earlier = this.seen.get(address);
    if (earlier !== undefined) {
      this.entries.set(path, { kind: 'hard-link', target: earlier });
      return;
    }
    this.seen.set(address, path);
    const messages = await this.objectHeader(address, path);
    const layout = messages.find((m) => m.type === MSG.Layout);
    if (layout) {
      this.entries.set(path, { kind: 'dataset', storage: await readDataLayout(this.structureAt(), layout, path) });
      return;
    }
    const symbolTable = messages.find((m) => m.type === MSG.SymbolTable);
    const links: { name: string; entry: { hard: number } | StorageEntry }[] = [];
    if (symbolTable) {
      links.push(...(await this.symbolTableLinks(symbolTable, path)));
    } else {
      const info = messages.find((m) => m.type === MSG.LinkInfo);
      const heap = info ? this.denseLinkHeap(info) : UNDEFINED;
      if (heap !== UNDEFINED) {
        for (const m of await this.fractalHeapObjects(heap, path)) links.push(this.link(m, path));
      }
      for (const m of messages.filter((x) => x.type === MSG.Link)) links.push(this.link(m, path));
      if (!info && links.length === 0 && messages.some((m) => m.type === MSG.Datatype)) {
        this.entries.set(path, { kind: 'datatype' });
        return;
      }
    }
    links.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.entries.set(path, { kind: 'group', children: links.map((l) => l.name) });
    for (const { name, entry } of links) {
      const child = path === '/' ? `/${name}` : `${path}/${name}`;
      if ('hard' in entry) await this.walk(child, entry.hard);
      else this.entries.set(child, entry);
    }
  }

  /** The messages of an object header (v1 or v2), continuation blocks followed. */
  private async objectHeader(address: number, path: string): Promise<Message[]> {
    const probe = await this.at(address, 16);
    const messages: Message[] = [];
    const blocks: { address: number; length: number }[] = [];
    let v2 = false;
    let creationOrder = false;
    if (probe.tag(4) === 'OHDR') {
      v2 = true;
      const c = await this.at(address, 32);
      c.skip(4);
      const version = c.u8();
      if (version !== 2) throw new Hdf5FormatError(`object header of ${path} has version ${version}`);
      const flags = c.u8();
      creationOrder = (flags & 0x04) !== 0;
      if (flags & 0x20) c.skip(16);
      if (flags & 0x10) c.skip(4);
      const chunkSize = c.uint(1 << (flags & 0x03));
      blocks.push({ address: address + c.pos, length: chunkSize });
    } else {
      const c = await this.at(address, 16);
      const version = c.u8();
      if (version !== 1) throw new UnsupportedHdf5StructureError(`object header of ${path} has version ${version}`);
      c.skip(1);
      c.u16();
      c.u32();
      const size = c.u32();
      blocks.push({ address: address + 16, length: size });
    }
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i]!;
      const c = await this.at(block.address, block.length);
      let end = block.length;
      if (v2 && i > 0) {
        // A continuation block carries its signature and checksum inside its length; chunk 0's size excludes them.
        if (c.tag(4) !== 'OCHK') throw new Hdf5FormatError(`continuation block of ${path} at ${block.address} has no OCHK signature`);
        end -= 4;
      }
      const headerBytes = v2 ? 4 + (creationOrder ? 2 : 0) : 8;
      while (c.pos + headerBytes <= end) {
        let type: number;
        let size: number;
        if (v2) {
          type = c.u8();
          size = c.u16();
          c.u8();
          if (creationOrder) c.u16();
        } else {
          type = c.u16();
          size = c.u16();
          c.u8();
          c.skip(3);
        }
        const at = c.pos;
        if (at + size > end) throw new Hdf5FormatError(`message ${type} of ${path} runs past its header block`);
        const data = c.bytes.subarray(at, at + size);
        c.pos = at + size;
        if (type === MSG.Continuation) {
          const cc = new Cursor(data, this.sizes, block.address + at);
          blocks.push({ address: cc.addr(), length: cc.len() });
        } else if (type !== 0) {
          messages.push({ type, data, address: block.address + at });
        }
      }
    }
    return messages;
  }

  private async symbolTableLinks(message: Message, path: string): Promise<{ name: string; entry: { hard: number } | StorageEntry }[]> {
    const c = new Cursor(message.data, this.sizes, message.address);
    const btree = c.addr();
    const heap = await this.localHeap(c.addr(), path);
    const nodes: number[] = [];
    await this.groupBtree(btree, nodes, path);
    const links: { name: string; entry: { hard: number } | StorageEntry }[] = [];
    for (const node of nodes) {
      const head = await this.at(node, 8);
      if (head.tag(4) !== 'SNOD') throw new Hdf5FormatError(`symbol table node of ${path} at ${node} has no SNOD signature`);
      head.skip(2);
      const count = head.u16();
      const entryBytes = 2 * this.sizes.offset + 24;
      const c2 = await this.at(node + 8, count * entryBytes);
      for (let i = 0; i < count; i++) {
        const name = heap(c2.len());
        const header = c2.addr();
        const cacheType = c2.u32();
        c2.skip(4);
        const scratch = c2.pos;
        c2.skip(16);
        if (cacheType === 2) {
          const sc = new Cursor(c2.bytes.subarray(scratch, scratch + 4), this.sizes);
          links.push({ name, entry: { kind: 'soft-link', target: heap(sc.u32()) } });
        } else {
          links.push({ name, entry: { hard: header } });
        }
      }
    }
    return links;
  }

  private async groupBtree(address: number, out: number[], path: string): Promise<void> {
    if (address === UNDEFINED) return;
    const head = await this.at(address, 8 + 2 * this.sizes.offset);
    if (head.tag(4) !== 'TREE') throw new Hdf5FormatError(`group B-tree node of ${path} at ${address} has no TREE signature`);
    if (head.u8() !== 0) throw new Hdf5FormatError(`group B-tree node of ${path} at ${address} is not of type 0`);
    const level = head.u8();
    const used = head.u16();
    const c = await this.at(address + head.pos + 2 * this.sizes.offset, (used + 1) * this.sizes.length + used * this.sizes.offset);
    for (let i = 0; i < used; i++) {
      c.len();
      const child = c.addr();
      if (level === 0) out.push(child);
      else await this.groupBtree(child, out, path);
    }
  }

  private async localHeap(address: number, path: string): Promise<(offset: number) => string> {
    const c = await this.at(address, 8 + 2 * this.sizes.length + this.sizes.offset);
    if (c.tag(4) !== 'HEAP') throw new Hdf5FormatError(`local heap of ${path} at ${address} has no HEAP signature`);
    c.skip(4);
    const size = c.len();
    c.len();
    const data = await this.source.read(this.base + c.addr(), size);
    return (offset) => {
      const end = data.indexOf(0, offset);
      return new TextDecoder().decode(data.subarray(offset, end < 0 ? data.byteLength : end));
    };
  }

  /** The fractal heap holding a group's links when it stores them densely (UNDEFINED: compact, in link messages). */
  private denseLinkHeap(message: Message): number {
    const c = new Cursor(message.data, this.sizes, message.address);
    c.u8();
    const flags = c.u8();
    if (flags & 0x01) c.skip(8);
    return c.addr();
  }

  /**
   * The objects (link messages) of a fractal heap, read in order from its direct blocks. Archive
   * files are written once, never edited, so objects are packed from the start of each block and
   * unused space is zero; the count is checked against the heap header's number of managed objects.
   */
  private async fractalHeapObjects(address: number, path: string): Promise<Message[]> {
    const o = this.sizes.offset;
    const l = this.sizes.length;
    const h = await this.at(address, 4 + 1 + 2 + 2 + 1 + 4 + 12 * l + 3 * o + 2 + 2 + 2 + 2 + o + 2 + 64);
    if (h.tag(4) !== 'FRHP') throw new Hdf5FormatError(`fractal heap of ${path} at ${address} has no FRHP signature`);
    h.u8();
    h.u16(); // heap ID length
    const filtersLength = h.u16();
    const flags = h.u8();
    h.u32(); // max managed object size
    h.len();
    h.addr();
    h.len();
    h.addr();
    h.len();
    h.len();
    h.len();
    const objects = h.len();
    h.len();
    const huge = h.len();
    h.len();
    const tiny = h.len();
    const width = h.u16();
    const startBlock = h.len();
    const maxDirectBlock = h.len();
    const maxHeapBits = h.u16();
    h.u16(); // starting rows
    const root = h.addr();
    const rows = h.u16();
    if (filtersLength > 0 || huge > 0 || tiny > 0)
      throw new UnsupportedHdf5StructureError(
        `group ${path} keeps links in a fractal heap with filters, huge or tiny objects, which the file index does not read`,
      );
    const offsetBytes = Math.ceil(maxHeapBits / 8);
    const directHeader = 5 + o + offsetBytes + (flags & 0x02 ? 4 : 0);
    const blocks: { address: number; size: number }[] = [];
    if (root === UNDEFINED) return [];
    if (rows === 0) {
      blocks.push({ address: root, size: startBlock });
    } else {
      const maxDirectRows = Math.log2(maxDirectBlock) - Math.log2(startBlock) + 2;
      if (rows > maxDirectRows)
        throw new UnsupportedHdf5StructureError(`group ${path} has more links than one level of fractal heap blocks holds`);
      const ib = await this.at(root, 5 + o + offsetBytes + rows * width * o);
      if (ib.tag(4) !== 'FHIB') throw new Hdf5FormatError(`fractal heap indirect block of ${path} at ${root} has no FHIB signature`);
      ib.skip(1 + o + offsetBytes);
      for (let r = 0; r < rows; r++) {
        const size = startBlock * (r < 2 ? 1 : 2 ** (r - 1));
        for (let w = 0; w < width; w++) {
          const child = ib.addr();
          if (child !== UNDEFINED) blocks.push({ address: child, size });
        }
      }
    }
    const out: Message[] = [];
    for (const block of blocks) {
      const c = await this.at(block.address, block.size);
      if (c.tag(4) !== 'FHDB') throw new Hdf5FormatError(`fractal heap direct block of ${path} at ${block.address} has no FHDB signature`);
      c.pos = directHeader;
      while (out.length < objects && c.pos < block.size && c.bytes[c.pos] === 1) {
        const start = c.pos;
        this.link({ type: MSG.Link, data: c.bytes.subarray(start), address: block.address + start }, path, c);
        out.push({ type: MSG.Link, data: c.bytes.subarray(start, c.pos), address: block.address + start });
      }
    }
    if (out.length !== objects)
      throw new Hdf5FormatError(`group ${path}: read ${out.length} links from its fractal heap, its header says ${objects}`);
    return out;
  }

  /** Decodes a link message; `cursor`, when given, is left after the message (links packed in a heap block). */
  private link(message: Message, path: string, cursor?: Cursor): { name: string; entry: { hard: number } | StorageEntry } {
    const c = cursor ?? new Cursor(message.data, this.sizes, message.address);
    c.u8();
    const flags = c.u8();
    const type = flags & 0x08 ? c.u8() : 0;
    if (flags & 0x04) c.skip(8);
    if (flags & 0x10) c.u8();
    const nameLength = c.uint(1 << (flags & 0x03));
    const name = c.text(nameLength);
    if (type === 0) return { name, entry: { hard: c.addr() } };
    if (type === 1) return { name, entry: { kind: 'soft-link', target: c.text(c.u16()) } };
    if (type === 64) {
      const length = c.u16();
      const value = new Cursor(c.bytes.subarray(c.pos, c.pos + length), this.sizes);
      c.skip(length);
      value.u8(); // version and flags
      const file = value.cstring();
      return { name, entry: { kind: 'external-link', file, target: value.cstring() } };
    }
    throw new UnsupportedHdf5StructureError(`link ${name} of ${path} has link type ${type}`);
  }
}
