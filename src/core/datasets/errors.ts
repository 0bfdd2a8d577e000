/** Errors of the dataset use cases. Mapped to HTTP status codes in functions/dataset-api only. */
import { ArchiveError, InvalidInputError } from '../errors.js';

/** Base class of the dataset errors that are not plain bad input. */
export class DatasetError extends ArchiveError {
  override name = 'DatasetError';
}

export class DatasetNotFoundError extends DatasetError {
  override name = 'DatasetNotFoundError';
}

/** The dataset is closed (or being closed): it takes no new scans, techniques or metadata. */
export class DatasetClosedError extends DatasetError {
  override name = 'DatasetClosedError';
  /** A closed dataset is never reopened: retrying cannot add the scan. */
  override readonly transient: boolean = false;
}

/** Another close of the same dataset won the race. */
export class DatasetCloseConflictError extends DatasetError {
  override name = 'DatasetCloseConflictError';
}

/** A metadata value that is not a string (ICAT stores strings) or is too long. */
export class InvalidMetadataValueError extends InvalidInputError {
  override name = 'InvalidMetadataValueError';
}

/** A proposal, beamline, session, collection or dataset name that cannot name a folder as it is. */
export class InvalidDatasetNameError extends InvalidInputError {
  override name = 'InvalidDatasetNameError';
}
