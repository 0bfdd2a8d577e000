/**
 * N-dimensional arrays as the analysis store moves them around: a numpy dtype string, a shape and
 * the raw little-endian C-order bytes. Bytes are the truth: every writer stores them and every
 * handler gives them back unchanged, so a round trip can be checked bit for bit.
 */
import { AnalysisInputError } from './errors.js';

/** The element types derived data may have (little-endian, or byte-sized `|`). */
export const DTYPES = {
  '<f8': { kind: 'f', size: 8 },
  '<f4': { kind: 'f', size: 4 },
  '<i8': { kind: 'i', size: 8 },
  '<i4': { kind: 'i', size: 4 },
  '<i2': { kind: 'i', size: 2 },
  '|i1': { kind: 'i', size: 1 },
  '<u8': { kind: 'u', size: 8 },
  '<u4': { kind: 'u', size: 4 },
  '<u2': { kind: 'u', size: 2 },
  '|u1': { kind: 'u', size: 1 },
  '|b1': { kind: 'b', size: 1 },
} as const satisfies Record<string, { kind: 'f' | 'i' | 'u' | 'b'; size: 1 | 2 | 4 | 8 }>;
export type Dtype = keyof typeof DTYPES;

export interface NdArray {
  dtype: Dtype;
  /** Full shape; for a column of points, `[points, ...point shape]`. */
  shape: number[];
  /** Little-endian C-order element bytes (`elementCount(shape) * itemsize`). */
  bytes: Uint8Array;
}

/** A JSON value of one point: a number, a boolean, or nested arrays of them. */
export type PointValue = number | boolean | PointValue[];

export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.hasOwn(DTYPES, value);
}

/** Normalises numpy spellings (`f8`, `=f8`, `<i1`, `bool`, `float64` …) to the canonical one, or throws. */
export function parseDtype(value: string, what = 'dtype'): Dtype {
  const aliases: Record<string, Dtype> = {
    float64: '<f8',
    float32: '<f4',
    int64: '<i8',
    int32: '<i4',
    int16: '<i2',
    int8: '|i1',
    uint64: '<u8',
    uint32: '<u4',
    uint16: '<u2',
    uint8: '|u1',
    bool: '|b1',
  };
  const alias = aliases[value];
  if (alias) return alias;
  const match = /^([<=|]?)([fiub])([1248])$/.exec(value);
  if (match) {
    const [, , kind, size] = match as unknown as [string, string, string, string];
    const canonical = `${size === '1' ? '|' : '<'}${kind}${size}`;
    if (isDtype(canonical)) return canonical;
  }
  throw new AnalysisInputError(`${what} ${JSON.stringify(value)} is not supported (little-endian f4/f8, i1-i8, u1-u8 or b1)`);
}

export function itemSize(dtype: Dtype): number {
  return DTYPES[dtype].size;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Checks that bytes, dtype and shape agree. */
export function checkArray(array: NdArray, what = 'array'): NdArray {
  if (!isDtype(array.dtype)) throw new AnalysisInputError(`${what} has unsupported dtype ${JSON.stringify(array.dtype)}`);
  if (!array.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new AnalysisInputError(`${what} has an invalid shape ${JSON.stringify(array.shape)}`);
  const expected = elementCount(array.shape) * itemSize(array.dtype);
  if (array.bytes.byteLength !== expected) {
    throw new AnalysisInputError(
      `${what} has ${array.bytes.byteLength} bytes, ${array.dtype} ${JSON.stringify(array.shape)} needs ${expected}`,
    );
  }
  return array;
}

function pointShapeOf(value: PointValue): number[] {
  const shape: number[] = [];
  let v: PointValue = value;
  while (Array.isArray(v)) {
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0]!;
  }
  return shape;
}

function flatten(value: PointValue, shape: readonly number[], depth: number, out: unknown[]): boolean {
  if (depth === shape.length) {
    if (Array.isArray(value)) return false;
    out.push(value);
    return true;
  }
  if (!Array.isArray(value) || value.length !== shape[depth]) return false;
  return value.every((v) => flatten(v, shape, depth + 1, out));
}

/** The dtype JSON values fit best: booleans → |b1, integers → <i8, anything else → <f8. */
export function inferDtype(elements: readonly unknown[]): Dtype {
  if (elements.length > 0 && elements.every((e) => typeof e === 'boolean')) return '|b1';
  if (elements.every((e) => typeof e === 'number' && Number.isSafeInteger(e))) return '<i8';
  return '<f8';
}

const INT_RANGE: Record<string, [number, number]> = {
  '|i1': [-128, 127],
  '<i2': [-32768, 32767],
  '<i4': [-(2 ** 31), 2 ** 31 - 1],
  '<i8': [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  '|u1': [0, 255],
  '<u2': [0, 65535],
  '<u4': [0, 2 ** 32 - 1],
  '<u8': [0, Number.MAX_SAFE_INTEGER],
};

/** Writes one element; returns a problem text when the value does not fit the dtype. */
function setElement(view: DataView, offset: number, dtype: Dtype, value: unknown): string | undefined {
  const { kind, size } = DTYPES[dtype];
  if (kind === 'b') {
    if (typeof value !== 'boolean' && value !== 0 && value !== 1) return `${JSON.stringify(value)} is not a boolean`;
    view.setUint8(offset, value === true || value === 1 ? 1 : 0);
    return undefined;
  }
  if (typeof value !== 'number') return `${JSON.stringify(value)} is not a number`;
  if (kind === 'f') {
    if (size === 8) view.setFloat64(offset, value, true);
    else view.setFloat32(offset, value, true);
    return undefined;
  }
  const [min, max] = INT_RANGE[dtype]!;
  if (!Number.isInteger(value) || value < min || value > max) return `${value} does not fit ${dtype}`;
  switch (`${kind}${size}`) {
    case 'i1':
      view.setInt8(offset, value);
      break;
    case 'i2':
      view.setInt16(offset, value, true);
      break;
    case 'i4':
      view.setInt32(offset, value, true);
      break;
    case 'i8':
      view.setBigInt64(offset, BigInt(value), true);
      break;
    case 'u1':
      view.setUint8(offset, value);
      break;
    case 'u2':
      view.setUint16(offset, value, true);
      break;
    case 'u4':
      view.setUint32(offset, value, true);
      break;
    default:
      view.setBigUint64(offset, BigInt(value), true);
      break;
  }
  return undefined;
}

/** Reads element `index` as a JS value: number, boolean, or a decimal string for 64-bit integers beyond 2^53. */
export function getElement(array: NdArray, index: number): number | boolean | string {
  const { kind, size } = DTYPES[array.dtype];
  const view = new DataView(array.bytes.buffer, array.bytes.byteOffset, array.bytes.byteLength);
  const offset = index * size;
  switch (`${kind}${size}`) {
    case 'b1':
      return view.getUint8(offset) !== 0;
    case 'f8':
      return view.getFloat64(offset, true);
    case 'f4':
      return view.getFloat32(offset, true);
    case 'i1':
      return view.getInt8(offset);
    case 'i2':
      return view.getInt16(offset, true);
    case 'i4':
      return view.getInt32(offset, true);
    case 'u1':
      return view.getUint8(offset);
    case 'u2':
      return view.getUint16(offset, true);
    case 'u4':
      return view.getUint32(offset, true);
    default: {
      const big = kind === 'i' ? view.getBigInt64(offset, true) : view.getBigUint64(offset, true);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big.toString();
    }
  }
}

/**
 * Stacks the per-point values of one data key into an array of shape `[points, ...point shape]`.
 * Every point must have the point shape of the first; all problems are reported at once.
 */
export function stackPoints(values: readonly PointValue[], options: { dtype?: Dtype; what?: string } = {}): NdArray {
  const what = options.what ?? 'data';
  if (values.length === 0) throw new AnalysisInputError(`${what} has no points`);
  const pointShape = pointShapeOf(values[0]!);
  const elements: unknown[] = [];
  const problems: string[] = [];
  values.forEach((value, i) => {
    if (!flatten(value, pointShape, 0, elements))
      problems.push(`${what}: point ${i} does not have the shape ${JSON.stringify(pointShape)} of point 0`);
  });
  if (problems.length > 0) throw new AnalysisInputError(problems[0]!, problems);
  const dtype = options.dtype ?? inferDtype(elements);
  const size = itemSize(dtype);
  const bytes = new Uint8Array(elements.length * size);
  const view = new DataView(bytes.buffer);
  elements.forEach((element, i) => {
    const problem = setElement(view, i * size, dtype, element);
    if (problem && problems.length < 20) problems.push(`${what}: element ${i}: ${problem}`);
  });
  if (problems.length > 0) throw new AnalysisInputError(problems[0]!, problems);
  return { dtype, shape: [values.length, ...pointShape], bytes };
}

/** Nested JS arrays of the elements (the inverse of stackPoints, per point). */
export function toNested(array: NdArray): unknown {
  let index = 0;
  const build = (depth: number): unknown => {
    if (depth === array.shape.length) return getElement(array, index++);
    return Array.from({ length: array.shape[depth]! }, () => build(depth + 1));
  };
  return build(0);
}

/** Rows [start, stop) of the first axis. */
export function sliceRows(array: NdArray, start: number, stop: number): NdArray {
  const rowBytes = elementCount(array.shape.slice(1)) * itemSize(array.dtype);
  return {
    dtype: array.dtype,
    shape: [stop - start, ...array.shape.slice(1)],
    bytes: array.bytes.slice(start * rowBytes, stop * rowBytes),
  };
}

/** Concatenates arrays of one dtype and point shape along the first axis. */
export function concatRows(arrays: readonly NdArray[]): NdArray {
  const [first] = arrays;
  if (!first) throw new AnalysisInputError('nothing to concatenate');
  const inner = JSON.stringify(first.shape.slice(1));
  for (const a of arrays) {
    if (a.dtype !== first.dtype || JSON.stringify(a.shape.slice(1)) !== inner) {
      throw new AnalysisInputError(
        `cannot concatenate ${a.dtype} ${JSON.stringify(a.shape)} to ${first.dtype} ${JSON.stringify(first.shape)}`,
      );
    }
  }
  const bytes = new Uint8Array(arrays.reduce((n, a) => n + a.bytes.byteLength, 0));
  let offset = 0;
  for (const a of arrays) {
    bytes.set(a.bytes, offset);
    offset += a.bytes.byteLength;
  }
  return { dtype: first.dtype, shape: [arrays.reduce((n, a) => n + (a.shape[0] ?? 0), 0), ...first.shape.slice(1)], bytes };
}
