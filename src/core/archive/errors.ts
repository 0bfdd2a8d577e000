import { ArchiveError, ConflictError, InvalidInputError, isPermanent, PermanentError } from '../errors.js';
import type { RunError } from '../contract/generated-types.js';

/** The staged chunks of a run do not tile [0, points) of every channel, or a chunk is not what its StreamDatum says. */
export class ChunkCoverageError extends InvalidInputError {
  override name = 'ChunkCoverageError';
  readonly errors: RunError[];
  constructor(message: string, errors: RunError[], context: ConstructorParameters<typeof ArchiveError>[1] = {}, options?: ErrorOptions) {
    super(message, context, options);
    this.errors = errors;
  }
}

/** The final key of a scan file already belongs to another run: publishing would overwrite its file. */
export class FileKeyConflictError extends ConflictError {
  override name = 'FileKeyConflictError';
}

/** The object in S3 is not the file written locally (size or checksum differ): retried, the upload is redone. */
export class VerificationError extends ArchiveError {
  override name = 'VerificationError';
}

/**
 * The scan file could not be written whole, or reads back different from its plan (a full temp
 * folder, an HDF5 error at any call, close included). Retrying on the same function would meet the
 * same limits: the run is recorded FAILED with this reason, and nothing is published.
 */
export class ScanFileError extends PermanentError {
  override name = 'ScanFileError';
}

/**
 * The final key already holds an object that is not this run's file (other bytes, or an object the
 * record does not know): a conditional write refused to replace it.
 */
export class FinalObjectConflictError extends ConflictError {
  override name = 'FinalObjectConflictError';
}

/** Failures retrying cannot cure (`transient: false`, RangeError): the run is recorded FAILED instead of being retried. */
export function isPermanentArchiveError(error: unknown): boolean {
  return isPermanent(error);
}

/** The errors list of a Run Failed detail for any error. */
export function runErrorsOf(error: unknown): RunError[] {
  if (error instanceof ChunkCoverageError) return error.errors.slice(0, 100);
  const message = error instanceof Error ? error.message : String(error);
  const context = error instanceof ArchiveError ? error.context : {};
  return [
    {
      message,
      ...(typeof context.stream === 'string' ? { stream: context.stream } : {}),
      ...(typeof context.index === 'number'
        ? { index: context.index }
        : Array.isArray(context.indexRange)
          ? { index: context.indexRange[0] }
          : {}),
    },
  ];
}
