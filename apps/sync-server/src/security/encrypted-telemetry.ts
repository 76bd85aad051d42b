import type { EventPage, RecentEventsPage, TelemetryEventRecord, TelemetryStore } from '../storage/ports.js';
import type { FieldCipher } from './field-cipher.js';

const contextOf = (e: TelemetryEventRecord) => ({ userId: e.userId, eventId: e.metadata.eventId });

/**
 * Decorates a TelemetryStore with field encryption: `insertEvents` stores the configured
 * `eventData` paths encrypted, `listEvents` and `recentEvents` return them decrypted. Everything
 * that reads events for a learner (the events API, export, insights) goes through those, so the owner
 * sees plaintext and the database only ever holds ciphertext.
 */
export function encryptingTelemetryStore(inner: TelemetryStore, cipher: FieldCipher): TelemetryStore {
  const encrypted = (e: TelemetryEventRecord): TelemetryEventRecord => ({ ...e, eventData: cipher.encrypt(e.eventData, contextOf(e)) });
  return {
    insertEvents: (events) => inner.insertEvents(events.map((e) => encrypted(e))),
    insertEventsWithLog: (events, log) => inner.insertEventsWithLog(events.map((e) => encrypted(e)), log),
    async listEvents(userId, query): Promise<EventPage> {
      const page = await inner.listEvents(userId, query);
      return { ...page, events: page.events.map((e) => ({ ...e, eventData: cipher.decrypt(e.eventData, contextOf(e)) })) };
    },
    async recentEvents(userId, query): Promise<RecentEventsPage> {
      const page = await inner.recentEvents(userId, query);
      return { ...page, events: page.events.map((e) => ({ ...e, eventData: cipher.decrypt(e.eventData, contextOf(e)) })) };
    },
    async findEvent(userId, eventId) {
      const e = await inner.findEvent(userId, eventId);
      return e ? { ...e, eventData: cipher.decrypt(e.eventData, contextOf(e)) } : null;
    },
    countEvents: (userId) => inner.countEvents(userId),
    listActiveUsers: (since, limit) => inner.listActiveUsers(since, limit),
    deleteUserEvents: (userId) => inner.deleteUserEvents(userId),
    deleteEventsOlderThan: (cutoff) => inner.deleteEventsOlderThan(cutoff),
  };
}
