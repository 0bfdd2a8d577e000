import { InvalidInputError } from '../errors.js';

/** A numeric element type the scan file can hold exactly as blissdata published it. */
export interface ElementType {
  /** The numpy dtype string of the contract (`<f4`, `<i2`, `|u1` …). */
  numpy: string;
  kind: 'float' | 'int' | 'uint';
  /** Bytes per element. */
  size: 1 | 2 | 4 | 8;
}

const KINDS = { f: 'float', i: 'int', u: 'uint' } as const;

/**
 * Parses a numpy dtype string. Only little-endian (or byte-sized, `|`) integers and 32/64-bit
 * floats are accepted: the file keeps the published type bit for bit, never widens or converts.
 * Big-endian, float16, bool, complex and string channels are refused with the reason.
 */
export function parseElementType(numpy: string, context: { stream?: string; runUid?: string } = {}): ElementType {
  const match = /^([<>|=]?)([fiu])(\d+)$/.exec(numpy);
  if (!match) throw new InvalidInputError(`dtype ${JSON.stringify(numpy)} is not a numeric numpy dtype the scan file can hold`, context);
  const [, order, letter, digits] = match as unknown as [string, string, 'f' | 'i' | 'u', string];
  const size = Number(digits);
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) {
    throw new InvalidInputError(`dtype ${numpy} has an element size of ${size} bytes`, context);
  }
  if (order === '>' && size > 1) throw new InvalidInputError(`dtype ${numpy} is big-endian: the chunks would have to be swapped (not supported)`, context);
  if (order === '|' && size > 1) throw new InvalidInputError(`dtype ${numpy} claims no byte order for a multi-byte type`, context);
  const kind = KINDS[letter];
  if (kind === 'float' && size < 4) throw new InvalidInputError(`dtype ${numpy} (half precision) is not supported`, context);
  return { numpy, kind, size };
}

/** What parseElementType accepts, in words (for the messages of whoever refuses a dtype on its behalf, e.g. the bridge). */
export function describeElementTypes(): string {
  return 'little-endian (or byte-sized) int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32 and float64';
}

/** Bytes of one point of a channel with this element type and point shape. */
export function pointBytes(type: ElementType, pointShape: readonly number[]): number {
  return pointShape.reduce((n, d) => n * d, type.size);
}
