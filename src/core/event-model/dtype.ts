/** numpy dtypes of the numeric channels the archive carries (bool, int, uint, float, complex). */
import { InvalidInputError } from '../errors.js';

/** A numpy dtype string the bridge can carry: bool, signed/unsigned int, float, complex. */
export interface NumericDtype {
  /** As published, e.g. `<f8`, `|b1`, `<c16`. */
  str: string;
  kind: 'b' | 'i' | 'u' | 'f' | 'c';
  itemsize: number;
  byteorder: '<' | '>' | '|';
}

const ITEMSIZES: Record<NumericDtype['kind'], readonly number[]> = {
  b: [1],
  i: [1, 2, 4, 8],
  u: [1, 2, 4, 8],
  f: [2, 4, 8, 16],
  c: [8, 16, 32],
};

/** Parses a numpy dtype string; throws InvalidInputError for anything that is not bool/int/uint/float/complex. */
export function parseDtype(dtypeStr: string, stream?: string): NumericDtype {
  const match = /^([<>|=])([biufc])(\d+)$/.exec(dtypeStr);
  const kind = match?.[2] as NumericDtype['kind'] | undefined;
  const itemsize = Number(match?.[3]);
  if (!match || !kind || !ITEMSIZES[kind].includes(itemsize)) {
    throw new InvalidInputError(`unsupported dtype ${JSON.stringify(dtypeStr)}${stream ? ` for stream ${stream}` : ''}`, {
      ...(stream ? { stream } : {}),
    });
  }
  let byteorder = match[1] as NumericDtype['byteorder'] | '=';
  if (byteorder === '=') byteorder = '<';
  if (itemsize === 1) byteorder = '|';
  return { str: `${byteorder}${kind}${itemsize}`, kind, itemsize, byteorder };
}
