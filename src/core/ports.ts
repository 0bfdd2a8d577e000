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
}

/** One bucket of the archive. Keys are produced by src/core/object-keys.ts only. */
export interface ObjectStore {
  readonly bucket: string;
  /** Stores a small object in one request. */
  put(key: string, body: Uint8Array | string, contentType?: string): Promise<StoredObject>;
  /** Reads a whole object; throws ObjectNotFoundError when absent. */
  get(key: string): Promise<Uint8Array>;
  /** Size of an object, or undefined when absent. */
  head(key: string): Promise<{ bytes: number } | undefined>;
  /** Streams a local file into the bucket (multipart above the part size), returning its checksum. */
  uploadFile(key: string, path: string, contentType?: string): Promise<StoredObject>;
  /**
   * Streams a file the caller opened (and checked through its handle) into the bucket, read by position: the bytes of
   * the file that was opened, whatever its path names by then. Optional: the bridge's Lima uploads need it.
   */
  uploadFileHandle?(key: string, file: FileHandle, contentType?: string): Promise<StoredObject>;
  /** Server-side copy (used to publish `<final>.tmp` to `<final>`). */
  copy(sourceKey: string, targetKey: string): Promise<void>;
  delete(key: string): Promise<void>;
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
