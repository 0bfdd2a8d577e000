/**
 * The channels of a Bluesky descriptor: each data key archived as the channel `<stream>/<key>`
 * (numeric, packed; or a string key, staged as NDJSON), the others listed with the reason. Pure.
 */
import type { DataKey } from '../contract/generated-types.js';
import { parseDtype, type NumericDtype } from '../event-model/dtype.js';
import { JSON_DTYPE_NUMPY } from '../event-model/resources.js';
import { blueskyChannelName } from './channel-names.js';
import { requireString, str, type BlueskyDoc } from './entries.js';
import { BlueskyDocumentError } from './errors.js';
import { isRecord } from '../guards.js';

/** Characters of document uids (events/schemas: StreamResource and StreamDatum uid pattern). */
const DOCUMENT_UID_NAME = /^[A-Za-z0-9._:/-]+$/;
/** Longest channel name whose resource and datum uids fit the contract's 256 characters with a run uid of up to 64. */
const MAX_CHANNEL_NAME = 150;

/** A data key of a Bluesky stream archived as the channel `<stream>/<key>`. */
export interface BlueskyChannel {
  name: string;
  stream: string;
  key: string;
  /**
   * `numeric`: packed little-endian as `dtype` × `shape`; `json`: a string key, staged as NDJSON
   * (one JSON text per point) like BLISS JSON channels, `dtype` unused, `shape` [].
   */
  encoding: 'numeric' | 'json';
  dtype: NumericDtype;
  /** Point shape (concrete sizes). */
  shape: number[];
  dataKey: DataKey;
}

export interface NotArchived {
  channel: string;
  reason: string;
}

/** dtypes whose values JSON carries exactly (b1, ints, f4, f8). */
const PACKABLE = new Set(['|b1', '|i1', '<i2', '<i4', '<i8', '|u1', '<u2', '<u4', '<u8', '<f4', '<f8']);

/**
 * The element dtype of a data key: its `dtype_numpy` when it is a numeric numpy dtype, else from
 * `dtype`: number → <f8, boolean → |b1, integer → <f8 (ophyd often describes a float position as
 * `integer` when it starts at 0; float64 holds every integer JSON can carry exactly), array → <f8.
 */
function elementDtype(key: Record<string, unknown>): NumericDtype | string {
  const numpy = key.dtype_numpy;
  if (typeof numpy === 'string' && numpy.length > 0) {
    let dtype: NumericDtype;
    try {
      dtype = parseDtype(numpy);
    } catch {
      return `dtype_numpy ${JSON.stringify(numpy)} is not numeric`;
    }
    const little = parseDtype(dtype.itemsize === 1 ? dtype.str : `<${dtype.kind}${dtype.itemsize}`);
    return PACKABLE.has(little.str) ? little : `dtype_numpy ${numpy} cannot be carried exactly by JSON`;
  }
  switch (key.dtype) {
    case 'number':
    case 'integer':
    case 'array':
      return parseDtype('<f8');
    case 'boolean':
      return parseDtype('|b1');
    case 'string':
      return 'string data with a shape is not archived (a string key is archived as JSON only when its points are single strings)';
    default:
      return `dtype ${JSON.stringify(key.dtype)} is not numeric`;
  }
}

/**
 * The channels of one descriptor: every numeric data key with a fixed shape, named
 * `<stream>/<key>`; the others (strings, external data, variable shapes) listed with a reason.
 */
export function channelsOfDescriptor(
  descriptor: BlueskyDoc,
  context: { entryId: string; runUid: string },
): { stream: string; uid: string; channels: BlueskyChannel[]; notArchived: NotArchived[] } {
  const ctx = { ...context, document: 'descriptor' };
  const uid = requireString(descriptor, 'uid', ctx);
  const stream = requireString(descriptor, 'name', ctx);
  const dataKeys = descriptor.data_keys;
  if (!isRecord(dataKeys))
    throw new BlueskyDocumentError(`stream entry ${context.entryId}: descriptor ${uid} has no data_keys`, { ...ctx, descriptor: uid });
  const objectOf = new Map<string, string>();
  if (isRecord(descriptor.object_keys)) {
    for (const [object, keys] of Object.entries(descriptor.object_keys)) {
      if (Array.isArray(keys)) for (const k of keys) if (typeof k === 'string') objectOf.set(k, object);
    }
  }
  const channels: BlueskyChannel[] = [];
  const notArchived: NotArchived[] = [];
  for (const [key, raw] of Object.entries(dataKeys)) {
    let name: string;
    try {
      name = blueskyChannelName(stream, key);
    } catch (error) {
      throw new BlueskyDocumentError(
        `stream entry ${context.entryId}: descriptor ${uid}: ${(error as Error).message}`,
        { ...ctx, descriptor: uid },
        { cause: error },
      );
    }
    // Any name makes a folder of staged chunks (the one naming rule, object-keys safeSegment), but the
    // channel is also part of its StreamResource and StreamDatum uids, which the contract restricts.
    if (!DOCUMENT_UID_NAME.test(name) || name.length > MAX_CHANNEL_NAME) {
      notArchived.push({
        channel: name,
        reason: `channel name ${JSON.stringify(name.slice(0, 60))}${name.length > 60 ? '…' : ''} cannot be part of a document uid (letters, digits, . _ : / -, at most ${MAX_CHANNEL_NAME} characters)`,
      });
      continue;
    }
    if (!isRecord(raw)) {
      notArchived.push({ channel: name, reason: 'data key description is not an object' });
      continue;
    }
    if (typeof raw.external === 'string' && raw.external.length > 0) {
      notArchived.push({ channel: name, reason: `external data (${raw.external}) is not carried by the bridge` });
      continue;
    }
    const shape = Array.isArray(raw.shape) ? raw.shape : [];
    if (!shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      notArchived.push({ channel: name, reason: `shape ${JSON.stringify(raw.shape)} is not fixed` });
      continue;
    }
    const object = str(raw.object_name) ?? objectOf.get(key);
    const forward = (stored: string, derived: DataKey['dtype']) =>
      forwardedDataKey(raw, { key, stream, object, stored, derived, shape: shape as number[] });
    if (
      raw.dtype === 'string' &&
      shape.length === 0 &&
      !(typeof raw.dtype_numpy === 'string' && /^[|<>]?[biufc]\d+$/.test(raw.dtype_numpy))
    ) {
      channels.push({
        name,
        stream,
        key,
        encoding: 'json',
        dtype: parseDtype('|u1'),
        shape: [],
        dataKey: forward(JSON_DTYPE_NUMPY, 'string'),
      });
      continue;
    }
    const dtype = elementDtype(raw);
    if (typeof dtype === 'string') {
      notArchived.push({ channel: name, reason: dtype });
      continue;
    }
    const dataKey = forward(dtype.str, shape.length > 0 ? 'array' : dtype.kind === 'b' ? 'boolean' : 'number');
    channels.push({ name, stream, key, encoding: 'numeric', dtype, shape: shape as number[], dataKey });
  }
  return { stream, uid, channels, notArchived };
}

const DATA_KEY_DTYPES = new Set(['string', 'number', 'array', 'boolean', 'integer']);
const CONTRACT_DTYPE_NUMPY = /^([|<>][biufc][0-9]+|\|O8)$/;

/**
 * The forwarded data key: every field of the original description (`dtype`, `dtype_numpy`, `shape`,
 * `source`, `units`, `precision`, `limits`, `enum_strs` …), plus `bluesky_key` (the original key),
 * `external: "STREAM:"` (the data is in staged chunks) and `archived_dtype_numpy` (the element type
 * stored). A missing or invalid `dtype`/`dtype_numpy`/`source` is filled in from what is stored.
 */
function forwardedDataKey(
  raw: Record<string, unknown>,
  c: { key: string; stream: string; object: string | undefined; stored: string; derived: DataKey['dtype']; shape: number[] },
): DataKey {
  return {
    ...raw,
    dtype: typeof raw.dtype === 'string' && DATA_KEY_DTYPES.has(raw.dtype) ? (raw.dtype as DataKey['dtype']) : c.derived,
    dtype_numpy: typeof raw.dtype_numpy === 'string' && CONTRACT_DTYPE_NUMPY.test(raw.dtype_numpy) ? raw.dtype_numpy : c.stored,
    shape: c.shape,
    source: str(raw.source) ?? `bluesky:${c.stream}/${c.key}`,
    external: 'STREAM:',
    ...(typeof raw.units === 'string' || raw.units === null ? { units: raw.units } : {}),
    ...(c.object ? { object_name: c.object } : {}),
    bluesky_key: c.key,
    archived_dtype_numpy: c.stored,
  };
}
