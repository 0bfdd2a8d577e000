import { ArchiveError, InvalidInputError } from '../errors.js';

/** Base class of the analysis store's errors. */
export class AnalysisError extends ArchiveError {
  override name = 'AnalysisError';
}

/** Derived data that cannot be stored as given (ragged points, unknown dtype, bad key name …). Never retried. */
export class AnalysisInputError extends InvalidInputError {
  override name = 'AnalysisInputError';
  /** Every problem found, one line each. */
  readonly problems: string[];
  constructor(
    message: string,
    problems: string[] = [message],
    context: ConstructorParameters<typeof ArchiveError>[1] = {},
    options?: ErrorOptions,
  ) {
    super(message, context, options);
    this.problems = problems;
  }
}

/** No writer/handler pair is registered for this spec. */
export class UnknownSpecError extends InvalidInputError {
  override name = 'UnknownSpecError';
}

/** Bytes that do not decode as the format their spec says (truncated object, bad header). */
export class AnalysisFormatError extends InvalidInputError {
  override name = 'AnalysisFormatError';
}

/** A derived run or entity that is not in the catalogue. */
export class AnalysisNotFoundError extends AnalysisError {
  override name = 'AnalysisNotFoundError';
}
