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
import {
  checkedHdf5,
  closeFile,
  createDatasetAt,
  createGroupAt,
  externalLink,
  hdf5LibraryVersion,
  loadH5wasm,
  openHdf5File,
  resizeTo,
  softLink,
  writeRows,
  type Dataset,
  type Group,
  type H5File,
  type Hdf5CallContext,
} from './h5wasm-runtime.js';
import { createHash } from 'node:crypto';
import { mkdtemp, open, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArchiveError } from '../core/errors.js';
import { ScanFileError } from '../core/archive/errors.js';
import type { ChannelSlice, ScanFileWriter, WrittenScanFile } from '../core/archive/ports.js';
import type { NexusPlan, PlanChannel, PlanGridAxis, PlanGridSignal, PlanPrefixCopy } from '../core/nexus/layout.js';
import { pointBytes } from '../core/nexus/dtypes.js';
import { GridAxisAccumulator, gridSegments } from '../core/nexus/grid.js';
import { rowSlices } from '../core/nexus/writers/channel-writer.js';
import { h5Type, verifyScanFile, type WrittenDigests } from './h5wasm-scan-file-verifier.js';
import { setAttrs, split, typedView, WrittenData } from './h5wasm-scan-file-values.js';

/** HDF5 trouble while writing a scan file (names the file, the dataset and HDF5's message; the library's error is `cause`). */
export class ScanFileWriteError extends ScanFileError {
  override name = 'ScanFileWriteError';
}

export interface H5wasmScanFileWriterOptions {
  /** Where files are written (a fresh folder below it per file); default os.tmpdir(). */
  workDir?: string;
  /**
   * Runs just before the file is closed (tests use it to fill the temp folder, so that HDF5's close
   * meets a full disk for real: the fault the close status must catch).
   */
  beforeClose?: (path: string) => Promise<void> | void;
  /** Bytes read back per step of the verification (h5wasm-scan-file-verifier.ts; default 16 MiB): the event loop runs between steps. */
  verifyReadBytes?: number;
}

export class H5wasmScanFileWriter implements ScanFileWriter {
  readonly hdf5Version: string;
  private readonly workDir: string;
  private readonly beforeClose: H5wasmScanFileWriterOptions['beforeClose'];
  private readonly verifyReadBytes: number | undefined;
  private readonly module: { HEAPU8: Uint8Array };

  private constructor(options: H5wasmScanFileWriterOptions, module: { HEAPU8: Uint8Array }) {
    this.module = module;
    this.workDir = options.workDir ?? tmpdir();
    this.beforeClose = options.beforeClose;
    this.verifyReadBytes = options.verifyReadBytes;
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

  /**
   * Writes the plan to a fresh file, every HDF5 status checked, then reopens it read-only and checks
   * it against the plan (every node present, dtypes and shapes, each dataset's data by sha256 of
   * what was written). The returned file is whole; on any failure nothing is left on disk.
   */
  async write(plan: NexusPlan, slices: (channel: PlanChannel) => AsyncIterable<ChannelSlice>): Promise<WrittenScanFile> {
    const dir = await mkdtemp(join(this.workDir, 'scan-'));
    const path = join(dir, 'scan.h5');
    // Truncated first: a handle h5wasm could not close after a failure must not keep the space of the file.
    const dispose = async () => {
      await truncate(path, 0).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    };
    const time = plan.fileTimeMs;
    const call = <T>(what: string, object: string | undefined, fn: () => T): T =>
      checkedCall({ file: path, what, timeMs: time, ...(object ? { object } : {}) }, fn);
    let file: H5File | undefined;
    try {
      file = call('create the file', undefined, () => openHdf5File(path, 'w'));
      const root = file;
      const digests: WrittenDigests = new Map();
      const gridSignals = new Map<string, PlanGridSignal[]>();
      const gridAxes = new Map<string, { node: PlanGridAxis; acc: GridAxisAccumulator }[]>();
      const prefixCopies = new Map<string, PlanPrefixCopy[]>();
      call('set the root attributes', '/', () => setAttrs(root, plan.rootAttrs));
      for (const node of plan.nodes) {
        const { parent, name } = split(node.path);
        const group = () => {
          const g = root.get(parent) as Group | null;
          if (!g || g.type !== 'Group')
            throw new ScanFileWriteError(`parent group ${parent} of ${node.path} does not exist in ${path}`, {
              key: path,
              dataset: node.path,
            });
          return g;
        };
        switch (node.kind) {
          case 'group':
            call('create the group', node.path, () => setAttrs(createGroupAt(group(), name), node.attrs));
            break;
          case 'text':
            call('write the dataset', node.path, () => setAttrs(createDatasetAt(group(), { name, data: node.value }), node.attrs));
            break;
          case 'number':
            call('write the dataset', node.path, () => {
              const data = node.dtype === '<i8' ? new BigInt64Array([BigInt(Math.trunc(node.value))]) : new Float64Array([node.value]);
              setAttrs(createDatasetAt(group(), { name, data, shape: [], dtype: node.dtype === '<i8' ? '<q' : '<d' }), node.attrs);
            });
            break;
          case 'numbers':
            call('write the dataset', node.path, () => {
              const data =
                node.dtype === '<i8' ? BigInt64Array.from(node.values, (v) => BigInt(Math.trunc(v))) : Float64Array.from(node.values);
              setAttrs(
                createDatasetAt(group(), { name, data, shape: [...node.shape], dtype: node.dtype === '<i8' ? '<q' : '<d' }),
                node.attrs,
              );
            });
            break;
          case 'link':
            call(`link to ${node.target}`, node.path, () => softLink(group(), node.target, name));
            break;
          case 'external-link':
            call(`link to ${node.file}:${node.target}`, node.path, () => externalLink(group(), node.file, node.target, name));
            break; // Lima frames
          case 'channel':
            call('create the dataset', node.path, () => {
              // Created empty and extended to the final shape: chunked, never holding the whole channel in memory.
              const [points, ...pointShape] = node.shape;
              const { dtype, view } = h5Type(node.type);
              const dataset = createDatasetAt(group(), {
                name,
                data: view(new ArrayBuffer(0)),
                shape: [0, ...pointShape],
                dtype,
                maxshape: [points === 0 ? null : points!, ...pointShape],
                chunks: [node.chunkRows, ...pointShape.map((d) => Math.max(d, 1))],
                ...(node.gzip ? { compression: 'gzip', compression_opts: node.gzip } : {}),
              });
              if (points! > 0) resizeTo(dataset, node.shape);
              setAttrs(dataset, node.attrs);
            });
            break;
          case 'grid-signal':
            call('create the dataset', node.path, () => {
              const { dtype, view } = h5Type(node.type);
              const dataset = createDatasetAt(group(), {
                name,
                data: view(new ArrayBuffer(0)),
                shape: [0, node.shape[1]],
                dtype,
                maxshape: [node.shape[0], node.shape[1]],
                chunks: [1, node.shape[1]],
              });
              resizeTo(dataset, node.shape);
              setAttrs(dataset, node.attrs);
              gridSignals.set(node.channel, [...(gridSignals.get(node.channel) ?? []), node]);
            });
            break;
          case 'prefix-copy':
            call('create the dataset', node.path, () => {
              // The first shape[0] points of a channel (the default plot of streams that ended apart), filled from its channel's slices.
              const [rows, ...pointShape] = node.shape;
              const { dtype, view } = h5Type(node.type);
              const dataset = createDatasetAt(group(), {
                name,
                data: view(new ArrayBuffer(0)),
                shape: [0, ...pointShape],
                dtype,
                maxshape: [rows === 0 ? null : rows!, ...pointShape],
                chunks: [Math.max(1, Math.min(rows!, 1024)), ...pointShape.map((d) => Math.max(d, 1))],
              });
              if (rows! > 0) resizeTo(dataset, node.shape);
              setAttrs(dataset, node.attrs);
              prefixCopies.set(node.channel, [...(prefixCopies.get(node.channel) ?? []), node]);
            });
            break;
          case 'grid-axis':
            gridAxes.set(node.channel, [
              ...(gridAxes.get(node.channel) ?? []),
              { node, acc: new GridAxisAccumulator(node.type, node.dimension, node.grid) },
            ]);
            break;
        }
      }
      for (const channel of plan.channels) {
        const { view } = h5Type(channel.type);
        const dataset = root.get(channel.path) as Dataset;
        const written = new WrittenData();
        const signals = (gridSignals.get(channel.channel) ?? []).map((g) => ({
          g,
          dataset: root.get(g.path) as Dataset,
          written: new WrittenData(),
        }));
        const axes = gridAxes.get(channel.channel) ?? [];
        const copies = (prefixCopies.get(channel.channel) ?? []).map((c) => ({
          rows: c.shape[0]!,
          dataset: root.get(c.path) as Dataset,
          path: c.path,
          written: new WrittenData(),
        }));
        const rowBytes = pointBytes(channel.type, channel.pointShape);
        for await (const slice of slices(channel)) {
          // Points are written once each, in order; missing ranges (trimmed in Redis) are skipped, never invented.
          if (slice.start < written.next || slice.stop > (channel.shape[0] ?? 0)) {
            throw new ScanFileWriteError(
              `points [${slice.start}, ${slice.stop}) of ${channel.channel} overlap what is written (up to ${written.next}) or pass its ${channel.shape[0]} points`,
              { key: path, dataset: channel.path },
            );
          }
          written.add(slice.start, slice.stop, slice.bytes);
          for (const part of rowSlices(channel, slice.start, slice.stop)) {
            const data = typedView(view, slice.bytes, part.offset, part.length, channel.type.size);
            call(`write points [${part.start}, ${part.stop}) of ${channel.channel}`, channel.path, () => {
              writeRows(dataset, [[part.start, part.stop], ...channel.pointShape.map(() => [] as [])], data);
            });
          }
          for (const copy of copies) {
            const stop = Math.min(slice.stop, copy.rows);
            if (stop <= slice.start) continue;
            copy.written.add(slice.start, stop, slice.bytes.subarray(0, (stop - slice.start) * rowBytes));
            for (const part of rowSlices(channel, slice.start, stop)) {
              const data = typedView(view, slice.bytes, part.offset, part.length, channel.type.size);
              call(`copy points [${part.start}, ${part.stop}) of ${channel.channel}`, copy.path, () => {
                writeRows(copy.dataset, [[part.start, part.stop], ...channel.pointShape.map(() => [] as [])], data);
              });
            }
          }
          for (const { g, dataset: target, written: grid } of signals) {
            const end = Math.min(slice.stop, g.shape[0] * g.shape[1]);
            if (end > slice.start) grid.add(slice.start, end, slice.bytes.subarray(0, (end - slice.start) * rowBytes));
            for (const seg of gridSegments(slice.start, end, g.shape[1])) {
              const data = typedView(view, slice.bytes, seg.offset * rowBytes, seg.count * rowBytes, channel.type.size);
              call(`write the grid row ${seg.row} of ${channel.channel}`, g.path, () => {
                writeRows(
                  target,
                  [
                    [seg.row, seg.row + 1],
                    [seg.column, seg.column + seg.count],
                  ],
                  data,
                );
              });
            }
          }
          for (const { acc } of axes) acc.add(slice.start, slice.bytes, slice.stop - slice.start);
        }
        digests.set(channel.path, written.done());
        for (const { g, written: grid } of signals) digests.set(g.path, grid.done());
        for (const copy of copies) digests.set(copy.path, copy.written.done());
        for (const { node, acc } of axes) {
          const values = acc.values();
          const { parent, name } = split(node.path);
          call('write the grid axis', node.path, () => {
            setAttrs(createDatasetAt(root.get(parent) as Group, { name, data: values, shape: [values.length], dtype: '<d' }), node.attrs);
          });
          const axis = new WrittenData();
          axis.add(0, values.length, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
          digests.set(node.path, axis.done());
        }
      }
      await this.beforeClose?.(path);
      const opened = file;
      file = undefined;
      call('close the file', undefined, () => closeFile(opened));
      // The file as it is on disk, reopened read-only, against the plan it was written from.
      // In steps: the event loop (the SQS visibility heartbeat) runs between the selections read back.
      await verifyScanFile(path, plan, digests, time, this.verifyReadBytes !== undefined ? { readBytes: this.verifyReadBytes } : {});
      const { size } = await stat(path);
      return { path, bytes: size, dispose };
    } catch (error) {
      if (file) {
        const f = file;
        try {
          call('close the file after an error', undefined, () => f.close());
        } catch {
          /* the first error is the one to report */
        }
      }
      await dispose();
      throw error;
    }
  }
}

function checkedCall<T>(context: Hdf5CallContext, fn: () => T): T {
  return checkedHdf5(
    context,
    fn,
    (message, cause) =>
      new ScanFileWriteError(message, { key: context.file, ...(context.object ? { dataset: context.object } : {}) }, { cause }),
    (error) => error instanceof ArchiveError,
  );
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
