import { DetailType } from '../contract/detail-types.js';
import type { EventDescriptor, RunError, RunStart, RunStop, StreamDatum, StreamResource } from '../contract/generated-types.js';
import { NotReadyError } from '../errors.js';
import { parseElementType, pointBytes, type ElementType } from '../nexus/dtypes.js';
import { datumPointShape } from '../nexus/point-shapes.js';
import { isJsonResource, isLimaResource } from '../event-model/resources.js';
import { ChunkCoverageError } from './errors.js';
import type { StoredDocument } from './ports.js';

/** Every document of a run the scan writer needs, grouped by kind. */
export interface RunDocuments {
  start: RunStart;
  stop: RunStop;
  descriptors: EventDescriptor[];
  resources: StreamResource[];
  datums: StreamDatum[];
}

/**
 * Groups the stored documents of a run and checks they are all there: RunStart, and at least as
 * many descriptors, resources and datums as RunStop.bliss.documents says the bridge sent
 * (ADR 0001). Throws NotReadyError while documents are still in flight.
 */
export function collectRunDocuments(stop: RunStop, stored: readonly StoredDocument[]): RunDocuments {
  const runUid = stop.run_start;
  let start: RunStart | undefined;
  const descriptors: EventDescriptor[] = [];
  const resources: StreamResource[] = [];
  const datums: StreamDatum[] = [];
  for (const doc of stored) {
    switch (doc.detailType) {
      case DetailType.RunStart:
        start = doc.body as RunStart;
        break;
      case DetailType.EventDescriptor:
        descriptors.push(doc.body as EventDescriptor);
        break;
      case DetailType.StreamResource:
        resources.push(doc.body as StreamResource);
        break;
      case DetailType.StreamDatum:
        datums.push(doc.body as StreamDatum);
        break;
      default:
        break;
    }
  }
  const expected = stop.bliss.documents;
  const missing: string[] = [];
  if (!start) missing.push('RunStart');
  if (descriptors.length < expected.descriptor) missing.push(`descriptors ${descriptors.length}/${expected.descriptor}`);
  if (resources.length < expected.stream_resource) missing.push(`stream resources ${resources.length}/${expected.stream_resource}`);
  if (datums.length < expected.stream_datum) missing.push(`stream datums ${datums.length}/${expected.stream_datum}`);
  if (missing.length > 0 || !start) {
    throw new NotReadyError(`run ${runUid} is not complete in the catalogue yet: ${missing.join(', ')}`, { runUid });
  }
  return { start, stop, descriptors, resources, datums };
}

/** The datums of each channel in index order, and the point count of each channel. */
export interface ChannelCoverage {
  points: Record<string, number>;
  datumsByChannel: Map<string, StreamDatum[]>;
  /** Ranges [start, stop) the bridge declared missing (trimmed from Redis before it read them), by channel. */
  gaps: Record<string, [number, number][]>;
}

/** Whether [start, stop) lies entirely within the declared missing ranges of a channel. */
function declaredMissing(gaps: readonly [number, number][], start: number, stop: number): boolean {
  let at = start;
  for (const [gapStart, gapStop] of [...gaps].sort((a, b) => a[0] - b[0])) {
    if (gapStart <= at && gapStop > at) at = gapStop;
    if (at >= stop) return true;
  }
  return at >= stop;
}

/**
 * Checks that the staged chunks of every channel tile [0, points) with no overlap and no gap other
 * than the ranges the bridge declared missing (RunStop.bliss.gaps: trimmed by Redis, never invented),
 * that each chunk's byte count matches its points, and that every datum belongs to a known
 * resource. Points come from RunStop.bliss.points (the sealed counts); a channel without a count
 * there takes the end of its last chunk. All problems are reported at once (ChunkCoverageError).
 */
/** The datums of each resource's channel (every channel present, in arrival order); `unknown` gets those of no resource. */
export function datumsByChannelOf(
  resources: readonly StreamResource[],
  datums: readonly StreamDatum[],
  unknown: (datum: StreamDatum) => void = () => undefined,
): Map<string, StreamDatum[]> {
  const byResource = new Map(resources.map((r) => [r.uid, r] as const));
  const byChannel = new Map<string, StreamDatum[]>(resources.map((r) => [r.data_key, []]));
  for (const datum of datums) {
    const resource = byResource.get(datum.stream_resource);
    if (resource) byChannel.get(resource.data_key)!.push(datum);
    else unknown(datum);
  }
  return byChannel;
}

export function checkCoverage(run: RunDocuments): ChannelCoverage {
  const runUid = run.start.uid;
  const errors: RunError[] = [];
  const datumsByChannel = datumsByChannelOf(run.resources, run.datums, (datum) => {
    errors.push({ message: `stream datum ${datum.uid} refers to unknown stream resource ${datum.stream_resource}` });
  });
  const points: Record<string, number> = {};
  const gaps: Record<string, [number, number][]> = {};
  for (const gap of run.stop.bliss.gaps ?? []) (gaps[gap.stream] ??= []).push([gap.start, gap.stop]);
  for (const resource of [...run.resources].sort((a, b) => a.data_key.localeCompare(b.data_key))) {
    const channel = resource.data_key;
    const datums = datumsByChannel.get(channel)!.sort((a, b) => a.indices.start - b.indices.start || a.indices.stop - b.indices.stop);
    let type: ElementType | undefined;
    try {
      // JSON channels (NDJSON chunks) have points of any size: their lines are counted when read.
      if (!isJsonResource(resource)) type = parseElementType(resource.parameters.dtype_numpy, { runUid, stream: channel });
    } catch {
      // A dtype the file cannot hold is no coverage problem: the layout refuses that channel alone, with
      // the reason, and archives the others (docs/nexus-layout.md, "Refused channels"). Its indices are still checked.
    }
    // Lima channels: a datum's bytes are its uploaded file's (checked by HEAD in archive-run), not frames × frame size.
    if (isLimaResource(resource)) type = undefined;
    let covered = 0;
    for (const d of datums) {
      const { start, stop } = d.indices;
      if (stop <= start) {
        errors.push({ stream: channel, index: start, message: `chunk ${d.uid} has an empty or reversed index range [${start}, ${stop})` });
        continue;
      }
      if (start > covered && !declaredMissing(gaps[channel] ?? [], covered, start)) {
        errors.push({
          stream: channel,
          index: covered,
          message: `points [${covered}, ${start}) of ${channel} were never staged (gap before chunk ${d.uid})`,
        });
      }
      if (start < covered)
        errors.push({
          stream: channel,
          index: start,
          message: `chunk ${d.uid} overlaps points [${start}, ${Math.min(stop, covered)}) already staged`,
        });
      // Free dimensions: a datum carries its chunk's point shape, of the resource's rank (docs/bridge.md).
      const shape = datumPointShape(d, resource);
      if (d.point_shape && (type === undefined || shape.length !== resource.parameters.point_shape.length)) {
        errors.push({
          stream: channel,
          index: start,
          message: `chunk ${d.uid} has point shape [${shape.join(', ')}], its resource [${resource.parameters.point_shape.join(', ')}] (${type ? 'another rank' : 'not numeric chunks'})`,
        });
      } else if (type !== undefined && d.chunk.bytes !== (stop - start) * pointBytes(type, shape)) {
        errors.push({
          stream: channel,
          index: start,
          message: `chunk ${d.uid} has ${d.chunk.bytes} bytes, ${stop - start} points of ${resource.parameters.dtype_numpy} × [${shape.join(', ')}] need ${(stop - start) * pointBytes(type, shape)}`,
        });
      }
      covered = Math.max(covered, stop);
    }
    const sealed = run.stop.bliss.points[channel];
    const total = sealed ?? covered;
    if (covered < total && !declaredMissing(gaps[channel] ?? [], covered, total)) {
      errors.push({
        stream: channel,
        index: covered,
        message: `points [${covered}, ${total}) of ${channel} were never staged (${total} sealed)`,
      });
    }
    if (covered > total)
      errors.push({ stream: channel, index: total, message: `chunks of ${channel} reach point ${covered} but only ${total} were sealed` });
    points[channel] = total;
  }
  if (errors.length > 0) {
    throw new ChunkCoverageError(
      `run ${runUid}: staged chunks do not cover the sealed points (${errors.length} problem${errors.length > 1 ? 's' : ''}): ${errors[0]!.message}`,
      errors,
      { runUid },
    );
  }
  return { points, datumsByChannel, gaps };
}
