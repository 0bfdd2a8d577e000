/**
 * Bluesky documents (as published by tools/bluesky-publisher) → the archive's contract documents.
 * Pure: the bridge (bridge/bluesky-follower.ts) reads the Redis stream, stages the columns this
 * module packs, and sends the documents it builds. docs/bluesky.md describes the mapping.
 *
 * The stream's entries are read in entries.ts, a descriptor's channels in descriptor-channels.ts, the
 * points packed in point-packing.ts (re-exported here); this file builds the contract documents.
 */
import { DetailType } from '../contract/detail-types.js';
import type {
  DataKey,
  DataPolicy,
  EventDescriptor,
  IcatSnapshot,
  RunStart,
  RunStop,
  StreamDatum,
  StreamResource,
} from '../contract/generated-types.js';
import { validateDetail } from '../contract/validators.js';
import { icatSnapshotOf, streamDatumOf, streamResourceOf } from '../event-model/documents.js';
import { resourceUid } from '../event-model/uids.js';
import { dataPolicyOf } from '../object-keys.js';
import type { StoredObject } from '../ports.js';
import { blueskyObjectKeys } from './channel-names.js';
import type { BlueskyChannel, NotArchived } from './descriptor-channels.js';
import { requireString, str, type BlueskyDoc } from './entries.js';
import { BlueskyDocumentError } from './errors.js';
import { isRecord } from '../guards.js';

export { BlueskyDocumentName, parseBlueskyEntry, requireString, restoreNonFinite, type BlueskyDoc, type BlueskyEntry } from './entries.js';
export { channelsOfDescriptor, type BlueskyChannel, type NotArchived } from './descriptor-channels.js';
export { packJsonLines, packPoints, type ValueContext } from './point-packing.js';

/** RunStart.bluesky.start is inlined up to this size (JSON bytes); a larger start document is staged. */
export const MAX_INLINE_START = 64 * 1024;

export const blueskyResourceUid = resourceUid;

/** Contract keys of RunStart that the start document's own keys never overwrite. */
const RUN_START_KEYS = new Set([
  'uid',
  'time',
  'scan_id',
  'plan_name',
  'sample',
  'project',
  'data_session',
  'data_policy',
  'bliss',
  'bluesky',
  'icat',
]);

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
  const policy = dataPolicyOf(
    {
      ...optional('proposal', pick('proposal') ?? defaults.proposal),
      ...optional('session', pick('session') ?? defaults.session),
      ...optional('collection', pick('collection') ?? sample ?? defaults.collection),
      ...optional('dataset', pick('dataset') ?? defaults.dataset),
    },
    pick('beamline') ?? defaults.beamline,
  );
  return {
    proposal: folderName(policy.proposal, 'unknown_proposal'),
    beamline: folderName(policy.beamline, 'unknown_beamline'),
    session: folderName(policy.session, 'unknown_session'),
    collection: folderName(policy.collection, 'unknown_collection'),
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
  if (typeof start.time !== 'number' || !Number.isFinite(start.time))
    throw new BlueskyDocumentError(`stream entry ${ctx.entryId}: start document ${uid} has no time`, { ...docCtx, runUid: uid });
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
    scan_id: Number.isSafeInteger(start.scan_id) && (start.scan_id as number) >= 0 ? (start.scan_id as number) : 0,
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
export function blueskyDescriptorOf(
  runUid: string,
  descriptor: BlueskyDoc,
  channels: readonly BlueskyChannel[],
  notArchived: readonly NotArchived[],
): EventDescriptor {
  const stream = descriptor.name as string;
  const dataKeys: Record<string, DataKey> = {};
  for (const c of channels) dataKeys[c.name] = c.dataKey;
  const archived = new Set(channels.map((c) => c.key));
  const objectKeys = isRecord(descriptor.object_keys)
    ? blueskyObjectKeys(
        stream,
        Object.fromEntries(
          Object.entries(descriptor.object_keys)
            .map(
              ([o, keys]) =>
                [o, Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string' && archived.has(k)) : []] as const,
            )
            .filter(([, keys]) => keys.length > 0),
        ),
      )
    : {};
  const configuration =
    isRecord(descriptor.configuration) && Buffer.byteLength(JSON.stringify(descriptor.configuration)) <= MAX_INLINE_CONFIGURATION
      ? descriptor.configuration
      : undefined;
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
export function blueskyStreamResourceOf(beamline: string, runUid: string, bucket: string, channel: BlueskyChannel): StreamResource {
  return streamResourceOf(
    beamline,
    runUid,
    bucket,
    channel.encoding === 'json'
      ? { name: channel.name, encoding: 'json' }
      : { name: channel.name, dtype: channel.dtype, shape: channel.shape },
  );
}

/** The StreamDatum of one staged chunk of a channel, under its stream's descriptor. */
export function blueskyStreamDatumOf(
  runUid: string,
  bucket: string,
  channel: string,
  descriptorUid: string,
  start: number,
  stop: number,
  stored: StoredObject,
): StreamDatum {
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
  const exit =
    typeof stop.exit_status === 'string' && EXIT_STATUSES.has(stop.exit_status) ? (stop.exit_status as RunStop['exit_status']) : 'fail';
  const reason = str(stop.reason);
  const numEvents: Record<string, number> = {};
  if (isRecord(stop.num_events))
    for (const [k, v] of Object.entries(stop.num_events)) if (Number.isSafeInteger(v) && (v as number) >= 0) numEvents[k] = v as number;
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
