/**
 * The export model: what an on-demand export (NXstxm, NeXus, CSV) is built from and what it
 * produces. Pure types: the export worker (functions/export-worker) loads `ExportRun`s from the
 * run catalogue and the archived scan files, `buildExport` (src/core/exports/build-export.ts)
 * turns them into an `ExportProduct`, and an adapter writes the product's HDF5 trees with h5wasm.
 */
import type { Dtype, NdArray } from '../analysis/ndarray.js';

export const ExportFormat = {
  Nxstxm: 'nxstxm',
  Nexus: 'nexus',
  Csv: 'csv',
} as const;
export type ExportFormat = (typeof ExportFormat)[keyof typeof ExportFormat];

export function isExportFormat(value: unknown): value is ExportFormat {
  return typeof value === 'string' && (Object.values(ExportFormat) as string[]).includes(value);
}

/**
 * The points of a column read on demand, a slice of rows at a time: the archived scan file stays on
 * local disk and an export holds only the slice it is writing (memory flat with the file's size).
 */
export interface ColumnSource {
  readonly dtype: Dtype;
  /** `[points, ...point shape]`. */
  readonly shape: readonly number[];
  /** Rows [start, stop) as an array of shape `[stop - start, ...point shape]`. */
  rows(start: number, stop: number): NdArray;
}

/** A column's points: in memory (an `NdArray`) or read on demand (a `ColumnSource`). */
export type ColumnData = NdArray | ColumnSource;

export function isColumnSource(data: ColumnData | Hdf5DatasetValue): data is ColumnSource {
  return typeof data === 'object' && data !== null && typeof (data as Partial<ColumnSource>).rows === 'function';
}

/**
 * One data key of one stream: every point of it, as archived (dtype and bytes unchanged). `A` is
 * `NdArray` for a column in memory (unit tests, small derived columns)
 * and `ColumnData` for what the loader gives: columns read from the archived file slice by slice.
 */
export interface ExportColumn<A extends ColumnData = NdArray> {
  /** The data key as the stream's descriptor names it (`det`, `energy`, `simulation_diode_sampling_controller:diode1`). */
  dataKey: string;
  /** `[points, ...point shape]`. */
  array: A;
  units?: string | undefined;
  /** The descriptor's `source` of the key, when it has one (`PV:…`, `SIM:…`). */
  source?: string | undefined;
  /**
   * Point ranges [start, stop) lost before archiving (trimmed in Redis; the run record's `gaps`):
   * the scan file holds HDF5's fill value (0) there, which is no reading and must never be exported as one.
   */
  missing?: readonly (readonly [number, number])[] | undefined;
  /**
   * A key whose point shape changed mid-stream (a free dimension): `array` is padded to the largest
   * shape with `fillValue` (NaN for floats, 0 for integers), and this int64 [points, rank] array holds
   * every point's real shape (the scan file's `point_shape`, docs/nexus-layout.md). Absent otherwise.
   */
  pointShapes?: A | undefined;
  fillValue?: number | undefined;
}

/** One stream of a run (`primary`, `baseline`; a BLISS run has one stream per descriptor). */
export interface ExportStream<A extends ColumnData = NdArray> {
  name: string;
  /** The EventDescriptor document as recorded (data_keys, object_keys, hints, configuration). */
  descriptor: Record<string, unknown>;
  columns: ExportColumn<A>[];
  /** Event times (seconds since the epoch), one per point, when the source recorded them. */
  times?: Float64Array | undefined;
}

/** One archived run as an export sees it. */
export interface ExportRun<A extends ColumnData = NdArray> {
  uid: string;
  /** The RunStart document as recorded: event-model keys plus the source's metadata (Bluesky `md`, BLISS identity). */
  start: Record<string, unknown>;
  /** The RunStop document as recorded. */
  stop?: Record<string, unknown> | undefined;
  streams: ExportStream<A>[];
}

/** A run as the loader gives it: columns read from the archived scan file on demand. */
export type ArchivedExportRun = ExportRun<ColumnData>;

/** An HDF5 attribute value: strings and numbers (scalars or 1D lists). */
export type Hdf5AttrValue = string | number | readonly string[] | readonly number[];

/**
 * A dataset of an HDF5 tree: a string, a number, a list of strings, or an array with its numpy
 * dtype, in memory or read slice by slice while it is written (`ColumnSource`).
 */
export type Hdf5DatasetValue = string | number | readonly string[] | NdArray | ColumnSource;

/**
 * A whole HDF5 file as data: groups (parents listed before children), datasets and soft links,
 * by absolute path. The core builds it; an adapter writes it (one h5wasm module).
 */
export interface Hdf5Tree {
  attrs: Record<string, Hdf5AttrValue>;
  groups: { path: string; attrs: Record<string, Hdf5AttrValue> }[];
  datasets: { path: string; value: Hdf5DatasetValue; attrs?: Record<string, Hdf5AttrValue> }[];
  softLinks: { path: string; target: string }[];
}

/**
 * One file of an export: an HDF5 tree or a text body, under a name relative to the export's folder.
 * A text body is produced piece by piece (`chunks`, each call a fresh pass), so a table of any size
 * is streamed to disk, never held as one string.
 */
export type ExportFile =
  { name: string; kind: 'hdf5'; tree: Hdf5Tree } | { name: string; kind: 'text'; contentType: string; chunks: () => Iterable<string> };

/** The whole text of a text file (tests and small files; a build streams `chunks` to disk instead). */
export function textOf(file: Extract<ExportFile, { kind: 'text' }>): string {
  return [...file.chunks()].join('');
}

export interface ExportProduct {
  format: ExportFormat;
  files: ExportFile[];
  /** What a reader should know about the product (entries made, columns left out and why). */
  notes: string[];
}

export interface BuildExportOptions {
  exportId: string;
  /** `beamline-archive <version>`: the creator attribute of HDF5 files. */
  creator: string;
  now: Date;
}
