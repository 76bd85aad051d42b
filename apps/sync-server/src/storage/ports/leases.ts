/** The leases port: named, expiring locks shared by every instance on the same store. */

/** A named, expiring lock shared by every instance that uses the same store. */
export interface LeaseStore {
  /** True when `owner` now holds `key` for `ttlMs` (acquired, or renewed if already its own). */
  tryAcquire(key: string, owner: string, ttlMs: number): Promise<boolean>;
  release(key: string, owner: string): Promise<void>;
  /**
   * Deletes every lease nobody holds (expired at `now`). Lease keys can name a learner's document
   * (`snapshot:<docName>`); erasure calls this so no such key outlives the learner. Safe against
   * a concurrent `tryAcquire`: a held lease is never expired.
   */
  purgeExpired(now?: Date): Promise<number>;
}
