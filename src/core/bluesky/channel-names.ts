/**
 * Channel naming of Bluesky runs in the archive (fixed: the export loaders rely on it).
 *
 * A Bluesky run has several event streams (`primary`, `baseline`, …), each with its own data
 * keys; the same key (`motor`) can appear in several streams. The archive names every channel of
 * a Bluesky run `<stream>:<data_key>` (`primary:det`, `baseline:energy`): that name is the
 * StreamResource `data_key`, the key of the forwarded EventDescriptor's `data_keys`, the key of
 * RunStop `points`, and the channel segment of the staged chunk keys. The original key stays in
 * the data key's `bluesky_key`. The separator is `:` because event-model 1.24 forbids `.` and `/`
 * in data_keys names (`^([^./]+)$`): the forwarded descriptors stay valid event-model documents.
 */
import { InvalidInputError } from '../errors.js';

/** Separator between the stream name and the data key in a Bluesky channel name. */
export const BLUESKY_CHANNEL_SEPARATOR = ':';

export interface BlueskyChannelParts {
  stream: string;
  key: string;
}

/**
 * `<stream>:<data_key>`. A stream name cannot contain `:` (the name would be ambiguous); a data
 * key may (it is everything after the first `:`). Empty parts are refused.
 */
export function blueskyChannelName(stream: string, key: string): string {
  if (typeof stream !== 'string' || stream.length === 0) {
    throw new InvalidInputError('Bluesky stream name is empty', { stream: String(stream), key: String(key) });
  }
  if (stream.includes(BLUESKY_CHANNEL_SEPARATOR)) {
    throw new InvalidInputError(`Bluesky stream name ${JSON.stringify(stream)} contains ":"`, { stream, key });
  }
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidInputError(`Bluesky data key of stream ${JSON.stringify(stream)} is empty`, { stream, key: String(key) });
  }
  return `${stream}${BLUESKY_CHANNEL_SEPARATOR}${key}`;
}

/** Inverse of blueskyChannelName: split at the first `:`; undefined when the name has none. */
export function parseBlueskyChannelName(channel: string): BlueskyChannelParts | undefined {
  const i = channel.indexOf(BLUESKY_CHANNEL_SEPARATOR);
  if (i <= 0 || i === channel.length - 1) return undefined;
  return { stream: channel.slice(0, i), key: channel.slice(i + 1) };
}

/** object_keys of a Bluesky descriptor with every key rewritten to its channel name. */
export function blueskyObjectKeys(stream: string, objectKeys: Readonly<Record<string, readonly string[]>>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [object, keys] of Object.entries(objectKeys)) out[object] = keys.map((key) => blueskyChannelName(stream, key));
  return out;
}
