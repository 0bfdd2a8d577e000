import { ArchiveError } from '../errors.js';

/** The caller is known (or anonymous) but the policy does not allow this: HTTP 403 (401 for anonymous callers). */
export class AccessDeniedError extends ArchiveError {
  override name = 'AccessDeniedError';
}
