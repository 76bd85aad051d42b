/** Backoff parameters. */
export interface BackoffOptions {
  /** First retry's upper bound, ms. Default 1 000. */
  readonly baseMs?: number;
  /** Cap of the upper bound, ms. Default 300 000 (5 minutes). */
  readonly maxMs?: number;
}

/**
 * "Full jitter" exponential backoff (AWS architecture blog, 2015): a uniform draw in
 * [0, min(max, base·2^attempt)). Spreading retries over the whole window is what stops a fleet of
 * clients that failed together from retrying together. A server's `Retry-After` is a floor.
 */
export function backoffDelay(attempt: number, random: () => number, options: BackoffOptions = {}, retryAfterMs?: number): number {
  const base = options.baseMs ?? 1000;
  const max = options.maxMs ?? 300_000;
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  const jitter = Math.floor(random() * ceiling);
  return retryAfterMs !== undefined ? Math.max(retryAfterMs, jitter) : jitter;
}
