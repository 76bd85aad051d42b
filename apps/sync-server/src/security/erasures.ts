import type { AuditStore } from '../storage/ports.js';

/**
 * When a learner was erased, known only by the keyed pseudonym: the `user.erase` fact of the
 * audit trail (every adapter stores it; it holds no personal data). A token issued before that
 * time belongs to a device that has not yet heard of the erasure: REST answers it 410 and the
 * sync endpoint closes its socket with 4410, so the app clears its local copy. Lookups are
 * remembered for `ttlMs` per process; an erasure made on this instance is known at once, one
 * made on another instance within `ttlMs`.
 */
export interface ErasureRegistry {
  /** The latest erasure of `userId`, ms since epoch, or null. */
  erasedAt(userId: string): Promise<number | null>;
  /** Records that this instance just erased `userId`. */
  noteErased(userId: string, at: Date): void;
  /** True when a token issued at `issuedAt` (ms) predates the learner's erasure. */
  issuedBeforeErasure(userId: string, issuedAt: number): Promise<boolean>;
}

export interface ErasureRegistryDeps {
  readonly audit: AuditStore;
  readonly pseudonym: (userId: string) => string;
  readonly ttlMs?: number;
  readonly now?: () => number;
  /** Bound of remembered lookups. Default 10 000. */
  readonly maxEntries?: number;
}

export function createErasureRegistry(deps: ErasureRegistryDeps): ErasureRegistry {
  const ttlMs = deps.ttlMs ?? 10_000;
  const now = deps.now ?? Date.now;
  const maxEntries = deps.maxEntries ?? 10_000;
  const memo = new Map<string, { at: number | null; until: number }>();
  const remember = (userId: string, at: number | null): void => {
    if (memo.size >= maxEntries) memo.delete(memo.keys().next().value as string);
    memo.set(userId, { at, until: now() + ttlMs });
  };

  /**
   * Lookups in flight: the devices of one learner reconnect together (after a restart, a network
   * change), and each upgrade asked the audit trail again before the first answer was remembered.
   */
  const inFlight = new Map<string, Promise<number | null>>();

  async function lookup(userId: string): Promise<number | null> {
    const page = await deps.audit.list({ userId: deps.pseudonym(userId), action: 'user.erase', limit: 1000 });
    let at = page.entries.reduce<number | null>((latest, e) => Math.max(latest ?? 0, e.at.getTime()), null);
    // An erasure noted on this instance while the query ran may be newer than what it read.
    const noted = memo.get(userId)?.at ?? null;
    if (noted !== null && (at === null || noted > at)) at = noted;
    remember(userId, at);
    return at;
  }

  async function erasedAt(userId: string): Promise<number | null> {
    const known = memo.get(userId);
    if (known !== undefined && known.until > now()) return known.at;
    let pending = inFlight.get(userId);
    if (pending === undefined) {
      pending = lookup(userId).finally(() => inFlight.delete(userId));
      inFlight.set(userId, pending);
    }
    return pending;
  }

  return {
    erasedAt,
    noteErased: (userId, at) => remember(userId, at.getTime()),
    async issuedBeforeErasure(userId, issuedAt) {
      const at = await erasedAt(userId);
      // Token times have whole seconds: a token of the erasure's own second counts as after it.
      return at !== null && issuedAt < Math.floor(at / 1000) * 1000;
    },
  };
}
