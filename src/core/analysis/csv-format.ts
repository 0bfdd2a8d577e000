/**
 * One data key as a CSV table: a header row, then one row per point; a point of shape `[m]` is
 * `m` columns `key[0]…key[m-1]`, higher ranks are flattened in C order (`key[i,j]`). Numbers are
 * written as the shortest decimal that reads back to the same float64 (`-0`, `nan`, `inf`,
 * `-inf` spelled out), booleans as 1/0, 64-bit integers exactly; so reading with the dtype of
 * the resource gives the written bytes back (NaN payloads excepted: NaN is written canonically).
 */
import { AnalysisFormatError } from './errors.js';
import { checkArray, DTYPES, elementCount, getElement, itemSize, type Dtype, type NdArray } from './ndarray.js';

function columnNames(key: string, pointShape: readonly number[]): string[] {
  if (pointShape.length === 0) return [key];
  const names: string[] = [];
  const index = pointShape.map(() => 0);
  for (let n = 0; n < elementCount(pointShape); n += 1) {
    names.push(`${key}[${index.join(',')}]`);
    for (let d = index.length - 1; d >= 0; d -= 1) {
      index[d]! += 1;
      if (index[d]! < pointShape[d]!) break;
      index[d] = 0;
    }
  }
  return names;
}

function quote(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function formatElement(value: number | boolean | string): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'string') return value;
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (Object.is(value, -0)) return '-0';
  return String(value);
}

export function encodeCsv(array: NdArray, key: string): Uint8Array {
  checkArray(array);
  if (array.shape.length === 0) throw new AnalysisFormatError('a CSV table needs at least one axis (the points)');
  const [points, ...pointShape] = array.shape as [number, ...number[]];
  const perRow = elementCount(pointShape);
  const lines = [columnNames(key, pointShape).map(quote).join(',')];
  for (let row = 0; row < points; row += 1) {
    const cells: string[] = [];
    for (let i = 0; i < perRow; i += 1) cells.push(formatElement(getElement(array, row * perRow + i)));
    lines.push(cells.join(','));
  }
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

function parseCell(text: string, dtype: Dtype, view: DataView, offset: number, where: string): void {
  const { kind, size } = DTYPES[dtype];
  const fail = () => new AnalysisFormatError(`${where}: ${JSON.stringify(text)} is not a ${dtype} value`);
  if (kind === 'f') {
    const value = text === 'nan' ? NaN : text === 'inf' ? Infinity : text === '-inf' ? -Infinity : Number(text);
    if (text === '' || (Number.isNaN(value) && text !== 'nan')) throw fail();
    if (size === 8) view.setFloat64(offset, value, true);
    else view.setFloat32(offset, value, true);
    return;
  }
  if (kind === 'b') {
    if (text !== '0' && text !== '1') throw fail();
    view.setUint8(offset, Number(text));
    return;
  }
  if (!/^-?\d+$/.test(text)) throw fail();
  const big = BigInt(text);
  const bits = BigInt(size * 8);
  const [min, max] = kind === 'i' ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
  if (big < min || big > max) throw fail();
  switch (`${kind}${size}`) {
    case 'i1':
      view.setInt8(offset, Number(big));
      break;
    case 'i2':
      view.setInt16(offset, Number(big), true);
      break;
    case 'i4':
      view.setInt32(offset, Number(big), true);
      break;
    case 'i8':
      view.setBigInt64(offset, big, true);
      break;
    case 'u1':
      view.setUint8(offset, Number(big));
      break;
    case 'u2':
      view.setUint16(offset, Number(big), true);
      break;
    case 'u4':
      view.setUint32(offset, Number(big), true);
      break;
    default:
      view.setBigUint64(offset, big, true);
      break;
  }
}

/** Reads a table written by encodeCsv back into an array of `dtype` with this point shape. */
export function decodeCsv(bytes: Uint8Array, key: string, dtype: Dtype, pointShape: readonly number[], what = 'csv object'): NdArray {
  const text = Buffer.from(bytes).toString('utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const [header, ...rows] = lines;
  const expectedHeader = columnNames(key, pointShape).map(quote).join(',');
  if (header !== expectedHeader)
    throw new AnalysisFormatError(`${what}: header ${JSON.stringify(header)} is not ${JSON.stringify(expectedHeader)}`);
  const perRow = elementCount(pointShape);
  const size = itemSize(dtype);
  const out = new Uint8Array(rows.length * perRow * size);
  const view = new DataView(out.buffer);
  rows.forEach((row, r) => {
    const cells = row.split(',');
    if (cells.length !== perRow) throw new AnalysisFormatError(`${what}: row ${r + 1} has ${cells.length} cells, expected ${perRow}`);
    cells.forEach((cell, c) => parseCell(cell, dtype, view, (r * perRow + c) * size, `${what} row ${r + 1} column ${c + 1}`));
  });
  return { dtype, shape: [rows.length, ...pointShape], bytes: out };
}
