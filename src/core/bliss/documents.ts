import { validateDetail } from '../contract/validators.js';
import { DetailType } from '../contract/detail-types.js';
import type {
  DataKey, EventDescriptor, IcatSnapshot, RunFailed, RunError, RunStart, RunStop, StreamDatum, StreamResource,
} from '../contract/generated-types.js';
import { dataPolicyOf, stagingChannelPrefix } from '../object-keys.js';
import type { StoredObject } from '../ports.js';
import { channelRole, jsonDtypeOf, objectNameOf } from './channels.js';
import type { BlissScan } from './scan-model.js';
import type { NumericDtype } from './stream-decoding.js';

/** scan_info larger than this (JSON bytes) is left out of RunStart; RunStop points at the staged copy. */
export const MAX_INLINE_SCAN_INFO = 64 * 1024;

export const PRIMARY = 'primary';

/** A numeric channel as the documents describe it. */
export interface NumericChannelSpec {
  name: string;
  streamPk: string;
  encoding?: 'numeric';
  dtype: NumericDtype;
  /** Point shape; null for a free dimension whose size is not known yet. */
  shape: (number | null)[];
  units?: string;
}

/** A JSON channel (blissdata encoding `{type: "json"}`): one JSON value per point. */
export interface JsonChannelSpec {
  name: string;
  streamPk: string;
  encoding: 'json';
  units?: string;
}

export type ChannelSpec = NumericChannelSpec | JsonChannelSpec;

/**
 * JSON channels are staged as NDJSON chunks (one value per line, as published) and described with
 * numpy's object dtype: each point is one variable-length UTF-8 string (the value's JSON text).
 * `|O8` is numpy's spelling of `object` that event-model's dtype_numpy pattern accepts.
 */
export const JSON_CHUNKS_MIMETYPE = 'application/x-beamline-archive-ndjson';
export const JSON_DTYPE_NUMPY = '|O8';

export const descriptorUid = (runUid: string, name = PRIMARY) => `${runUid}/descriptor/${name}`;
export const resourceUid = (runUid: string, channel: string) => `${runUid}/resource/${channel}`;
export const runStopUid = (runUid: string) => `${runUid}/stop`;

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** BLISS times are ISO strings; event-model wants epoch seconds. */
function epochSeconds(iso: unknown, fallback: number): number {
  if (typeof iso !== 'string') return fallback;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms / 1000 : fallback;
}

/** `dataset_metadata_snapshot` flattened to `{a_b: "value"}`, every value a string (ICAT stores strings). */
export function icatSnapshotOf(snapshot: unknown): IcatSnapshot {
  const out: IcatSnapshot = {};
  const walk = (value: unknown, prefix: string) => {
    if (value === null || value === undefined) return;
    if (typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, prefix ? `${prefix}_${k}` : k);
      return;
    }
    if (!prefix) return;
    out[prefix] = Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(' ')
      : typeof value === 'string' ? value : JSON.stringify(value);
  };
  walk(snapshot, '');
  return out;
}

/** Units of a channel: the stream info's `unit`, else scan_info.channels[name].unit. */
export function unitsOf(scan: BlissScan, channel: string, streamInfo: Record<string, unknown>): string | undefined {
  const fromStream = str(streamInfo.unit) ?? str(streamInfo.units);
  if (fromStream) return fromStream;
  const channels = scan.info.channels as Record<string, { unit?: unknown }> | undefined;
  return str(channels?.[channel]?.unit);
}

export function runStartOf(scan: BlissScan, beamline: string, now: number): RunStart {
  const info = scan.info;
  const icat = icatSnapshotOf(info.dataset_metadata_snapshot);
  const scanInfoJson = JSON.stringify(info);
  const bliss: RunStart['bliss'] = {
    scan_key: scan.key,
    identity: scan.identity,
    title: str(info.title) ?? `${scan.identity.name} ${scan.identity.number}`,
    ...(str(info.type) ? { type: info.type as string } : {}),
    ...(Number.isSafeInteger(info.npoints) ? { npoints: info.npoints as number } : {}),
    ...(typeof info.count_time === 'number' && Number.isFinite(info.count_time) ? { count_time: info.count_time } : {}),
    ...(str(info.start_time) ? { start_time: info.start_time as string } : {}),
    ...(Buffer.byteLength(scanInfoJson) < MAX_INLINE_SCAN_INFO ? { scan_info: JSON.parse(scanInfoJson) as object } : {}),
  };
  const doc: RunStart = {
    uid: scan.uid,
    time: epochSeconds(info.start_time, now),
    scan_id: scan.identity.number,
    plan_name: str(info.type) ?? scan.identity.name,
    ...(icat.Sample_name ? { sample: icat.Sample_name } : {}),
    ...(scan.identity.proposal ? { project: scan.identity.proposal } : {}),
    ...(scan.identity.session ? { data_session: scan.identity.session } : {}),
    data_policy: dataPolicyOf(scan.identity, beamline),
    bliss,
    icat,
  };
  return validateDetail(DetailType.RunStart, doc);
}

export function dataKeyOf(channel: ChannelSpec): DataKey {
  if (channel.encoding === 'json') {
    return {
      dtype: 'string', dtype_numpy: JSON_DTYPE_NUMPY, shape: [], source: `bliss:esrf:stream:${channel.streamPk}`, external: 'STREAM:',
      ...(channel.units ? { units: channel.units } : {}), object_name: objectNameOf(channel.name), bliss_role: 'other',
    };
  }
  const concrete = channel.shape.map((d) => d ?? -1);
  return {
    dtype: jsonDtypeOf(channel.dtype, concrete),
    dtype_numpy: channel.dtype.str,
    shape: channel.shape,
    source: `bliss:esrf:stream:${channel.streamPk}`,
    external: 'STREAM:',
    ...(channel.units ? { units: channel.units } : {}),
    object_name: objectNameOf(channel.name),
    bliss_role: channelRole(channel.name, concrete),
  };
}

export function descriptorOf(runUid: string, channels: readonly ChannelSpec[], now: number): EventDescriptor {
  const dataKeys: Record<string, DataKey> = {};
  const objectKeys: Record<string, string[]> = {};
  for (const channel of channels) {
    dataKeys[channel.name] = dataKeyOf(channel);
    (objectKeys[objectNameOf(channel.name)] ??= []).push(channel.name);
  }
  return validateDetail(DetailType.EventDescriptor, {
    uid: descriptorUid(runUid), run_start: runUid, time: now, name: PRIMARY,
    data_keys: dataKeys, object_keys: objectKeys, hints: {},
  } satisfies EventDescriptor);
}

export function streamResourceOf(runUid: string, bucket: string, channel: { name: string; dtype: NumericDtype; shape: number[] } | { name: string; encoding: 'json' }): StreamResource {
  const json = 'encoding' in channel;
  return validateDetail(DetailType.StreamResource, {
    uid: resourceUid(runUid, channel.name),
    run_start: runUid,
    data_key: channel.name,
    mimetype: json ? JSON_CHUNKS_MIMETYPE : 'application/x-beamline-archive-chunks',
    uri: `s3://${bucket}/${stagingChannelPrefix(runUid, channel.name)}`,
    parameters: json ? { dtype_numpy: JSON_DTYPE_NUMPY, point_shape: [] } : { dtype_numpy: channel.dtype.str, point_shape: channel.shape },
  } satisfies StreamResource);
}

/** Whether a StreamResource describes NDJSON chunks (a JSON channel). */
export function isJsonResource(resource: Pick<StreamResource, 'mimetype'>): boolean {
  return resource.mimetype === JSON_CHUNKS_MIMETYPE;
}

/**
 * The StreamDatum of one staged chunk, points [start, stop) of a channel (Bluesky runs name their
 * stream's descriptor). `pointShape`: the shape of every point of the chunk, given for channels
 * with a free dimension (their shape can change between chunks; docs/bridge.md), absent otherwise
 * (the points have the resource's point_shape).
 */
export function streamDatumOf(
  runUid: string, bucket: string, channel: string, start: number, stop: number, stored: StoredObject,
  descriptor = descriptorUid(runUid), pointShape?: readonly number[],
): StreamDatum {
  const resource = resourceUid(runUid, channel);
  return validateDetail(DetailType.StreamDatum, {
    uid: `${resource}/${start}-${stop}`,
    stream_resource: resource,
    descriptor,
    indices: { start, stop },
    seq_nums: { start: start + 1, stop: stop + 1 },
    chunk: { bucket, key: stored.key, bytes: stored.bytes, sha256: stored.sha256 },
    ...(pointShape ? { point_shape: [...pointShape] } : {}),
  } satisfies StreamDatum);
}

/** event-model exit_status of a BLISS end_reason. */
export function exitStatusOf(endReason: unknown): RunStop['exit_status'] {
  const reason = typeof endReason === 'string' ? endReason.toUpperCase() : '';
  if (reason === 'SUCCESS') return 'success';
  if (reason === 'FAILURE' || reason === 'DELETION' || reason === '') return 'fail';
  return 'abort'; // USER_ABORT, KILLED and other interruptions
}

export interface RunEnd {
  points: Record<string, number>;
  documents: RunStop['bliss']['documents'];
  scanInfoRef: { bucket: string; key: string; bytes: number; sha256: string };
  /** Index ranges missing from Redis (trimmed), per stream. */
  gaps?: { stream: string; start: number; stop: number }[];
}

export function runStopOf(scan: BlissScan, end: RunEnd, now: number): RunStop {
  const info = scan.info;
  const endReason = str(info.end_reason);
  const maxPoints = Math.max(0, ...Object.values(end.points));
  return validateDetail(DetailType.RunStop, {
    uid: runStopUid(scan.uid),
    run_start: scan.uid,
    time: epochSeconds(info.end_time, now),
    exit_status: exitStatusOf(endReason),
    ...(endReason ? { reason: endReason } : { reason: 'no end_reason in scan_info' }),
    num_events: { [PRIMARY]: maxPoints },
    bliss: {
      ...(endReason ? { end_reason: endReason } : {}),
      ...(str(info.end_time) ? { end_time: info.end_time as string } : {}),
      points: end.points,
      documents: end.documents,
      scan_info_ref: end.scanInfoRef,
      ...(end.gaps && end.gaps.length > 0 ? { gaps: end.gaps } : {}),
    },
  } satisfies RunStop);
}

export function runFailedOf(runUid: string, scanKey: string, reason: string, errors: RunError[]): RunFailed {
  return validateDetail(DetailType.RunFailed, {
    run_uid: runUid, stage: 'bridge', reason, scan_key: scanKey,
    errors: errors.map((e) => ({ ...e, message: e.message || 'unknown error' })),
  } satisfies RunFailed, 'beamline-archive.bridge');
}
