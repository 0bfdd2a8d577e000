/**
 * What the scan-file writer (h5wasm-scan-file-writer.ts) puts into HDF5 objects: attributes from the
 * plan, typed views over the published bytes, and the ranges and sha256 of what was written to each
 * dataset (the digests the verifier, h5wasm-scan-file-verifier.ts, checks the file against).
 */
import { createHash, type Hash } from 'node:crypto';
import type { NumericArray } from './h5wasm-runtime.js';
import type { AttrValue, Attrs, TypedScalar } from '../core/nexus/layout.js';
import { h5Type, type WrittenDigest } from './h5wasm-scan-file-verifier.js';

type TypedArray = NumericArray;

/** Accumulates the ranges and sha256 of what is written to one dataset. */
export class WrittenData {
  private readonly hash: Hash = createHash('sha256');
  private readonly ranges: [number, number][] = [];
  next = 0;
  add(start: number, stop: number, bytes: Uint8Array): void {
    const last = this.ranges[this.ranges.length - 1];
    if (last && last[1] === start) last[1] = stop;
    else this.ranges.push([start, stop]);
    this.hash.update(bytes);
    this.next = stop;
  }
  done(): WrittenDigest {
    return { ranges: this.ranges, sha256: this.hash.digest('hex') };
  }
}

/**
 * The typed array over `length` bytes of `bytes` at `offset`: the published bytes reinterpreted, no
 * copy when they are aligned for the element type (a copy otherwise).
 */
export function typedView(
  view: (buffer: ArrayBuffer) => TypedArray,
  bytes: Uint8Array,
  offset: number,
  length: number,
  size: number,
): TypedArray {
  const start = bytes.byteOffset + offset;
  if (start % size === 0 && bytes.buffer instanceof ArrayBuffer) {
    const full = view(bytes.buffer.slice(0, 0));
    const Ctor = full.constructor as new (b: ArrayBuffer, o: number, n: number) => TypedArray;
    return new Ctor(bytes.buffer, start, length / size);
  }
  return view(bytes.slice(offset, offset + length).buffer);
}

export function setAttrs(
  target: {
    create_attribute(name: string, data: string | number | string[] | TypedArray, shape?: number[] | null, dtype?: string | null): void;
  },
  attrs: Attrs,
): void {
  for (const [name, value] of Object.entries(attrs) as [string, AttrValue][]) {
    if (typeof value === 'number') target.create_attribute(name, value, null, Number.isInteger(value) ? '<q' : '<d');
    else if (typeof value === 'string') target.create_attribute(name, value);
    else if (isTypedScalar(value)) {
      // A scalar of the given element type (e.g. `_FillValue`, which has its dataset's type).
      const { dtype, view } = h5Type(value.type);
      const data = view(new ArrayBuffer(value.type.size));
      data[0] = (typeof data[0] === 'bigint' ? BigInt(value.value) : Number(value.value)) as never;
      target.create_attribute(name, data, [], dtype);
    } else target.create_attribute(name, [...value]);
  }
}

function isTypedScalar(value: AttrValue): value is TypedScalar {
  return typeof value === 'object' && 'type' in value;
}

export function split(path: string): { parent: string; name: string } {
  const i = path.lastIndexOf('/');
  return { parent: i <= 0 ? '/' : path.slice(0, i), name: path.slice(i + 1) };
}
