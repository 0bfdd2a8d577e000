/**
 * The HDF5 array codec of the analysis store (h5wasm through src/adapters/h5wasm-runtime.ts). Each datum object is a small HDF5 file with one dataset (`/data` unless the resource
 * kwargs say otherwise) of shape `[points, ...point shape]`, attributes `dtype_numpy` and
 * `data_key`. Booleans are stored as uint8 (HDF5 has no bool; `dtype_numpy` says `|b1`).
 * Object times are pinned to 0 (h5wasm reads the clock through Date.now() and has no
 * track_times switch), so the same array always gives the same bytes.
 */
import {
  atFixedTime,
  checkedHdf5,
  closeFile,
  createDatasetAt,
  loadH5wasm,
  openHdf5File,
  type Dataset,
  type NumericArray,
} from './h5wasm-runtime.js';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnalysisFormatError } from '../core/analysis/errors.js';
import { DTYPES, type Dtype, type NdArray } from '../core/analysis/ndarray.js';
import { Spec, type ArrayCodec } from '../core/analysis/writer-handler.js';

type TypedArray = NumericArray;

function h5Type(dtype: Dtype): { dtype: string; view: (b: ArrayBuffer) => TypedArray } {
  const { kind, size } = DTYPES[dtype];
  switch (`${kind}${size}`) {
    case 'f8':
      return { dtype: '<d', view: (b) => new Float64Array(b) };
    case 'f4':
      return { dtype: '<f', view: (b) => new Float32Array(b) };
    case 'i8':
      return { dtype: '<q', view: (b) => new BigInt64Array(b) };
    case 'i4':
      return { dtype: '<i', view: (b) => new Int32Array(b) };
    case 'i2':
      return { dtype: '<h', view: (b) => new Int16Array(b) };
    case 'i1':
      return { dtype: '<b', view: (b) => new Int8Array(b) };
    case 'u8':
      return { dtype: '<Q', view: (b) => new BigUint64Array(b) };
    case 'u4':
      return { dtype: '<I', view: (b) => new Uint32Array(b) };
    case 'u2':
      return { dtype: '<H', view: (b) => new Uint16Array(b) };
    default:
      return { dtype: '<B', view: (b) => new Uint8Array(b) }; // u1 and b1
  }
}

function pinnedClock<T>(what: string, fn: () => T): T {
  return atFixedTime(0, fn, (diagnostic, cause) => new AnalysisFormatError(`HDF5 could not ${what}: ${diagnostic}`, {}, { cause }));
}

async function withTempFile<T>(fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'analysis-h5-'));
  try {
    return await fn(join(dir, 'datum.h5'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const hdf5ArrayCodec: ArrayCodec = {
  spec: Spec.Hdf5Array,
  mimetype: 'application/x-hdf5',
  extension: 'h5',
  defaults: (kwargs) => ({ ...kwargs, dataset: kwargs.dataset ?? '/data' }),
  async encode(array, kwargs) {
    await loadH5wasm();
    const datasetPath = kwargs.dataset ?? '/data';
    const { dtype, view } = h5Type(array.dtype);
    return withTempFile(async (path) => {
      // Every HDF5 error and status checked (h5wasm-runtime.ts): a datum file is whole or not stored at all.
      checkedHdf5(
        { file: path, object: datasetPath, what: 'write the dataset', timeMs: 0 },
        () => {
          const file = openHdf5File(path, 'w');
          let open = true;
          try {
            const dataset = createDatasetAt(file, { name: datasetPath, data: view(array.bytes.slice().buffer), shape: array.shape, dtype });
            dataset.create_attribute('dtype_numpy', array.dtype);
            dataset.create_attribute('data_key', kwargs.data_key);
            open = false;
            closeFile(file);
          } finally {
            if (open) {
              try {
                file.close();
              } catch {
                /* the first error is the one to report */
              }
            }
          }
        },
        (message, cause) => new AnalysisFormatError(message, { key: path, dataset: datasetPath }, { cause }),
        (error) => error instanceof AnalysisFormatError,
      );
      return new Uint8Array(await readFile(path));
    });
  },
  async decode(bytes, kwargs, what) {
    await loadH5wasm();
    const datasetPath = kwargs.dataset ?? '/data';
    return withTempFile(async (path) => {
      await writeFile(path, bytes);
      return pinnedClock(`read ${datasetPath} of ${what}`, (): NdArray => {
        const file = openHdf5File(path, 'r');
        try {
          const dataset = file.get(datasetPath) as Dataset | null;
          if (!dataset || dataset.type !== 'Dataset') throw new AnalysisFormatError(`${what} has no dataset ${datasetPath}`);
          const value = dataset.value as unknown;
          if (!ArrayBuffer.isView(value)) throw new AnalysisFormatError(`${what}: ${datasetPath} is not a numeric array`);
          const expected = h5Type(kwargs.dtype_numpy);
          if (dataset.metadata.size !== DTYPES[kwargs.dtype_numpy].size || !String(dataset.dtype).endsWith(expected.dtype.slice(1))) {
            throw new AnalysisFormatError(
              `${what}: ${datasetPath} has HDF5 type ${String(dataset.dtype)}, its resource says ${kwargs.dtype_numpy}`,
            );
          }
          const raw = new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
          return { dtype: kwargs.dtype_numpy, shape: [...(dataset.shape ?? [])], bytes: raw };
        } finally {
          file.close();
        }
      });
    });
  },
};
