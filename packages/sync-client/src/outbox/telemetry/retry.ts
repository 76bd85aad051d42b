import type { Clock, ConnectivityPort } from '../../ports.js';
import { backoffDelay } from '../backoff.js';
import type { SendOutcome } from '../transport.js';
import type { TelemetryOptions } from './api.js';
import type { TelemetryState } from './state.js';
import type { StatusReporter } from './status.js';

export interface RetryDeps {
  readonly state: TelemetryState;
  readonly clock: Clock;
  readonly random: () => number;
  readonly connectivity: ConnectivityPort;
  readonly options: Pick<TelemetryOptions, 'backoff'>;
  readonly report: Pick<StatusReporter, 'share' | 'statusChanged'>;
  /** Runs the retry when its time comes. */
  readonly onDue: () => void;
}

/** When to try again after a failed flush: full-jitter backoff, with the server's `Retry-After` as a floor. */
export interface RetrySchedule {
  /** Reports a failed round and, when online, schedules the next one. */
  fail(failure: Extract<SendOutcome, { kind: 'retry' }>): void;
  /** A round starts now: the retry scheduled for later is not needed. */
  cancel(): void;
  /** Inside the server's `Retry-After` window, where even an explicit flush must not call it. */
  blocked(): boolean;
  /** Starts the backoff over (a round went through, or the network came back). */
  reset(): void;
  /** Clears the timer (destroy). */
  stop(): void;
}

export function createRetrySchedule({ state, clock, random, connectivity, options, report, onDue }: RetryDeps): RetrySchedule {
  let attempt = 0;
  let retryAfterUntil = 0;
  let retryTimer: unknown = null;

  function scheduleRetry(delay: number): void {
    if (retryTimer !== null) clock.clearTimeout(retryTimer);
    state.nextRetryAt = clock.now() + delay;
    retryTimer = clock.setTimeout(() => {
      retryTimer = null;
      state.nextRetryAt = null;
      onDue();
    }, delay);
  }

  return {
    fail(failure) {
      // Offline is not a failed attempt: we wait for `online` instead of burning the backoff.
      const offline = !connectivity.isOnline();
      state.lastError = failure.error;
      let retryInMs: number | null = null;
      if (!offline) {
        const delay = backoffDelay(attempt, random, options.backoff, failure.retryAfterMs);
        attempt++;
        if (failure.retryAfterMs !== undefined) retryAfterUntil = clock.now() + failure.retryAfterMs;
        scheduleRetry(delay);
        retryInMs = delay;
      }
      report.share('sync:error', { error: failure.error, ...(failure.status !== undefined ? { status: failure.status } : {}), attempt, retryInMs });
      report.statusChanged();
    },
    cancel() {
      if (retryTimer !== null) {
        clock.clearTimeout(retryTimer);
        retryTimer = null;
        state.nextRetryAt = null;
      }
    },
    blocked: () => clock.now() < retryAfterUntil,
    reset() {
      attempt = 0;
    },
    stop() {
      if (retryTimer !== null) clock.clearTimeout(retryTimer);
    },
  };
}
