/** The pure codecs of the registry: NPY and CSV (the HDF5 one needs h5wasm: src/adapters/analysis-hdf5-array.ts). */
import { decodeCsv, encodeCsv } from './csv-format.js';
import { AnalysisFormatError } from './errors.js';
import { decodeNpy, encodeNpy } from './npy-format.js';
import { Spec, type ArrayCodec } from './writer-handler.js';

export const npyCodec: ArrayCodec = {
  spec: Spec.Npy,
  mimetype: 'application/x-npy',
  extension: 'npy',
  defaults: (kwargs) => kwargs,
  encode: async (array) => encodeNpy(array),
  decode: async (bytes, kwargs, what) => {
    const array = decodeNpy(bytes, what);
    if (array.dtype !== kwargs.dtype_numpy)
      throw new AnalysisFormatError(`${what} holds ${array.dtype}, its resource says ${kwargs.dtype_numpy}`);
    return array;
  },
};

export const csvCodec: ArrayCodec = {
  spec: Spec.Csv,
  mimetype: 'text/csv',
  extension: 'csv',
  defaults: (kwargs) => kwargs,
  encode: async (array, kwargs) => encodeCsv(array, kwargs.data_key),
  decode: async (bytes, kwargs, what) => decodeCsv(bytes, kwargs.data_key, kwargs.dtype_numpy, kwargs.point_shape, what),
};
