/**
 * The archive's run documents (event-model, as the contract in events/ fixes them) built from
 * what any source knows: descriptors, stream resources and datums of staged chunks, run failed.
 * Source-neutral: the BLISS builders (bliss/run-documents.ts) and the Bluesky ones
 * (bluesky/documents.ts) call these; nothing here knows a source.
 */
import { validateDetail } from '../contract/validators.js';
import { DetailType } from '../contract/detail-types.js';
import type {
  DataKey,
  EventDescriptor,
  IcatSnapshot,
  RunFailed,
  RunError,
  StreamDatum,
  StreamResource,
} from '../contract/generated-types.js';
import { stagingChannelPrefix } from '../object-keys.js';
import type { StoredObject } from '../ports.js';
import { channelRole, jsonDtypeOf, objectNameOf, type ChannelSpec } from './channels.js';
import type { NumericDtype } from './dtype.js';
import { CHUNKS_MIMETYPE, JSON_CHUNKS_MIMETYPE, JSON_DTYPE_NUMPY } from './resources.js';
import { descriptorUid, PRIMARY, resourceUid } from './uids.js';

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
    out[prefix] = Array.isArray(value)
      ? value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(' ')
      : typeof value === 'string'
        ? value
        : JSON.stringify(value);
  };
  walk(snapshot, '');
  return out;
}

export function dataKeyOf(channel: ChannelSpec): DataKey {
  if (channel.encoding === 'json') {
    return {
      dtype: 'string',
      dtype_numpy: JSON_DTYPE_NUMPY,
      shape: [],
      source: `bliss:esrf:stream:${channel.streamPk}`,
      external: 'STREAM:',
      ...(channel.units ? { units: channel.units } : {}),
      object_name: objectNameOf(channel.name),
      bliss_role: 'other',
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
    uid: descriptorUid(runUid),
    run_start: runUid,
    time: now,
    name: PRIMARY,
    data_keys: dataKeys,
    object_keys: objectKeys,
    hints: {},
  } satisfies EventDescriptor);
}

export function streamResourceOf(
  beamline: string,
  runUid: string,
  bucket: string,
  channel: { name: string; dtype: NumericDtype; shape: number[] } | { name: string; encoding: 'json' },
): StreamResource {
  const json = 'encoding' in channel;
  return validateDetail(DetailType.StreamResource, {
    uid: resourceUid(runUid, channel.name),
    run_start: runUid,
    data_key: channel.name,
    mimetype: json ? JSON_CHUNKS_MIMETYPE : CHUNKS_MIMETYPE,
    uri: `s3://${bucket}/${stagingChannelPrefix(beamline, runUid, channel.name)}`,
    parameters: json ? { dtype_numpy: JSON_DTYPE_NUMPY, point_shape: [] } : { dtype_numpy: channel.dtype.str, point_shape: channel.shape },
  } satisfies StreamResource);
}

/**
 * The StreamDatum of one staged chunk, points [start, stop) of a channel (Bluesky runs name their
 * stream's descriptor). `pointShape`: the shape of every point of the chunk, given for channels
 * with a free dimension (their shape can change between chunks; docs/bridge.md), absent otherwise
 * (the points have the resource's point_shape).
 */
export function streamDatumOf(
  runUid: string,
  bucket: string,
  channel: string,
  start: number,
  stop: number,
  stored: StoredObject,
  descriptor = descriptorUid(runUid),
  pointShape?: readonly number[],
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

export function runFailedOf(runUid: string, scanKey: string, reason: string, errors: RunError[]): RunFailed {
  return validateDetail(DetailType.RunFailed, {
    run_uid: runUid,
    stage: 'bridge',
    reason,
    scan_key: scanKey,
    errors: errors.map((e) => ({ ...e, message: e.message || 'unknown error' })),
  } satisfies RunFailed);
}
