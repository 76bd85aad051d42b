/**
 * Errors the storage layer throws besides `StoreUnavailableError`. Storage knows nothing about
 * HTTP: the HTTP layer maps these to the API's error shape (http/errors.ts).
 */

/** A page cursor that is not one this store returned (tampered, truncated, from another listing). */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
  /** The query field that carried it. */
  readonly field = 'cursor';
  constructor() {
    super('cursor is not one this server returned');
  }
}
