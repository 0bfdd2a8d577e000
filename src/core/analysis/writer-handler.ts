/**
 * Writer/handler pairs, after the databroker analysis-store design: a writer is created with the
 * resource kwargs its handler takes; called with data it stores the data and returns the datum
 * kwargs; the handler, created with the same resource kwargs, reads the data back from them.
 *
 * Here a resource is one data key of one stream of a derived run, stored under
 * `analysis/<run uid>/<stream>/<key>/`; a datum is one object holding points [start, stop).
 * The format of the objects is a codec (NPY, CSV, HDF5 …), registered by spec in
 * src/adapters/analysis-formats.ts.
 */
import { createHash } from 'node:crypto';
import { Prefix, safeSegment } from '../object-keys.js';
import type { ObjectStore } from '../ports.js';
import { AnalysisFormatError, AnalysisInputError } from './errors.js';
import { checkArray, parseDtype, type Dtype, type NdArray } from './ndarray.js';

/** The specs of the registry (StreamResource `spec` and the key of src/adapters/analysis-formats.ts). */
export const Spec = {
  Hdf5Array: 'BA_HDF5_ARRAY',
  Npy: 'BA_NPY',
  Csv: 'BA_CSV',
} as const;
export type Spec = (typeof Spec)[keyof typeof Spec];

export function isSpec(value: unknown): value is Spec {
  return Object.values(Spec).includes(value as Spec);
}

/** StreamResource.parameters: everything a writer and its handler are created with. */
export interface ResourceKwargs {
  run_uid: string;
  stream: string;
  data_key: string;
  dtype_numpy: Dtype;
  point_shape: number[];
  /** HDF5 array: the path of the dataset in each object. */
  dataset?: string;
}

/** StreamDatum `indices` + `chunk`: where points [start, stop) are and what their object must hash to. */
export interface DatumKwargs {
  indices: { start: number; stop: number };
  chunk: { bucket: string; key: string; bytes: number; sha256: string };
}

/** A storage format: turns an array into an object's bytes and back, knowing the resource kwargs. */
export interface ArrayCodec {
  readonly spec: Spec;
  readonly mimetype: string;
  readonly extension: string;
  /** Resource kwargs this codec adds (e.g. the HDF5 dataset path). */
  defaults(kwargs: ResourceKwargs): ResourceKwargs;
  encode(array: NdArray, kwargs: ResourceKwargs): Promise<Uint8Array>;
  decode(bytes: Uint8Array, kwargs: ResourceKwargs, what: string): Promise<NdArray>;
}

export interface DatumWriter {
  readonly spec: Spec;
  readonly mimetype: string;
  readonly resourceKwargs: ResourceKwargs;
  /** `s3://<bucket>/analysis/<run>/<stream>/<key>/` */
  readonly uri: string;
  /** Stores the next points (rows of `array`) and returns the datum kwargs that read them back. */
  write(array: NdArray): Promise<DatumKwargs>;
}

export interface DatumHandler {
  read(datum: DatumKwargs): Promise<NdArray>;
}

const NAME = /^[A-Za-z0-9._:-]{1,120}$/;

/** Checks a stream or data key name: it becomes part of document uids and object keys. */
export function checkName(name: string, what: string): string {
  if (typeof name !== 'string' || !NAME.test(name) || /^\.+$/.test(name)) {
    throw new AnalysisInputError(`${what} ${JSON.stringify(name)} must be 1-120 characters of A-Z a-z 0-9 . _ : -`);
  }
  return name;
}

/** `analysis/<run>/<stream>/<key>/` */
export function resourcePrefix(kwargs: Pick<ResourceKwargs, 'run_uid' | 'stream' | 'data_key'>): string {
  return `${Prefix.Analysis}${safeSegment(kwargs.run_uid, 'run uid')}/${safeSegment(kwargs.stream, 'stream')}/${safeSegment(kwargs.data_key, 'data key')}/`;
}

/** `analysis/<run>/<stream>/<key>/<start>-<stop>.<ext>` (12-digit indices: keys sort in point order). */
export function datumKey(kwargs: ResourceKwargs, start: number, stop: number, extension: string): string {
  const pad = (n: number) => String(n).padStart(12, '0');
  return `${resourcePrefix(kwargs)}${pad(start)}-${pad(stop)}.${extension}`;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function normalise(kwargs: ResourceKwargs): ResourceKwargs {
  return {
    ...kwargs,
    run_uid: checkName(kwargs.run_uid, 'run uid'),
    stream: checkName(kwargs.stream, 'stream'),
    data_key: checkName(kwargs.data_key, 'data key'),
    dtype_numpy: parseDtype(kwargs.dtype_numpy),
    point_shape: [...kwargs.point_shape],
  };
}

export function createDatumWriter(codec: ArrayCodec, store: ObjectStore, resourceKwargs: ResourceKwargs): DatumWriter {
  const kwargs = codec.defaults(normalise(resourceKwargs));
  let next = 0;
  return {
    spec: codec.spec,
    mimetype: codec.mimetype,
    resourceKwargs: kwargs,
    uri: `s3://${store.bucket}/${resourcePrefix(kwargs)}`,
    async write(array) {
      checkArray(array, `${kwargs.stream}/${kwargs.data_key}`);
      if (array.dtype !== kwargs.dtype_numpy || JSON.stringify(array.shape.slice(1)) !== JSON.stringify(kwargs.point_shape)) {
        throw new AnalysisInputError(
          `${kwargs.stream}/${kwargs.data_key}: ${array.dtype} points of shape ${JSON.stringify(array.shape.slice(1))} given to a writer of ${kwargs.dtype_numpy} ${JSON.stringify(kwargs.point_shape)}`,
        );
      }
      const start = next;
      const stop = start + (array.shape[0] ?? 0);
      const key = datumKey(kwargs, start, stop, codec.extension);
      const stored = await store.put(key, await codec.encode(array, kwargs), codec.mimetype);
      next = stop;
      return { indices: { start, stop }, chunk: { bucket: store.bucket, key, bytes: stored.bytes, sha256: stored.sha256 } };
    },
  };
}

export function createDatumHandler(codec: ArrayCodec, store: ObjectStore, resourceKwargs: ResourceKwargs): DatumHandler {
  const kwargs = codec.defaults(normalise(resourceKwargs));
  return {
    async read(datum) {
      const { key } = datum.chunk;
      const what = `s3://${datum.chunk.bucket}/${key}`;
      if (datum.chunk.bucket !== store.bucket)
        throw new AnalysisFormatError(`${what} is not in the archive bucket ${store.bucket}`, { key });
      if (!key.startsWith(resourcePrefix(kwargs))) throw new AnalysisFormatError(`${what} is not under ${resourcePrefix(kwargs)}`, { key });
      const bytes = await store.get(key);
      if (bytes.byteLength !== datum.chunk.bytes || sha256Hex(bytes) !== datum.chunk.sha256) {
        throw new AnalysisFormatError(`${what} has ${bytes.byteLength} bytes and does not match the sha256 of its datum`, { key });
      }
      const array = await codec.decode(bytes, kwargs, what);
      const points = datum.indices.stop - datum.indices.start;
      if (array.dtype !== kwargs.dtype_numpy || JSON.stringify(array.shape) !== JSON.stringify([points, ...kwargs.point_shape])) {
        throw new AnalysisFormatError(
          `${what} holds ${array.dtype} ${JSON.stringify(array.shape)}, its resource says ${kwargs.dtype_numpy} ${JSON.stringify([points, ...kwargs.point_shape])}`,
          { key },
        );
      }
      return array;
    },
  };
}
