/**
 * The kinds of StreamResource the archive stages, told apart by mimetype: numeric chunks, NDJSON
 * chunks of a JSON channel, and Lima HDF5 files uploaded as they are (frames linked, never copied).
 */
import type { StreamResource } from '../contract/generated-types.js';

/** Chunks of a numeric channel: raw little/big-endian points as published (docs/bridge.md). */
export const CHUNKS_MIMETYPE = 'application/x-beamline-archive-chunks';

/**
 * JSON channels are staged as NDJSON chunks (one value per line, as published) and described with
 * numpy's object dtype: each point is one variable-length UTF-8 string (the value's JSON text).
 * `|O8` is numpy's spelling of `object` that event-model's dtype_numpy pattern accepts.
 */
export const JSON_CHUNKS_MIMETYPE = 'application/x-beamline-archive-ndjson';
export const JSON_DTYPE_NUMPY = '|O8';

/** Mimetype of a StreamResource whose frames stay in Lima HDF5 files uploaded as they are. */
export const LIMA_HDF5_MIMETYPE = 'application/x-hdf5-lima';

/** Whether a StreamResource describes NDJSON chunks (a JSON channel). */
export function isJsonResource(resource: Pick<StreamResource, 'mimetype'>): boolean {
  return resource.mimetype === JSON_CHUNKS_MIMETYPE;
}

/** Whether a StreamResource describes uploaded Lima files (frames linked, never copied). */
export function isLimaResource(resource: Pick<StreamResource, 'mimetype'>): boolean {
  return resource.mimetype === LIMA_HDF5_MIMETYPE;
}

/** The kind of a StreamResource: numeric chunks, NDJSON chunks of a JSON channel, or uploaded Lima files. */
export type ResourceKind = 'chunks' | 'json' | 'lima';

/** The kind of a StreamResource, by its mimetype (any other mimetype is read as numeric chunks, as before kinds were named). */
export function resourceKindOf(resource: Pick<StreamResource, 'mimetype'>): ResourceKind {
  return isLimaResource(resource) ? 'lima' : isJsonResource(resource) ? 'json' : 'chunks';
}
