/**
 * Reads channels back from an archived scan file for the exports: the file's bytes are written to a
 * private temporary folder, opened read-only with h5wasm (src/adapters/h5wasm-runtime.ts), and each channel dataset is returned as
 * an NdArray (numpy dtype from the HDF5 type, shape, raw little-endian bytes unchanged). HDF5
 * diagnostics become ArchivedChannelReadError with the run, the object key and the dataset path.
 */
import { hdf5Diagnostic, loadH5wasm, openHdf5File, type Dataset, type H5File } from './h5wasm-runtime.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDtype, type NdArray } from '../core/analysis/ndarray.js';
import { InvalidInputError } from '../core/errors.js';
import type { ArchivedChannelReader, ArchivedScanFile } from '../core/exports/ports.js';

/** A channel dataset cannot be read as a numeric array (missing, not numeric, big-endian …). */
export class ArchivedChannelReadError extends InvalidInputError {
  override name = 'ArchivedChannelReadError';
}

/** HDF5 type classes (H5Tpublic.h) that map to numpy numbers. */
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;

export class H5wasmArchivedChannelReader implements ArchivedChannelReader {
  async open(bytes: Uint8Array, context: { runUid: string; key: string }): Promise<ArchivedScanFile> {
    await loadH5wasm();
    const dir = await mkdtemp(join(tmpdir(), 'export-scan-'));
    const path = join(dir, 'scan.h5');
    let file: H5File;
    try {
      await writeFile(path, bytes);
      file = openHdf5File(path, 'r');
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw new ArchivedChannelReadError(`the scan file s3://…/${context.key} of run ${context.runUid} cannot be opened: ${hdf5Diagnostic(error)}`, context, { cause: error });
    }
    return {
      read(datasetPath: string): NdArray {
        const where = { ...context, path: datasetPath };
        let dataset: Dataset | null;
        try {
          dataset = file.get(datasetPath) as Dataset | null;
        } catch (error) {
          throw new ArchivedChannelReadError(`run ${context.runUid}: ${datasetPath} cannot be read from ${context.key}: ${hdf5Diagnostic(error)}`, where, { cause: error });
        }
        if (!dataset || dataset.type !== 'Dataset') {
          throw new ArchivedChannelReadError(`run ${context.runUid}: ${context.key} has no dataset ${datasetPath}`, where);
        }
        const meta = dataset.metadata;
        if (meta.type !== H5T_INTEGER && meta.type !== H5T_FLOAT) {
          throw new ArchivedChannelReadError(`run ${context.runUid}: ${datasetPath} is not numeric (HDF5 type class ${meta.type})`, where);
        }
        if (!meta.littleEndian && meta.size > 1) {
          throw new ArchivedChannelReadError(`run ${context.runUid}: ${datasetPath} is big-endian; exports read little-endian channels only`, where);
        }
        const kind = meta.type === H5T_FLOAT ? 'f' : meta.signed ? 'i' : 'u';
        const dtype = parseDtype(`${meta.size === 1 ? '|' : '<'}${kind}${meta.size}`, `${datasetPath} dtype`);
        let value: unknown;
        try {
          value = dataset.value;
        } catch (error) {
          throw new ArchivedChannelReadError(`run ${context.runUid}: reading ${datasetPath} failed: ${hdf5Diagnostic(error)}`, where, { cause: error });
        }
        if (!ArrayBuffer.isView(value)) throw new ArchivedChannelReadError(`run ${context.runUid}: ${datasetPath} did not read as a numeric array`, where);
        const raw = new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
        return { dtype, shape: [...(dataset.shape ?? [])], bytes: raw };
      },
      async close(): Promise<void> {
        try {
          file.close();
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  }
}
