import type { AuditEntry, AuditStore, TelemetryEventRecord, TelemetryStore } from '../storage/ports.js';
import type { AuditContext } from './context.js';

export interface AuditingDeps {
  readonly audit: AuditStore;
  readonly context: AuditContext;
  readonly now: () => Date;
  /**
   * Called when writing the audit entry failed after the data was stored. The data write is not
   * undone (it is durable and the client was or will be told so); the failure is logged and
   * counted so an alert can fire.
   */
  readonly onError: (error: unknown, entries: readonly AuditEntry[]) => void;
}

/**
 * Decorates a TelemetryStore: every `insertEvents` that stores something writes one audit entry
 * per learner (`event.ingest`, with counts), after the insert.
 */
export function auditingTelemetryStore(inner: TelemetryStore, deps: AuditingDeps): TelemetryStore {
  return {
    async insertEvents(events: readonly TelemetryEventRecord[]) {
      const result = await inner.insertEvents(events);
      if (result.inserted.length === 0) return result;
      const inserted = new Set(result.inserted);
      const byUser = new Map<string, TelemetryEventRecord[]>();
      for (const e of events) {
        if (!inserted.has(e.metadata.eventId)) continue;
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
      try {
        await deps.audit.append(entries);
      } catch (error) {
        deps.onError(error, entries);
      }
      return result;
    },
    listEvents: (userId, query) => inner.listEvents(userId, query),
    countEvents: (userId) => inner.countEvents(userId),
    deleteUserEvents: (userId) => inner.deleteUserEvents(userId),
    deleteEventsOlderThan: (cutoff) => inner.deleteEventsOlderThan(cutoff),
  };
}
