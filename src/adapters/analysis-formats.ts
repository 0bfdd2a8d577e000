/**
 * The registry of writer/handler pairs, keyed by spec: every spec has a codec, and an unknown
 * spec is refused. `writerFor` / `handlerFor` build a pair member bound to the archive bucket.
 */
import { csvCodec, npyCodec } from '../core/analysis/codecs.js';
import { UnknownSpecError } from '../core/analysis/errors.js';
import {
  createDatumHandler,
  createDatumWriter,
  Spec,
  type ArrayCodec,
  type DatumHandler,
  type DatumWriter,
  type ResourceKwargs,
} from '../core/analysis/writer-handler.js';
import type { ObjectStore } from '../core/ports.js';
import { hdf5ArrayCodec } from './analysis-hdf5-array.js';

export const analysisFormats = {
  [Spec.Hdf5Array]: hdf5ArrayCodec,
  [Spec.Npy]: npyCodec,
  [Spec.Csv]: csvCodec,
} as const satisfies Record<Spec, ArrayCodec>;

export function codecFor(spec: string): ArrayCodec {
  if (!Object.hasOwn(analysisFormats, spec)) {
    throw new UnknownSpecError(
      `no writer/handler pair for spec ${JSON.stringify(spec)} (known: ${Object.keys(analysisFormats).join(', ')})`,
    );
  }
  return analysisFormats[spec as Spec];
}

export function writerFor(spec: string, store: ObjectStore, kwargs: ResourceKwargs): DatumWriter {
  return createDatumWriter(codecFor(spec), store, kwargs);
}

export function handlerFor(spec: string, store: ObjectStore, kwargs: ResourceKwargs): DatumHandler {
  return createDatumHandler(codecFor(spec), store, kwargs);
}
