import { ArchiveError, ConflictError, InvalidInputError } from '../errors.js';

/**
 * A provenance record is incomplete or names parents that are not in the catalogue. `missing`
 * lists every problem, one line each, so the caller can fix them all at once (HTTP 400 body).
 */
export class ProvenanceIncompleteError extends InvalidInputError {
  override name = 'ProvenanceIncompleteError';
  readonly missing: string[];
  constructor(missing: string[], context: ConstructorParameters<typeof ArchiveError>[1] = {}, options?: ErrorOptions) {
    super(`provenance is incomplete: ${missing.join('; ')}`, context, options);
    this.missing = missing;
  }
}

/** The entity already has a provenance record or things derived from it: a new record would allow a cycle. */
export class ProvenanceConflictError extends ConflictError {
  override name = 'ProvenanceConflictError';
}

/** A malformed entity reference (`run:<uid>`, `dataset:<p>/<b>/<s>/<c>/<d>`, `file:s3://…`, `export:<id>`). */
export class EntityRefError extends InvalidInputError {
  override name = 'EntityRefError';
}
