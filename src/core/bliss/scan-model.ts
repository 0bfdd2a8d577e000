import type { BlissIdentity } from '../contract/generated-types.js';
import { InvalidInputError } from '../errors.js';
import { isRecord } from '../guards.js';

/** States of a blissdata scan, as written in its state stream (field `state`). */
export const ScanState = {
  Created: 0,
  Prepared: 1,
  Started: 2,
  Stopped: 3,
  Closed: 4,
} as const;
export type ScanState = (typeof ScanState)[keyof typeof ScanState];

/** The identity block of a scan (`id` in the scan JSON): the contract's BlissIdentity, as RunStart carries it. */
export type ScanIdentity = BlissIdentity;

/** Numeric encoding: raw C-order bytes; a -1 in `shape` means msgpack `[point_shape, bytes]` payloads. */
export interface NumericEncoding {
  type: 'numeric';
  dtype_str: string;
  shape: number[];
}

export interface StreamModel {
  name: string;
  pk: string;
  /** Redis key of the stream: `esrf:stream:<pk>`. */
  key: string;
  /** The encoding as published; only `numeric` is decoded by the bridge. */
  encoding: NumericEncoding | { type: string; [field: string]: unknown };
  info: Record<string, unknown>;
}

/** A blissdata scan as read from its RedisJSON document. */
export interface BlissScan {
  key: string;
  /** The scan's ULID (pk), which is also the run uid. */
  uid: string;
  identity: ScanIdentity;
  info: Record<string, unknown>;
  stateStreamKey: string;
  /** Data streams in publication order (empty before PREPARED). */
  streams: StreamModel[];
}

export function streamKeyOf(pk: string): string {
  return `esrf:stream:${pk}`;
}

export function isNumericEncoding(encoding: StreamModel['encoding']): encoding is NumericEncoding {
  return encoding.type === 'numeric';
}

/**
 * Validates the RedisJSON document of a scan (`JSON.GET esrf:scan:<ULID>`, already parsed) and
 * returns its model. Throws InvalidInputError naming the scan key and the offending field.
 */
export function parseScanJson(scanKey: string, raw: unknown): BlissScan {
  const fail = (what: string): never => {
    throw new InvalidInputError(`scan ${scanKey}: ${what}`, { scanKey });
  };
  if (!isRecord(raw)) return fail('the scan JSON is not an object');
  const pk = raw.pk;
  if (typeof pk !== 'string' || !/^[A-Za-z0-9]+$/.test(pk)) return fail('pk is missing or not a ULID');
  const id = raw.id;
  if (!isRecord(id)) return fail('id (the scan identity) is missing');
  if (typeof id.name !== 'string' || id.name.length === 0) fail('id.name is missing');
  if (typeof id.number !== 'number' || !Number.isSafeInteger(id.number)) fail('id.number is not an integer');
  for (const field of ['data_policy', 'session', 'proposal', 'collection', 'dataset', 'path']) {
    const value = id[field];
    if (value !== undefined && value !== null && typeof value !== 'string') fail(`id.${field} is not a string`);
  }
  const info = raw.info ?? {};
  if (!isRecord(info)) return fail('info (scan_info) is not an object');
  const stateStream = raw.state_stream;
  if (!isRecord(stateStream) || typeof stateStream.pk !== 'string') return fail('state_stream.pk is missing');
  const dataStreams = raw.data_streams ?? {};
  if (!isRecord(dataStreams)) return fail('data_streams is not an object');
  const streams: StreamModel[] = [];
  for (const [name, model] of Object.entries(dataStreams)) {
    if (!isRecord(model) || typeof model.pk !== 'string') return fail(`data_streams[${JSON.stringify(name)}].pk is missing`);
    const encoding = model.encoding;
    if (!isRecord(encoding) || typeof encoding.type !== 'string') {
      return fail(`data_streams[${JSON.stringify(name)}].encoding has no type`);
    }
    if (encoding.type === 'numeric') {
      if (typeof encoding.dtype_str !== 'string') fail(`data_streams[${JSON.stringify(name)}].encoding.dtype_str is missing`);
      const shape = encoding.shape ?? [];
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= -1)) {
        fail(`data_streams[${JSON.stringify(name)}].encoding.shape is not a list of sizes`);
      }
    }
    streams.push({
      name,
      pk: model.pk,
      key: streamKeyOf(model.pk),
      encoding: (encoding.type === 'numeric'
        ? { ...encoding, shape: (encoding.shape ?? []) as number[] }
        : encoding) as StreamModel['encoding'],
      info: isRecord(model.info) ? model.info : {},
    });
  }
  const identity: ScanIdentity = { ...(id as ScanIdentity) };
  delete identity.pk;
  for (const [field, value] of Object.entries(identity)) if (value === null) delete identity[field];
  return { key: scanKey, uid: pk, identity, info, stateStreamKey: streamKeyOf(stateStream.pk), streams };
}
