import type { FlushResult, Telemetry } from './api.js';

/** Options of `drain()`. */
export interface DrainOptions {
  /** Give up after this long, ms: the promise then rejects with a {@link DrainTimeoutError}. */
  readonly timeoutMs: number;
}

/** What a successful `drain()` delivered. */
export interface DrainResult {
  /** Items the server confirmed while draining (stored, merged, or already stored). */
  readonly confirmed: number;
  /** Items the server refused for good while draining (also reported by `dropped`). */
  readonly rejected: number;
}

/** `drain()` reached its deadline with items still queued; they stay in the outbox for the next start. */
export class DrainTimeoutError extends Error {
  override readonly name = 'DrainTimeoutError';
  constructor(
    /** Items still queued at the deadline. */
    readonly remaining: number,
    readonly timeoutMs: number,
    /** The last send error, if any (e.g. `fetch failed` while the server is down). */
    readonly lastError: string | null,
  ) {
    super(`drain timed out after ${timeoutMs} ms with ${remaining} item(s) still queued${lastError ? ` (last error: ${lastError})` : ''}`);
  }
}

/** The server answered 410 `GONE` while draining: the learner was erased, nothing more will be sent. */
export class LearnerErasedError extends Error {
  override readonly name = 'LearnerErasedError';
  constructor(
    /** Items still queued (kept until the app clears the device). */
    readonly remaining: number,
  ) {
    super(`drain stopped: the learner was erased (410 GONE); ${remaining} item(s) stay queued until the app clears the device`);
  }
}

/**
 * Sends until the outbox is empty, and keeps a Node process alive meanwhile: the SDK's own timers
 * are unref'd (a pending retry must not hold a finished script), so a script that wants its
 * events delivered before it exits waits here. The deadline timer is the one ref'd handle.
 *
 * Retries keep their backoff: after a failed round the scheduled retry sends, not a busy loop.
 * A new round is started here only when nothing else will send what is left (items captured
 * after a successful round, below `batchSize`).
 */
export function drainOutbox(telemetry: Pick<Telemetry, 'flush' | 'status' | 'on'>, options: DrainOptions): Promise<DrainResult> {
  const { timeoutMs } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) return Promise.reject(new RangeError(`timeoutMs must be a finite number ≥ 0, got ${timeoutMs}`));
  return new Promise<DrainResult>((resolve, reject) => {
    let confirmed = 0;
    let rejected = 0;
    let done = false;
    let firstRoundDone = false;
    let flushing = false;
    // Whether the last round went through: only then may this start another (never while backing off).
    let lastRoundOk = true;
    const offs: (() => void)[] = [];

    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      for (const off of offs) off();
      if (error) reject(error);
      else resolve({ confirmed, rejected });
    };
    const deadline = setTimeout(() => {
      const s = telemetry.status();
      finish(new DrainTimeoutError(s.queuedEvents, timeoutMs, s.lastError));
    }, timeoutMs);

    // The outbox is empty only when a round says so: a round waits for captures still being
    // written, which a status count alone would miss.
    const check = (): void => {
      if (done || flushing || !firstRoundDone) return;
      const s = telemetry.status();
      if (s.learnerErased) return finish(new LearnerErasedError(s.queuedEvents));
      if (s.syncing) return;
      if (s.queuedEvents === 0 || (s.nextRetryAt === null && lastRoundOk)) void round();
    };
    const round = async (): Promise<void> => {
      flushing = true;
      let result: FlushResult;
      try {
        result = await telemetry.flush();
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
        return;
      } finally {
        flushing = false;
      }
      if (result.remaining === 0) return finish();
      if (result.skipped === 'destroyed') return finish(new Error('drain: the client was destroyed'));
      if (telemetry.status().learnerErased) return finish(new LearnerErasedError(result.remaining));
      lastRoundOk = !result.error && !result.skipped;
      firstRoundDone = true;
      check();
    };

    offs.push(
      telemetry.on('sync:complete', (e) => {
        confirmed += e.stored + e.duplicates + e.merged;
        rejected += e.rejected;
        lastRoundOk = !e.error;
      }),
      telemetry.on('status', check),
    );
    void round();
  });
}
