/**
 * The NumPy `.npy` format (version 1.0), written and read here without numpy: the magic string
 * `\x93NUMPY`, version bytes, a little-endian uint16 header length, an ASCII Python-literal header
 * `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }` padded with spaces and ended by
 * `\n` so that the data starts on a 64-byte boundary, then the raw C-order bytes.
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */
import { AnalysisFormatError } from './errors.js';
import { checkArray, elementCount, itemSize, parseDtype, type NdArray } from './ndarray.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;

function shapeLiteral(shape: readonly number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

export function encodeNpy(array: NdArray): Uint8Array {
  checkArray(array);
  let header = `{'descr': '${array.dtype}', 'fortran_order': False, 'shape': ${shapeLiteral(array.shape)}, }`;
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1;
  header += ' '.repeat((ALIGN - (unpadded % ALIGN)) % ALIGN) + '\n';
  if (header.length > 0xffff) throw new AnalysisFormatError(`npy header of ${header.length} bytes does not fit version 1.0`);
  const out = new Uint8Array(MAGIC.length + 4 + header.length + array.bytes.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(array.bytes, 10 + header.length);
  return out;
}

export function decodeNpy(bytes: Uint8Array, what = 'npy object'): NdArray {
  if (bytes.byteLength < 10 || !MAGIC.every((b, i) => bytes[i] === b))
    throw new AnalysisFormatError(`${what} does not start with the .npy magic string`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [headerLength, start] =
    major === 1 ? [view.getUint16(8, true), 10] : major === 2 || major === 3 ? [view.getUint32(8, true), 12] : [-1, 0];
  if (headerLength < 0) throw new AnalysisFormatError(`${what} has .npy version ${major}.${bytes[7]}, which is unknown`);
  if (start + headerLength > bytes.byteLength) throw new AnalysisFormatError(`${what} is truncated inside its header`);
  const header = Buffer.from(bytes.subarray(start, start + headerLength)).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new AnalysisFormatError(`${what} has an unreadable .npy header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw new AnalysisFormatError(`${what} is in Fortran order, which the analysis store never writes`);
  const dtype = parseDtype(descr, `${what} dtype`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new AnalysisFormatError(`${what} has an invalid shape (${shapeText})`);
  const dataStart = start + headerLength;
  const expected = elementCount(shape) * itemSize(dtype);
  if (bytes.byteLength - dataStart !== expected) {
    throw new AnalysisFormatError(
      `${what} holds ${bytes.byteLength - dataStart} data bytes, ${dtype} ${JSON.stringify(shape)} needs ${expected}`,
    );
  }
  return { dtype, shape, bytes: bytes.slice(dataStart) };
}
