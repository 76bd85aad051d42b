import type { AuditEntry, BatchLogDraft, InsertEventsResult, TelemetryEventRecord, TelemetryStore } from '../storage/ports.js';
import type { AuditContext } from './context.js';

export interface AuditingDeps {
  /**
   * Where entries go: the shared audit buffer (`AuditBuffer.enqueue`), written within a second
   * in one transaction with the document entries. A failed write is logged and counted there;
   * the data write is not undone (it is durable and the client was told so).
   */
  readonly write: (entries: readonly AuditEntry[]) => void;
  readonly context: AuditContext;
  readonly now: () => Date;
}

/**
 * Decorates a TelemetryStore: every `insertEvents` that stores something yields one audit entry
 * per learner (`event.ingest`, with counts), after the insert.
 */
export function auditingTelemetryStore(inner: TelemetryStore, deps: AuditingDeps): TelemetryStore {
  function audited(events: readonly TelemetryEventRecord[], result: InsertEventsResult): InsertEventsResult {
    if (result.inserted.length === 0) return result;
    // Nothing refused (the usual batch): every event counts, no set of the inserted ids needed.
    const inserted = result.duplicates.length === 0 ? null : new Set(result.inserted);
    const byUser = new Map<string, TelemetryEventRecord[]>();
    for (const e of events) {
      if (inserted !== null && !inserted.has(e.metadata.eventId)) continue;
      const list = byUser.get(e.userId);
      if (list) list.push(e);
      else byUser.set(e.userId, [e]);
    }
    const actor = deps.context.current();
    const at = deps.now();
    const entries: AuditEntry[] = [...byUser].map(([userId, list]) => {
      const first = list[0]!;
      return {
        at,
        actor: actor?.actor ?? `service:ingest`,
        actorRole: actor?.actorRole ?? 'system',
        action: 'event.ingest',
        subjectUserId: userId,
        target: first.batchId ?? (list.length === 1 ? first.metadata.eventId : null),
        from: actor?.from ?? first.metadata.ipAddress ?? null,
        details: { inserted: list.length, duplicates: result.duplicates.length, eventTypes: [...new Set(list.map((e) => e.eventType))].slice(0, 20) },
      };
    });
    // The actor was read above, inside the request's context; writing later loses nothing.
    deps.write(entries);
    return result;
  }
  return {
    async insertEvents(events: readonly TelemetryEventRecord[]) {
      return audited(events, await inner.insertEvents(events));
    },
    async insertEventsWithLog(events: readonly TelemetryEventRecord[], log: BatchLogDraft) {
      return audited(events, await inner.insertEventsWithLog(events, log));
    },
    listEvents: (userId, query) => inner.listEvents(userId, query),
    recentEvents: (userId, query) => inner.recentEvents(userId, query),
    findEvent: (userId, eventId) => inner.findEvent(userId, eventId),
    countEvents: (userId) => inner.countEvents(userId),
    listActiveUsers: (since, limit) => inner.listActiveUsers(since, limit),
    deleteUserEvents: (userId) => inner.deleteUserEvents(userId),
    deleteEventsOlderThan: (cutoff) => inner.deleteEventsOlderThan(cutoff),
  };
}
