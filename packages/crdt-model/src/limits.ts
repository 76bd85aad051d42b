/**
 * Limits that protect the server and keep every replica's document small. They are part of
 * the REST API's rules (docs/api.md, Limits): the SDK validates with the same numbers before it queues anything, so a
 * client never builds an outbox the server will reject.
 */
export const LIMITS = Object.freeze({
  /** Maximum length of any id (userId, assessmentId, topicId, eventId, batchId), in characters. */
  maxIdLength: 128,
  /** Maximum length of the `<name>` part of a document name, in characters. */
  maxDocNameLength: 128,
  /** Maximum length of an event type, in characters of `[a-z0-9_.:-]`. */
  maxEventTypeLength: 64,
  /** Maximum size of `eventData` serialized as JSON, in UTF-8 bytes (32 KiB). */
  maxEventDataBytes: 32 * 1024,
  /** Maximum size of `metadata` serialized as JSON, in UTF-8 bytes (4 KiB). */
  maxMetadataBytes: 4 * 1024,
  /** Maximum nesting depth of `eventData` (objects and arrays). */
  maxJsonDepth: 32,
  /** Maximum length of `metadata.userAgent`, in characters. */
  maxUserAgentLength: 512,
  /** Default maximum number of items in one batch (`MAX_BATCH_ITEMS`). */
  maxBatchItems: 500,
  /** Maximum length of an assessment `kind`, in characters. */
  maxKindLength: 64,
  /** Maximum number of `weakAreas` labels on one assessment. */
  maxWeakAreas: 32,
  /** Maximum length of one weak-area label, in characters. */
  maxWeakAreaLength: 128,
  /** Maximum length of a topic goal, in characters. */
  maxGoalLength: 512,
  /** Maximum length of topic notes, in characters. */
  maxNotesLength: 4096,
  /** Maximum length of a topic's display name, in Unicode code points (after trimming). */
  maxTopicNameLength: 80,
  /**
   * How far in the future a new session may be dated, in milliseconds: a device's clock may be
   * a few minutes off, a session from the future is a typo (it would become the "latest").
   */
  maxFutureSkewMs: 5 * 60_000,
  /** Maximum assessment duration, in seconds (one day). */
  maxDurationSec: 86_400,
  /** Maximum number of questions in one assessment. */
  maxQuestions: 10_000,
});

/** The type of {@link LIMITS}. */
export type Limits = typeof LIMITS;
