/** The telemetry port: events stored exactly once per (userId, eventId), paged newest first. */

import type { BatchLog } from './batch-logs.js';

export interface TelemetryMetadata {
  readonly eventId: string;
  readonly clientTimestamp: Date | null;
  readonly serverTimestamp: Date;
  /** When the client says it sent the request; used for clock-skew correction. */
  readonly sentAt?: Date | null;
  /** `receivedAt − (sentAt − clientTimestamp)`, when `sentAt` was given. */
  readonly correctedTimestamp?: Date | null;
  readonly userAgent?: string | null;
  /** Anonymised: last IPv4 octet / last 80 IPv6 bits zeroed. */
  readonly ipAddress?: string | null;
  /** Other client metadata fields, kept as sent (after validation). */
  readonly extra?: Record<string, unknown>;
  /** e.g. `future_timestamp`, `clock_skew`. */
  readonly flags?: readonly string[];
}

export interface TelemetryEventRecord {
  readonly userId: string;
  readonly eventType: string;
  readonly eventData: Record<string, unknown>;
  readonly metadata: TelemetryMetadata;
  readonly status: 'completed' | 'failed' | 'retrying';
  readonly retryCount: number;
  readonly batchId: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface InsertEventsResult {
  /** eventIds newly stored by this call. */
  readonly inserted: readonly string[];
  /** eventIds that were already stored for that user (the unique index said so). */
  readonly duplicates: readonly string[];
}

/**
 * A batch's log as far as it is known before its events are stored. The store completes it from
 * the insert's outcome: each newly stored event adds one to `successCount`, each one the unique
 * index refused adds one to `duplicateCount`; `endTime` (and `duration`) is when the log is written.
 * `status` depends only on `failureCount` and `itemCount`, so it is known already.
 */
export type BatchLogDraft = Omit<BatchLog, 'endTime' | 'duration'>;

export interface EventQuery {
  readonly since?: Date;
  readonly eventType?: string;
  /** 1–1000. */
  readonly limit: number;
  /** Opaque, from a previous page's `nextCursor`. */
  readonly cursor?: string;
}

export interface EventPage {
  /** Newest first. */
  readonly events: readonly TelemetryEventRecord[];
  readonly nextCursor: string | null;
}

/** Where an event sits in the `listEvents` order: `createdAt` (ms), then `seq`, the store's insertion sequence. */
export interface EventKey {
  readonly createdAt: number;
  readonly seq: number;
}

export interface RecentEventsQuery {
  /** 1–1000. */
  readonly limit: number;
  /**
   * From an earlier answer for the same learner, to read only what was stored since:
   * `position` is that answer's `resume.position`; `oldest` the key of the last of the `limit`
   * events the caller keeps, or null when it keeps fewer (then every newer event counts).
   */
  readonly after?: { readonly position: string; readonly oldest: EventKey | null };
}

export interface RecentEventsPage {
  /**
   * False: the learner's `limit` most recent events (`listEvents` order). True (only when `after`
   * was given and the store can prove it): the events stored after `after.position` that rank
   * above `after.oldest`, newest first, at most `limit`; merged with the kept ones they give
   * exactly the `limit` most recent. A store answers a complete read whenever it cannot prove
   * that (any event deleted since, an unknown position).
   */
  readonly incremental: boolean;
  readonly events: readonly TelemetryEventRecord[];
  /**
   * Null when the store has no insertion sequence every instance agrees on (MongoDB: `_id`s are
   * made by each client): every read is then complete. Else each event's key (same index as
   * `events`) and the position to pass as `after.position` next time.
   */
  readonly resume: { readonly keys: readonly EventKey[]; readonly position: string } | null;
}

export interface TelemetryStore {
  /**
   * Stores each event once per `(userId, metadata.eventId)`. Concurrent calls with the same
   * ids store each exactly once; the losers report those ids as duplicates.
   */
  insertEvents(events: readonly TelemetryEventRecord[]): Promise<InsertEventsResult>;
  /**
   * `insertEvents`, then the batch's log completed from its outcome (see {@link BatchLogDraft}).
   * Where the store can (SQLite), both in one transaction: one commit and one fsync per batch,
   * and a log never exists without its events nor events of a logged batch without their log.
   */
  insertEventsWithLog(events: readonly TelemetryEventRecord[], log: BatchLogDraft): Promise<InsertEventsResult>;
  listEvents(userId: string, query: EventQuery): Promise<EventPage>;
  /**
   * The learner's most recent events, or only those stored since an earlier read (see
   * {@link RecentEventsPage}): the insights refresh keeps what it read and asks for the rest.
   */
  recentEvents(userId: string, query: RecentEventsQuery): Promise<RecentEventsPage>;
  /** The stored event `(userId, eventId)`, or `null`: a repeated track answers with what was stored. */
  findEvent(userId: string, eventId: string): Promise<TelemetryEventRecord | null>;
  countEvents(userId: string): Promise<number>;
  /**
   * Learners with an event stored at or after `since` (by `createdAt`), each once, in userId
   * order, at most `limit` (1–100 000). The insights job finds learners who only send events
   * this way.
   */
  listActiveUsers(since: Date, limit: number): Promise<string[]>;
  deleteUserEvents(userId: string): Promise<number>;
  deleteEventsOlderThan(cutoff: Date): Promise<number>;
}
