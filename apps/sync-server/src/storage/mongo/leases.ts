import type { LeaseStore } from '../ports.js';
import { isDuplicateKey } from './connection.js';
import type { Models } from './models.js';

/**
 * Leases as generations: holding `key` means having inserted its newest generation
 * `<key>#<gen>` while the previous one was yours or expired. Renewal inserts the next
 * generation too, so a renewal racing a takeover is decided by the unique `_id`, not by a
 * conditional update (which FerretDB would let both win).
 */
export function mongoLeases(m: Models): LeaseStore {
  const latestLease = (key: string) => m.leases.findOne({ key }).sort({ gen: -1 }).lean<{ _id: string; gen: number; owner: string; expiresAt: Date }>();

  return {
    async tryAcquire(key: string, owner: string, ttlMs: number) {
      const now = Date.now();
      const latest = await latestLease(key);
      if (latest !== null && latest.owner !== owner && latest.expiresAt.getTime() > now) return false;
      const gen = (latest?.gen ?? 0) + 1;
      try {
        await m.leases.insertMany([{ _id: `${key}#${gen}`, key, gen, owner, expiresAt: new Date(now + ttlMs) }], { lean: true });
      } catch (err) {
        if (isDuplicateKey(err)) return false;
        throw err;
      }
      // A reader that saw a generation already cleaned up could re-insert it; the newest wins.
      const newest = await latestLease(key);
      if (newest !== null && newest.gen > gen) return false;
      await m.leases.deleteMany({ key, gen: { $lt: gen } });
      return true;
    },
    async release(key: string, owner: string) {
      const latest = await latestLease(key);
      // Expire rather than delete: with the generation gone a later taker would restart at 1 and
      // could collide with nobody, racing a taker that saw this generation.
      if (latest !== null && latest.owner === owner) await m.leases.updateOne({ _id: latest._id }, { $set: { expiresAt: new Date(0) } });
    },
    async purgeExpired(now: Date = new Date()) {
      // Deleting an expired newest generation is safe: a taker that restarts at generation 1
      // while another inserts N+1 loses the "newest wins" check in tryAcquire.
      return (await m.leases.deleteMany({ expiresAt: { $lte: now } })).deletedCount;
    },
  };
}
