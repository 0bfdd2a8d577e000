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
 * Bool is one byte 0/1 (isBoolType). Big-endian, float16, complex and string channels are refused with the reason.
 */
export function parseElementType(numpy: string, context: { stream?: string; runUid?: string } = {}): ElementType {
  // numpy bool (blissdata accepts `?`): one byte 0/1, stored as uint8 with `numpy_dtype = bool`
  // (isBoolType; h5wasm cannot write the HDF5 enum h5py uses for numpy bool, docs/nexus-layout.md).
  if (BOOL_DTYPES.has(numpy)) return { numpy, kind: 'uint', size: 1 };
  const match = /^([<>|=]?)([fiu])(\d+)$/.exec(numpy);
  if (!match) throw new InvalidInputError(`dtype ${JSON.stringify(numpy)} is not a numeric numpy dtype the scan file can hold`, context);
  const [, order, letter, digits] = match as unknown as [string, string, 'f' | 'i' | 'u', string];
  const size = Number(digits);
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) {
    throw new InvalidInputError(`dtype ${numpy} has an element size of ${size} bytes`, context);
  }
  if (order === '>' && size > 1)
    throw new InvalidInputError(`dtype ${numpy} is big-endian: the chunks would have to be swapped (not supported)`, context);
  if (order === '|' && size > 1) throw new InvalidInputError(`dtype ${numpy} claims no byte order for a multi-byte type`, context);
  const kind = KINDS[letter];
  if (kind === 'float' && size < 4) throw new InvalidInputError(`dtype ${numpy} (half precision) is not supported`, context);
  return { numpy, kind, size };
}

/** What parseElementType accepts, in words (for the messages of whoever refuses a dtype on its behalf, e.g. the bridge). */
export function describeElementTypes(): string {
  return 'numpy bool (stored as uint8 0/1), little-endian (or byte-sized) int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32 and float64';
}

/** numpy's spellings of bool: `|b1` (dtype.str), `?` (dtype.char), `b1`. */
const BOOL_DTYPES: ReadonlySet<string> = new Set(['|b1', '?', 'b1', '=b1', '<b1', '>b1']);

/** Whether the channel was published as numpy bool (stored as uint8 0/1, attribute `numpy_dtype = bool`). */
export function isBoolType(type: Pick<ElementType, 'numpy'>): boolean {
  return BOOL_DTYPES.has(type.numpy);
}

/** Bytes of one point of a channel with this element type and point shape. */
export function pointBytes(type: ElementType, pointShape: readonly number[]): number {
  return pointShape.reduce((n, d) => n * d, type.size);
}

/**
 * The value written for points that were never published (trimmed in Redis before the bridge read
 * them): NaN for floats; for integers, the type's minimum when signed (−128 for int8) and its maximum
 * when unsigned (65535 for uint16), named by the dataset's `_FillValue` attribute.
 */
export function fillValueOf(type: ElementType): number | bigint {
  if (type.kind === 'float') return Number.NaN;
  const bits = BigInt(type.size * 8);
  return type.kind === 'int' ? -(1n << (bits - 1n)) : (1n << bits) - 1n;
}

/** `rows` points of fill value, little-endian, as one staged chunk would hold them. */
export function fillBytes(type: ElementType, pointShape: readonly number[], rows: number): Uint8Array {
  const count = pointShape.reduce((n, d) => n * d, rows);
  const bytes = new Uint8Array(count * type.size);
  const view = new DataView(bytes.buffer);
  const fill = fillValueOf(type);
  for (let i = 0; i < count; i += 1) {
    const at = i * type.size;
    if (type.kind === 'float') {
      if (type.size === 4) view.setFloat32(at, Number.NaN, true);
      else view.setFloat64(at, Number.NaN, true);
      continue;
    }
    const value = BigInt(fill);
    switch (type.size) {
      case 1:
        view.setUint8(at, Number(BigInt.asUintN(8, value)));
        break;
      case 2:
        view.setUint16(at, Number(BigInt.asUintN(16, value)), true);
        break;
      case 4:
        view.setUint32(at, Number(BigInt.asUintN(32, value)), true);
        break;
      default:
        view.setBigUint64(at, BigInt.asUintN(64, value), true);
    }
  }
  return bytes;
}
