/**
 * Errors of the export service (requests, records, downloads). The builders' errors are in
 * errors.ts. HTTP statuses are chosen at the edge (functions/export-api): the classes only say
 * what went wrong and carry the context (run uid, export id, request id).
 */
import { ArchiveError, ConflictError, InvalidInputError } from '../errors.js';

/** The request names a format the archive does not build. */
export class UnknownExportFormatError extends InvalidInputError {
  override name = 'UnknownExportFormatError';
}

/** A run of the request is not in the catalogue. */
export class ExportRunNotFoundError extends InvalidInputError {
  override name = 'ExportRunNotFoundError';
}

/** A run of the request is not ARCHIVED (still recording, or failed): there is no scan file to export from. */
export class RunNotArchivedError extends InvalidInputError {
  override name = 'RunNotArchivedError';
}

/** A run was archived before the run record kept its channels' dataset paths: it must be archived again. */
export class RunNeedsReArchiveError extends InvalidInputError {
  override name = 'RunNeedsReArchiveError';
}

/** The archived scan file is not the one the run record describes (size or sha256 differ). */
export class ArchivedFileMismatchError extends InvalidInputError {
  override name = 'ArchivedFileMismatchError';
}

/** The same request id was used before with other runs, format or options. */
export class ExportConflictError extends ConflictError {
  override name = 'ExportConflictError';
}

/** No export with this id. */
export class ExportNotFoundError extends ArchiveError {
  override name = 'ExportNotFoundError';
}

/** The export is not COMPLETED (still building, or failed): there is nothing to download. */
export class ExportNotReadyError extends ArchiveError {
  override name = 'ExportNotReadyError';
}

/** Writing an export file to local disk failed part-way; the partial file is kept under its .err key. */
export class ExportWriteError extends InvalidInputError {
  override name = 'ExportWriteError';
}
