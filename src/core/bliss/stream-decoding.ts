import { InvalidInputError } from '../errors.js';
import { parseDtype, type NumericDtype } from '../event-model/dtype.js';
import type { NumericEncoding } from './scan-model.js';

/** Id of the entry that seals a blissdata stream; its field `id` is the total number of points. */
export const SEAL_ENTRY_ID = '18446744073709551615-18446744073709551615';

/** What a channel needs to decode its entries. */
export interface ChannelCodec {
  stream: string;
  dtype: NumericDtype;
  /** Declared point shape; -1 marks a free dimension (payload carries the shape). */
  shape: readonly number[];
}

export function codecOf(stream: string, encoding: NumericEncoding): ChannelCodec {
  return { stream, dtype: parseDtype(encoding.dtype_str, stream), shape: encoding.shape };
}

export function hasFreeDimension(shape: readonly number[]): boolean {
  return shape.includes(-1);
}

/** Fields of a stream entry as Redis returns them (binary-safe). */
export type EntryFields = ReadonlyMap<string, Buffer>;

export type DecodedEntry =
  { kind: 'points'; start: number; count: number; pointShape: number[]; bytes: Buffer } | { kind: 'seal'; total: number };

function fieldInt(fields: EntryFields, name: string, stream: string, index: number): number | undefined {
  const raw = fields.get(name);
  if (raw === undefined) return undefined;
  const text = raw.toString('latin1');
  if (!/^\d+$/.test(text))
    throw new InvalidInputError(`stream ${stream}: field ${name} of entry ${index} is ${JSON.stringify(text)}, not a count`, {
      stream,
      index,
    });
  return Number(text);
}

/**
 * Decodes one entry of a numeric stream. Data entries have id `<first index>-1`, a `payload`
 * and, for more than one point, `len`. The payload must hold exactly len × itemsize × prod(shape)
 * bytes; anything else is an InvalidInputError naming the stream and the index.
 */
/**
 * What every data entry shares, whatever its encoding: the seal (`total` points), or the index of
 * its first point (from its id `<index>-<seq>`) and its point count (`len`, default 1).
 */
function entryHead(
  stream: string,
  entryId: string,
  fields: EntryFields,
): { kind: 'seal'; total: number } | { kind: 'points'; start: number; count: number } {
  if (entryId === SEAL_ENTRY_ID) {
    const total = fieldInt(fields, 'id', stream, -1);
    if (total === undefined) throw new InvalidInputError(`stream ${stream}: seal entry has no id field`, { stream });
    return { kind: 'seal', total };
  }
  const idMatch = /^(\d+)-(\d+)$/.exec(entryId);
  if (!idMatch) throw new InvalidInputError(`stream ${stream}: entry id ${JSON.stringify(entryId)} is not <index>-<seq>`, { stream });
  const start = Number(idMatch[1]);
  if (!Number.isSafeInteger(start)) throw new InvalidInputError(`stream ${stream}: entry id ${entryId} is out of range`, { stream });
  return { kind: 'points', start, count: fieldInt(fields, 'len', stream, start) ?? 1 };
}

export function decodeEntry(codec: ChannelCodec, entryId: string, fields: EntryFields): DecodedEntry {
  const { stream } = codec;
  const head = entryHead(stream, entryId, fields);
  if (head.kind === 'seal') return head;
  const { start, count } = head;
  if (count < 1) throw new InvalidInputError(`stream ${stream}: entry ${start} has len ${count}`, { stream, index: start });
  let payload = fields.get('payload');
  if (payload === undefined) throw new InvalidInputError(`stream ${stream}: entry ${start} has no payload`, { stream, index: start });
  let pointShape = [...codec.shape];
  if (hasFreeDimension(codec.shape)) {
    const unpacked = unpackShapeAndBytes(payload, stream, start);
    if (unpacked.shape.length !== codec.shape.length || unpacked.shape.some((d, i) => codec.shape[i] !== -1 && codec.shape[i] !== d)) {
      throw new InvalidInputError(
        `stream ${stream}: entry ${start} has point shape [${unpacked.shape.join(', ')}], declared [${codec.shape.join(', ')}]`,
        { stream, index: start },
      );
    }
    pointShape = unpacked.shape;
    payload = unpacked.bytes;
  }
  const pointBytes = codec.dtype.itemsize * pointShape.reduce((a, b) => a * b, 1);
  const expected = count * pointBytes;
  if (payload.length !== expected) {
    throw new InvalidInputError(
      `stream ${stream}: payload of entry ${start} is ${payload.length} bytes, expected ${expected} (${count} point${count === 1 ? '' : 's'} of ${codec.dtype.str} shape [${pointShape.join(', ')}])`,
      { stream, index: start, indexRange: [start, start + count] },
    );
  }
  return { kind: 'points', start, count, pointShape, bytes: payload };
}

/**
 * Decodes one entry of a JSON stream (encoding `{type: "json"}`): one UTF-8 JSON value per entry,
 * id `<index>-1`. The value comes back as one NDJSON line (its published text, newline-terminated;
 * a newline byte can only be whitespace in valid JSON and becomes a space). A payload that is not
 * UTF-8 JSON is an InvalidInputError naming the stream and the index.
 */
export function decodeJsonEntry(stream: string, entryId: string, fields: EntryFields): DecodedEntry {
  const head = entryHead(stream, entryId, fields);
  if (head.kind === 'seal') return head;
  const { start, count } = head;
  if (count !== 1)
    throw new InvalidInputError(`stream ${stream}: JSON entry ${start} has len ${count}; blissdata publishes one value per entry`, {
      stream,
      index: start,
    });
  const payload = fields.get('payload');
  if (payload === undefined) throw new InvalidInputError(`stream ${stream}: entry ${start} has no payload`, { stream, index: start });
  let text: string;
  try {
    text = UTF8.decode(payload);
    JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(
      `stream ${stream}: payload of JSON entry ${start} is not UTF-8 JSON (${(error as Error).message})`,
      { stream, index: start },
      { cause: error },
    );
  }
  const line = Buffer.allocUnsafe(payload.length + 1);
  payload.copy(line);
  for (let i = payload.indexOf(0x0a); i >= 0 && i < payload.length; i = line.indexOf(0x0a, i + 1)) line[i] = 0x20;
  line[payload.length] = 0x0a;
  return { kind: 'points', start, count: 1, pointShape: [], bytes: line };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Raises when an entry does not start where the previous one stopped (trimmed or lost entries). */
export function checkContiguous(stream: string, expectedIndex: number, entryStart: number): void {
  if (entryStart !== expectedIndex) {
    throw new InvalidInputError(
      entryStart > expectedIndex
        ? `stream ${stream}: points [${expectedIndex}, ${entryStart}) are missing (entries trimmed from Redis?)`
        : `stream ${stream}: entry starts at point ${entryStart}, but points up to ${expectedIndex} were already received`,
      { stream, index: expectedIndex, indexRange: [Math.min(expectedIndex, entryStart), Math.max(expectedIndex, entryStart)] },
    );
  }
}

/**
 * Reads the msgpack `[point_shape, bytes]` of a variable-shape payload. Only the subset msgpack-python
 * produces for it is accepted: an array of two, a list of unsigned ints, a bin.
 */
function unpackShapeAndBytes(buf: Buffer, stream: string, index: number): { shape: number[]; bytes: Buffer } {
  let pos = 0;
  const bad = (why: string): never => {
    throw new InvalidInputError(`stream ${stream}: msgpack payload of entry ${index} ${why}`, { stream, index });
  };
  const need = (n: number) => {
    if (pos + n > buf.length) bad('is truncated');
  };
  const arrayHeader = (): number => {
    need(1);
    const b = buf[pos++]!;
    if ((b & 0xf0) === 0x90) return b & 0x0f;
    if (b === 0xdc) {
      need(2);
      const n = buf.readUInt16BE(pos);
      pos += 2;
      return n;
    }
    if (b === 0xdd) {
      need(4);
      const n = buf.readUInt32BE(pos);
      pos += 4;
      return n;
    }
    return bad('is not [shape, bytes]');
  };
  const uint = (): number => {
    need(1);
    const b = buf[pos++]!;
    if (b <= 0x7f) return b;
    if (b === 0xcc) {
      need(1);
      return buf[pos++]!;
    }
    if (b === 0xcd) {
      need(2);
      const n = buf.readUInt16BE(pos);
      pos += 2;
      return n;
    }
    if (b === 0xce) {
      need(4);
      const n = buf.readUInt32BE(pos);
      pos += 4;
      return n;
    }
    return bad('has a shape that is not a list of sizes');
  };
  if (arrayHeader() !== 2) bad('is not [shape, bytes]');
  const dims = arrayHeader();
  const shape: number[] = [];
  for (let i = 0; i < dims; i++) shape.push(uint());
  need(1);
  const tag = buf[pos++]!;
  let length: number;
  if (tag === 0xc4) {
    need(1);
    length = buf[pos++]!;
  } else if (tag === 0xc5) {
    need(2);
    length = buf.readUInt16BE(pos);
    pos += 2;
  } else if (tag === 0xc6) {
    need(4);
    length = buf.readUInt32BE(pos);
    pos += 4;
  } else return bad('has no bin of data');
  need(length);
  if (pos + length !== buf.length) bad('has trailing bytes');
  return { shape, bytes: buf.subarray(pos, pos + length) };
}
