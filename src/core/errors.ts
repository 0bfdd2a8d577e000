/** Context a person needs to act on an error: which run, stream, points or object it concerns. */
export interface ErrorContext {
  runUid?: string;
  scanKey?: string;
  stream?: string;
  index?: number;
  indexRange?: [number, number];
  key?: string;
  detailType?: string;
  [name: string]: unknown;
}

/**
 * Base class of every error the archive raises on purpose. `transient` says whether trying the
 * same input again can succeed (a throttled call, a document still in flight): the SQS-fed
 * functions retry transient errors and end the run (or park the message) at once on the others.
 */
export class ArchiveError extends Error {
  override name = 'ArchiveError';
  readonly transient: boolean = true;
  readonly context: ErrorContext;
  constructor(message: string, context: ErrorContext = {}, options?: ErrorOptions) {
    super(message, options);
    this.context = context;
  }
}

/**
 * An error that retrying cannot fix: the same input fails the same way every time. The run it
 * concerns ends FAILED in the delivery that found it (no retries into a dead-letter queue).
 */
export class PermanentError extends ArchiveError {
  override name = 'PermanentError';
  override readonly transient: boolean = false;
}

/** A document or event does not match the contract in events/. Never retried: it would fail again. */
export class ContractError extends PermanentError {
  override name = 'ContractError';
}

/** Input that can never be processed (bad encoding, truncated payload, hostile name). Never retried. */
export class InvalidInputError extends PermanentError {
  override name = 'InvalidInputError';
}

/**
 * Something the work needs is gone for good: a staged object deleted before the writer read it,
 * a scan_info the RunStop points at. `context.key` names the object.
 */
export class MissingInputError extends PermanentError {
  override name = 'MissingInputError';
}

/** The work would overwrite or contradict what another run, export or record already holds (key or provenance conflicts). */
export class ConflictError extends PermanentError {
  override name = 'ConflictError';
}

/**
 * An object store has no object at the key (ObjectStore.get and copy). Transient by itself (a
 * `.tmp` another delivery removed, a file not uploaded yet); the use cases that know an object must
 * exist (a staged chunk behind a RunStop) turn it into a MissingInputError naming the key.
 */
export class ObjectNotFoundError extends ArchiveError {
  override name = 'ObjectNotFoundError';
}

/** Something the work depends on is not there yet (e.g. a document still in flight): retry later. */
export class NotReadyError extends ArchiveError {
  override name = 'NotReadyError';
}

/** A conditional write was refused (S3 412): the target exists (If-None-Match) or is another version (If-Match). Nothing was written. */
export class WriteConditionFailedError extends ConflictError {
  override name = 'WriteConditionFailedError';
}

/**
 * Whether retrying cannot help: an archive error marked `transient: false`, or a RangeError (an
 * array length or buffer size from a hostile count: the same input gives the same RangeError).
 */
export function isPermanent(error: unknown): boolean {
  if (error instanceof ArchiveError) return !error.transient;
  return error instanceof RangeError;
}

/** The same as !isPermanent: the error may go away on a later delivery. */
export function isTransient(error: unknown): boolean {
  return !isPermanent(error);
}
