/**
 * Bluesky documents (as published by tools/bluesky-publisher) → the archive's contract documents.
 * Pure: the bridge (bridge/bluesky-follower.ts) reads the Redis stream, stages the columns this
 * module packs, and sends the documents it builds. docs/bluesky.md describes the mapping.
 */
import { DetailType } from '../contract/detail-types.js';
import type { DataKey, DataPolicy, EventDescriptor, IcatSnapshot, RunStart, RunStop, StreamDatum, StreamResource } from '../contract/generated-types.js';
import { validateDetail } from '../contract/validators.js';
import { icatSnapshotOf, streamDatumOf, streamResourceOf } from '../event-model/documents.js';
import { parseDtype, type NumericDtype } from '../event-model/dtype.js';
import { JSON_DTYPE_NUMPY } from '../event-model/resources.js';
import { resourceUid } from '../event-model/uids.js';
import { dataPolicyOf } from '../object-keys.js';

/** Characters of document uids (events/schemas: StreamResource and StreamDatum uid pattern). */
const DOCUMENT_UID_NAME = /^[A-Za-z0-9._:/-]+$/;
/** Longest channel name whose resource and datum uids fit the contract's 256 characters with a run uid of up to 64. */
const MAX_CHANNEL_NAME = 150;
import type { StoredObject } from '../ports.js';
import { blueskyChannelName, blueskyObjectKeys } from './channel-names.js';
import { BlueskyDocumentError } from './errors.js';
import { isRecord } from '../guards.js';

/** Document names the RunEngine emits (event-model DocumentNames). */
export const BlueskyDocumentName = {
  Start: 'start',
  Descriptor: 'descriptor',
  Event: 'event',
  EventPage: 'event_page',
  Stop: 'stop',
  Resource: 'resource',
  Datum: 'datum',
  DatumPage: 'datum_page',
  StreamResource: 'stream_resource',
  StreamDatum: 'stream_datum',
} as const;
export type BlueskyDocumentName = (typeof BlueskyDocumentName)[keyof typeof BlueskyDocumentName];

const KNOWN_NAMES = new Set<string>(Object.values(BlueskyDocumentName));

export type BlueskyDoc = Record<string, unknown>;

export interface BlueskyEntry {
  id: string;
  name: BlueskyDocumentName;
  doc: BlueskyDoc;
}

/** RunStart.bluesky.start is inlined up to this size (JSON bytes); a larger start document is staged. */
export const MAX_INLINE_START = 64 * 1024;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined);

/** `{"$float": "nan"|"inf"|"-inf"}` (the publisher's encoding of non-finite floats) → the number. */
export function restoreNonFinite(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(restoreNonFinite);
  if (!isRecord(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === '$float') {
    if (value.$float === 'nan') return Number.NaN;
    if (value.$float === 'inf') return Number.POSITIVE_INFINITY;
    if (value.$float === '-inf') return Number.NEGATIVE_INFINITY;
  }
  // fromEntries defines own properties: a key named `__proto__` stays a key (an assignment would set the prototype).
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, restoreNonFinite(v)]));
}

/** One stream entry (fields `name`, `doc`) → a document, or a BlueskyDocumentError naming the entry. */
export function parseBlueskyEntry(id: string, fields: ReadonlyMap<string, Buffer | string>): BlueskyEntry {
  const text = (field: string) => {
    const v = fields.get(field);
    return v === undefined ? undefined : typeof v === 'string' ? v : v.toString('utf8');
  };
  const name = text('name');
  const raw = text('doc');
  if (name === undefined || raw === undefined) {
    throw new BlueskyDocumentError(`stream entry ${id} has no ${name === undefined ? '"name"' : '"doc"'} field`, { entryId: id, fields: [...fields.keys()] });
  }
  if (!KNOWN_NAMES.has(name)) {
    throw new BlueskyDocumentError(`stream entry ${id}: unknown document name ${JSON.stringify(name.slice(0, 100))}`, { entryId: id, document: name });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new BlueskyDocumentError(`stream entry ${id}: ${name} document is not JSON (${(error as Error).message})`, { entryId: id, document: name }, { cause: error });
  }
  if (!isRecord(parsed)) throw new BlueskyDocumentError(`stream entry ${id}: ${name} document is not a JSON object`, { entryId: id, document: name });
  return { id, name: name as BlueskyDocumentName, doc: restoreNonFinite(parsed) as BlueskyDoc };
}

/** The run a document belongs to, when the document says it directly (start, descriptor, stop, resources). */
export function requireString(doc: BlueskyDoc, field: string, context: { entryId: string; document: string }): string {
  const value = doc[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new BlueskyDocumentError(`stream entry ${context.entryId}: ${context.document} document has no ${field}`, context);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Channels

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
export function channelsOfDescriptor(descriptor: BlueskyDoc, context: { entryId: string; runUid: string }): { stream: string; uid: string; channels: BlueskyChannel[]; notArchived: NotArchived[] } {
  const ctx = { ...context, document: 'descriptor' };
  const uid = requireString(descriptor, 'uid', ctx);
  const stream = requireString(descriptor, 'name', ctx);
  const dataKeys = descriptor.data_keys;
  if (!isRecord(dataKeys)) throw new BlueskyDocumentError(`stream entry ${context.entryId}: descriptor ${uid} has no data_keys`, { ...ctx, descriptor: uid });
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
      throw new BlueskyDocumentError(`stream entry ${context.entryId}: descriptor ${uid}: ${(error as Error).message}`, { ...ctx, descriptor: uid }, { cause: error });
    }
    // Any name makes a folder of staged chunks (the one naming rule, object-keys safeSegment), but the
    // channel is also part of its StreamResource and StreamDatum uids, which the contract restricts.
    if (!DOCUMENT_UID_NAME.test(name) || name.length > MAX_CHANNEL_NAME) {
      notArchived.push({ channel: name, reason: `channel name ${JSON.stringify(name.slice(0, 60))}${name.length > 60 ? '…' : ''} cannot be part of a document uid (letters, digits, . _ : / -, at most ${MAX_CHANNEL_NAME} characters)` });
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
    const forward = (stored: string, derived: DataKey['dtype']) => forwardedDataKey(raw, { key, stream, object, stored, derived, shape: shape as number[] });
    if (raw.dtype === 'string' && shape.length === 0 && !(typeof raw.dtype_numpy === 'string' && /^[|<>]?[biufc]\d+$/.test(raw.dtype_numpy))) {
      channels.push({ name, stream, key, encoding: 'json', dtype: parseDtype('|u1'), shape: [], dataKey: forward(JSON_DTYPE_NUMPY, 'string') });
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
function forwardedDataKey(raw: Record<string, unknown>, c: { key: string; stream: string; object: string | undefined; stored: string; derived: DataKey['dtype']; shape: number[] }): DataKey {
  return {
    ...raw,
    dtype: typeof raw.dtype === 'string' && DATA_KEY_DTYPES.has(raw.dtype) ? raw.dtype as DataKey['dtype'] : c.derived,
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

// ---------------------------------------------------------------------------------------------
// Values → bytes

const WRITERS: Record<string, { size: number; write: (view: DataView, offset: number, value: number) => void; integer?: [bigint, bigint] }> = {
  '|b1': { size: 1, write: (v, o, x) => v.setUint8(o, x) },
  '|i1': { size: 1, write: (v, o, x) => v.setInt8(o, x), integer: [-(2n ** 7n), 2n ** 7n - 1n] },
  '<i2': { size: 2, write: (v, o, x) => v.setInt16(o, x, true), integer: [-(2n ** 15n), 2n ** 15n - 1n] },
  '<i4': { size: 4, write: (v, o, x) => v.setInt32(o, x, true), integer: [-(2n ** 31n), 2n ** 31n - 1n] },
  '<i8': { size: 8, write: (v, o, x) => v.setBigInt64(o, BigInt(x), true), integer: [-(2n ** 63n), 2n ** 63n - 1n] },
  '|u1': { size: 1, write: (v, o, x) => v.setUint8(o, x), integer: [0n, 2n ** 8n - 1n] },
  '<u2': { size: 2, write: (v, o, x) => v.setUint16(o, x, true), integer: [0n, 2n ** 16n - 1n] },
  '<u4': { size: 4, write: (v, o, x) => v.setUint32(o, x, true), integer: [0n, 2n ** 32n - 1n] },
  '<u8': { size: 8, write: (v, o, x) => v.setBigUint64(o, BigInt(x), true), integer: [0n, 2n ** 64n - 1n] },
  '<f4': { size: 4, write: (v, o, x) => v.setFloat32(o, x, true) },
  '<f8': { size: 8, write: (v, o, x) => v.setFloat64(o, x, true) },
};

export interface ValueContext {
  runUid: string;
  channel: string;
  /** Point index (seq_num - 1) of the first value. */
  index: number;
  entryId: string;
}

/** Packs points (JSON values of one data key) into little-endian C-order bytes; a value that does not fit is an error naming the point. */
export function packPoints(channel: Pick<BlueskyChannel, 'dtype' | 'shape' | 'name'>, values: readonly unknown[], context: ValueContext): Buffer {
  const writer = WRITERS[channel.dtype.str];
  if (!writer) throw new BlueskyDocumentError(`channel ${channel.name}: dtype ${channel.dtype.str} cannot be packed`, { ...context, stream: channel.name });
  const perPoint = channel.shape.reduce((a, b) => a * b, 1);
  const failAt = (p: number, why: string): never => {
    throw new BlueskyDocumentError(`run ${context.runUid}, channel ${channel.name}, point ${context.index + p} (stream entry ${context.entryId}): ${why}`,
      { ...context, stream: channel.name, index: context.index + p });
  };
  // Every point's shape is checked before the output is allocated: a data key declaring a huge shape
  // costs what its values really hold, not what the descriptor claims.
  const flats = values.map((value, p) => {
    const flat: unknown[] = [];
    const walk = (v: unknown, depth: number) => {
      if (depth === channel.shape.length) { flat.push(v); return; }
      if (!Array.isArray(v) || v.length !== channel.shape[depth]) failAt(p, `value does not have the shape [${channel.shape.join(', ')}] of its data key`);
      for (const x of v as unknown[]) walk(x, depth + 1);
    };
    walk(value, 0);
    return flat;
  });
  const out = Buffer.alloc(values.length * perPoint * writer.size);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let offset = 0;
  flats.forEach((flat, p) => {
    const fail = (why: string): never => failAt(p, why);
    for (const v of flat) {
      let x: number;
      if (channel.dtype.kind === 'b') {
        if (typeof v !== 'boolean' && v !== 0 && v !== 1) fail(`${JSON.stringify(v)} is not a boolean`);
        x = v ? 1 : 0;
      } else if (typeof v === 'number') {
        x = v;
      } else if (v === null && channel.dtype.kind === 'f') {
        x = Number.NaN; // a value the device could not read
      } else if (typeof v === 'boolean') {
        x = v ? 1 : 0;
      } else {
        return fail(`${JSON.stringify(v)?.slice(0, 80)} is not a number`);
      }
      if (writer.integer) {
        if (!Number.isInteger(x)) fail(`${x} is not an integer (dtype ${channel.dtype.str})`);
        // JSON.parse has already rounded an integer beyond 2^53 to a neighbour: refuse it rather than store another number.
        if (!Number.isSafeInteger(x)) fail(`${x} is beyond 2^53 - 1 in magnitude: JSON cannot carry it exactly (dtype ${channel.dtype.str})`);
        const big = BigInt(x);
        if (big < writer.integer[0] || big > writer.integer[1]) fail(`${x} is out of range for ${channel.dtype.str}`);
      }
      if (channel.dtype.str === '<f4' && Number.isFinite(x) && !Number.isFinite(Math.fround(x))) fail(`${x} is out of range for <f4 (it would be stored as an infinity)`);
      writer.write(view, offset, x);
      offset += writer.size;
    }
  });
  return out;
}

/** NDJSON lines of a JSON channel's points: one `JSON.stringify(value)` line per point (a missing value is `null`). */
export function packJsonLines(values: readonly unknown[]): Buffer[] {
  return values.map((v) => Buffer.from(`${JSON.stringify(v === undefined ? null : v)}\n`, 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// Documents

export const blueskyResourceUid = resourceUid;

/** Contract keys of RunStart that the start document's own keys never overwrite. */
const RUN_START_KEYS = new Set(['uid', 'time', 'scan_id', 'plan_name', 'sample', 'project', 'data_session', 'data_policy', 'bliss', 'bluesky', 'icat']);

/** The title of a Bluesky run: md `title`, else plan name, motors and number of points (`scan motor 10`). */
export function blueskyTitleOf(start: BlueskyDoc): string {
  const title = str(start.title);
  if (title) return title;
  const motors = Array.isArray(start.motors) ? start.motors.filter((m): m is string => typeof m === 'string') : [];
  const points = Number.isSafeInteger(start.num_points) ? [String(start.num_points)] : [];
  return [str(start.plan_name) ?? 'bluesky run', ...motors, ...points].join(' ');
}

/** Sample name from md: `sample` as a string, or `sample.name`. */
function sampleNameOf(start: BlueskyDoc): string | undefined {
  if (typeof start.sample === 'string' && start.sample) return start.sample;
  if (isRecord(start.sample)) return str(start.sample.name);
  return undefined;
}

export interface BlueskyDataPolicyDefaults {
  beamline: string;
  proposal?: string | undefined;
  session?: string | undefined;
  collection?: string | undefined;
  dataset?: string | undefined;
}

/**
 * Where a Bluesky run is archived: md `proposal`, `beamline`, `session`, `collection` (else the
 * sample name), `dataset`; what md lacks comes from the bridge's defaults. A value must be a
 * string or a number; each is kept as given (folderName), the naming rule makes keys of it downstream.
 */
export function blueskyDataPolicyOf(start: BlueskyDoc, defaults: BlueskyDataPolicyDefaults): DataPolicy {
  const pick = (key: string) => str(start[key]);
  const sample = sampleNameOf(start);
  const policy = dataPolicyOf({
    ...optional('proposal', pick('proposal') ?? defaults.proposal),
    ...optional('session', pick('session') ?? defaults.session),
    ...optional('collection', pick('collection') ?? sample ?? defaults.collection),
    ...optional('dataset', pick('dataset') ?? defaults.dataset),
  }, pick('beamline') ?? defaults.beamline);
  return {
    proposal: folderName(policy.proposal, 'unknown_proposal'), beamline: folderName(policy.beamline, 'unknown_beamline'),
    session: folderName(policy.session, 'unknown_session'), collection: folderName(policy.collection, 'unknown_collection'),
    dataset: folderName(policy.dataset, 'unknown_dataset'),
  };
}

/**
 * A metadata value as a data-policy name: kept as given (at most 200 characters, the contract's
 * bound); every key and folder made from it goes through the archive's one naming rule
 * (safeSegment, src/core/object-keys.ts), as for BLISS scans. A value with nothing visible in it
 * (empty, only spaces or control characters) is the fallback.
 */
export function folderName(value: string, fallback: string): string {
  // eslint-disable-next-line no-control-regex
  return /[^\s\u0000-\u001f\u007f]/.test(value) ? value.slice(0, 200) : fallback;
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

export interface BlueskyStartContext {
  /** Redis stream key and the id of the start document's entry. */
  stream: string;
  entryId: string;
  policy: BlueskyDataPolicyDefaults;
  /** Set when the start document was too large to inline and was staged instead. */
  startRef?: { bucket: string; key: string; bytes: number; sha256: string };
}

/**
 * RunStart of a Bluesky run: event-model keys of the start document, the start document's other
 * top-level keys (md: sample, scan_type, regions …, every key without `.` or `/`, while they fit in
 * 64 KiB together), the `bluesky`
 * origin block (title, stream, entry, hints, the whole start document or a reference to its staged
 * copy), the data policy and an ICAT snapshot (Sample_name, plus md `icat` flattened).
 */
export function blueskyRunStartOf(start: BlueskyDoc, ctx: BlueskyStartContext): RunStart {
  const docCtx = { entryId: ctx.entryId, document: 'start' };
  const uid = requireString(start, 'uid', docCtx);
  if (typeof start.time !== 'number' || !Number.isFinite(start.time)) throw new BlueskyDocumentError(`stream entry ${ctx.entryId}: start document ${uid} has no time`, { ...docCtx, runUid: uid });
  const sample = sampleNameOf(start);
  const icat: IcatSnapshot = { ...icatSnapshotOf(start.icat), ...(sample ? { Sample_name: sample } : {}) };
  // md keys at the top level while they fit in MAX_INLINE_START together (a larger one is only in the staged start document).
  const extras: Record<string, unknown> = {};
  let extraBytes = 0;
  for (const [key, value] of Object.entries(start)) {
    if (RUN_START_KEYS.has(key) || key.includes('.') || key.includes('/') || key.length === 0) continue;
    const bytes = Buffer.byteLength(JSON.stringify(value) ?? '') + key.length;
    if (extraBytes + bytes > MAX_INLINE_START) continue;
    extraBytes += bytes;
    extras[key] = value;
  }
  const inline = ctx.startRef ? undefined : start;
  const doc: RunStart = {
    ...extras,
    uid,
    time: start.time,
    scan_id: Number.isSafeInteger(start.scan_id) && (start.scan_id as number) >= 0 ? start.scan_id as number : 0,
    plan_name: str(start.plan_name) ?? 'bluesky',
    ...(sample ? { sample } : {}),
    ...(str(start.project) ? { project: str(start.project)! } : {}),
    ...(str(start.data_session) ? { data_session: str(start.data_session)! } : {}),
    data_policy: blueskyDataPolicyOf(start, ctx.policy),
    bluesky: {
      title: blueskyTitleOf(start),
      stream: ctx.stream,
      start_entry: ctx.entryId,
      ...(isRecord(start.hints) ? { hints: start.hints } : {}),
      ...(inline ? { start: inline } : {}),
      ...(ctx.startRef ? { start_ref: ctx.startRef } : {}),
    },
    icat,
  };
  return validateDetail(DetailType.RunStart, doc);
}

/** JSON size of the start document (decides inline or staged). */
export function startDocumentBytes(start: BlueskyDoc): number {
  return Buffer.byteLength(JSON.stringify(start));
}

/** Largest descriptor `configuration` carried on the bus (JSON bytes); a larger one is left out and flagged. */
export const MAX_INLINE_CONFIGURATION = 64 * 1024;

/**
 * The forwarded descriptor: the original uid and stream name, data_keys and object_keys renamed
 * to channels (`primary:det`), hints and configuration kept, the keys not archived listed.
 */
export function blueskyDescriptorOf(runUid: string, descriptor: BlueskyDoc, channels: readonly BlueskyChannel[], notArchived: readonly NotArchived[]): EventDescriptor {
  const stream = descriptor.name as string;
  const dataKeys: Record<string, DataKey> = {};
  for (const c of channels) dataKeys[c.name] = c.dataKey;
  const archived = new Set(channels.map((c) => c.key));
  const objectKeys = isRecord(descriptor.object_keys)
    ? blueskyObjectKeys(stream, Object.fromEntries(Object.entries(descriptor.object_keys)
      .map(([o, keys]) => [o, Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string' && archived.has(k)) : []] as const)
      .filter(([, keys]) => keys.length > 0)))
    : {};
  const configuration = isRecord(descriptor.configuration) && Buffer.byteLength(JSON.stringify(descriptor.configuration)) <= MAX_INLINE_CONFIGURATION
    ? descriptor.configuration : undefined;
  return validateDetail(DetailType.EventDescriptor, {
    uid: descriptor.uid as string,
    run_start: runUid,
    time: typeof descriptor.time === 'number' ? descriptor.time : 0,
    name: stream,
    data_keys: dataKeys,
    object_keys: objectKeys,
    hints: isRecord(descriptor.hints) ? descriptor.hints : {},
    ...(configuration ? { configuration } : isRecord(descriptor.configuration) ? { configuration_left_out: 'larger than 64 KiB' } : {}),
    ...(notArchived.length > 0 ? { not_archived: notArchived.map((n) => ({ ...n })) } : {}),
  } satisfies EventDescriptor);
}

/** The StreamResource of a channel: the same staged-chunk resource as a BLISS channel's. */
export function blueskyStreamResourceOf(runUid: string, bucket: string, channel: BlueskyChannel): StreamResource {
  return streamResourceOf(runUid, bucket, channel.encoding === 'json' ? { name: channel.name, encoding: 'json' } : { name: channel.name, dtype: channel.dtype, shape: channel.shape });
}

/** The StreamDatum of one staged chunk of a channel, under its stream's descriptor. */
export function blueskyStreamDatumOf(runUid: string, bucket: string, channel: string, descriptorUid: string, start: number, stop: number, stored: StoredObject): StreamDatum {
  return streamDatumOf(runUid, bucket, channel, start, stop, stored, descriptorUid);
}

export interface BlueskyRunEnd {
  /** Points staged per channel. */
  points: Record<string, number>;
  documents: RunStop['bliss']['documents'];
  notArchived: readonly NotArchived[];
  /** Events per stream the bridge received (compared with the stop document's num_events). */
  eventsReceived: Record<string, number>;
}

const EXIT_STATUSES = new Set(['success', 'abort', 'fail']);

/**
 * RunStop of a Bluesky run: uid, time, exit_status, reason and num_events of the stop document;
 * the bookkeeping the scan writer checks (points per channel, documents sent) in `bliss` (the
 * contract's name for it); the keys not archived and the whole stop document in `bluesky`.
 */
export function blueskyRunStopOf(runUid: string, stop: BlueskyDoc, end: BlueskyRunEnd, entryId: string): RunStop {
  const ctx = { entryId, document: 'stop', runUid };
  const uid = requireString(stop, 'uid', ctx);
  const exit = typeof stop.exit_status === 'string' && EXIT_STATUSES.has(stop.exit_status) ? stop.exit_status as RunStop['exit_status'] : 'fail';
  const reason = str(stop.reason);
  const numEvents: Record<string, number> = {};
  if (isRecord(stop.num_events)) for (const [k, v] of Object.entries(stop.num_events)) if (Number.isSafeInteger(v) && (v as number) >= 0) numEvents[k] = v as number;
  return validateDetail(DetailType.RunStop, {
    uid,
    run_start: runUid,
    time: typeof stop.time === 'number' && Number.isFinite(stop.time) ? stop.time : 0,
    exit_status: exit,
    ...(reason ? { reason } : {}),
    num_events: numEvents,
    bliss: {
      ...(reason ? { end_reason: reason } : { end_reason: exit === 'success' ? 'SUCCESS' : exit.toUpperCase() }),
      end_time: new Date(Math.round((typeof stop.time === 'number' ? stop.time : 0) * 1000)).toISOString(),
      points: end.points,
      documents: end.documents,
    },
    bluesky: {
      stop,
      events_received: end.eventsReceived,
      not_archived: end.notArchived.map((n) => ({ ...n })),
    },
  } satisfies RunStop);
}
