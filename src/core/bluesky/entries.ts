/**
 * The entries of a Bluesky document stream (as published by tools/bluesky-publisher): document
 * names, one entry → one document (non-finite floats restored), required fields. Pure.
 */
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

/** A non-empty string (a finite number as its text), else undefined. */
export const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;

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
    throw new BlueskyDocumentError(`stream entry ${id} has no ${name === undefined ? '"name"' : '"doc"'} field`, {
      entryId: id,
      fields: [...fields.keys()],
    });
  }
  if (!KNOWN_NAMES.has(name)) {
    throw new BlueskyDocumentError(`stream entry ${id}: unknown document name ${JSON.stringify(name.slice(0, 100))}`, {
      entryId: id,
      document: name,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new BlueskyDocumentError(
      `stream entry ${id}: ${name} document is not JSON (${(error as Error).message})`,
      { entryId: id, document: name },
      { cause: error },
    );
  }
  if (!isRecord(parsed))
    throw new BlueskyDocumentError(`stream entry ${id}: ${name} document is not a JSON object`, { entryId: id, document: name });
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
