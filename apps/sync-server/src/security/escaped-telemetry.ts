import type { EventPage, RecentEventsPage, TelemetryEventRecord, TelemetryStore } from '../storage/ports.js';
import { escapeLearnerData, unescapeLearnerData } from './envelope-escape.js';

/** The record with `eventData` mapped; the record itself when nothing changed (nearly always: no copy per event). */
function withData(e: TelemetryEventRecord, map: (data: Record<string, unknown>) => Record<string, unknown>): TelemetryEventRecord {
  const eventData = map(e.eventData);
  return eventData === e.eventData ? e : { ...e, eventData };
}
const escaped = (e: TelemetryEventRecord): TelemetryEventRecord => withData(e, escapeLearnerData);
const unescaped = (e: TelemetryEventRecord): TelemetryEventRecord => withData(e, unescapeLearnerData);

/**
 * Decorates a TelemetryStore so that `eventData` is stored with the envelope key reserved
 * (`envelope-escape.ts`) and read back as the learner sent it. It sits outside the encrypting
 * decorator: learner data is escaped before encryption and unescaped after decryption, with or
 * without field encryption.
 */
export function envelopeEscapingTelemetryStore(inner: TelemetryStore): TelemetryStore {
  return {
    insertEvents: (events) => inner.insertEvents(events.map(escaped)),
    insertEventsWithLog: (events, log) => inner.insertEventsWithLog(events.map(escaped), log),
    async listEvents(userId, query): Promise<EventPage> {
      const page = await inner.listEvents(userId, query);
      return { ...page, events: page.events.map(unescaped) };
    },
    async recentEvents(userId, query): Promise<RecentEventsPage> {
      const page = await inner.recentEvents(userId, query);
      return { ...page, events: page.events.map(unescaped) };
    },
    async findEvent(userId, eventId) {
      const e = await inner.findEvent(userId, eventId);
      return e ? unescaped(e) : null;
    },
    countEvents: (userId) => inner.countEvents(userId),
    listActiveUsers: (since, limit) => inner.listActiveUsers(since, limit),
    deleteUserEvents: (userId) => inner.deleteUserEvents(userId),
    deleteEventsOlderThan: (cutoff) => inner.deleteEventsOlderThan(cutoff),
  };
}
