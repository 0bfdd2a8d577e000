/**
 * The writers of a scan file's channels: one registry keyed by the kind of the channel's
 * StreamResource (event-model/resources.ts), each entry the writer of that kind, looked up once per
 * channel by the layout (nexus/layout.ts):
 * - `chunks`: numeric chunks, a dataset filled from the staged chunks; the channel writer is chosen
 *   by the rank of one point (channelWriters: scalar, positioner, spectrum, image);
 * - `json`: NDJSON chunks, one JSON text per point, written in one call (json-writer.ts);
 * - `lima`: frames in the uploaded Lima files, linked from the scan file, never copied (lima-image-writer.ts).
 * Asking for a kind that has no writer is an input error (the channel is refused, the scan is not).
 */
import { InvalidInputError } from '../../errors.js';
import { resourceKindOf, type ResourceKind } from '../../event-model/resources.js';
import { missingPointsText, type ChannelInfo, type ScanLayoutInput } from '../layout-input.js';
import { parseElementType } from '../dtypes.js';
import type { PlanChannel, PlanNode } from '../plan.js';
import { ChannelKind, type ChannelWriter, type StorageOptions } from './channel-writer.js';
import { imageWriter } from './image-writer.js';
import { limaImageWriter } from './lima-image-writer.js';
import { jsonWriter } from './json-writer.js';
import { positionerWriter } from './positioner-writer.js';
import { scalarWriter } from './scalar-writer.js';
import { spectrumWriter } from './spectrum-writer.js';

/** Writers of numeric channels, by the rank of one point (channelKindOf). */
export const channelWriters = {
  [ChannelKind.Scalar]: scalarWriter,
  [ChannelKind.Positioner]: positionerWriter,
  [ChannelKind.Spectrum]: spectrumWriter,
  [ChannelKind.Image]: imageWriter,
} as const satisfies Record<ChannelKind, ChannelWriter>;

export function channelWriterFor(kind: string, context: { runUid?: string; stream?: string } = {}): ChannelWriter {
  const writer = (channelWriters as Record<string, ChannelWriter | undefined>)[kind];
  if (!writer) throw new InvalidInputError(`no channel writer for data of kind ${JSON.stringify(kind)}`, context);
  return writer;
}

/** The kind of a channel: positioners by role, then by the rank of one point (0 scalar, 1 spectrum, 2 image). */
export function channelKindOf(
  role: 'positioner' | 'detector',
  pointShape: readonly number[],
  context: { runUid?: string; stream?: string } = {},
): ChannelKind {
  if (pointShape.length === 0) return role === 'positioner' ? ChannelKind.Positioner : ChannelKind.Scalar;
  if (pointShape.length === 1) return ChannelKind.Spectrum;
  if (pointShape.length === 2) return ChannelKind.Image;
  throw new InvalidInputError(`channel with ${pointShape.length}-dimensional points has no writer`, context);
}

/** One channel of a scan, to be placed in its group of the entry. */
export interface ResourceLayoutRequest {
  channel: ChannelInfo;
  /** The channel's group, e.g. `/1.1/instrument/diode1`. */
  group: string;
  /** What the scan layout was given (points, missing ranges, Lima files, JSON values). */
  input: ScanLayoutInput;
  storage: StorageOptions;
  context: { runUid: string; stream: string };
}

export interface ResourceLayout {
  nodes: PlanNode[];
  /** A dataset filled from staged chunks (numeric channels only). */
  dataset?: PlanChannel;
  /** What `measurement/<name>` (and positioners/) link to; absent when there is nothing to link. */
  target?: string;
}

export interface ResourceWriter {
  readonly kind: ResourceKind;
  /** Whether the channel can be the default plot's signal or axis (numeric datasets: not texts nor linked frames). */
  readonly plotted: boolean;
  layOut(request: ResourceLayoutRequest): ResourceLayout;
}

function missingPointsOf(request: ResourceLayoutRequest): { missingPoints?: string } {
  const missing = request.input.missing?.[request.channel.channel];
  return missing?.length ? { missingPoints: missingPointsText(missing) } : {};
}

export const resourceWriters = {
  chunks: {
    kind: 'chunks',
    plotted: true,
    layOut({ channel: c, group, input, storage, context }) {
      const type = parseElementType(c.resource.parameters.dtype_numpy, context);
      const pointShape = c.resource.parameters.point_shape;
      const points = input.points[c.channel];
      if (points === undefined) throw new InvalidInputError(`no point count for channel ${c.channel}`, context);
      const writer = channelWriterFor(channelKindOf(c.role, pointShape, context), context);
      const laid = writer.layout({
        group,
        channel: c.channel,
        resourceUid: c.resource.uid,
        type,
        pointShape,
        points,
        units: c.units,
        storage,
      });
      return { nodes: laid.nodes, dataset: laid.dataset, target: laid.dataset.path };
    },
  },
  // JSON channels (bridge engineer): strings per point, json-writer.ts.
  json: {
    kind: 'json',
    plotted: false,
    layOut(request) {
      const { channel: c, group, input, context } = request;
      const values = input.jsonValues?.[c.channel];
      if (!values) throw new InvalidInputError(`no values read for JSON channel ${c.channel}`, context);
      const laid = jsonWriter.layout({
        group,
        channel: c.channel,
        values,
        units: c.units,
        runUid: context.runUid,
        ...missingPointsOf(request),
      });
      return { nodes: laid.nodes, ...(laid.datasetPath ? { target: laid.datasetPath } : {}) };
    },
  },
  // Lima detectors (lima engineer): external links to the uploaded Lima files, lima-image-writer.ts.
  lima: {
    kind: 'lima',
    plotted: false,
    layOut(request) {
      const { channel: c, group, input, context } = request;
      const files = input.limaFiles?.[c.channel];
      const dataPath = c.resource.parameters.data_path;
      if (!files || !dataPath) throw new InvalidInputError(`no Lima files or data_path for channel ${c.channel}`, context);
      const laid = limaImageWriter.layout({ group, dataPath, files, points: input.points[c.channel] ?? 0, ...missingPointsOf(request) });
      return { nodes: laid.nodes, target: laid.target };
    },
  },
} as const satisfies { [K in ResourceKind]: ResourceWriter & { kind: K } };

/** The writer of a channel's StreamResource kind. */
export function resourceWriterFor(resource: ChannelInfo['resource']): ResourceWriter {
  return resourceWriters[resourceKindOf(resource)];
}
