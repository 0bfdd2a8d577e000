/**
 * Reads an archived HDF5 file by pieces: its index (`<file>.index.json`, docs/file-index.md) says
 * where every dataset's bytes are, and only the byte ranges a selection needs are fetched (HTTP
 * range requests of the object, e.g. presigned S3 URLs). Runs in the browser (the portal's H5Web
 * provider, web/src/indexed-provider.ts) and in Node (bench/portal-reads.ts): fetch and
 * DecompressionStream only, no HDF5 library.
 */
import type { FileIndex, IndexChunk, IndexDtype, IndexEntry } from '../core/file-index/model.js';
import { IndexedReadError, IndexStaleError, type RangeSource } from './range-source.js';

// The range source, the index check and the errors (range-source.ts), for the reader's importers.
export {
  httpRangeSource,
  IndexedReadError,
  IndexStaleError,
  objectIdentityOf,
  parseFileIndex,
  type ObjectIdentity,
  type RangeSource,
} from './range-source.js';

export type DatasetEntry = Extract<IndexEntry, { kind: 'dataset' }>;
export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** One axis of a selection: a fixed index, or the whole axis. */
type Axis = { index: number } | 'all';

/**
 * H5Web's selection syntax: one item per dimension, `:` for the whole axis or an index (`"3,:"`).
 * No selection: everything.
 */
export function parseSelection(selection: string | undefined, shape: readonly number[]): Axis[] {
  if (!selection) return shape.map(() => 'all');
  const parts = selection.split(',').map((p) => p.trim());
  if (parts.length !== shape.length)
    throw new IndexedReadError(`selection "${selection}" has ${parts.length} items for ${shape.length} dimensions`);
  return parts.map((p, i) => {
    if (p === ':') return 'all';
    if (!/^\d+$/.test(p) || Number(p) >= shape[i]!)
      throw new IndexedReadError(`selection "${selection}": ${p} is not an index of dimension ${i} (size ${shape[i]})`);
    return { index: Number(p) };
  });
}

function arrayFor(dtype: IndexDtype, length: number): NumericArray {
  const key = `${dtype.class}${dtype.size}`;
  switch (key) {
    case 'float4':
      return new Float32Array(length);
    case 'float8':
      return new Float64Array(length);
    case 'integer1':
      return dtype.signed ? new Int8Array(length) : new Uint8Array(length);
    case 'integer2':
      return dtype.signed ? new Int16Array(length) : new Uint16Array(length);
    case 'integer4':
      return dtype.signed ? new Int32Array(length) : new Uint32Array(length);
    case 'integer8':
      return dtype.signed ? new BigInt64Array(length) : new BigUint64Array(length);
    default:
      throw new IndexedReadError(`values of type ${dtype.code} (${dtype.class}) are not read by range (no inline value in the index)`);
  }
}

async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function unshuffle(bytes: Uint8Array, elementSize: number): Uint8Array {
  const count = Math.floor(bytes.byteLength / elementSize);
  const out = new Uint8Array(bytes.byteLength);
  for (let b = 0; b < elementSize; b++) {
    for (let i = 0; i < count; i++) out[i * elementSize + b] = bytes[b * count + i]!;
  }
  out.set(bytes.subarray(count * elementSize), count * elementSize);
  return out;
}

/** Undoes a chunk's filters, last applied first; a filter skipped for this chunk (mask bit set) is left out. */
export async function decodeChunk(bytes: Uint8Array, dataset: DatasetEntry, filterMask: number): Promise<Uint8Array> {
  let data = bytes;
  for (let i = dataset.filters.length - 1; i >= 0; i--) {
    if (filterMask & (1 << i)) continue;
    const filter = dataset.filters[i]!;
    if (filter.id === 1) data = await inflate(data);
    else if (filter.id === 2) data = unshuffle(data, dataset.dtype.size);
    else throw new IndexedReadError(`filter ${filter.name || filter.id} is not decoded by the range reader`);
  }
  return data;
}

/** Little-endian (or swapped big-endian) element bytes → the typed array's element at `to`. */
function copyElements(
  src: Uint8Array,
  srcElement: number,
  dst: Uint8Array,
  dstElement: number,
  count: number,
  size: number,
  swap: boolean,
): void {
  const from = srcElement * size;
  if (!swap) {
    dst.set(src.subarray(from, from + count * size), dstElement * size);
    return;
  }
  for (let e = 0; e < count; e++) {
    for (let b = 0; b < size; b++) dst[(dstElement + e) * size + b] = src[from + e * size + size - 1 - b]!;
  }
}

/**
 * An archived file opened through its index. Every range read is checked against the object it came
 * from: an index left from another version of the file (a re-archive replaced the object, its index
 * was not rewritten) would place reads at the wrong bytes, so a size, ETag or sha256 that is not the
 * one the index records is an error (IndexStaleError), never wrong values.
 */
export class IndexedFile {
  constructor(
    readonly index: FileIndex,
    readonly source: RangeSource,
  ) {}

  /** Reads bytes of the object and checks that the object is the one the index describes. */
  private async bytesAt(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    const bytes = await this.source.read(offset, length, signal);
    const there = this.source.object;
    const want = this.index.file;
    if (there) {
      const differs = [
        there.bytes !== undefined && there.bytes !== want.bytes ? `${there.bytes} bytes, the index describes ${want.bytes}` : undefined,
        there.etag !== undefined && want.etag !== undefined && there.etag !== want.etag
          ? `ETag ${there.etag}, the index describes ${want.etag}`
          : undefined,
        there.sha256 !== undefined && there.sha256 !== want.sha256
          ? `sha256 ${there.sha256}, the index describes ${want.sha256}`
          : undefined,
      ].filter((d): d is string => d !== undefined);
      if (differs.length > 0)
        throw new IndexStaleError(`the file is not the version its index describes (it has ${differs.join('; ')}): read the file whole`);
    }
    return bytes;
  }

  /** The entry at a path, hard links followed. */
  entry(path: string): IndexEntry | undefined {
    const entry = this.index.entries[path];
    return entry?.kind === 'hard-link' ? this.index.entries[entry.target] : entry;
  }

  dataset(path: string): DatasetEntry {
    let entry = this.entry(path);
    for (let hops = 0; entry?.kind === 'soft-link' && hops < 16; hops++) entry = this.entry(entry.target);
    if (!entry || entry.kind !== 'dataset') throw new IndexedReadError(`${path} is not a dataset of this file`);
    return entry;
  }

  /**
   * The values of a selection (H5Web syntax), flattened in C order over its `:` axes: a typed array
   * for numbers read by range, or the index's inline value.
   */
  async read(path: string, selection?: string, signal?: AbortSignal): Promise<unknown> {
    const dataset = this.dataset(path);
    const shape = dataset.shape ?? [];
    const axes = parseSelection(selection, shape);
    if (dataset.value !== undefined) {
      const selected = selectInline(dataset.value, shape, axes);
      if (dataset.dtype.class !== 'float' && dataset.dtype.class !== 'integer') return selected;
      // Numbers come back typed, as from a range read (the index spells NaN and infinities as strings).
      const values = Array.isArray(selected) ? selected : [selected];
      const typed = arrayFor(dataset.dtype, values.length);
      values.forEach((v, i) => {
        typed[i] = (typed instanceof BigInt64Array || typed instanceof BigUint64Array ? BigInt(v as number) : Number(v)) as never;
      });
      return Array.isArray(selected) ? typed : typed[0];
    }
    const outShape = shape.filter((_, i) => axes[i] === 'all');
    const count = outShape.reduce((a, b) => a * b, 1);
    const out = arrayFor(dataset.dtype, count);
    const outBytes = new Uint8Array(out.buffer);
    const size = dataset.dtype.size;
    const swap = !dataset.dtype.littleEndian && size > 1;
    const storage = dataset.storage;
    if (count === 0) return out;
    if (storage.layout === 'chunked') {
      await this.readChunks(dataset, storage.chunkShape, storage.chunks, shape, axes, outShape, outBytes, swap, signal);
    } else if (storage.address !== null) {
      // Contiguous/compact: one range per run of consecutive selected elements, adjacent runs merged.
      const region = boundingBox(shape, axes);
      const first = elementOffset(
        shape,
        region.map((r) => r.start),
      );
      const last = elementOffset(
        shape,
        region.map((r) => r.stop - 1),
      );
      const bytes = await this.bytesAt(storage.address + first * size, (last - first + 1) * size, signal);
      copySelection(
        bytes,
        shape.map(() => 0),
        shape,
        shape,
        axes,
        outShape,
        outBytes,
        size,
        swap,
        first,
      );
    }
    return out;
  }

  private async readChunks(
    dataset: DatasetEntry,
    chunkShape: number[],
    chunks: IndexChunk[],
    shape: number[],
    axes: Axis[],
    outShape: number[],
    out: Uint8Array,
    swap: boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    const region = boundingBox(shape, axes);
    const wanted = chunks.filter((c) => c.slice(3).every((o, i) => o < region[i]!.stop && o + chunkShape[i]! > region[i]!.start));
    // Chunks next to each other in the file are fetched by one request.
    const sorted = [...wanted].sort((a, b) => a[0] - b[0]);
    const groups: IndexChunk[][] = [];
    for (const chunk of sorted) {
      const last = groups[groups.length - 1];
      const end = last ? last[last.length - 1]![0] + last[last.length - 1]![1] : -1;
      if (last && chunk[0] === end && end - last[0]![0] < 16 * 1024 * 1024) last.push(chunk);
      else groups.push([chunk]);
    }
    await Promise.all(
      groups.map(async (group) => {
        const start = group[0]![0];
        const end = group[group.length - 1]![0] + group[group.length - 1]![1];
        const bytes = await this.bytesAt(start, end - start, signal);
        for (const [address, stored, mask, ...origin] of group) {
          const raw = await decodeChunk(bytes.subarray(address - start, address - start + stored), dataset, mask);
          const extent = chunkShape.map((c, i) => Math.min(c, shape[i]! - origin[i]!));
          // Chunks are stored at full chunk shape even at the dataset's edge.
          copySelection(raw, origin, extent, chunkShape, axes, outShape, out, dataset.dtype.size, swap, 0);
        }
      }),
    );
  }
}

function boundingBox(shape: readonly number[], axes: readonly Axis[]): { start: number; stop: number }[] {
  return shape.map((n, i) => {
    const a = axes[i]!;
    return a === 'all' ? { start: 0, stop: n } : { start: a.index, stop: a.index + 1 };
  });
}

function elementOffset(shape: readonly number[], coords: readonly number[]): number {
  let offset = 0;
  for (let i = 0; i < shape.length; i++) offset = offset * shape[i]! + coords[i]!;
  return offset;
}

/**
 * Copies the selected elements of a block (`origin`, `extent`, laid out with `layout` dims, its first
 * element at flat position `base` of that layout) into the output (C order over the `all` axes).
 */
function copySelection(
  block: Uint8Array,
  origin: readonly number[],
  extent: readonly number[],
  layout: readonly number[],
  axes: readonly Axis[],
  outShape: readonly number[],
  out: Uint8Array,
  size: number,
  swap: boolean,
  base: number,
): void {
  const rank = layout.length;
  // Range of block coordinates to visit per dimension (relative to origin).
  const lo: number[] = [];
  const hi: number[] = [];
  for (let i = 0; i < rank; i++) {
    const a = axes[i]!;
    if (a === 'all') {
      lo.push(0);
      hi.push(extent[i]!);
    } else {
      lo.push(a.index - origin[i]!);
      hi.push(a.index - origin[i]! + 1);
    }
  }
  const outDimOf: number[] = []; // for each block dim: index in outShape, or -1
  let k = 0;
  for (let i = 0; i < rank; i++) outDimOf.push(axes[i] === 'all' ? k++ : -1);
  const coords = lo.slice();
  const lastLen = rank === 0 ? 1 : hi[rank - 1]! - lo[rank - 1]!;
  if (rank === 0) {
    copyElements(block, 0, out, 0, 1, size, swap);
    return;
  }
  for (;;) {
    // Flat position in the block's layout, and in the output.
    let src = 0;
    let dst = 0;
    for (let i = 0; i < rank; i++) {
      src = src * layout[i]! + coords[i]!;
      const o = outDimOf[i]!;
      if (o >= 0) dst = dst * outShape[o]! + origin[i]! + coords[i]!;
    }
    copyElements(block, src - base, out, dst, lastLen, size, swap);
    let d = rank - 2;
    while (d >= 0) {
      coords[d]!++;
      if (coords[d]! < hi[d]!) break;
      coords[d] = lo[d]!;
      d--;
    }
    if (d < 0) break;
  }
}

function selectInline(value: unknown, shape: readonly number[], axes: readonly Axis[]): unknown {
  if (shape.length === 0) return value;
  const flat = Array.isArray(value) ? (value as unknown[]).flat(Infinity) : [value];
  if (axes.every((a) => a === 'all')) return flat;
  const out: unknown[] = [];
  const visit = (dim: number, offset: number): void => {
    if (dim === shape.length) {
      out.push(flat[offset]);
      return;
    }
    const a = axes[dim]!;
    const stride = shape.slice(dim + 1).reduce((x, y) => x * y, 1);
    if (a === 'all') for (let i = 0; i < shape[dim]!; i++) visit(dim + 1, offset + i * stride);
    else visit(dim + 1, offset + a.index * stride);
  };
  visit(0, 0);
  return out;
}
