/**
 * The NeXus layout of one scan file, as a pure plan: which groups, string and number datasets,
 * channel datasets, attributes and soft links the file holds, in creation order. The h5wasm
 * adapter executes the plan; nothing here does I/O. The layout is the one the ESRF writer
 * (blisswriter) gives the same scan; docs/nexus-layout.md lists it and the deliberate differences.
 *
 * ```
 * /                       NX_class=NXroot, file_name, file_time, creator, HDF5_Version, default=<entry>
 * /<scan>.1               NXentry: title, start_time, end_time, end_reason; default=plotselect
 *   instrument/           NXinstrument
 *     <positioner>/value  NXpositioner per scanned positioner (motors; the timer of loopscan/timescan/ct)
 *     <counter>/data      NXdetector per other channel (scalars, spectra, images: writers/registry.ts)
 *     positioners/        NXcollection: every motor at the start, scanned ones as links to their values
 *     positioners_start/ positioners_end/ positioners_dial_start/ positioners_dial_end/   NXcollection snapshots
 *   measurement/<name>    NXcollection of soft links to every channel's dataset
 *   notes/note_NN         NXnote per scan comment (data, date, type); notes itself is an NXnote (NXentry's class for it)
 *   plotselect/           NXdata: signal and axes (links; for 2D scans an image on the grid with both motor axes)
 *   sample/               NXsample: Sample_<field> of the ICAT snapshot → <field>
 *   scan_parameters/      NXparameters: count_time
 *   writer/               NXnote: status, date
 * ```
 */
import { InvalidInputError } from '../errors.js';
import { runTitleOf } from '../bluesky/run-origin.js';
import { fillValueOf } from './dtypes.js';
import type { PlanChannel, PlanGroup, PlanNode, PlanText } from './plan.js';
import {
  hdf5Name,
  missingPointsText,
  type ChannelInfo,
  type NexusPlan,
  type RefusedChannel,
  type ScanLayoutInput,
} from './layout-input.js';
import { sampleNodes } from './sample-layout.js';
import { planPlot } from './plot-layout.js';
import { scanMetaNodes } from './scan-meta.js';
import { channelUnit, positionerSnapshots, scanNotes, scanPositioners, type ScanInfo } from './scan-info.js';
import { DEFAULT_STORAGE } from './writers/channel-writer.js';
import { resourceWriterFor } from './writers/registry.js';

export type {
  AttrValue,
  Attrs,
  PlanChannel,
  PlanGridAxis,
  PlanGridSignal,
  PlanGroup,
  PlanLink,
  PlanNode,
  PlanNumber,
  PlanNumbers,
  PlanPrefixCopy,
  PlanText,
  TypedScalar,
} from './plan.js';
export type { ChannelInfo, NexusPlan, RefusedChannel, ScanLayoutInput } from './layout-input.js';
export { hdf5Name, missingPointsText } from './layout-input.js';

/** Where the refused channels are listed in the scan file, below the entry. */
export const REFUSED_CHANNELS_NOTE = 'notes/refused_channels';

/** HDF5 chunks of at most this many bytes by default (DEFAULT_STORAGE.maxChunkBytes). */
export const MAX_CHUNK_BYTES = DEFAULT_STORAGE.maxChunkBytes;

/** The layout of a BLISS scan's file (chosen by src/core/nexus/scan-layouts.ts for runs of BLISS origin). */
export function buildBlissScanLayout(input: ScanLayoutInput): NexusPlan {
  const { start, stop } = input;
  const runUid = start.uid;
  const entry = `${start.scan_id}.1`;
  const e = `/${entry}`;
  const info: ScanInfo = input.scanInfo ?? (start.bliss?.scan_info as ScanInfo | undefined) ?? {};
  const storage = input.storage ?? DEFAULT_STORAGE;
  const refused: RefusedChannel[] = Object.entries(input.refused ?? {}).map(([channel, reason]) => ({ channel, reason }));
  const described = describeChannels(input, info).filter((c) => input.refused?.[c.channel] === undefined);

  const startTime = stringOf(info.start_time) ?? start.bliss?.start_time ?? isoOf(start.time);
  const endTime = stringOf(info.end_time) ?? stop.bliss.end_time ?? isoOf(stop.time);
  const title = stringOf(info.title) ?? runTitleOf(start);
  const endReason = stringOf(info.end_reason) ?? stop.bliss.end_reason ?? stop.reason ?? stop.exit_status.toUpperCase();

  const nodes: PlanNode[] = [];
  const planned: PlanChannel[] = [];
  const entryGroup: PlanGroup = { kind: 'group', path: e, attrs: { NX_class: 'NXentry' } };
  nodes.push(entryGroup);
  nodes.push(
    text(`${e}/title`, title),
    text(`${e}/start_time`, startTime),
    text(`${e}/end_time`, endTime),
    text(`${e}/end_reason`, endReason),
  );

  nodes.push({ kind: 'group', path: `${e}/instrument`, attrs: { NX_class: 'NXinstrument' } });
  const datasetPath = new Map<string, string>();
  const channels: ChannelInfo[] = [];
  for (const c of described) {
    const context = { runUid, stream: c.channel };
    // One bad channel never loses the scan: a channel no writer module can take is refused with its
    // reason and every other channel is written.
    const laidOut = refusing(c.channel, refused, () => layOutChannel(c, context));
    if (!laidOut) continue;
    channels.push(c);
    nodes.push(...laidOut.nodes);
    if (laidOut.dataset) planned.push(laidOut.dataset);
    if (laidOut.target) datasetPath.set(c.channel, laidOut.target);
  }

  function layOutChannel(
    c: ChannelInfo,
    context: { runUid: string; stream: string },
  ): { nodes: PlanNode[]; dataset?: PlanChannel; target?: string } {
    // One lookup in the writer registry, by the kind of the channel's StreamResource (writers/registry.ts).
    return resourceWriterFor(c.resource).layOut({ channel: c, group: `${e}/instrument/${c.name}`, input, storage, context });
  }
  nodes.push(...snapshotNodes(`${e}/instrument`, info, channels, datasetPath));

  nodes.push({ kind: 'group', path: `${e}/measurement`, attrs: { NX_class: 'NXcollection' } });
  for (const c of channels) {
    const target = datasetPath.get(c.channel);
    if (target) nodes.push({ kind: 'link', path: `${e}/measurement/${c.name}`, target });
  }

  const notes = scanNotes(info);
  if (notes.length > 0 || refused.length > 0) {
    // NXentry defines `notes` as an NXnote: blisswriter's NXcollection is an nxcheck error (docs/nexus-layout.md).
    nodes.push({ kind: 'group', path: `${e}/notes`, attrs: { NX_class: 'NXnote' } });
    notes.forEach((note, i) => {
      const path = `${e}/notes/note_${String(i + 1).padStart(2, '0')}`;
      nodes.push({ kind: 'group', path, attrs: { NX_class: 'NXnote' } });
      nodes.push(text(`${path}/data`, note.message), text(`${path}/date`, note.date), text(`${path}/type`, 'text/plain'));
    });
  }
  if (refused.length > 0) nodes.push(...refusedChannelsNote(`${e}/${REFUSED_CHANNELS_NOTE}`, refused));

  const plot = planPlot(
    `${e}/plotselect`,
    channels.filter((c) => resourceWriterFor(c.resource).plotted),
    planned,
    info,
  ); // Lima frames are linked, JSON channels are texts: neither is plotted
  if (plot.length > 0) {
    nodes.push(...plot);
    entryGroup.attrs = { ...entryGroup.attrs, default: 'plotselect' };
  }

  nodes.push(...sampleNodes(e, start));

  const countTime = typeof info.count_time === 'number' ? info.count_time : start.bliss?.count_time;
  if (typeof countTime === 'number' && countTime) {
    nodes.push({ kind: 'group', path: `${e}/scan_parameters`, attrs: { NX_class: 'NXparameters' } });
    nodes.push({ kind: 'number', path: `${e}/scan_parameters/count_time`, value: countTime, dtype: '<f8', attrs: { units: 's' } });
  }

  // scan_meta_categories (instrument → machine: ring current, filling mode …) where the ESRF writer puts them.
  nodes.push(...scanMetaNodes(e, info, new Set([...nodes.map((n) => n.path), `${e}/writer`])));

  nodes.push({ kind: 'group', path: `${e}/writer`, attrs: { NX_class: 'NXnote' } });
  nodes.push(text(`${e}/writer/date`, isoOf(stop.time)), text(`${e}/writer/status`, 'SUCCEEDED'));

  return {
    entry,
    rootAttrs: {
      NX_class: 'NXroot',
      file_name: input.fileName,
      file_time: endTime,
      creator: input.creator,
      HDF5_Version: input.hdf5Version,
      // Who published the scan, as the BLISS writer records it.
      publisher: stringOf(info.publisher) ?? 'bliss',
      ...(stringOf(info.publisher_version) ? { publisher_version: stringOf(info.publisher_version)! } : {}),
      default: entry,
    },
    nodes: input.missing ? nodes.flatMap((node) => withMissingPoints(node, input.missing!)) : nodes,
    channels: planned,
    ...(refused.length > 0 ? { refused } : {}),
    fileTimeMs: Math.round(stop.time * 1000),
  };
}

/** Runs `layOut` for one channel; an InvalidInputError refuses the channel (recorded with its reason) instead of the scan. */
function refusing<T>(channel: string, refused: RefusedChannel[], layOut: () => T): T | undefined {
  try {
    return layOut();
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    refused.push({ channel, reason: error.message });
    return undefined;
  }
}

/**
 * `notes/refused_channels` (NXnote): the channels published for this scan that the file does not
 * hold, with the reason, as JSON (`data`, type application/json) and as two string datasets a
 * program reads without parsing (`channel`, `reason`, one row per channel).
 */
function refusedChannelsNote(path: string, refused: readonly RefusedChannel[]): PlanNode[] {
  const sorted = [...refused].sort((a, b) => a.channel.localeCompare(b.channel));
  return [
    { kind: 'group', path, attrs: { NX_class: 'NXnote' } },
    text(`${path}/description`, `${sorted.length} channel(s) published for this scan are not in this file; each is listed with the reason`),
    text(`${path}/type`, 'application/json'),
    text(`${path}/data`, JSON.stringify(sorted)),
    { kind: 'text', path: `${path}/channel`, value: sorted.map((r) => r.channel), attrs: {} },
    { kind: 'text', path: `${path}/reason`, value: sorted.map((r) => r.reason), attrs: {} },
  ];
}

/**
 * instrument/positioners (every motor of positioners_start, scanned positioners as links to their
 * values) and the start/end/dial snapshots: float64 scalars with units, NaN kept.
 */
function snapshotNodes(instrument: string, info: ScanInfo, channels: readonly ChannelInfo[], datasetPath: Map<string, string>): PlanNode[] {
  const snapshots = positionerSnapshots(info);
  const nodes: PlanNode[] = [];
  const scanned = channels.filter((c) => c.role === 'positioner');
  const number = (path: string, name: string, value: number): PlanNode => {
    const unit = snapshots.units.get(name);
    return { kind: 'number', path, value, dtype: '<f8', attrs: unit ? { units: unit } : {} };
  };
  if (snapshots.start.size > 0 || scanned.length > 0) {
    nodes.push({ kind: 'group', path: `${instrument}/positioners`, attrs: { NX_class: 'NXcollection' } });
    const linked = new Set<string>();
    for (const c of scanned) {
      nodes.push({ kind: 'link', path: `${instrument}/positioners/${c.name}`, target: datasetPath.get(c.channel)! });
      linked.add(c.name);
    }
    for (const [name, value] of snapshots.start) {
      const leaf = hdf5Name(name);
      if (!linked.has(leaf)) nodes.push(number(`${instrument}/positioners/${leaf}`, name, value));
    }
  }
  const groups: [string, Map<string, number>][] = [
    ['positioners_start', snapshots.start],
    ['positioners_end', snapshots.end],
    ['positioners_dial_start', snapshots.dialStart],
    ['positioners_dial_end', snapshots.dialEnd],
  ];
  for (const [group, values] of groups) {
    if (values.size === 0) continue;
    nodes.push({ kind: 'group', path: `${instrument}/${group}`, attrs: { NX_class: 'NXcollection' } });
    for (const [name, value] of values) nodes.push(number(`${instrument}/${group}/${hdf5Name(name)}`, name, value));
  }
  return nodes;
}

/**
 * A channel with points trimmed in Redis: those rows hold the fill value (NaN for floats, see
 * fillValueOf) named by `_FillValue`, the ranges are listed in the `missing_points` attribute (text)
 * and, for programs, in the dataset `missing_points` [ranges, 2] (int64 start, stop) beside the data.
 */
function withMissingPoints(node: PlanNode, missing: NonNullable<ScanLayoutInput['missing']>): PlanNode[] {
  if (node.kind !== 'channel') return [node];
  const ranges = missing[node.channel];
  if (!ranges?.length) return [node];
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const group = node.path.slice(0, node.path.lastIndexOf('/'));
  return [
    {
      ...node,
      attrs: { ...node.attrs, missing_points: missingPointsText(sorted), _FillValue: { type: node.type, value: fillValueOf(node.type) } },
    },
    {
      kind: 'numbers',
      path: `${group}/${MISSING_POINTS_DATASET}`,
      values: sorted.flatMap(([a, b]) => [a, b]),
      shape: [sorted.length, 2],
      dtype: '<i8',
      attrs: {
        long_name: `point ranges [start, stop) of ${node.path.slice(group.length + 1)} that were lost in Redis before the bridge read them (their rows hold _FillValue)`,
        target: node.path,
      },
    },
  ];
}

/** Name of the dataset listing a channel's missing point ranges, beside its data. */
export const MISSING_POINTS_DATASET = 'missing_points';

function text(path: string, value: string): PlanText {
  return { kind: 'text', path, value, attrs: {} };
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function isoOf(epochSeconds: number): string {
  return new Date(Math.round(epochSeconds * 1000)).toISOString();
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
export function describeChannels(input: ScanLayoutInput, info: ScanInfo): ChannelInfo[] {
  // The BLISS writer's positioners (first triggering device of the chain) when scan_info says; else the bridge's role.
  const positioners = scanPositioners(info);
  const roleOf = (channel: string, bridgeRole: ChannelInfo['role']): ChannelInfo['role'] =>
    positioners ? (positioners.includes(channel) ? 'positioner' : 'detector') : bridgeRole;
  const byKey = new Map(input.resources.map((r) => [r.data_key, r] as const));
  const ordered: { channel: string; units?: string | undefined; role: ChannelInfo['role'] }[] = [];
  const seen = new Set<string>();
  for (const d of [...input.descriptors].sort((a, b) => a.name.localeCompare(b.name))) {
    for (const [channel, key] of Object.entries(d.data_keys)) {
      if (!key || seen.has(channel) || !byKey.has(channel)) continue;
      seen.add(channel);
      ordered.push({
        channel,
        units: key.units ?? channelUnit(info, channel),
        role: roleOf(channel, key.bliss_role === 'positioner' ? 'positioner' : 'detector'),
      });
    }
  }
  for (const r of [...input.resources].sort((a, b) => a.data_key.localeCompare(b.data_key))) {
    if (seen.has(r.data_key)) continue;
    seen.add(r.data_key);
    ordered.push({
      channel: r.data_key,
      units: channelUnit(info, r.data_key),
      role: roleOf(r.data_key, r.data_key.startsWith('axis:') ? 'positioner' : 'detector'),
    });
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
