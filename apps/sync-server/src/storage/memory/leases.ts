import type { LeaseStore } from '../ports.js';
import { deleteWhere, type MemoryDb } from './connection.js';

export function memoryLeases(db: MemoryDb): LeaseStore {
  const { op, leases } = db;
  return {
    tryAcquire: op(async (key: string, owner: string, ttlMs: number) => {
      const now = Date.now();
      const held = leases.get(key);
      if (held !== undefined && held.owner !== owner && held.expiresAt > now) return false;
      leases.set(key, { owner, expiresAt: now + ttlMs });
      return true;
    }),
    release: op(async (key: string, owner: string) => {
      if (leases.get(key)?.owner === owner) leases.delete(key);
    }),
    purgeExpired: op(async (now: Date = new Date()) => deleteWhere(leases, (l) => l.expiresAt <= now.getTime())),
  };
}
