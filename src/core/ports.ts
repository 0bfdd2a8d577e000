/**
 * The small interfaces the core needs from the outside world. Adapters in src/adapters implement
 * them against AWS and Redis; tests may use in-memory versions for unit tests of the core only.
 */
import type { FileHandle } from 'node:fs/promises';

export interface StoredObject {
  key: string;
  bytes: number;
  /** Hex SHA-256 of the object's content. */
  sha256: string;
  /** The version written, in a versioned bucket. */
  versionId?: string | undefined;
}

/** Which version of an object a write made (S3 ETag and, in a versioned bucket, version id). */
export interface ObjectVersion {
  etag?: string | undefined;
  versionId?: string | undefined;
}

/** An object's size and, when the store knows them, its ETag, version and recorded sha256 (user metadata `sha256`). */
export interface ObjectHead extends ObjectVersion {
  bytes: number;
  sha256?: string | undefined;
}

/**
 * A conditional write (S3 conditional writes): `ifNoneMatch: '*'` writes only a new object,
 * `ifMatch` only over the version with that ETag. A refusal throws WriteConditionFailedError.
 */
export type WriteCondition = { ifNoneMatch: '*' } | { ifMatch: string };

export interface CopyOptions {
  condition?: WriteCondition;
  /** User metadata of the target (replaces the source's), e.g. `{ sha256 }`. */
  metadata?: Record<string, string>;
}

/** One bucket of the archive. Keys are produced by src/core/object-keys.ts only. */
export interface ObjectStore {
  readonly bucket: string;
  /** Stores a small object in one request. */
  put(key: string, body: Uint8Array | string, contentType?: string): Promise<StoredObject>;
  /** Reads a whole object; throws ObjectNotFoundError when absent. */
  get(key: string): Promise<Uint8Array>;
  /** Size (and ETag, version, recorded sha256 when known) of an object, or undefined when absent. */
  head(key: string): Promise<ObjectHead | undefined>;
  /** Streams a local file into the bucket (multipart above the part size), returning its checksum. */
  uploadFile(key: string, path: string, contentType?: string): Promise<StoredObject>;
  /**
   * Streams an object to a local file (created or truncated), hashing it on the way: the object is
   * never held in memory. Optional (the exports use it for scan files; without it they read the
   * object with `get`).
   */
  downloadFile?(key: string, path: string): Promise<{ bytes: number; sha256: string }>;
  /**
   * Streams a file the caller opened (and checked through its handle) into the bucket, read by position: the bytes of
   * the file that was opened, whatever its path names by then. Optional: the bridge's Lima uploads need it.
   */
  uploadFileHandle?(key: string, file: FileHandle, contentType?: string): Promise<StoredObject>;
  /**
   * Server-side copy (used to publish `<final>.tmp` to `<final>`), conditional when asked: a refused
   * condition throws WriteConditionFailedError and leaves the target as it was. Returns the version
   * written when the store knows it.
   */
  copy(sourceKey: string, targetKey: string, options?: CopyOptions): Promise<ObjectVersion | void>;
  /** Removes an object; with a version id, exactly that version, for good (a versioned bucket keeps no trace of it). */
  delete(key: string, versionId?: string): Promise<void>;
}

/** An event to put on the bus: detail-type, source and the JSON detail. */
export interface OutgoingEvent {
  detailType: string;
  source: string;
  detail: unknown;
}

/** What happened to each entry of a publish call, in order. */
export interface PublishOutcome {
  /** Entries the bus accepted. */
  accepted: number;
  /**
   * Entries the bus did not accept, with the reason the bus gave. `transient`: the refusal may not
   * happen again (attempts ran out on throttling, internal errors, network trouble), so the caller
   * may send the entry again later; false: it would fail the same way (malformed, oversize, denied).
   */
  rejected: { event: OutgoingEvent; reason: string; transient: boolean }[];
}

/** The event bus. Implementations batch within the PutEvents limits and resend only failed entries. */
export interface EventPublisher {
  publish(events: readonly OutgoingEvent[]): Promise<PublishOutcome>;
}
