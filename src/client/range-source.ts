/**
 * Where an indexed read gets its bytes and its index (indexed-file-reader.ts): the range source
 * (HTTP range requests of one URL, e.g. a presigned S3 GET, counting what they transfer and saying
 * which object answered), the index document's check, and the reader's errors. fetch only: runs in
 * the browser and in Node.
 */
import type { FileIndex } from '../core/file-index/model.js';
import { FILE_INDEX_FORMAT, FILE_INDEX_VERSION } from '../core/file-index/model.js';

export class IndexedReadError extends Error {
  override name = 'IndexedReadError';
}

/** The index does not describe the object read (another version of the file). */
export class IndexStaleError extends IndexedReadError {
  override name = 'IndexStaleError';
}

/** What a response says about the object it came from (size, ETag, sha256 metadata), when it says it. */
export interface ObjectIdentity {
  bytes?: number;
  etag?: string;
  sha256?: string;
}

/** Random access to the file's bytes, counting what it transfers. */
export interface RangeSource {
  read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
  readonly stats: { requests: number; bytes: number };
  /** The object the last response came from (an HTTP source fills it from the response headers). */
  readonly object?: ObjectIdentity;
}

/**
 * The object a range response came from: its size (Content-Range's total, or the length of a whole
 * body), its ETag, and the sha256 the archive stores as metadata (x-amz-meta-sha256) when exposed.
 */
export function objectIdentityOf(headers: Headers, status: number, bodyBytes: number): ObjectIdentity {
  const total = /\/(\d+)\s*$/.exec(headers.get('content-range') ?? '')?.[1];
  const etag = headers.get('etag') ?? undefined;
  const sha256 = headers.get('x-amz-meta-sha256') ?? undefined;
  return {
    ...(total !== undefined ? { bytes: Number(total) } : status === 200 ? { bytes: bodyBytes } : {}),
    ...(etag ? { etag } : {}),
    ...(sha256 ? { sha256 } : {}),
  };
}

/** Range requests of one URL (a presigned GET); `url` is asked again for each request (presigned URLs expire). */
export function httpRangeSource(url: string | (() => Promise<string>), fetchFn: typeof fetch = fetch): RangeSource {
  const stats = { requests: 0, bytes: 0 };
  const object: ObjectIdentity = {};
  return {
    stats,
    object,
    async read(offset, length, signal) {
      if (length === 0) return new Uint8Array(0);
      const target = typeof url === 'string' ? url : await url();
      const response = await fetchFn(target, {
        headers: { range: `bytes=${offset}-${offset + length - 1}` },
        ...(signal ? { signal } : {}),
      });
      if (response.status !== 206 && response.status !== 200)
        throw new IndexedReadError(`range read of bytes ${offset}-${offset + length - 1} answered HTTP ${response.status}`);
      const body = new Uint8Array(await response.arrayBuffer());
      stats.requests++;
      stats.bytes += body.byteLength;
      for (const k of Object.keys(object) as (keyof ObjectIdentity)[]) delete object[k];
      Object.assign(object, objectIdentityOf(response.headers, response.status, body.byteLength));
      if (response.status === 200) {
        // A server that ignores Range sends everything: take the piece, but say what it cost.
        return body.subarray(offset, offset + length);
      }
      if (body.byteLength !== length) throw new IndexedReadError(`range read of ${length} bytes at ${offset} returned ${body.byteLength}`);
      return body;
    },
  };
}

/** Parses and checks an index document. */
export function parseFileIndex(json: unknown): FileIndex {
  const index = json as Partial<FileIndex> | null;
  if (!index || index.format !== FILE_INDEX_FORMAT || index.version !== FILE_INDEX_VERSION || typeof index.entries !== 'object') {
    throw new IndexedReadError(`not a file index of format ${FILE_INDEX_FORMAT} version ${FILE_INDEX_VERSION}`);
  }
  return index as FileIndex;
}
