/**
 * Executes a NeXus plan (src/core/nexus/layout.ts) into an HDF5 file on local disk, with h5wasm
 * (through src/adapters/h5wasm-runtime.ts, the one module that imports it).
 *
 * Determinism: HDF5 stamps object headers with the current time (track_times), which h5wasm
 * does not let us turn off; its wasm runtime reads the clock through `Date.now()`. Every h5wasm
 * call runs synchronously inside `atFileTime`, which pins `Date.now()` to the plan's file time
 * (the run's stop time) for the duration of that call only, so two writes of the same run give
 * the same bytes and the object times say when the scan ended. No other code can observe the
 * pinned clock: nothing else runs during a synchronous call.
 */
import { atFixedTime, hdf5LibraryVersion, loadH5wasm, openHdf5File, type Dataset, type Group, type H5File } from './h5wasm-runtime.js';
import { createHash } from 'node:crypto';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArchiveError } from '../core/errors.js';
import type { ChannelSlice, ScanFileWriter, WrittenScanFile } from '../core/archive/ports.js';
import type { AttrValue, Attrs, NexusPlan, PlanChannel, PlanGridAxis, PlanGridSignal } from '../core/nexus/layout.js';
import { pointBytes, type ElementType } from '../core/nexus/dtypes.js';
import { GridAxisAccumulator, gridSegments } from '../core/nexus/grid.js';
import { rowSlices } from '../core/nexus/writers/channel-writer.js';

/** HDF5 trouble while writing a scan file, with the HDF5 diagnostic as `cause`. */
export class ScanFileWriteError extends ArchiveError {
  override name = 'ScanFileWriteError';
}

type TypedArray = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

/** h5wasm dtype string (struct-style) and typed array of an element type. */
function h5Type(type: ElementType): { dtype: string; view: (buffer: ArrayBuffer) => TypedArray } {
  switch (`${type.kind}${type.size}`) {
    case 'float4': return { dtype: '<f', view: (b) => new Float32Array(b) };
    case 'float8': return { dtype: '<d', view: (b) => new Float64Array(b) };
    case 'int1': return { dtype: '<b', view: (b) => new Int8Array(b) };
    case 'int2': return { dtype: '<h', view: (b) => new Int16Array(b) };
    case 'int4': return { dtype: '<i', view: (b) => new Int32Array(b) };
    case 'int8': return { dtype: '<q', view: (b) => new BigInt64Array(b) };
    case 'uint1': return { dtype: '<B', view: (b) => new Uint8Array(b) };
    case 'uint2': return { dtype: '<H', view: (b) => new Uint16Array(b) };
    case 'uint4': return { dtype: '<I', view: (b) => new Uint32Array(b) };
    case 'uint8': return { dtype: '<Q', view: (b) => new BigUint64Array(b) };
    default: throw new ScanFileWriteError(`no HDF5 type for ${type.numpy}`);
  }
}

export interface H5wasmScanFileWriterOptions {
  /** Where files are written (a fresh folder below it per file); default os.tmpdir(). */
  workDir?: string;
}

export class H5wasmScanFileWriter implements ScanFileWriter {
  readonly hdf5Version: string;
  private readonly workDir: string;
  private readonly module: { HEAPU8: Uint8Array };

  private constructor(options: H5wasmScanFileWriterOptions, module: { HEAPU8: Uint8Array }) {
    this.module = module;
    this.workDir = options.workDir ?? tmpdir();
    this.hdf5Version = hdf5LibraryVersion();
  }

  /** Bytes of the wasm heap (it grows and never shrinks: the writer's memory floor; benchmarks report it). */
  wasmHeapBytes(): number {
    return this.module.HEAPU8.byteLength;
  }

  /** Waits for the wasm module once (composition root). */
  static async create(options: H5wasmScanFileWriterOptions = {}): Promise<H5wasmScanFileWriter> {
    const module = await loadH5wasm();
    return new H5wasmScanFileWriter(options, module);
  }

  async write(plan: NexusPlan, slices: (channel: PlanChannel) => AsyncIterable<ChannelSlice>): Promise<WrittenScanFile> {
    const dir = await mkdtemp(join(this.workDir, 'scan-'));
    const path = join(dir, 'scan.h5');
    const dispose = () => rm(dir, { recursive: true, force: true });
    const time = plan.fileTimeMs;
    let file: H5File | undefined;
    try {
      file = atFileTime(time, path, 'create the file', () => openHdf5File(path, 'w'));
      const root = file;
      const gridSignals = new Map<string, PlanGridSignal[]>();
      const gridAxes = new Map<string, { node: PlanGridAxis; acc: GridAxisAccumulator }[]>();
      atFileTime(time, path, 'lay out groups and attributes', () => {
        setAttrs(root, plan.rootAttrs);
        for (const node of plan.nodes) {
          const { parent, name } = split(node.path);
          const group = root.get(parent) as Group | null;
          if (!group) throw new Error(`parent group ${parent} of ${node.path} does not exist`);
          switch (node.kind) {
            case 'group': setAttrs(group.create_group(name), node.attrs); break;
            case 'text': setAttrs(group.create_dataset({ name, data: node.value }), node.attrs); break;
            case 'number': {
              const data = node.dtype === '<i8' ? new BigInt64Array([BigInt(Math.trunc(node.value))]) : new Float64Array([node.value]);
              setAttrs(group.create_dataset({ name, data, shape: [], dtype: node.dtype === '<i8' ? '<q' : '<d' }), node.attrs);
              break;
            }
            case 'link': group.create_soft_link(node.target, name); break;
            case 'external-link': group.create_external_link(node.file, node.target, name); break; // Lima frames
            case 'channel': {
              // Created empty and extended to the final shape: chunked, never holding the whole channel in memory.
              const [points, ...pointShape] = node.shape;
              const { dtype, view } = h5Type(node.type);
              const dataset = group.create_dataset({
                name, data: view(new ArrayBuffer(0)), shape: [0, ...pointShape], dtype,
                maxshape: [points === 0 ? null : points!, ...pointShape], chunks: [node.chunkRows, ...pointShape.map((d) => Math.max(d, 1))],
                ...(node.gzip ? { compression: 'gzip', compression_opts: node.gzip } : {}),
              });
              if (points! > 0) dataset.resize([...node.shape]);
              setAttrs(dataset, node.attrs);
              break;
            }
            case 'grid-signal': {
              const { dtype, view } = h5Type(node.type);
              const dataset = group.create_dataset({ name, data: view(new ArrayBuffer(0)), shape: [0, node.shape[1]], dtype, maxshape: [node.shape[0], node.shape[1]], chunks: [1, node.shape[1]] });
              dataset.resize([...node.shape]);
              setAttrs(dataset, node.attrs);
              gridSignals.set(node.channel, [...(gridSignals.get(node.channel) ?? []), node]);
              break;
            }
            case 'grid-axis': {
              gridAxes.set(node.channel, [...(gridAxes.get(node.channel) ?? []), { node, acc: new GridAxisAccumulator(node.type, node.dimension, node.grid) }]);
              break;
            }
          }
        }
      });
      for (const channel of plan.channels) {
        const { view } = h5Type(channel.type);
        const dataset = root.get(channel.path) as Dataset;
        const signals = (gridSignals.get(channel.channel) ?? []).map((g) => ({ g, dataset: root.get(g.path) as Dataset }));
        const axes = gridAxes.get(channel.channel) ?? [];
        const rowBytes = pointBytes(channel.type, channel.pointShape);
        for await (const slice of slices(channel)) {
          for (const part of rowSlices(channel, slice.start, slice.stop)) {
            const data = typedView(view, slice.bytes, part.offset, part.length, channel.type.size);
            atFileTime(time, path, `write points [${part.start}, ${part.stop}) of ${channel.channel}`, () => {
              dataset.write_slice([[part.start, part.stop], ...channel.pointShape.map(() => [] as [])], data);
            });
          }
          for (const { g, dataset: target } of signals) {
            for (const seg of gridSegments(slice.start, Math.min(slice.stop, g.shape[0] * g.shape[1]), g.shape[1])) {
              const data = typedView(view, slice.bytes, seg.offset * rowBytes, seg.count * rowBytes, channel.type.size);
              atFileTime(time, path, `write the grid row ${seg.row} of ${channel.channel}`, () => {
                target.write_slice([[seg.row, seg.row + 1], [seg.column, seg.column + seg.count]], data);
              });
            }
          }
          for (const { acc } of axes) acc.add(slice.start, slice.bytes, slice.stop - slice.start);
        }
        for (const { node, acc } of axes) {
          const values = acc.values();
          const { parent, name } = split(node.path);
          atFileTime(time, path, `write the grid axis ${node.path}`, () => {
            setAttrs((root.get(parent) as Group).create_dataset({ name, data: values, shape: [values.length], dtype: '<d' }), node.attrs);
          });
        }
      }
      const opened = file;
      file = undefined;
      atFileTime(time, path, 'close the file', () => opened.close());
      const { size } = await stat(path);
      return { path, bytes: size, dispose };
    } catch (error) {
      if (file) {
        const f = file;
        try { atFileTime(time, path, 'close after error', () => f.close()); } catch { /* the first error is the one to report */ }
      }
      await dispose();
      throw error;
    }
  }
}

/**
 * The typed array over `length` bytes of `bytes` at `offset`: the published bytes reinterpreted, no
 * copy when they are aligned for the element type (a copy otherwise).
 */
function typedView(view: (buffer: ArrayBuffer) => TypedArray, bytes: Uint8Array, offset: number, length: number, size: number): TypedArray {
  const start = bytes.byteOffset + offset;
  if (start % size === 0 && bytes.buffer instanceof ArrayBuffer) {
    const full = view(bytes.buffer.slice(0, 0));
    const Ctor = full.constructor as new (b: ArrayBuffer, o: number, n: number) => TypedArray;
    return new Ctor(bytes.buffer, start, length / size);
  }
  return view(bytes.slice(offset, offset + length).buffer);
}

function atFileTime<T>(timeMs: number, path: string, what: string, fn: () => T): T {
  return atFixedTime(timeMs, fn,
    (diagnostic, cause) => new ScanFileWriteError(`HDF5 could not ${what} (${path}): ${diagnostic}`, { key: path }, { cause }),
    (error) => error instanceof ArchiveError);
}

function setAttrs(target: { create_attribute(name: string, data: string | number | string[], shape?: number[] | null, dtype?: string | null): void }, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs) as [string, AttrValue][]) {
    if (typeof value === 'number') target.create_attribute(name, value, null, Number.isInteger(value) ? '<q' : '<d');
    else if (typeof value === 'string') target.create_attribute(name, value);
    else target.create_attribute(name, [...value]);
  }
}

function split(path: string): { parent: string; name: string } {
  const i = path.lastIndexOf('/');
  return { parent: i <= 0 ? '/' : path.slice(0, i), name: path.slice(i + 1) };
}

/** sha256 of a local file, read with one reused 8 MiB buffer (tests and benchmarks; the pipeline hashes while uploading). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(HASH_BUFFER_BYTES);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

const HASH_BUFFER_BYTES = 8 * 1024 * 1024;
