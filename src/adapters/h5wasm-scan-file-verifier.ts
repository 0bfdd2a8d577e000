/**
 * The read-back check of a scan file before it is uploaded (issue 17): the file is reopened
 * read-only, exactly as a reader will find it, and compared with the plan it was written from.
 * Every node must be there (groups, text and number datasets with their values, soft and external
 * links with their targets, attributes by name, typed attributes such as `_FillValue` by dtype and
 * value; small number arrays such as `missing_points` by value); every channel, grid signal, grid
 * axis and plotted prefix copy must have its dtype and shape (a channel also its filters), and the
 * sha256 of the data read back over the ranges that were written must be the sha256 of the bytes
 * that were written (a disk that filled up leaves zeros or nothing, which
 * this finds even where the library reported no error). Data is read in bounded slices.
 */
import { checkedHdf5, openHdf5File, withRows, type Dataset, type Group, type H5File, type NumericArray } from './h5wasm-runtime.js';
import { createHash } from 'node:crypto';
import { ArchiveError } from '../core/errors.js';
import { ScanFileError } from '../core/archive/errors.js';
import type { AttrValue, Attrs, NexusPlan, PlanNode, TypedScalar } from '../core/nexus/layout.js';
import { pointBytes } from '../core/nexus/dtypes.js';
import { gridSegments } from '../core/nexus/grid.js';
import type { ElementType } from '../core/nexus/dtypes.js';

/** The file on disk is not what its plan says (a node missing, another dtype or shape, data that reads back different). */
export class ScanFileVerificationError extends ScanFileError {
  override name = 'ScanFileVerificationError';
}

/** What was written to one dataset: the point ranges [start, stop) (flat grid indices for a grid signal) and the sha256 of their bytes in order. */
export interface WrittenDigest {
  ranges: [number, number][];
  sha256: string;
}

/** Every dataset's written data by HDF5 path: what the read-back check compares. */
export type WrittenDigests = Map<string, WrittenDigest>;

/** h5wasm dtype string (struct-style) and typed array of an element type. */
export function h5Type(type: ElementType): { dtype: string; view: (buffer: ArrayBuffer) => NumericArray } {
  switch (`${type.kind}${type.size}`) {
    case 'float4':
      return { dtype: '<f', view: (b) => new Float32Array(b) };
    case 'float8':
      return { dtype: '<d', view: (b) => new Float64Array(b) };
    case 'int1':
      return { dtype: '<b', view: (b) => new Int8Array(b) };
    case 'int2':
      return { dtype: '<h', view: (b) => new Int16Array(b) };
    case 'int4':
      return { dtype: '<i', view: (b) => new Int32Array(b) };
    case 'int8':
      return { dtype: '<q', view: (b) => new BigInt64Array(b) };
    case 'uint1':
      return { dtype: '<B', view: (b) => new Uint8Array(b) };
    case 'uint2':
      return { dtype: '<H', view: (b) => new Uint16Array(b) };
    case 'uint4':
      return { dtype: '<I', view: (b) => new Uint32Array(b) };
    case 'uint8':
      return { dtype: '<Q', view: (b) => new BigUint64Array(b) };
    default:
      throw new ScanFileError(`no HDF5 type for ${type.numpy}`);
  }
}

/** Rows read back per call: bounded memory whatever the dataset's size. */
const READ_BYTES = 16 * 1024 * 1024;

export interface VerifyOptions {
  /** Bytes read back per selection (default 16 MiB); tests set it small. */
  readBytes?: number;
}

/**
 * The read-back check, in steps: HDF5 is called synchronously, so each bounded selection is read in
 * its own step and the event loop runs between steps. Timers keep firing during a verification of
 * many GB — the SQS visibility heartbeat among them (src/adapters/sqs-visibility-heartbeat.ts) —
 * where one synchronous pass would hold the loop for minutes and let the message reappear.
 */
export async function verifyScanFile(
  path: string,
  plan: NexusPlan,
  digests: WrittenDigests,
  timeMs: number,
  options: VerifyOptions = {},
): Promise<void> {
  const fail = (message: string, dataset?: string): never => {
    throw new ScanFileVerificationError(
      `scan file ${path} read back ${dataset ? `at ${dataset} ` : ''}does not match its plan: ${message}`,
      { key: path, ...(dataset ? { dataset } : {}) },
    );
  };
  const readBytes = options.readBytes ?? READ_BYTES;
  const step = <T>(fn: () => T): T =>
    checkedHdf5(
      { file: path, what: 'read the file back', timeMs },
      fn,
      (message, cause) => new ScanFileVerificationError(message, { key: path }, { cause }),
      (error) => error instanceof ArchiveError,
    );
  const file = step(() => openHdf5File(path, 'r'));
  try {
    step(() => checkAttrs(file, plan.rootAttrs, '/', fail));
    for (const node of plan.nodes) {
      const steps = checkNode(file, node, digests, fail, readBytes);
      while (!step(() => steps.next()).done) await yieldToEventLoop();
    }
  } finally {
    file.close();
  }
}

/** Lets timers and I/O callbacks run (setImmediate: after the poll phase, so due timers fire on the next turn). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

type Fail = (message: string, dataset?: string) => never;

/** Checks one node; yields after each selection of data read back (a step of verifyScanFile). */
function* checkNode(file: H5File, node: PlanNode, digests: WrittenDigests, fail: Fail, readBytes: number): Generator<void, void, void> {
  switch (node.kind) {
    case 'group': {
      const group = file.get(node.path) as Group | null;
      if (group?.type !== 'Group') fail('the group is missing', node.path);
      checkAttrs(group!, node.attrs, node.path, fail);
      return;
    }
    case 'text': {
      const dataset = datasetAt(file, node.path, fail);
      const value = dataset.value as unknown;
      if (JSON.stringify(value) !== JSON.stringify(node.value))
        fail(`reads ${JSON.stringify(value)?.slice(0, 200)}, written ${JSON.stringify(node.value).slice(0, 200)}`, node.path);
      checkAttrs(dataset, node.attrs, node.path, fail);
      return;
    }
    case 'number': {
      const dataset = datasetAt(file, node.path, fail);
      const value = Number(dataset.value as number | bigint);
      const want = node.dtype === '<i8' ? Math.trunc(node.value) : node.value;
      if (!(Object.is(value, want) || value === want)) fail(`reads ${value}, written ${want}`, node.path);
      checkAttrs(dataset, node.attrs, node.path, fail);
      return;
    }
    case 'numbers': {
      // Small arrays (missing point ranges [n, 2]): dtype, shape and every value.
      const dataset = shaped(file, node.path, node.dtype === '<i8' ? '<q' : '<d', node.shape, fail);
      const got = Array.from(dataset.value as ArrayLike<number | bigint>, (v) => Number(v));
      const want = node.values.map((v) => (node.dtype === '<i8' ? Math.trunc(v) : v));
      if (got.length !== want.length || got.some((v, i) => !Object.is(v, want[i]) && v !== want[i])) {
        fail(`reads [${got.slice(0, 20).join(', ')}], written [${want.slice(0, 20).join(', ')}]`, node.path);
      }
      checkAttrs(dataset, node.attrs, node.path, fail);
      return;
    }
    case 'prefix-copy': {
      // The first points of a channel (default plot of streams that ended apart): checked like a channel.
      const dataset = shaped(file, node.path, h5Type(node.type).dtype, node.shape, fail);
      checkAttrs(dataset, node.attrs, node.path, fail);
      const rowBytes = pointBytes(node.type, node.shape.slice(1));
      checkData(dataset, digests.get(node.path), node.path, fail, function* (ranges) {
        const step = Math.max(1, Math.floor(READ_BYTES / Math.max(rowBytes, 1)));
        for (const [start, stop] of ranges) {
          for (let a = start; a < stop; a += step) yield [[a, Math.min(a + step, stop)]];
        }
      });
      return;
    }
    case 'link': {
      const target = file.get_link(node.path);
      if (target !== node.target) fail(`links to ${String(target)}, planned ${node.target}`, node.path);
      return;
    }
    case 'external-link': {
      const link = file.get_external_link(node.path);
      if (link?.filename !== node.file || link.obj_path !== node.target)
        fail(`links to ${link?.filename}:${link?.obj_path}, planned ${node.file}:${node.target}`, node.path);
      return;
    }
    case 'channel': {
      const dataset = shaped(file, node.path, h5Type(node.type).dtype, node.shape, fail);
      checkAttrs(dataset, node.attrs, node.path, fail);
      // The filters the plan chose (gzip by default from 1 MiB, docs/adr/0015): deflate at its level, or none.
      const filters = dataset.filters.map((f) => `${f.id}(${[...f.cd_values].join(',')})`).join(' ');
      const planned = node.gzip ? `1(${node.gzip})` : '';
      if (filters !== planned) fail(`has filters [${filters}], planned [${planned}] (1: deflate with its level)`, node.path);
      const rowBytes = pointBytes(node.type, node.pointShape);
      yield* checkData(dataset, digests.get(node.path), node.path, fail, function* (ranges) {
        const step = Math.max(1, Math.floor(readBytes / Math.max(rowBytes, 1)));
        for (const [start, stop] of ranges) {
          for (let a = start; a < stop; a += step) yield [[a, Math.min(a + step, stop)]];
        }
      });
      return;
    }
    case 'grid-signal': {
      const dataset = shaped(file, node.path, h5Type(node.type).dtype, node.shape, fail);
      checkAttrs(dataset, node.attrs, node.path, fail);
      yield* checkData(dataset, digests.get(node.path), node.path, fail, function* (ranges) {
        for (const [start, stop] of ranges) {
          for (const seg of gridSegments(start, stop, node.shape[1]))
            yield [
              [seg.row, seg.row + 1],
              [seg.column, seg.column + seg.count],
            ];
        }
      });
      return;
    }
    case 'grid-axis': {
      const written = digests.get(node.path);
      const length = written?.ranges[0]?.[1] ?? 0;
      const dataset = shaped(file, node.path, '<d', [length], fail);
      checkAttrs(dataset, node.attrs, node.path, fail);
      yield* checkData(dataset, written, node.path, fail, function* (ranges) {
        for (const [start, stop] of ranges) yield [[start, stop]];
      });
      return;
    }
  }
}

function datasetAt(file: H5File, path: string, fail: Fail): Dataset {
  const dataset = file.get(path) as Dataset | null;
  if (dataset?.type !== 'Dataset') fail('the dataset is missing', path);
  return dataset!;
}

function shaped(file: H5File, path: string, dtype: string, shape: readonly number[], fail: Fail): Dataset {
  const dataset = datasetAt(file, path, fail);
  if (dataset.dtype !== dtype) fail(`has dtype ${String(dataset.dtype)}, planned ${dtype}`, path);
  const got = dataset.shape ?? [];
  if (got.length !== shape.length || got.some((n, i) => n !== shape[i]))
    fail(`has shape [${got.join(', ')}], planned [${shape.join(', ')}]`, path);
  return dataset;
}

function checkAttrs(target: Group | Dataset, attrs: Attrs, path: string, fail: Fail): void {
  const names = Object.keys(attrs);
  if (names.length === 0) return;
  const present = new Set(Object.keys(target.attrs));
  const missing = names.filter((n) => !present.has(n));
  if (missing.length > 0) fail(`attribute(s) ${missing.join(', ')} missing`, path);
  // Typed attributes (`_FillValue` has its dataset's type): the type and the value as planned.
  for (const [name, value] of Object.entries(attrs) as [string, AttrValue][]) {
    if (!isTypedScalar(value)) continue;
    const attr = target.attrs[name]!;
    const dtype = h5Type(value.type).dtype;
    if (attr.dtype !== dtype) fail(`attribute ${name} has dtype ${String(attr.dtype)}, planned ${dtype}`, path);
    const got = attr.value as unknown;
    const read = ArrayBuffer.isView(got) ? (got as unknown as ArrayLike<number | bigint>)[0] : got;
    const same =
      typeof read === 'bigint' || typeof value.value === 'bigint'
        ? typeof read !== 'undefined' && BigInt(read as bigint | number) === BigInt(value.value)
        : Object.is(Number(read), Number(value.value));
    if (!same) fail(`attribute ${name} reads ${String(read)}, planned ${String(value.value)}`, path);
  }
}

function isTypedScalar(value: AttrValue): value is TypedScalar {
  return typeof value === 'object' && 'type' in value;
}

type Selection = ([number, number] | [])[];

/** Reads the written ranges back in bounded selections and compares their sha256 with what was written. */
function* checkData(
  dataset: Dataset,
  written: WrittenDigest | undefined,
  path: string,
  fail: Fail,
  selections: (ranges: [number, number][]) => Iterable<Selection>,
): Generator<void, void, void> {
  if (!written) fail('no record of what was written', path);
  const hash = createHash('sha256');
  for (const selection of selections(written!.ranges)) {
    // Hashed where HDF5 read it, in the wasm heap: no copy into a fresh array per read (issue 17 item 6).
    withRows(dataset, selection, (bytes) => hash.update(bytes));
    yield;
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== written!.sha256) fail(`its data reads back with sha256 ${sha256}, the bytes written had ${written!.sha256}`, path);
}
