/** The audit port: an append-only trail of who did what to whose data. */

/** Who acted, as recorded in the audit trail. */
export type AuditActorRole = 'learner' | 'service' | 'system';

/**
 * What happened. Open-ended (`string & {}`) so new kinds need no port change; these are the
 * ones the server writes itself.
 */
export type AuditAction =
  | 'document.update'
  | 'event.ingest'
  | 'user.erase'
  | 'user.export'
  | 'keys.rotate'
  | 'store.restore'
  | (string & {});

/** One audit fact. Append-only: the only change ever made to a stored entry is erasure's pseudonymisation. */
export interface AuditEntry {
  readonly at: Date;
  /** userId, or `service:<name>` for services and the server's own jobs and commands. */
  readonly actor: string;
  readonly actorRole: AuditActorRole;
  readonly action: AuditAction;
  /** The learner whose data was touched; null for store-wide actions (key rotation). */
  readonly subjectUserId: string | null;
  /** docName, batchId, eventId … whatever the action acted on. */
  readonly target: string | null;
  /** Anonymised client address (same rule as telemetry's `ipAddress`), when known. */
  readonly from: string | null;
  /** Counts and other small facts; never payloads. */
  readonly details: Record<string, unknown> | null;
}

export interface StoredAuditEntry extends AuditEntry {
  readonly id: string;
}

export interface AuditQuery {
  /** Entries whose subject (or actor) is this user. */
  readonly userId?: string;
  readonly since?: Date;
  readonly action?: string;
  /** 1–1000. */
  readonly limit: number;
  /** Opaque, from a previous page's `nextCursor`. */
  readonly cursor?: string;
}

export interface AuditPage {
  /** Oldest first: an audit trail reads as a timeline. */
  readonly entries: readonly StoredAuditEntry[];
  readonly nextCursor: string | null;
}

export interface AuditStore {
  /** Appends every entry in one write. */
  append(entries: readonly AuditEntry[]): Promise<void>;
  list(query: AuditQuery): Promise<AuditPage>;
  /**
   * Erasure (GDPR): every entry whose subject or actor is `userId` gets `pseudonym` in their
   * place and loses `target`, `from` and `details`, so the facts (what, when, by whom's role)
   * stay while nothing identifies the learner. Returns the number of entries changed.
   */
  pseudonymiseUser(userId: string, pseudonym: string): Promise<number>;
  /** Retention (`AUDIT_RETENTION_DAYS`): deletes entries older than `cutoff`. */
  deleteOlderThan(cutoff: Date): Promise<number>;
}
