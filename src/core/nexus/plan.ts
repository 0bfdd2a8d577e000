/** The nodes of a scan file plan (see layout.ts): what the h5wasm adapter creates, in order. */
import type { ElementType } from './dtypes.js';

/** A scalar attribute of a given element type (`_FillValue` has its dataset's type). */
export interface TypedScalar {
  readonly type: ElementType;
  readonly value: number | bigint;
}
export type AttrValue = string | number | readonly string[] | TypedScalar;
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface PlanGroup {
  kind: 'group';
  path: string;
  attrs: Attrs;
}
/** A variable-length UTF-8 string dataset: scalar for a string, 1D for a list (JSON channels). */
export interface PlanText {
  kind: 'text';
  path: string;
  value: string | string[];
  attrs: Attrs;
}
/** A scalar number dataset (motor snapshots, scan parameters); NaN is kept. */
export interface PlanNumber {
  kind: 'number';
  path: string;
  value: number;
  dtype: '<f8' | '<i8';
  attrs: Attrs;
}
/** A small array of numbers of the given shape, C order (missing point ranges [n, 2], scan metadata lists). */
export interface PlanNumbers {
  kind: 'numbers';
  path: string;
  values: readonly number[];
  shape: readonly number[];
  dtype: '<f8' | '<i8';
  attrs: Attrs;
}
/** The dataset of one channel, created at its final shape and filled from the staged chunks. */
export interface PlanChannel {
  kind: 'channel';
  path: string;
  /** BLISS channel name (`axis:sy`), the key of RunStop.bliss.points. */
  channel: string;
  resourceUid: string;
  type: ElementType;
  /** [points, ...point shape]. */
  shape: readonly number[];
  pointShape: readonly number[];
  /** Rows (points) per HDF5 chunk. */
  chunkRows: number;
  /** Rows per write: a multiple of chunkRows bounding the memory of one write. */
  sliceRows: number;
  /** gzip level, absent: uncompressed. */
  gzip?: number;
  attrs: Attrs;
}
/**
 * A copy of a channel reshaped onto the scan grid [slow, fast] (2D scans): the default plot's image.
 * Filled from the same slices as its channel, row segment by row segment.
 */
export interface PlanGridSignal {
  kind: 'grid-signal';
  path: string;
  channel: string;
  type: ElementType;
  shape: readonly [number, number];
  attrs: Attrs;
}
/**
 * An axis of the grid: the positioner's values averaged over the other dimension and made linear
 * (least squares), as the BLISS writer does. Written once its channel is complete.
 */
export interface PlanGridAxis {
  kind: 'grid-axis';
  path: string;
  channel: string;
  type: ElementType;
  dimension: 'fast' | 'slow';
  grid: { fast: number; slow: number };
  attrs: Attrs;
}
/**
 * The first `shape[0]` points of a channel, copied (the default plot when its signal and axes have
 * different lengths: a scan stopped between two streams' points). Filled from the same slices as its channel.
 */
export interface PlanPrefixCopy {
  kind: 'prefix-copy';
  path: string;
  channel: string;
  type: ElementType;
  shape: readonly number[];
  attrs: Attrs;
}
export interface PlanLink {
  kind: 'link';
  path: string;
  target: string;
}
/** An HDF5 external link to `target` in `file` (a path relative to the scan file's folder): Lima frames (writers/lima-image-writer.ts). */
export interface PlanExternalLink {
  kind: 'external-link';
  path: string;
  file: string;
  target: string;
}
export type PlanNode =
  | PlanGroup
  | PlanText
  | PlanNumber
  | PlanNumbers
  | PlanChannel
  | PlanGridSignal
  | PlanGridAxis
  | PlanPrefixCopy
  | PlanLink
  | PlanExternalLink;
