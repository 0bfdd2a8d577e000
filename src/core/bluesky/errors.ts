import { InvalidInputError, type ErrorContext } from '../errors.js';

/**
 * A Redis stream entry or a Bluesky document that cannot be archived as it stands (not JSON, an
 * unknown document name, an event for an unknown descriptor …). The context names the stream
 * entry, the run and the document so that a person can find it.
 */
export class BlueskyDocumentError extends InvalidInputError {
  override name = 'BlueskyDocumentError';
  constructor(message: string, context: ErrorContext & { entryId?: string; document?: string }, options?: ErrorOptions) {
    super(message, context, options);
  }
}
