/**
 * The server's named closes that an app should explain to its learner (docs/PROTOCOL.md, close
 * codes), and what the SDK does after each: stop, or reconnect no sooner than a minimum delay
 * that doubles on every repeat. A quota close never leads to a reconnect loop: the server would
 * refuse the same bytes or the same socket again.
 */

/** Why the server closed the document's socket, as an app shows it. */
export type ServerCloseReason =
  /** An awareness (presence) message was too large or named too many clients (4413). */
  | 'awareness-too-large'
  /** The device did not read fast enough; the server dropped the socket (4503). Reconnects at once. */
  | 'slow-reader'
  /** The document reached the server's size quota; the update was not saved (4430). Stops. */
  | 'document-too-large'
  /** The learner has the maximum number of documents; this new one was not created (4431). Stops. */
  | 'too-many-documents'
  /** The learner has the maximum number of open connections (4432). Retries after a minute or more. */
  | 'too-many-sockets'
  /** The learner wrote faster than the server sustains (4429). Retries after 30 s or more. */
  | 'write-rate-exceeded';

/** The server's codes for {@link ServerCloseReason} (the sync server's `CloseCode`). */
export const SERVER_CLOSE_CODES: Readonly<Record<ServerCloseReason, number>> = {
  'awareness-too-large': 4413,
  'slow-reader': 4503,
  'document-too-large': 4430,
  'too-many-documents': 4431,
  'too-many-sockets': 4432,
  'write-rate-exceeded': 4429,
};

/** A named close, as `SyncStatus.serverClose` and the `document:closed` event report it. */
export interface ServerClose {
  readonly code: number;
  readonly reason: ServerCloseReason;
  /** The server's own words (the close frame's reason), for logs. */
  readonly detail: string;
  /** When it happened, ms since epoch. */
  readonly at: number;
  /** When the SDK reconnects, ms since epoch; `null`: it does not (until the client is made again). Local edits are kept either way. */
  readonly retryAt: number | null;
}

interface ClosePolicy {
  readonly reason: ServerCloseReason;
  /** Least wait before reconnecting, ms (doubled per repeat); null: stop. */
  readonly minRetryMs: number | null;
}

const POLICIES: ReadonlyMap<number, ClosePolicy> = new Map<number, ClosePolicy>([
  [4413, { reason: 'awareness-too-large', minRetryMs: null }],
  [4503, { reason: 'slow-reader', minRetryMs: 0 }],
  [4430, { reason: 'document-too-large', minRetryMs: null }],
  [4431, { reason: 'too-many-documents', minRetryMs: null }],
  [4432, { reason: 'too-many-sockets', minRetryMs: 60_000 }],
  [4429, { reason: 'write-rate-exceeded', minRetryMs: 30_000 }],
]);

/** Longest wait between two reconnects after repeated quota closes, ms. */
export const MAX_QUOTA_RETRY_MS = 10 * 60_000;

/** What to do after a close with `code`; null for closes that are not named here. */
export function closePolicy(code: number): ClosePolicy | null {
  return POLICIES.get(code) ?? null;
}

/** The wait before the `repeat`-th reconnect (1 = first) after a close with `minRetryMs`. */
export function quotaRetryDelay(minRetryMs: number, repeat: number): number {
  if (minRetryMs === 0) return 0;
  return Math.min(MAX_QUOTA_RETRY_MS, minRetryMs * 2 ** Math.max(0, repeat - 1));
}
