/**
 * The errors the storage layer throws. Storage knows nothing about HTTP: the HTTP error
 * middleware (http/errors.ts) maps these to the API's error shape.
 */

/**
 * The backing store cannot be reached (or the file cannot be used); callers retry or answer 503.
 * Adapters reconnect by themselves, so a later call may succeed.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A page cursor that is not one this store returned (tampered, truncated, from another listing). */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
  /** The query field that carried it. */
  readonly field = 'cursor';
  constructor() {
    super('cursor is not one this server returned');
  }
}
