import { StoreUnavailableError } from '../errors.js';
import type { AuditEntry, BatchLog, StoredUpdate, SyncQueueItem, TelemetryEventRecord } from '../ports.js';

export interface StoredEvent {
  readonly seq: number;
  readonly record: TelemetryEventRecord;
}

export type MutableQueueItem = { -readonly [K in keyof SyncQueueItem]: SyncQueueItem[K] } & { claimedAt: number | null };

/** The "database": every table of the in-memory store, shared by its concerns (restore writes all of them). */
export interface MemoryDb {
  /** One sequence for every table, like an auto-increment id. */
  nextSeq(): number;
  /** The last sequence given (0 before any). */
  lastSeq(): number;
  /** How many times events were deleted: a `recentEvents` position holds only while this is unchanged. */
  eventDeletions: number;
  readonly updates: StoredUpdate[];
  readonly snapshots: Map<string, { state: Uint8Array; createdAt: Date }>;
  /** Key: `userId \0 eventId` (the unique index). */
  readonly events: Map<string, StoredEvent>;
  readonly queue: Map<string, MutableQueueItem>;
  readonly logs: { seq: number; log: BatchLog }[];
  readonly leases: Map<string, { owner: string; expiresAt: number }>;
  readonly auditLog: { seq: number; entry: AuditEntry }[];
  closed: boolean;
  /** Test hook: while true every call rejects with StoreUnavailableError. */
  unavailable: boolean;
  /** Wraps a method with the outage switch and the closed check. */
  op<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R>;
}

export function createMemoryDb(): MemoryDb {
  let seq = 0;
  const db: MemoryDb = {
    nextSeq: () => ++seq,
    lastSeq: () => seq,
    eventDeletions: 0,
    updates: [],
    snapshots: new Map(),
    events: new Map(),
    queue: new Map(),
    logs: [],
    leases: new Map(),
    auditLog: [],
    closed: false,
    unavailable: false,
    op<A extends unknown[], R>(fn: (...args: A) => Promise<R>) {
      return async (...args: A): Promise<R> => {
        if (db.closed) throw new StoreUnavailableError('memory store is closed');
        if (db.unavailable) throw new StoreUnavailableError('memory store is marked unavailable');
        return fn(...args);
      };
    },
  };
  return db;
}

/** Copies on the way in and out, so callers cannot mutate what the "database" holds. */
export const copyBytes = (b: Uint8Array): Uint8Array => new Uint8Array(b);
export const clone = <T>(v: T): T => structuredClone(v);

export const eventKey = (userId: string, eventId: string): string => `${userId}\0${eventId}`;

export function deleteWhere<V>(map: Map<string, V>, match: (v: V) => boolean): number {
  let n = 0;
  for (const [k, v] of map) {
    if (match(v)) {
      map.delete(k);
      n++;
    }
  }
  return n;
}

/** Removes matching entries of an array in place; returns how many. */
export function spliceWhere<V>(list: V[], match: (v: V) => boolean): number {
  const before = list.length;
  for (let i = list.length - 1; i >= 0; i--) if (match(list[i] as V)) list.splice(i, 1);
  return before - list.length;
}
