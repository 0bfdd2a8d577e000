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

/** Base class of every error the archive raises on purpose. */
export class ArchiveError extends Error {
  override name = 'ArchiveError';
  readonly context: ErrorContext;
  constructor(message: string, context: ErrorContext = {}, options?: ErrorOptions) {
    super(message, options);
    this.context = context;
  }
}

/** A document or event does not match the contract in events/. Never retried: it would fail again. */
export class ContractError extends ArchiveError {
  override name = 'ContractError';
}

/** Input that can never be processed (bad encoding, truncated payload, hostile name). Never retried. */
export class InvalidInputError extends ArchiveError {
  override name = 'InvalidInputError';
}

/** Something the work depends on is not there yet (e.g. a document still in flight): retry later. */
export class NotReadyError extends ArchiveError {
  override name = 'NotReadyError';
}

/** Whether retrying can help: contract and input errors fail the same way every time. */
export function isPermanent(error: unknown): boolean {
  return error instanceof ContractError || error instanceof InvalidInputError;
}
