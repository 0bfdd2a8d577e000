/**
 * What every scan layout takes and gives (the BLISS layout in nexus/layout.ts, the Bluesky one in
 * bluesky/scan-layout.ts: peers, chosen by nexus/scan-layouts.ts by the run's origin).
 */
import type { EventDescriptor, RunStart, RunStop, StreamDatum, StreamResource } from '../contract/generated-types.js';
import type { Attrs, PlanChannel, PlanNode } from './plan.js';
import type { StorageOptions } from './writers/channel-writer.js';
import type { LimaLinkedFile } from './writers/lima-image-writer.js';

export interface NexusPlan {
  entry: string;
  rootAttrs: Attrs;
  /** Parents before children, channels before the links and plots that use them. */
  nodes: readonly PlanNode[];
  /** The channel datasets, in the order they appear in `nodes`. */
  channels: readonly PlanChannel[];
  /**
   * Channels the file cannot hold (a dtype or point shape no HDF5 writer module takes), each with the
   * reason; listed in the file (`notes/refused_channels`) and in the run record. Every other channel is in the file.
   */
  refused?: readonly RefusedChannel[];
  /** Object times written into the HDF5 headers (ms since epoch): the run's stop, never the wall clock. */
  fileTimeMs: number;
  /**
   * The `point_shape` datasets of channels whose point shape changed between chunks: dataset path →
   * its channel (nexus/point-shapes.ts). Absent when no channel changed shape.
   */
  pointShapeOf?: ReadonlyMap<string, string>;
}

export interface ScanLayoutInput {
  start: RunStart;
  stop: RunStop;
  descriptors: readonly EventDescriptor[];
  resources: readonly StreamResource[];
  /** Final scan_info (RunStop.bliss.scan_info_ref), else the PREPARED one of RunStart. */
  scanInfo?: Readonly<Record<string, unknown>> | undefined;
  /** Points per channel, already checked against the staged chunks. */
  points: Readonly<Record<string, number>>;
  fileName: string;
  creator: string;
  hdf5Version: string;
  /** Chunking, write slices and compression; default DEFAULT_STORAGE. */
  storage?: StorageOptions | undefined;
  /**
   * Point ranges [start, stop) per channel that were trimmed in Redis before the bridge read them
   * (RunStop.bliss.gaps). Their rows hold the fill value (NaN for floats, `_FillValue`); the channel
   * lists them in its `missing_points` attribute and dataset.
   */
  missing?: Readonly<Record<string, readonly (readonly [number, number])[]>> | undefined;
  /** Lima channels: their uploaded files, relative to the scan file's folder (linked, never copied). */
  limaFiles?: Readonly<Record<string, readonly LimaLinkedFile[]>> | undefined;
  /** JSON channels' points (one JSON text per point, '' where missing), read from their NDJSON chunks. */
  jsonValues?: Readonly<Record<string, readonly string[]>> | undefined;
  /** Channels refused before the layout: channel → reason. */
  refused?: Readonly<Record<string, string>> | undefined;
  /**
   * The run's StreamDatums by channel. With them, buildScanLayout applies the point-shape fix-up
   * (nexus/point-shapes.ts): a channel whose chunks have different point shapes is laid out at the
   * largest, with its `point_shape` dataset (or refused when padding would be too large).
   */
  datumsByChannel?: ReadonlyMap<string, readonly StreamDatum[]> | undefined;
}

/** A channel the scan file does not hold, and why (run record `refused_channels`, file `notes/refused_channels`). */
export interface RefusedChannel {
  channel: string;
  reason: string;
}

export interface ChannelInfo {
  channel: string;
  resource: StreamResource;
  role: 'positioner' | 'detector';
  units?: string | undefined;
  name: string;
}

/** A name usable as one HDF5 link name. */
export function hdf5Name(name: string): string {
  const cleaned = name.replace(/\//g, '_');
  return cleaned === '' || /^\.+$/.test(cleaned) ? `_${cleaned}` : cleaned;
}

/** `missing_points` attribute text: `[0, 40) [80, 100)`. */
export function missingPointsText(ranges: readonly (readonly [number, number])[]): string {
  return [...ranges]
    .sort((a, b) => a[0] - b[0])
    .map(([start, stop]) => `[${start}, ${stop})`)
    .join(' ');
}
