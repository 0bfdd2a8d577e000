/**
 * The NeXus layout of one scan file, as a pure plan: which groups, string datasets, channel
 * datasets, attributes and soft links the file holds, in creation order. The h5wasm adapter
 * executes the plan; nothing here does I/O. Conventions follow the BLISS writer (blisswriter):
 *
 * ```
 * /                     NX_class=NXroot, file_name, file_time, creator, HDF5_Version, default=<entry>
 * /<scan>.1             NXentry: title, start_time, end_time, end_reason; default=plotselect
 *   instrument/         NXinstrument
 *     <motor>/value     NXpositioner, one per positioner channel (units)
 *     <counter>/data    NXdetector, one per other channel (units)
 *   measurement/<name>  NXcollection of soft links to every channel's dataset
 *   plotselect/         NXdata: signal (links), axes (the positioner for 1D scans)
 *   sample/             NXsample: Sample_<field> of the ICAT snapshot → <field>
 * ```
 */
import type { EventDescriptor, RunStart, RunStop, StreamResource } from '../contract/generated-types.js';
import { InvalidInputError } from '../errors.js';
import { parseElementType, pointBytes, type ElementType } from './dtypes.js';

export type AttrValue = string | number | readonly string[];
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface PlanGroup { kind: 'group'; path: string; attrs: Attrs }
/** A scalar variable-length UTF-8 string dataset. */
export interface PlanText { kind: 'text'; path: string; value: string; attrs: Attrs }
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
  /** Rows (points) per HDF5 chunk: a bounded slice size. */
  chunkRows: number;
  attrs: Attrs;
}
export interface PlanLink { kind: 'link'; path: string; target: string }
export type PlanNode = PlanGroup | PlanText | PlanChannel | PlanLink;

export interface NexusPlan {
  entry: string;
  rootAttrs: Attrs;
  /** Parents before children, channels before the links that point at them. */
  nodes: readonly PlanNode[];
  /** The channel datasets, in the order they appear in `nodes`. */
  channels: readonly PlanChannel[];
  /** Object times written into the HDF5 headers (ms since epoch): the run's stop, never the wall clock. */
  fileTimeMs: number;
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
}

/** HDF5 chunks of at most this many bytes (and the write slices are bounded by the staged chunks). */
export const MAX_CHUNK_BYTES = 1024 * 1024;

interface ChannelInfo {
  channel: string;
  resource: StreamResource;
  role: 'positioner' | 'detector';
  units?: string | undefined;
  name: string;
}

export function buildScanLayout(input: ScanLayoutInput): NexusPlan {
  const { start, stop } = input;
  const runUid = start.uid;
  const entry = `${start.scan_id}.1`;
  const e = `/${entry}`;
  const info = input.scanInfo ?? {};
  const channels = describeChannels(input);

  const startTime = stringOf(info.start_time) ?? start.bliss.start_time ?? isoOf(start.time);
  const endTime = stringOf(info.end_time) ?? stop.bliss.end_time ?? isoOf(stop.time);
  const title = stringOf(info.title) ?? start.bliss.title;
  const endReason = stringOf(info.end_reason) ?? stop.bliss.end_reason ?? stop.reason ?? stop.exit_status.toUpperCase();

  const nodes: PlanNode[] = [];
  const planned: PlanChannel[] = [];
  const entryGroup: PlanGroup = { kind: 'group', path: e, attrs: { NX_class: 'NXentry' } };
  nodes.push(entryGroup);
  nodes.push(text(`${e}/title`, title), text(`${e}/start_time`, startTime), text(`${e}/end_time`, endTime), text(`${e}/end_reason`, endReason));

  nodes.push({ kind: 'group', path: `${e}/instrument`, attrs: { NX_class: 'NXinstrument' } });
  const datasetPath = new Map<string, string>();
  for (const c of channels) {
    const group = `${e}/instrument/${c.name}`;
    const leaf = c.role === 'positioner' ? 'value' : 'data';
    nodes.push({ kind: 'group', path: group, attrs: { NX_class: c.role === 'positioner' ? 'NXpositioner' : 'NXdetector' } });
    const type = parseElementType(c.resource.parameters.dtype_numpy, { runUid, stream: c.channel });
    const pointShape = c.resource.parameters.point_shape;
    const points = input.points[c.channel];
    if (points === undefined) throw new InvalidInputError(`no point count for channel ${c.channel}`, { runUid, stream: c.channel });
    const rowBytes = Math.max(1, pointBytes(type, pointShape));
    const attrs: Record<string, AttrValue> = {};
    if (c.units) attrs.units = c.units;
    if (pointShape.length === 1) attrs.interpretation = 'spectrum';
    if (pointShape.length === 2) attrs.interpretation = 'image';
    const channel: PlanChannel = {
      kind: 'channel', path: `${group}/${leaf}`, channel: c.channel, resourceUid: c.resource.uid, type,
      shape: [points, ...pointShape], pointShape, chunkRows: Math.max(1, Math.min(points, Math.floor(MAX_CHUNK_BYTES / rowBytes))), attrs,
    };
    nodes.push(channel);
    planned.push(channel);
    datasetPath.set(c.channel, channel.path);
  }

  nodes.push({ kind: 'group', path: `${e}/measurement`, attrs: { NX_class: 'NXcollection' } });
  for (const c of channels) nodes.push({ kind: 'link', path: `${e}/measurement/${c.name}`, target: datasetPath.get(c.channel)! });

  const plot = choosePlot(channels, info, planned);
  if (plot) {
    const attrs: Record<string, AttrValue> = { NX_class: 'NXdata', signal: plot.signal.name };
    if (plot.axis) {
      const signalRank = (planned.find((p) => p.channel === plot.signal.channel)?.shape.length ?? 1);
      attrs.axes = [plot.axis.name, ...Array<string>(signalRank - 1).fill('.')];
      attrs[`${plot.axis.name}_indices`] = 0;
    }
    nodes.push({ kind: 'group', path: `${e}/plotselect`, attrs });
    nodes.push({ kind: 'link', path: `${e}/plotselect/${plot.signal.name}`, target: datasetPath.get(plot.signal.channel)! });
    if (plot.axis) nodes.push({ kind: 'link', path: `${e}/plotselect/${plot.axis.name}`, target: datasetPath.get(plot.axis.channel)! });
    entryGroup.attrs = { ...entryGroup.attrs, default: 'plotselect' };
  }

  const sample = sampleFields(start);
  if (sample.length > 0) {
    nodes.push({ kind: 'group', path: `${e}/sample`, attrs: { NX_class: 'NXsample' } });
    for (const [field, value] of sample) nodes.push(text(`${e}/sample/${field}`, value));
  }

  return {
    entry,
    rootAttrs: {
      NX_class: 'NXroot',
      file_name: input.fileName,
      file_time: endTime,
      creator: input.creator,
      HDF5_Version: input.hdf5Version,
      default: entry,
    },
    nodes,
    channels: planned,
    fileTimeMs: Math.round(stop.time * 1000),
  };
}

function text(path: string, value: string): PlanText {
  return { kind: 'text', path, value, attrs: {} };
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function isoOf(epochSeconds: number): string {
  return new Date(Math.round(epochSeconds * 1000)).toISOString();
}

/** A name usable as one HDF5 link name. */
export function hdf5Name(name: string): string {
  const cleaned = name.replace(/\//g, '_');
  return cleaned === '' || /^\.+$/.test(cleaned) ? `_${cleaned}` : cleaned;
}

/** Short name of a BLISS channel: the part after the last colon (`axis:sy` → `sy`). */
export function shortName(channel: string): string {
  const i = channel.lastIndexOf(':');
  return hdf5Name(i >= 0 && i < channel.length - 1 ? channel.slice(i + 1) : channel);
}

/**
 * Channels in a stable order (descriptors by name, their data_keys in published order, then any
 * resource no descriptor mentions), named by their short name; names shared by several channels
 * fall back to the full channel name with `:` → `_`.
 */
function describeChannels(input: ScanLayoutInput): ChannelInfo[] {
  const byKey = new Map(input.resources.map((r) => [r.data_key, r] as const));
  const ordered: { channel: string; units?: string | undefined; role: ChannelInfo['role'] }[] = [];
  const seen = new Set<string>();
  for (const d of [...input.descriptors].sort((a, b) => a.name.localeCompare(b.name))) {
    for (const [channel, key] of Object.entries(d.data_keys)) {
      if (!key || seen.has(channel) || !byKey.has(channel)) continue;
      seen.add(channel);
      ordered.push({ channel, units: key.units ?? undefined, role: key.bliss_role === 'positioner' ? 'positioner' : 'detector' });
    }
  }
  for (const r of [...input.resources].sort((a, b) => a.data_key.localeCompare(b.data_key))) {
    if (seen.has(r.data_key)) continue;
    seen.add(r.data_key);
    ordered.push({ channel: r.data_key, role: r.data_key.startsWith('axis:') ? 'positioner' : 'detector' });
  }
  const counts = new Map<string, number>();
  for (const o of ordered) counts.set(shortName(o.channel), (counts.get(shortName(o.channel)) ?? 0) + 1);
  const used = new Set<string>();
  return ordered.map((o) => {
    const short = shortName(o.channel);
    let name = counts.get(short)! > 1 ? hdf5Name(o.channel.replace(/:/g, '_')) : short;
    for (let n = 2; used.has(name); n += 1) name = `${short}_${n}`;
    used.add(name);
    return { ...o, resource: byKey.get(o.channel)!, name };
  });
}

/** Signal and axis of the default plot: scan_info.plots first, else the first counter against the positioner. */
function choosePlot(channels: ChannelInfo[], info: Readonly<Record<string, unknown>>, planned: PlanChannel[]):
  { signal: ChannelInfo; axis?: ChannelInfo | undefined } | undefined {
  const find = (name: unknown) => (typeof name === 'string'
    ? channels.find((c) => c.channel === name) ?? channels.find((c) => c.name === name || shortName(c.channel) === name)
    : undefined);
  const plots = Array.isArray(info.plots) ? (info.plots as unknown[]) : [];
  for (const plot of plots) {
    const items = (plot as { items?: unknown }).items;
    if (!Array.isArray(items)) continue;
    for (const item of items as { x?: unknown; y?: unknown }[]) {
      const signal = find(item.y);
      if (signal) return { signal, axis: find(item.x) };
    }
  }
  const scalar = (c: ChannelInfo) => planned.find((p) => p.channel === c.channel)?.pointShape.length === 0;
  const signal = channels.find((c) => c.role === 'detector' && scalar(c) && !c.channel.startsWith('timer:'))
    ?? channels.find((c) => c.role === 'detector' && scalar(c))
    ?? channels.find((c) => c.role === 'detector');
  if (!signal) return undefined;
  return { signal, axis: channels.find((c) => c.role === 'positioner') };
}

/** `Sample_<field>` of the ICAT snapshot → sample/<field> (sorted); RunStart.sample stands in for a missing name. */
function sampleFields(start: RunStart): [string, string][] {
  const fields = new Map<string, string>();
  for (const [key, value] of Object.entries(start.icat)) {
    if (!key.startsWith('Sample_') || typeof value !== 'string' || key.length <= 'Sample_'.length) continue;
    fields.set(hdf5Name(key.slice('Sample_'.length)), value);
  }
  if (!fields.has('name') && start.sample) fields.set('name', start.sample);
  return [...fields.entries()].sort(([a], [b]) => a.localeCompare(b));
}
