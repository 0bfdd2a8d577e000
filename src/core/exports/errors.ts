import { ArchiveError, InvalidInputError, type ErrorContext } from '../errors.js';
import type { ExportFormat } from './model.js';

/** Context of an export error: the run and format it concerns (and stream/key when one is at fault). */
export interface ExportErrorContext extends ErrorContext {
  runUid?: string;
  format?: ExportFormat | string;
}

/** Base class of the export builders' errors. */
export class ExportError extends ArchiveError {
  override name = 'ExportError';
  /** A builder refuses the same runs the same way every time. */
  override readonly transient: boolean = false;
  declare readonly context: ExportErrorContext;
  constructor(message: string, context: ExportErrorContext = {}, options?: ErrorOptions) {
    super(message, context, options);
  }
}

/**
 * A request that can never be built as asked: unknown format, no runs, runs that cannot share one
 * file, metadata an NXstxm export needs but the run does not carry. The message says what to change.
 * Never retried (an `InvalidInputError` for `isPermanent`).
 */
export class ExportRequestError extends InvalidInputError {
  override name = 'ExportRequestError';
  declare readonly context: ExportErrorContext;
  constructor(message: string, context: ExportErrorContext = {}, options?: ErrorOptions) {
    super(message, context, options);
  }
}
