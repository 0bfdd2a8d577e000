/**
 * Reads channels back from an archived scan file for the exports: the file, downloaded to local
 * disk by the export service, is opened read-only with h5wasm (src/adapters/h5wasm-runtime.ts), and
 * each channel dataset is a column read on demand: numpy dtype from the HDF5 type, shape, and rows
 * read by slices (raw little-endian bytes unchanged). Nothing reads a whole dataset: an export of a
 * file of any size holds one slice at a time. HDF5 diagnostics become ArchivedChannelReadError with
 * the run, the object key and the dataset path.
 */
import { checkedHdf5, hdf5Diagnostic, loadH5wasm, openHdf5File, readRows, type Dataset, type H5File } from './h5wasm-runtime.js';
import { itemSize, parseDtype, type NdArray } from '../core/analysis/ndarray.js';
import { InvalidInputError } from '../core/errors.js';
import type { ColumnSource } from '../core/exports/model.js';
import type { ArchivedChannelReader, ArchivedScanFile } from '../core/exports/ports.js';

/** A channel dataset cannot be read as a numeric array (missing, not numeric, big-endian …). */
export class ArchivedChannelReadError extends InvalidInputError {
  override name = 'ArchivedChannelReadError';
}

/** HDF5 type classes (H5Tpublic.h) that map to numpy numbers. */
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;

export class H5wasmArchivedChannelReader implements ArchivedChannelReader {
  async open(localPath: string, context: { runUid: string; key: string }): Promise<ArchivedScanFile> {
    await loadH5wasm();
    let file: H5File;
    try {
      file = openHdf5File(localPath, 'r');
    } catch (error) {
      throw new ArchivedChannelReadError(
        `the scan file s3://…/${context.key} of run ${context.runUid} cannot be opened: ${hdf5Diagnostic(error)}`,
        context,
        { cause: error },
      );
    }
    let closed = false;
    return {
      column(datasetPath: string): ColumnSource {
        const where = { ...context, path: datasetPath };
        let dataset: Dataset | null;
        try {
          dataset = file.get(datasetPath) as Dataset | null;
        } catch (error) {
          throw new ArchivedChannelReadError(
            `run ${context.runUid}: ${datasetPath} cannot be read from ${context.key}: ${hdf5Diagnostic(error)}`,
            where,
            { cause: error },
          );
        }
        if (!dataset || dataset.type !== 'Dataset') {
          throw new ArchivedChannelReadError(`run ${context.runUid}: ${context.key} has no dataset ${datasetPath}`, where);
        }
        const meta = dataset.metadata;
        if (meta.type !== H5T_INTEGER && meta.type !== H5T_FLOAT) {
          throw new ArchivedChannelReadError(`run ${context.runUid}: ${datasetPath} is not numeric (HDF5 type class ${meta.type})`, where);
        }
        if (!meta.littleEndian && meta.size > 1) {
          throw new ArchivedChannelReadError(
            `run ${context.runUid}: ${datasetPath} is big-endian; exports read little-endian channels only`,
            where,
          );
        }
        const shape = [...(dataset.shape ?? [])];
        if (shape.length === 0)
          throw new ArchivedChannelReadError(`run ${context.runUid}: ${datasetPath} is a scalar, not a column of points`, where);
        const kind = meta.type === H5T_FLOAT ? 'f' : meta.signed ? 'i' : 'u';
        const dtype = parseDtype(`${meta.size === 1 ? '|' : '<'}${kind}${meta.size}`, `${datasetPath} dtype`);
        const found = dataset;
        return {
          dtype,
          shape,
          rows(start: number, stop: number): NdArray {
            if (closed)
              throw new ArchivedChannelReadError(`run ${context.runUid}: ${datasetPath} is read after its file was closed`, where);
            const bytes = checkedHdf5(
              { file: context.key, object: datasetPath, what: `read points [${start}, ${stop})`, timeMs: 0 },
              () => readRows(found, start, stop, itemSize(dtype)),
              (message, cause) => new ArchivedChannelReadError(`run ${context.runUid}: ${message}`, where, { cause }),
            );
            return { dtype, shape: [stop - start, ...shape.slice(1)], bytes };
          },
        };
      },
      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        file.close();
      },
    };
  }
}
