import type { SyncQueueItem, SyncQueueStore } from '../storage/ports.js';
import type { MergeOutcome } from './merge.js';
import type { TelemetryConfig } from './types.js';

/** Longest wait between two retries of a queue item, however many attempts came before. */
const MAX_BACKOFF_MS = 60 * 60 * 1000;

/** The first try plus `MAX_RETRIES` retries. */
export const maxAttempts = (config: Pick<TelemetryConfig, 'MAX_RETRIES'>): number => config.MAX_RETRIES + 1;

/**
 * When a failed item may be tried again: `RETRY_DELAY_MS × 2^(attempts − 1)`, capped at an hour;
 * `null` once every attempt is used, which leaves the item in `error` for good with its
 * errors kept for diagnosis.
 */
export function nextAttemptAt(attemptsSoFar: number, now: Date, config: Pick<TelemetryConfig, 'MAX_RETRIES' | 'RETRY_DELAY_MS'>): Date | null {
  if (attemptsSoFar >= maxAttempts(config)) return null;
  const delay = Math.min(MAX_BACKOFF_MS, config.RETRY_DELAY_MS * 2 ** Math.max(0, attemptsSoFar - 1));
  return new Date(now.getTime() + delay);
}

/**
 * Writes the merge outcomes back to the queue: `synced` (with the conflict resolution, if any)
 * or `error` with the message and the next attempt time.
 */
export async function settleOutcomes(
  queue: SyncQueueStore,
  items: readonly SyncQueueItem[],
  outcomes: readonly MergeOutcome[],
  now: Date,
  config: Pick<TelemetryConfig, 'MAX_RETRIES' | 'RETRY_DELAY_MS'>,
): Promise<void> {
  const byId = new Map(items.map((i) => [i.id, i]));
  const clean = outcomes.filter((o) => o.ok && !o.conflict).map((o) => o.id);
  if (clean.length > 0) await queue.markSynced(clean, now, null);
  for (const o of outcomes) {
    if (o.ok && o.conflict) await queue.markSynced([o.id], now, o.conflict);
    if (!o.ok) {
      const attempts = (byId.get(o.id)?.attempts ?? 0) + 1;
      const next = o.error?.permanent ? null : nextAttemptAt(attempts, now, config);
      await queue.markFailed(o.id, { at: now, message: o.error?.message ?? 'merge failed' }, next);
    }
  }
}
