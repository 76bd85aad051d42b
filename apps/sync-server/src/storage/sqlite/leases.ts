import type { LeaseStore } from '../ports.js';
import type { SqliteDb } from './connection.js';

export function sqliteLeases(db: SqliteDb): LeaseStore {
  return {
    tryAcquire: (key: string, owner: string, ttlMs: number) =>
      db.run((c) => {
        const now = Date.now();
        // One statement: insert, or take over only when the row is ours or expired.
        const { changes } = c
          .prep(
            `INSERT INTO leases (key, owner, expires_at) VALUES (@key, @owner, @expiresAt)
             ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
             WHERE leases.owner = excluded.owner OR leases.expires_at <= @now`,
          )
          .run({ key, owner, expiresAt: now + ttlMs, now });
        return changes === 1;
      }),
    release: (key: string, owner: string) =>
      db.run((c) => {
        c.prep('DELETE FROM leases WHERE key = ? AND owner = ?').run(key, owner);
      }),
    purgeExpired: (now: Date = new Date()) => db.run((c) => c.prep('DELETE FROM leases WHERE expires_at <= ?').run(now.getTime()).changes),
  };
}
