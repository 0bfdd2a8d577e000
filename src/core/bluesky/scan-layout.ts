/**
 * The NeXus layout of the scan file of a Bluesky run (RunStart.bluesky), as a plan like
 * buildScanLayout's for BLISS scans (docs/nexus-layout.md, "Bluesky runs"):
 *
 * ```
 * /<scan_id>.1                 NXentry: title, start_time, end_time, end_reason; default=plotselect
 *   instrument/                NXinstrument
 *     <device>/<data key>      primary stream, one group per device of object_keys: NXpositioner for the
 *                              scanned motors (start hints.dimensions), NXdetector otherwise; `value`/`data`
 *                              links to the device's own key
 *     <stream>/<data key>      every other stream (baseline, monitors): NXcollection of its channels
 *   measurement/<key>          links to every channel (other streams as <stream>_<key>)
 *   plotselect/                NXdata: signal from the descriptor hints, axes from hints.dimensions
 *                              (grid scans: the signal as an image on the [slow, fast] grid)
 *   sample/                    NXsample: Sample_* of the ICAT snapshot at their hdf5_cfg.xml places
 *   bluesky_start/             NXnote: the start document (application/json)
 *   writer/                    NXnote: status, date
 * ```
 *
 * Every staged channel gets a dataset; its attributes name the Bluesky stream and key. String keys
 * (JSON channels) are 1D variable-length string datasets, one JSON text per point
 * (`content_type=application/json`), in their device's group.
 */
import type { EventDescriptor, StreamResource } from '../contract/generated-types.js';
import { InvalidInputError } from '../errors.js';
import { parseElementType } from '../nexus/dtypes.js';
import { hdf5Name, type NexusPlan, type ScanLayoutInput } from '../nexus/layout-input.js';
import { sampleNodes } from '../nexus/sample-layout.js';
import type { PlanChannel, PlanNode, PlanText } from '../nexus/plan.js';
import { channelDataset, DEFAULT_STORAGE } from '../nexus/writers/channel-writer.js';
import { JSON_CONTENT_TYPE } from '../nexus/writers/json-writer.js';
import { isJsonResource } from '../event-model/resources.js';
import { BLUESKY_CHANNEL_SEPARATOR, blueskyChannelName, parseBlueskyChannelName } from './channel-names.js';
import { isRecord } from '../guards.js';

const PRIMARY = 'primary';

interface LaidChannel {
  channel: string;
  stream: string;
  key: string;
  object: string;
  resource: StreamResource;
  json: boolean;
  units?: string | undefined;
  /** Numeric channels: the dataset filled from the staged chunks. */
  dataset?: PlanChannel;
  /** Where the channel's values are (absent for a JSON channel without points). */
  path?: string;
}

/** Scanned dimensions of the start document's hints: `[[fields], stream]` → channel names. */
export function blueskyDimensions(hints: unknown): string[][] {
  if (!isRecord(hints) || !Array.isArray(hints.dimensions)) return [];
  const out: string[][] = [];
  for (const dim of hints.dimensions) {
    if (!Array.isArray(dim) || !Array.isArray(dim[0])) continue;
    const stream = typeof dim[1] === 'string' ? dim[1] : PRIMARY;
    // Hints are advisory: a field that names no channel (empty, stream name with ':') is skipped, never a failed file.
    out.push(
      (dim[0] as unknown[])
        .filter(
          (f): f is string => typeof f === 'string' && f.length > 0 && stream.length > 0 && !stream.includes(BLUESKY_CHANNEL_SEPARATOR),
        )
        .map((f) => blueskyChannelName(stream, f)),
    );
  }
  return out;
}

export function buildBlueskyScanLayout(input: ScanLayoutInput): NexusPlan {
  const { start, stop } = input;
  const bluesky = start.bluesky;
  if (!bluesky) throw new InvalidInputError('not a Bluesky run (RunStart has no bluesky block)', { runUid: start.uid });
  const runUid = start.uid;
  const entry = `${start.scan_id}.1`;
  const e = `/${entry}`;
  const storage = input.storage ?? DEFAULT_STORAGE;
  const startDoc = isRecord(bluesky.start) ? bluesky.start : undefined;
  const dims = blueskyDimensions(bluesky.hints ?? startDoc?.hints);
  const dimensionChannels = new Set(dims.flat());

  // Channels of the staged resources, with their descriptor's data key (units, object).
  const keyOf = new Map<string, { units?: string | null | undefined; object_name?: string | undefined; bluesky_key?: unknown }>();
  const descriptorOfStream = new Map<string, EventDescriptor>();
  for (const d of input.descriptors) {
    descriptorOfStream.set(d.name, d);
    for (const [channel, key] of Object.entries(d.data_keys)) if (key) keyOf.set(channel, key);
  }
  const channels: LaidChannel[] = [];
  for (const resource of [...input.resources].sort((a, b) => a.data_key.localeCompare(b.data_key))) {
    const parts = parseBlueskyChannelName(resource.data_key);
    if (!parts)
      throw new InvalidInputError(`channel ${resource.data_key} of a Bluesky run is not named <stream>/<key>`, {
        runUid,
        stream: resource.data_key,
      });
    const key = keyOf.get(resource.data_key);
    channels.push({
      channel: resource.data_key,
      stream: parts.stream,
      key: typeof key?.bluesky_key === 'string' ? key.bluesky_key : parts.key,
      object: key?.object_name ?? parts.key,
      resource,
      units: key?.units ?? undefined,
      json: isJsonResource(resource),
    });
  }
  // Primary first (in descriptor order), then the other streams by name.
  const order = (c: LaidChannel) => {
    const keys = Object.keys(descriptorOfStream.get(c.stream)?.data_keys ?? {});
    return keys.indexOf(c.channel);
  };
  channels.sort(
    (a, b) => (a.stream === PRIMARY ? 0 : 1) - (b.stream === PRIMARY ? 0 : 1) || a.stream.localeCompare(b.stream) || order(a) - order(b),
  );

  const nodes: PlanNode[] = [];
  const planned: PlanChannel[] = [];
  const entryGroup: { kind: 'group'; path: string; attrs: Record<string, string> } = {
    kind: 'group',
    path: e,
    attrs: { NX_class: 'NXentry' },
  };
  nodes.push(entryGroup);
  const endReason = stop.bliss.end_reason ?? stop.reason ?? stop.exit_status.toUpperCase();
  nodes.push(
    text(`${e}/title`, bluesky.title),
    text(`${e}/start_time`, isoOf(start.time)),
    text(`${e}/end_time`, isoOf(stop.time)),
    text(`${e}/end_reason`, endReason),
  );
  nodes.push({ kind: 'group', path: `${e}/instrument`, attrs: { NX_class: 'NXinstrument' } });

  const usedGroups = new Set<string>();
  const uniqueGroup = (name: string) => {
    let n = hdf5Name(name);
    for (let i = 2; usedGroups.has(n); i++) n = `${hdf5Name(name)}_${i}`;
    usedGroups.add(n);
    return n;
  };
  const lay = (c: LaidChannel, group: string): PlanNode[] => {
    const context = { runUid, stream: c.channel };
    const points = input.points[c.channel];
    if (points === undefined) throw new InvalidInputError(`no point count for channel ${c.channel}`, context);
    if (c.json) {
      // String keys: one JSON text per point, a 1D variable-length string dataset (as BLISS JSON channels).
      const values = input.jsonValues?.[c.channel];
      if (!values) throw new InvalidInputError(`no values read for JSON channel ${c.channel}`, context);
      if (values.length === 0) return []; // h5wasm cannot type an empty string list
      c.path = `${group}/${hdf5Name(c.key)}`;
      return [
        {
          kind: 'text',
          path: c.path,
          value: [...values],
          attrs: { content_type: JSON_CONTENT_TYPE, ...(c.units ? { units: c.units } : {}), bluesky_stream: c.stream, bluesky_key: c.key },
        },
      ];
    }
    const type = parseElementType(c.resource.parameters.dtype_numpy, context);
    const dataset = channelDataset(
      {
        group,
        channel: c.channel,
        resourceUid: c.resource.uid,
        type,
        pointShape: c.resource.parameters.point_shape,
        points,
        units: c.units,
        storage,
      },
      hdf5Name(c.key),
      {
        ...(c.units ? { units: c.units } : {}),
        bluesky_stream: c.stream,
        bluesky_key: c.key,
      },
      undefined,
    );
    c.dataset = dataset;
    c.path = dataset.path;
    planned.push(dataset);
    return [dataset];
  };

  // Primary: one group per device.
  const primary = channels.filter((c) => c.stream === PRIMARY);
  const devices = new Map<string, LaidChannel[]>();
  for (const c of primary) (devices.get(c.object) ?? devices.set(c.object, []).get(c.object)!).push(c);
  const otherStreams = [...new Set(channels.filter((c) => c.stream !== PRIMARY).map((c) => c.stream))];
  for (const s of otherStreams) usedGroups.add(hdf5Name(s)); // streams keep their own name
  for (const [object, members] of devices) {
    const scanned = members.some((m) => dimensionChannels.has(m.channel));
    const group = `${e}/instrument/${uniqueGroup(object)}`;
    const nxClass = scanned ? 'NXpositioner' : members.every((m) => m.json) ? 'NXcollection' : 'NXdetector';
    nodes.push({ kind: 'group', path: group, attrs: { NX_class: nxClass } });
    for (const m of members) nodes.push(...lay(m, group));
    const numeric = members.filter((m) => m.dataset);
    const main = numeric.find((m) => m.key === object) ?? numeric.find((m) => dimensionChannels.has(m.channel)) ?? numeric[0];
    const alias = scanned ? 'value' : 'data';
    if (main?.dataset && !members.some((m) => hdf5Name(m.key) === alias)) {
      nodes.push({ kind: 'link', path: `${group}/${alias}`, target: main.dataset.path });
    }
  }
  // Other streams (baseline, monitors): one NXcollection each.
  for (const s of otherStreams) {
    const group = `${e}/instrument/${hdf5Name(s)}`;
    nodes.push({ kind: 'group', path: group, attrs: { NX_class: 'NXcollection' } });
    for (const c of channels.filter((x) => x.stream === s)) nodes.push(...lay(c, group));
  }

  nodes.push({ kind: 'group', path: `${e}/measurement`, attrs: { NX_class: 'NXcollection' } });
  const usedMeasurement = new Set<string>();
  for (const c of channels) {
    if (!c.path) continue;
    let name = c.stream === PRIMARY ? hdf5Name(c.key) : hdf5Name(`${c.stream}_${c.key}`);
    for (let i = 2; usedMeasurement.has(name); i++) name = `${hdf5Name(c.key)}_${i}`;
    usedMeasurement.add(name);
    nodes.push({ kind: 'link', path: `${e}/measurement/${name}`, target: c.path });
  }

  const plot = planBlueskyPlot(`${e}/plotselect`, primary, dims, descriptorOfStream.get(PRIMARY), startDoc);
  if (plot.length > 0) {
    nodes.push(...plot);
    entryGroup.attrs = { ...entryGroup.attrs, default: 'plotselect' };
  }

  // Sample_* at their ICAT places (Sample_notes → the NXnote sample/notes), as for BLISS scans.
  nodes.push(...sampleNodes(e, { icat: start.icat }));

  if (startDoc) {
    nodes.push({ kind: 'group', path: `${e}/bluesky_start`, attrs: { NX_class: 'NXnote' } });
    nodes.push(text(`${e}/bluesky_start/type`, 'application/json'), text(`${e}/bluesky_start/data`, JSON.stringify(startDoc)));
  }

  nodes.push({ kind: 'group', path: `${e}/writer`, attrs: { NX_class: 'NXnote' } });
  nodes.push(text(`${e}/writer/date`, isoOf(stop.time)), text(`${e}/writer/status`, 'SUCCEEDED'));

  const versions = isRecord(start.versions) ? start.versions : {};
  return {
    entry,
    rootAttrs: {
      NX_class: 'NXroot',
      file_name: input.fileName,
      file_time: isoOf(stop.time),
      creator: input.creator,
      HDF5_Version: input.hdf5Version,
      publisher: 'bluesky',
      ...(typeof versions.bluesky === 'string' ? { publisher_version: versions.bluesky } : {}),
      default: entry,
    },
    nodes,
    channels: planned,
    fileTimeMs: Math.round(stop.time * 1000),
  };
}

/**
 * Default plot: the signal is the first hinted field (descriptor hints, in order) of a primary
 * device that is not scanned, else the first primary scalar that is not an axis; the axes are the
 * first field of each hints.dimensions entry. A grid scan (start `shape` [slow, fast], two
 * dimensions, no snaking, all points there) gets the signal as an image with both motors as axes.
 */
function planBlueskyPlot(
  path: string,
  primary: readonly LaidChannel[],
  dims: string[][],
  descriptor: EventDescriptor | undefined,
  startDoc: Record<string, unknown> | undefined,
): PlanNode[] {
  const byChannel = new Map(primary.map((c) => [c.channel, c] as const));
  const axes = dims
    .map((fields) => fields.map((f) => byChannel.get(f)).find((c) => c !== undefined))
    .filter((c): c is LaidChannel => c !== undefined);
  const axisSet = new Set(axes.map((a) => a.channel));
  const hinted: string[] = [];
  if (descriptor && isRecord(descriptor.hints)) {
    for (const hint of Object.values(descriptor.hints)) {
      if (isRecord(hint) && Array.isArray(hint.fields))
        for (const f of hint.fields) if (typeof f === 'string' && f.length > 0) hinted.push(blueskyChannelName(PRIMARY, f));
    }
  }
  const rank = (c: LaidChannel) => c.dataset?.pointShape.length ?? 0;
  const signal =
    hinted.map((h) => byChannel.get(h)).find((c) => c !== undefined && !axisSet.has(c.channel) && rank(c) === 0) ??
    primary.find((c) => !axisSet.has(c.channel) && rank(c) === 0) ??
    primary.find((c) => !axisSet.has(c.channel));
  if (!signal?.dataset) return [];
  const name = (c: LaidChannel) => hdf5Name(c.key);

  const shape = Array.isArray(startDoc?.shape) ? startDoc.shape : [];
  const snaking = Array.isArray(startDoc?.snaking) && startDoc.snaking.some((s) => s === true);
  const [slow, fast] = axes;
  if (axes.length === 2 && slow && fast && shape.length === 2 && !snaking && rank(signal) === 0) {
    const grid = { slow: Number(shape[0]), fast: Number(shape[1]) };
    if (grid.slow > 0 && grid.fast > 0 && grid.slow * grid.fast === signal.dataset.shape[0]) {
      return [
        { kind: 'group', path, attrs: { NX_class: 'NXdata', signal: name(signal), axes: [name(slow), name(fast)] } },
        {
          kind: 'grid-signal',
          path: `${path}/${name(signal)}`,
          channel: signal.channel,
          type: signal.dataset.type,
          shape: [grid.slow, grid.fast],
          attrs: { interpretation: 'image' },
        },
        {
          kind: 'grid-axis',
          path: `${path}/${name(slow)}`,
          channel: slow.channel,
          type: slow.dataset!.type,
          dimension: 'slow',
          grid,
          attrs: {},
        },
        {
          kind: 'grid-axis',
          path: `${path}/${name(fast)}`,
          channel: fast.channel,
          type: fast.dataset!.type,
          dimension: 'fast',
          grid,
          attrs: {},
        },
      ];
    }
  }
  const axis = axes[0];
  const nodes: PlanNode[] = [
    {
      kind: 'group',
      path,
      attrs: {
        NX_class: 'NXdata',
        signal: name(signal),
        ...(axis ? { axes: [name(axis), ...Array<string>(rank(signal)).fill('.')] } : {}),
      },
    },
    { kind: 'link', path: `${path}/${name(signal)}`, target: signal.dataset.path },
  ];
  if (axis?.dataset && name(axis) !== name(signal)) nodes.push({ kind: 'link', path: `${path}/${name(axis)}`, target: axis.dataset.path });
  return nodes;
}

function text(path: string, value: string): PlanText {
  return { kind: 'text', path, value, attrs: {} };
}

function isoOf(epochSeconds: number): string {
  return new Date(Math.round(epochSeconds * 1000)).toISOString();
}
