/**
 * WebSocket close codes the sync endpoint uses, one name each (listed in `docs/PROTOCOL.md`; a leaf module: imports nothing).
 *
 * The stock y-websocket client treats 4400–4499 as permanent (it stops reconnecting and emits
 * `closed`) and every other code as transient, so the ranges are chosen on purpose: a client that
 * sent garbage will send it again, a busy or stopping server is worth retrying.
 */
export const CloseCode = {
  /** Server shutting down or restarting (RFC 6455). Clients reconnect. */
  GOING_AWAY: 1001,
  /** A text frame where the protocol is binary (RFC 6455 "unsupported data"). */
  UNSUPPORTED_DATA: 1003,
  /** A message above `SYNC_MAX_MESSAGE_BYTES` (RFC 6455 "message too big"; sent by `ws` itself). */
  MESSAGE_TOO_BIG: 1009,
  /** A frame that does not decode as a y-websocket message, or trailing bytes. Permanent. */
  MALFORMED_MESSAGE: 4400,
  /**
   * The token the socket was opened with has expired (checked by the ping loop and on each frame).
   * In the permanent range on purpose: a stock y-websocket client cannot refresh its token and
   * would only get 401 on every reconnect, so it should stop. Our SDK (`@prepmate/sync-client`)
   * treats this one code as "fetch a fresh token (`forceRefresh`) and reconnect".
   */
  TOKEN_EXPIRED: 4401,
  /**
   * The awareness message is larger than `SYNC_MAX_AWARENESS_BYTES`, or the socket introduced more
   * than `SYNC_MAX_AWARENESS_STATES` client ids. Permanent: the client would send it again.
   */
  AWARENESS_REFUSED: 4413,
  /**
   * More than `SYNC_MAX_BUFFERED_BYTES` were queued for a socket that does not read. Transient
   * (outside 4400–4499): a client on a slow link reconnects and syncs the difference.
   */
  SLOW_READER: 4503,
  /** The document was erased (e.g. `DELETE /api/users/me`). Permanent. */
  DOCUMENT_DELETED: 4410,
  /*
   * Quotas per learner. All in 4400–4499 on purpose: a stock client stops instead of reconnecting
   * and sending the same refused bytes every few seconds. Our SDK stops on the first two and
   * retries the last two after a long backoff (sockets free up, the byte budget refills).
   */
  /**
   * An update would make the document's stored size exceed `SYNC_MAX_DOCUMENT_BYTES`. The update
   * is not applied; what is stored stays. Permanent until the document shrinks or the cap is raised.
   */
  DOCUMENT_TOO_LARGE: 4430,
  /** The learner already has `SYNC_MAX_DOCUMENTS_PER_LEARNER` documents `<userId>/<name>`: a new one is not created. */
  TOO_MANY_DOCUMENTS: 4431,
  /** The learner already has `SYNC_MAX_SOCKETS_PER_LEARNER` sockets open on this instance. */
  TOO_MANY_SOCKETS: 4432,
  /**
   * The learner's sockets wrote more update bytes than `SYNC_WRITE_BYTES_PER_SECOND` sustains
   * (burst `SYNC_WRITE_BURST_BYTES`). The frame that found the budget empty is not applied; the
   * client still holds it and sends it again after reconnecting.
   */
  WRITE_RATE_EXCEEDED: 4429,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
