/**
 * Writes an `Hdf5Tree` (an export's file as data, src/core/exports/model.ts) to a local HDF5 file
 * with h5wasm (through src/adapters/h5wasm-runtime.ts). Dataset values: a string → a scalar variable-length UTF-8 string; a list of strings
 * → a 1-D string array; a number → a scalar float64 (integers that must stay integers come as
 * `NdArray`s); an `NdArray` → its dtype and shape, bytes unchanged (`|b1` as uint8, HDF5 has no
 * bool). Attribute numbers: integers as int64, others as float64; lists of numbers as float64.
 * A `ColumnSource` (a column read from an archived scan file on demand) becomes a chunked dataset
 * of its dtype and shape, created empty and written a slice of rows at a time: the writer holds one
 * slice (column-source.ts `SLICE_BYTES`), never the column.
 *
 * Determinism: like the scan file writer, every h5wasm call runs with `Date.now()` pinned to
 * `fileTimeMs` (HDF5 stamps object headers with the clock), so the same tree and time give the
 * same bytes. On any failure the file is removed: a caller never finds a partial file at `path`.
 */
import {
  checkedHdf5,
  closeFile,
  createDatasetAt,
  createGroupAt,
  loadH5wasm,
  openHdf5File,
  resizeTo,
  softLink,
  writeRows,
  type Dataset,
  type Group,
  type H5File,
  type NumericArray,
} from './h5wasm-runtime.js';
import { rm, stat } from 'node:fs/promises';
import { DTYPES, type NdArray } from '../core/analysis/ndarray.js';
import { readRows, rowBytesOf, rowsPerSlice, sliceRanges } from '../core/exports/column-source.js';
import { ExportError } from '../core/exports/errors.js';
import { isColumnSource, type ColumnSource, type Hdf5AttrValue, type Hdf5DatasetValue, type Hdf5Tree } from '../core/exports/model.js';

/** HDF5 trouble while writing an export file, with the HDF5 diagnostic as `cause`. */
export class ExportFileWriteError extends ExportError {
  override name = 'ExportFileWriteError';
}

type TypedArray = NumericArray;

const VIEWS = {
  f8: [Float64Array, '<d'],
  f4: [Float32Array, '<f'],
  i8: [BigInt64Array, '<q'],
  i4: [Int32Array, '<i'],
  i2: [Int16Array, '<h'],
  i1: [Int8Array, '<b'],
  u8: [BigUint64Array, '<Q'],
  u4: [Uint32Array, '<I'],
  u2: [Uint16Array, '<H'],
  u1: [Uint8Array, '<B'],
  b1: [Uint8Array, '<B'],
} as const;

/** A typed array over the array's bytes (no copy when they are aligned for the element type) and its h5wasm dtype. */
function typed(array: NdArray): { data: TypedArray; dtype: string } {
  const { kind, size } = DTYPES[array.dtype];
  const [View, dtype] = VIEWS[`${kind}${size}` as keyof typeof VIEWS];
  const { bytes } = array;
  const aligned = bytes.byteOffset % size === 0 && bytes.buffer instanceof ArrayBuffer;
  const buffer = aligned ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
  const offset = aligned ? bytes.byteOffset : 0;
  return { data: new View(buffer, offset, bytes.byteLength / size), dtype };
}

type AttrTarget = {
  create_attribute(name: string, data: string | number | string[] | Float64Array, shape?: number[] | null, dtype?: string | null): void;
};

function setAttrs(target: AttrTarget, attrs: Record<string, Hdf5AttrValue> | undefined): void {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (typeof value === 'number') target.create_attribute(name, value, null, Number.isInteger(value) ? '<q' : '<d');
    else if (typeof value === 'string') target.create_attribute(name, value);
    else if (value.every((v): v is string => typeof v === 'string')) target.create_attribute(name, [...value] as string[]);
    else target.create_attribute(name, new Float64Array(value as readonly number[]), [value.length], '<d');
  }
}

/** Rows of a chunk of a streamed dataset: about 1 MiB (HDF5's default chunk cache holds one). */
const CHUNK_BYTES = 1024 * 1024;

/** A streamed column: chunked, created empty, extended to its shape; its rows are written by `writeSource`. */
function createSourceDataset(parent: Group, name: string, source: ColumnSource): Dataset {
  const [points = 0, ...pointShape] = source.shape;
  const { kind, size } = DTYPES[source.dtype];
  const [View, dtype] = VIEWS[`${kind}${size}` as keyof typeof VIEWS];
  if (points === 0) return createDatasetAt(parent, { name, data: new View(new ArrayBuffer(0)), shape: [...source.shape], dtype });
  const chunkRows = Math.min(points, rowsPerSlice(source, CHUNK_BYTES));
  const dataset = createDatasetAt(parent, {
    name,
    data: new View(new ArrayBuffer(0)),
    shape: [0, ...pointShape],
    dtype,
    maxshape: [points, ...pointShape],
    chunks: [chunkRows, ...pointShape.map((d) => Math.max(d, 1))],
  });
  resizeTo(dataset, [...source.shape]);
  return dataset;
}

/** Copies a source into its dataset a slice of rows at a time (each write's status checked). */
function writeSource(dataset: Dataset, source: ColumnSource, write: (what: string, fn: () => void) => void): void {
  const points = source.shape[0] ?? 0;
  if (points === 0 || rowBytesOf(source) === 0) return;
  const pointDims = source.shape.slice(1).map(() => [] as []);
  for (const [start, stop] of sliceRanges(points, rowsPerSlice(source))) {
    const slice = readRows(source, start, stop);
    write(`write points [${start}, ${stop})`, () => writeRows(dataset, [[start, stop], ...pointDims], typed(slice).data));
  }
}

function createDataset(parent: Group, name: string, value: Hdf5DatasetValue): Dataset {
  if (isColumnSource(value)) return createSourceDataset(parent, name, value);
  if (typeof value === 'string') return createDatasetAt(parent, { name, data: value });
  if (typeof value === 'number') return createDatasetAt(parent, { name, data: new Float64Array([value]), shape: [], dtype: '<d' });
  if (Array.isArray(value)) return createDatasetAt(parent, { name, data: [...(value as readonly string[])] });
  const array = value as NdArray;
  const { data, dtype } = typed(array);
  return createDatasetAt(parent, { name, data, shape: [...array.shape], dtype });
}

function split(path: string): { parent: string; name: string } {
  const i = path.lastIndexOf('/');
  return { parent: i <= 0 ? '/' : path.slice(0, i), name: path.slice(i + 1) };
}

export interface WrittenTreeFile {
  path: string;
  bytes: number;
}

/** Writes `tree` to `path` (created or truncated); removes it again if anything fails. */
export async function writeHdf5Tree(tree: Hdf5Tree, path: string, options: { fileTimeMs: number }): Promise<WrittenTreeFile> {
  await loadH5wasm();
  // Every call's HDF5 errors and statuses are checked (h5wasm-runtime.ts); the error names the file and the object.
  const at = <T>(what: string, fn: () => T, object?: string): T =>
    checkedHdf5(
      { file: path, timeMs: options.fileTimeMs, what, ...(object ? { object } : {}) },
      fn,
      (message, cause) => new ExportFileWriteError(message, { key: path, ...(object ? { dataset: object } : {}) }, { cause }),
      (error) => error instanceof ExportError,
    );
  let file: H5File | undefined;
  try {
    file = at('create the file', () => openHdf5File(path, 'w'));
    const root = file;
    const groupAt = (p: string): Group => {
      const g = root.get(p) as Group | null;
      if (!g || g.type !== 'Group') throw new ExportFileWriteError(`${p} is not a group of the file`, { key: p });
      return g;
    };
    at('write the root attributes', () => setAttrs(root, tree.attrs));
    for (const group of tree.groups) {
      at(
        'create the group',
        () => {
          const { parent, name } = split(group.path);
          setAttrs(createGroupAt(groupAt(parent), name), group.attrs);
        },
        group.path,
      );
    }
    for (const dataset of tree.datasets) {
      const created = at(
        'write the dataset',
        () => {
          const { parent, name } = split(dataset.path);
          const made = createDataset(groupAt(parent), name, dataset.value);
          setAttrs(made, dataset.attrs);
          return made;
        },
        dataset.path,
      );
      const { value } = dataset;
      if (isColumnSource(value)) writeSource(created, value, (what, fn) => at(what, fn, dataset.path));
    }
    for (const link of tree.softLinks) {
      at(
        `link to ${link.target}`,
        () => {
          const { parent, name } = split(link.path);
          softLink(groupAt(parent), link.target, name);
        },
        link.path,
      );
    }
    const opened = file;
    file = undefined;
    at('close the file', () => closeFile(opened));
    // Read back: every group, dataset (with its shape) and link of the tree is in the file as closed.
    at('read the file back', () => {
      const reread = openHdf5File(path, 'r');
      try {
        const problems = [
          ...tree.groups.filter((g) => (reread.get(g.path) as Group | null)?.type !== 'Group').map((g) => `${g.path} (group missing)`),
          ...tree.datasets
            .filter((d) => {
              const found = reread.get(d.path) as Dataset | null;
              const value = d.value;
              const shape = typeof value === 'object' && !Array.isArray(value) ? (value as NdArray | ColumnSource).shape : undefined;
              return found?.type !== 'Dataset' || (shape !== undefined && JSON.stringify(found.shape) !== JSON.stringify([...shape]));
            })
            .map((d) => `${d.path} (dataset missing or of another shape)`),
          ...tree.softLinks.filter((l) => reread.get_link(l.path) !== l.target).map((l) => `${l.path} (link missing)`),
        ];
        if (problems.length > 0)
          throw new ExportFileWriteError(
            `export file ${path} read back lacks ${problems.slice(0, 5).join(', ')}${problems.length > 5 ? ` and ${problems.length - 5} more` : ''}`,
            { key: path },
          );
      } finally {
        reread.close();
      }
    });
    return { path, bytes: (await stat(path)).size };
  } catch (error) {
    if (file) {
      const f = file;
      try {
        at('close the file after an error', () => f.close());
      } catch {
        /* the first error is the one to report */
      }
    }
    await rm(path, { force: true });
    throw error;
  }
}
