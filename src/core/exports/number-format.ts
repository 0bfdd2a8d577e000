/**
 * Decimal text of array elements that a standard reader turns back into the same value:
 * Python's `float(text)` gives the same float64 bits, `numpy.float32(float(text))` the same
 * float32 bits, `int(text)` the same integer. The text is the shortest that does so (the same
 * digits as Python's `repr` of the float64, and of numpy's float32 repr), NaN and infinities are
 * spelled `nan`, `inf`, `-inf` (what `float()` reads), `-0.0` keeps its sign, booleans are 1 and 0.
 */
import { DTYPES, type Dtype, type NdArray } from '../analysis/ndarray.js';

/** Shortest decimal of a float64 that parses back to the same bits. */
export function formatFloat64(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (Object.is(value, -0)) return '-0.0';
  // ECMAScript's Number → string is the shortest round-trip representation.
  return String(value);
}

/**
 * Shortest decimal of a float32 value (given as the float64 it widens to) such that rounding
 * `float(text)` to float32 gives the value again. The double rounding (decimal → float64 →
 * float32) is exactly what `Math.fround(Number(text))` does, so the check is the reader's own.
 */
export function formatFloat32(value: number): string {
  if (!Number.isFinite(value) || Object.is(value, -0)) return formatFloat64(value);
  const target = Math.fround(value);
  for (let digits = 1; digits <= 9; digits += 1) {
    const text = value.toPrecision(digits);
    if (Math.fround(Number(text)) === target) return String(Number(text));
  }
  return String(value);
}

/** Text of element `index` of an array, by its dtype (64-bit integers exactly, through BigInt). */
export function formatElement(
  array: NdArray,
  index: number,
  view = new DataView(array.bytes.buffer, array.bytes.byteOffset, array.bytes.byteLength),
): string {
  return formatAt(view, array.dtype, index);
}

export function formatAt(view: DataView, dtype: Dtype, index: number): string {
  const { kind, size } = DTYPES[dtype];
  const offset = index * size;
  switch (`${kind}${size}`) {
    case 'f8':
      return formatFloat64(view.getFloat64(offset, true));
    case 'f4':
      return formatFloat32(view.getFloat32(offset, true));
    case 'b1':
      return view.getUint8(offset) !== 0 ? '1' : '0';
    case 'i1':
      return String(view.getInt8(offset));
    case 'i2':
      return String(view.getInt16(offset, true));
    case 'i4':
      return String(view.getInt32(offset, true));
    case 'i8':
      return view.getBigInt64(offset, true).toString();
    case 'u1':
      return String(view.getUint8(offset));
    case 'u2':
      return String(view.getUint16(offset, true));
    case 'u4':
      return String(view.getUint32(offset, true));
    default:
      return view.getBigUint64(offset, true).toString();
  }
}
