/**
 * The lifecycle every channel writer follows (one module per kind of data, see registry.ts):
 * `layout` places the channel's group and dataset in the entry (final shape, dtype, chunks,
 * filters, attributes), then `rows` cuts each staged chunk into bounded write slices. Nothing
 * here does I/O: the h5wasm adapter executes the plan and the slices.
 */
import type { ElementType } from '../dtypes.js';
import { isBoolType, pointBytes } from '../dtypes.js';
import type { AttrValue, PlanChannel, PlanNode } from '../plan.js';

export const ChannelKind = {
  Scalar: 'scalar',
  Positioner: 'positioner',
  Spectrum: 'spectrum',
  Image: 'image',
} as const;
export type ChannelKind = (typeof ChannelKind)[keyof typeof ChannelKind];

/** How channel datasets are stored: configurable by the composition root. */
export interface StorageOptions {
  /** Upper bound of one HDF5 chunk. */
  maxChunkBytes: number;
  /** Upper bound of one write (and of the memory a write holds). */
  maxSliceBytes: number;
  /**
   * gzip (deflate) level 1-9 of every channel dataset of at least `gzipMinBytes` (scalars, positioners,
   * spectra, images alike); 0 or absent: uncompressed. Default 4 over 1 MiB, as the ESRF writer
   * (blisswriter) does; docs/adr/0015 says why deflate and not a plugin filter.
   */
  gzip?: number;
  /** Datasets smaller than this (whole dataset, uncompressed bytes) stay uncompressed. */
  gzipMinBytes?: number;
  /** gzip level of 1D (spectra) and 2D (images) channels, overriding `gzip` for them; 0: uncompressed. */
  gzipSpectra?: number;
  gzipImages?: number;
}

/** blisswriter's USE_COMPRESSION_THRESHOLD: datasets of 1 MiB and more are compressed. */
export const GZIP_MIN_BYTES = 1024 * 1024;

export const DEFAULT_STORAGE: StorageOptions = {
  maxChunkBytes: 1024 * 1024,
  maxSliceBytes: 8 * 1024 * 1024,
  gzip: 4,
  gzipMinBytes: GZIP_MIN_BYTES,
};

export interface ChannelLayoutInput {
  /** The channel's group, e.g. `/1.1/instrument/diode1`. */
  group: string;
  channel: string;
  resourceUid: string;
  type: ElementType;
  pointShape: readonly number[];
  points: number;
  units?: string | undefined;
  storage: StorageOptions;
}

export interface ChannelLayout {
  nodes: PlanNode[];
  dataset: PlanChannel;
}

/** One bounded write: points [start, stop) taken from `bytes` of the staged slice at byte offset `offset`. */
export interface RowSlice {
  start: number;
  stop: number;
  offset: number;
  length: number;
}

export interface ChannelWriter {
  readonly kind: ChannelKind;
  layout(input: ChannelLayoutInput): ChannelLayout;
}

/** What the `bool_storage` attribute of a bool channel says. */
export const BOOL_STORAGE_NOTE =
  'published as numpy bool; stored as uint8 0/1 (false/true), byte for byte: ' +
  'h5wasm cannot write the HDF5 enum {FALSE, TRUE} h5py uses for numpy bool; read with dataset[()].astype(bool)';

/** Rows per chunk: as many whole points as fit in maxChunkBytes (at least one), never more than the points. */
export function chunkRows(type: ElementType, pointShape: readonly number[], points: number, maxBytes: number): number {
  const row = Math.max(1, pointBytes(type, pointShape));
  return Math.max(1, Math.min(Math.max(points, 1), Math.floor(maxBytes / row)));
}

/**
 * The gzip level of a channel dataset: the kind's own level when set (`kindLevel`, spectra and images),
 * else the storage's; none below `gzipMinBytes` (small datasets gain nothing and cost a filter) nor
 * for an empty dataset.
 */
export function gzipLevelOf(
  type: ElementType,
  pointShape: readonly number[],
  points: number,
  storage: StorageOptions,
  kindLevel?: number,
): number | undefined {
  const level = kindLevel ?? storage.gzip ?? 0;
  if (level <= 0 || points <= 0) return undefined;
  return points * pointBytes(type, pointShape) >= (storage.gzipMinBytes ?? 0) ? level : undefined;
}

/** The dataset node shared by every numeric kind (`kindLevel`: the gzip level of this kind, overriding storage.gzip). */
export function channelDataset(
  input: ChannelLayoutInput,
  leaf: string,
  attrs: Record<string, AttrValue>,
  kindLevel: number | undefined,
): PlanChannel {
  const { type, pointShape, points, storage } = input;
  const rows = chunkRows(type, pointShape, points, storage.maxChunkBytes);
  const gzip = gzipLevelOf(type, pointShape, points, storage, kindLevel);
  // numpy bool: the bytes as published (0/1) in a uint8 dataset that says it holds bools.
  if (isBoolType(type)) attrs = { ...attrs, numpy_dtype: 'bool', bool_storage: BOOL_STORAGE_NOTE };
  return {
    kind: 'channel',
    path: `${input.group}/${leaf}`,
    channel: input.channel,
    resourceUid: input.resourceUid,
    type,
    shape: [points, ...pointShape],
    pointShape,
    chunkRows: rows,
    sliceRows: Math.max(rows, Math.floor(storage.maxSliceBytes / Math.max(1, pointBytes(type, pointShape)) / rows) * rows),
    ...(gzip ? { gzip } : {}),
    attrs,
  };
}

/** Cuts a staged slice of points [start, stop) into writes of at most `sliceRows` points, aligned on chunks. */
export function* rowSlices(dataset: PlanChannel, start: number, stop: number): Generator<RowSlice> {
  const row = pointBytes(dataset.type, dataset.pointShape);
  for (let s = start; s < stop;) {
    const aligned = Math.min(stop, (Math.floor(s / dataset.sliceRows) + 1) * dataset.sliceRows);
    yield { start: s, stop: aligned, offset: (s - start) * row, length: (aligned - s) * row };
    s = aligned;
  }
}
