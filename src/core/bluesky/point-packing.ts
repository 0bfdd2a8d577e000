/** Values of a Bluesky data key → the bytes staged for its channel (little-endian C order; NDJSON for JSON channels). Pure. */
import type { BlueskyChannel } from './descriptor-channels.js';
import { BlueskyDocumentError } from './errors.js';

const WRITERS: Record<
  string,
  { size: number; write: (view: DataView, offset: number, value: number) => void; integer?: [bigint, bigint] }
> = {
  '|b1': { size: 1, write: (v, o, x) => v.setUint8(o, x) },
  '|i1': { size: 1, write: (v, o, x) => v.setInt8(o, x), integer: [-(2n ** 7n), 2n ** 7n - 1n] },
  '<i2': { size: 2, write: (v, o, x) => v.setInt16(o, x, true), integer: [-(2n ** 15n), 2n ** 15n - 1n] },
  '<i4': { size: 4, write: (v, o, x) => v.setInt32(o, x, true), integer: [-(2n ** 31n), 2n ** 31n - 1n] },
  '<i8': { size: 8, write: (v, o, x) => v.setBigInt64(o, BigInt(x), true), integer: [-(2n ** 63n), 2n ** 63n - 1n] },
  '|u1': { size: 1, write: (v, o, x) => v.setUint8(o, x), integer: [0n, 2n ** 8n - 1n] },
  '<u2': { size: 2, write: (v, o, x) => v.setUint16(o, x, true), integer: [0n, 2n ** 16n - 1n] },
  '<u4': { size: 4, write: (v, o, x) => v.setUint32(o, x, true), integer: [0n, 2n ** 32n - 1n] },
  '<u8': { size: 8, write: (v, o, x) => v.setBigUint64(o, BigInt(x), true), integer: [0n, 2n ** 64n - 1n] },
  '<f4': { size: 4, write: (v, o, x) => v.setFloat32(o, x, true) },
  '<f8': { size: 8, write: (v, o, x) => v.setFloat64(o, x, true) },
};

export interface ValueContext {
  runUid: string;
  channel: string;
  /** Point index (seq_num - 1) of the first value. */
  index: number;
  entryId: string;
}

/** Packs points (JSON values of one data key) into little-endian C-order bytes; a value that does not fit is an error naming the point. */
export function packPoints(
  channel: Pick<BlueskyChannel, 'dtype' | 'shape' | 'name'>,
  values: readonly unknown[],
  context: ValueContext,
): Buffer {
  const writer = WRITERS[channel.dtype.str];
  if (!writer)
    throw new BlueskyDocumentError(`channel ${channel.name}: dtype ${channel.dtype.str} cannot be packed`, {
      ...context,
      stream: channel.name,
    });
  const perPoint = channel.shape.reduce((a, b) => a * b, 1);
  const failAt = (p: number, why: string): never => {
    throw new BlueskyDocumentError(
      `run ${context.runUid}, channel ${channel.name}, point ${context.index + p} (stream entry ${context.entryId}): ${why}`,
      { ...context, stream: channel.name, index: context.index + p },
    );
  };
  // Every point's shape is checked before the output is allocated: a data key declaring a huge shape
  // costs what its values really hold, not what the descriptor claims.
  const flats = values.map((value, p) => {
    const flat: unknown[] = [];
    const walk = (v: unknown, depth: number) => {
      if (depth === channel.shape.length) {
        flat.push(v);
        return;
      }
      if (!Array.isArray(v) || v.length !== channel.shape[depth])
        failAt(p, `value does not have the shape [${channel.shape.join(', ')}] of its data key`);
      for (const x of v as unknown[]) walk(x, depth + 1);
    };
    walk(value, 0);
    return flat;
  });
  const out = Buffer.alloc(values.length * perPoint * writer.size);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let offset = 0;
  flats.forEach((flat, p) => {
    const fail = (why: string): never => failAt(p, why);
    for (const v of flat) {
      let x: number;
      if (channel.dtype.kind === 'b') {
        if (typeof v !== 'boolean' && v !== 0 && v !== 1) fail(`${JSON.stringify(v)} is not a boolean`);
        x = v ? 1 : 0;
      } else if (typeof v === 'number') {
        x = v;
      } else if (v === null && channel.dtype.kind === 'f') {
        x = Number.NaN; // a value the device could not read
      } else if (typeof v === 'boolean') {
        x = v ? 1 : 0;
      } else {
        return fail(`${JSON.stringify(v)?.slice(0, 80)} is not a number`);
      }
      if (writer.integer) {
        if (!Number.isInteger(x)) fail(`${x} is not an integer (dtype ${channel.dtype.str})`);
        // JSON.parse has already rounded an integer beyond 2^53 to a neighbour: refuse it rather than store another number.
        if (!Number.isSafeInteger(x))
          fail(`${x} is beyond 2^53 - 1 in magnitude: JSON cannot carry it exactly (dtype ${channel.dtype.str})`);
        const big = BigInt(x);
        if (big < writer.integer[0] || big > writer.integer[1]) fail(`${x} is out of range for ${channel.dtype.str}`);
      }
      if (channel.dtype.str === '<f4' && Number.isFinite(x) && !Number.isFinite(Math.fround(x)))
        fail(`${x} is out of range for <f4 (it would be stored as an infinity)`);
      writer.write(view, offset, x);
      offset += writer.size;
    }
  });
  return out;
}

/** NDJSON lines of a JSON channel's points: one `JSON.stringify(value)` line per point (a missing value is `null`). */
export function packJsonLines(values: readonly unknown[]): Buffer[] {
  return values.map((v) => Buffer.from(`${JSON.stringify(v === undefined ? null : v)}\n`, 'utf8'));
}
