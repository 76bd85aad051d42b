import type { OutboxStorage } from '../storage.js';
import type { OutboxItem } from '../types.js';

/**
 * The mutable state that the parts of one telemetry instance (capture, sender, unload,
 * leadership, status) share. One object per `createTelemetry` call, never module-global: two
 * instances in one realm (two users, two simulated tabs in a test) must not see each other's queue.
 */
export interface TelemetryState {
  /** Set once storage is open (or replaced by memory because it could not be opened). */
  storage: OutboxStorage | null;
  destroyed: boolean;
  /** This instance is the one that sends for its origin and scope. */
  leader: boolean;

  // Status, partly shared from the leader when this instance follows.
  queuedEvents: number;
  queuedBytes: number;
  lastSyncTime: number | null;
  lastError: string | null;
  /** When the next retry is due, ms since epoch; `null` when none is scheduled. */
  nextRetryAt: number | null;
  droppedEvents: number;
  syncing: boolean;
  /** The server answered 410: the learner was erased. Nothing is sent any more. */
  learnerErased: boolean;

  /**
   * Captures that storage failed to take (not a quota we could make room for): kept in memory,
   * where the next flush still sends them, until storage takes them again.
   */
  readonly spill: OutboxItem[];
}

export function createTelemetryState(): TelemetryState {
  return {
    storage: null,
    destroyed: false,
    leader: false,
    queuedEvents: 0,
    queuedBytes: 0,
    lastSyncTime: null,
    lastError: null,
    nextRetryAt: null,
    droppedEvents: 0,
    syncing: false,
    learnerErased: false,
    spill: [],
  };
}
