import type { EventId } from '../../ids.js';
import type { Clock, ConnectivityPort } from '../../ports.js';
import type { OutboxStorage } from '../storage.js';
import type { BatchTransport, SendOutcome } from '../transport.js';
import type { OutboxItem } from '../types.js';
import type { FlushReason, FlushResult, TelemetryOptions } from './api.js';
import { applyResults, emptyResult, emptySendResult, wire, WIRE_OVERHEAD_PER_BATCH, type SendResult } from './batch-results.js';
import type { Capture } from './capture.js';
import { createRetrySchedule } from './retry.js';
import type { TelemetryState } from './state.js';
import type { StatusReporter } from './status.js';
import type { TabChannel } from './tab-channel.js';
import type { UnsentMirror } from './unsent-mirror.js';

export interface SenderDeps {
  readonly state: TelemetryState;
  readonly storageReady: Promise<OutboxStorage>;
  readonly transport: BatchTransport;
  readonly clock: Clock;
  readonly random: () => number;
  readonly connectivity: ConnectivityPort;
  readonly options: Pick<TelemetryOptions, 'backoff'>;
  readonly batchSize: number;
  readonly maxBatchBytes: number;
  readonly maxEventAgeMs: number;
  readonly capture: Pick<Capture, 'written' | 'appendWithQuota'>;
  readonly mirror: UnsentMirror;
  readonly tabs: TabChannel;
  readonly report: StatusReporter;
}

/**
 * Sending: batches out of storage, per-item results decide delete / retry / reject, a batch the
 * server refuses whole is split, failures back off. Only the leader sends; a follower asks it.
 */
export interface Sender {
  flushAs(reason: FlushReason): Promise<FlushResult>;
  /** After captures are written: flushes once a batch is full (by count or bytes). */
  maybeFlushOnThreshold(): void;
  /** The connectivity listener. */
  onConnectivity(online: boolean): void;
  /** Deletes items the server settled (confirmed, or rejected for good) and reports the rejected. */
  settle(store: OutboxStorage, res: SendResult): Promise<void>;
  /** Items of the batch request in flight now (a normal send, not keepalive). */
  readonly inFlight: ReadonlySet<EventId>;
  /** The flush in flight, if any. */
  running(): Promise<FlushResult> | null;
  /** Aborts requests in flight (their items stay queued) and the scheduled retry. */
  stop(): void;
}

export function createSender(deps: SenderDeps): Sender {
  const { state, storageReady, transport, clock, connectivity, batchSize, maxBatchBytes, maxEventAgeMs, capture, mirror, tabs, report } = deps;
  const requestAbort = new AbortController();
  const inFlight = new Set<EventId>();
  let flushing: Promise<FlushResult> | null = null;
  let again = false;
  // Why the extra round was asked for: its `sync:complete` reports that reason, not the first round's.
  let againReason: FlushReason | null = null;
  // The running flush will still look at `again` (false once it is past its last round).
  let acceptingJoins = false;
  const retry = createRetrySchedule({ state, clock, random: deps.random, connectivity, options: deps.options, report, onDue: () => void flushAs('retry') });

  async function sendSplitting(items: readonly OutboxItem[], out: SendResult): Promise<void> {
    for (const item of items) inFlight.add(item.id);
    let outcome: SendOutcome;
    try {
      outcome = await transport.send(wire(items), { signal: requestAbort.signal });
    } finally {
      for (const item of items) inFlight.delete(item.id);
    }
    if (outcome.kind === 'results') return applyResults(items, outcome.results, out);
    if (outcome.kind === 'retry' || outcome.kind === 'gone') {
      out.failure = outcome;
      return;
    }
    // 413 or a 400 for the whole batch: halve until the culprit stands alone, then reject just it.
    if (items.length === 1) {
      const error = outcome.kind === 'too-large' ? 'PAYLOAD_TOO_LARGE: the server refused the item as too large' : outcome.error;
      out.rejected.push({ item: items[0]!, reason: outcome.kind === 'too-large' ? 'too-large' : 'rejected', error });
      return;
    }
    const mid = Math.ceil(items.length / 2);
    await sendSplitting(items.slice(0, mid), out);
    if (out.failure || state.destroyed) return;
    await sendSplitting(items.slice(mid), out);
  }

  async function settle(store: OutboxStorage, res: SendResult): Promise<void> {
    const gone = [...res.ok, ...res.rejected.map((r) => r.item.id)];
    if (gone.length === 0) return;
    await store.remove(gone);
    const goneSet = new Set<string>(gone);
    const spill = state.spill;
    for (let i = spill.length - 1; i >= 0; i--) if (goneSet.has(spill[i]!.id)) spill.splice(i, 1);
    mirror.forget(res.ok);
    tabs.post({ t: 'removed', ids: gone });
    for (const reason of ['rejected', 'too-large'] as const) {
      const rs = res.rejected.filter((r) => r.reason === reason);
      if (rs.length > 0) report.dropped(reason, rs.map((r) => r.item.id), rs[0]!.error);
    }
  }

  async function flushOnce(reason: FlushReason): Promise<FlushResult> {
    const store = state.storage ?? (await storageReady);
    await capture.written(); // items captured before this flush are part of it
    const empty = { sent: 0, stored: 0, duplicates: 0, merged: 0, rejected: 0, retried: 0 };
    if (state.destroyed) return { ...empty, remaining: state.queuedEvents, skipped: 'destroyed' };
    if (state.learnerErased) return { ...empty, remaining: state.queuedEvents, skipped: 'learner-erased' };
    if (!connectivity.isOnline()) return { ...empty, remaining: state.queuedEvents, skipped: 'offline' };
    if (retry.blocked()) return { ...empty, remaining: state.queuedEvents, skipped: 'backoff' };
    retry.cancel();
    if (state.spill.length > 0) {
      try {
        await capture.appendWithQuota(store, state.spill);
        state.spill.length = 0;
      } catch {
        // still failing: the spilled items are sent from memory below
      }
    }
    report.dropped('expired', await store.removeExpired(clock.now() - maxEventAgeMs));
    await report.refreshStats(store);
    const started = clock.now();
    const total = emptySendResult();
    let sent = 0;
    if (state.queuedEvents + state.spill.length > 0) {
      state.syncing = true;
      report.statusChanged();
      report.share('sync:start', { reason, queued: state.queuedEvents + state.spill.length });
    } else {
      retry.reset();
      state.lastSyncTime = clock.now();
      return { ...empty, remaining: 0 };
    }
    let failure: SendResult['failure'];
    try {
      while (!state.destroyed && connectivity.isOnline()) {
        const fromSpill = state.spill.slice(0, batchSize);
        const batch = fromSpill.length > 0 ? fromSpill : await store.peek(batchSize, maxBatchBytes - WIRE_OVERHEAD_PER_BATCH);
        if (batch.length === 0) break;
        const res = emptySendResult();
        await sendSplitting(batch, res);
        await settle(store, res);
        sent += batch.length;
        total.ok.push(...res.ok);
        total.rejected.push(...res.rejected);
        total.stored += res.stored;
        total.duplicates += res.duplicates;
        total.merged += res.merged;
        total.transient += res.transient;
        if (res.failure) {
          failure = res.failure;
          break;
        }
        if (res.ok.length + res.rejected.length === 0) {
          // The server kept every item of the batch for later: back off instead of spinning.
          failure = { kind: 'retry', error: 'the server asked to retry every item' };
          break;
        }
      }
    } finally {
      state.syncing = false;
    }
    await report.refreshStats(store);
    const result: FlushResult = {
      sent,
      stored: total.stored,
      duplicates: total.duplicates,
      merged: total.merged,
      rejected: total.rejected.length,
      retried: total.transient,
      remaining: state.queuedEvents + state.spill.length,
      ...(failure ? { error: failure.error } : {}),
    };
    // A round cut short by destroy() (its request aborted) is not a failure to report or retry.
    if (failure && !state.destroyed) {
      if (failure.kind === 'gone') stopForGood(failure);
      else retry.fail(failure);
    } else if (!failure && !state.destroyed && connectivity.isOnline()) {
      retry.reset();
      state.lastError = null;
      state.lastSyncTime = clock.now();
    }
    report.share('sync:complete', { ...result, reason, durationMs: clock.now() - started });
    report.statusChanged();
    return result;
  }

  /**
   * `flushOnce`, but a storage failure (database closed under us, disk gone) becomes a failed
   * round with a retry instead of a rejected promise: flushes are started from timers and events
   * with `void`, where a rejection would be unhandled (and fatal in Node).
   */
  async function safeFlushOnce(reason: FlushReason): Promise<FlushResult> {
    try {
      return await flushOnce(reason);
    } catch (err) {
      state.syncing = false;
      const error = `flush failed: ${err instanceof Error ? err.message : String(err)}`;
      if (!state.destroyed) retry.fail({ kind: 'retry', error });
      return { ...emptyResult(), remaining: state.queuedEvents + state.spill.length, error };
    }
  }

  function flushAs(reason: FlushReason): Promise<FlushResult> {
    if (!state.leader) {
      tabs.post({ t: 'flush' });
      return Promise.resolve({ sent: 0, stored: 0, duplicates: 0, merged: 0, rejected: 0, retried: 0, remaining: state.queuedEvents, skipped: 'not-leader' });
    }
    if (flushing) {
      if (acceptingJoins) {
        again = true;
        againReason = reason;
        return flushing;
      }
      // The running flush is past its last round (only its promise has yet to settle): a joiner
      // would get a result that never looked at its items. Run after it instead.
      return flushing.then(() => flushAs(reason));
    }
    flushing = (async () => {
      acceptingJoins = true;
      // A flush requested while one runs joins it and gets one more round: its caller sees the
      // counts of every round, so "flush() resolved" means "what was queued before it was sent".
      let result = await safeFlushOnce(reason);
      // A round skipped as offline is retried when the request to join came from going online.
      const worthAnother = (r: FlushResult): boolean => !r.error && (!r.skipped || (r.skipped === 'offline' && connectivity.isOnline()));
      while (again && !state.destroyed && worthAnother(result)) {
        again = false;
        const next = await safeFlushOnce(againReason ?? reason);
        againReason = null;
        result = {
          ...next,
          sent: result.sent + next.sent,
          stored: result.stored + next.stored,
          duplicates: result.duplicates + next.duplicates,
          merged: result.merged + next.merged,
          rejected: result.rejected + next.rejected,
          retried: result.retried + next.retried,
        };
      }
      acceptingJoins = false;
      again = false;
      againReason = null;
      return result;
    })().finally(() => {
      flushing = null;
    });
    return flushing;
  }

  /**
   * 410: the server will refuse this learner's token for every batch, so retrying would only
   * repeat the refusal. Sending stops; the queue is kept for the app to clear with the device.
   */
  function stopForGood(failure: Extract<SendOutcome, { kind: 'gone' }>): void {
    retry.cancel();
    state.learnerErased = true;
    state.lastError = failure.error;
    report.share('sync:error', { error: failure.error, status: failure.status, attempt: 0, retryInMs: null, learnerErased: true });
    report.statusChanged();
  }

  function maybeFlushOnThreshold(): void {
    const reason: FlushReason | null = state.queuedEvents >= batchSize ? 'batch-size' : state.queuedBytes >= maxBatchBytes ? 'batch-bytes' : null;
    if (!reason || state.destroyed) return;
    if (!state.leader) {
      tabs.post({ t: 'flush' });
      return;
    }
    if (state.nextRetryAt !== null || !connectivity.isOnline()) return;
    // While a round runs this joins it: the round may already be past its last look at the queue
    // (a start-up round that found it empty), and nothing else would send a full batch before the
    // interval.
    void flushAs(reason);
  }

  function onConnectivity(online: boolean): void {
    report.statusChanged();
    if (online && state.leader) {
      // Back online: what failed while offline deserves a fresh start.
      retry.reset();
      void flushAs('online');
    }
  }

  return {
    flushAs,
    maybeFlushOnThreshold,
    onConnectivity,
    settle,
    inFlight,
    running: () => flushing,
    stop() {
      requestAbort.abort();
      retry.stop();
    },
  };
}
