import { Emitter } from '../emitter.js';
import { createIdGenerator } from '../ids.js';
import { alwaysOnline, noLifecycle, systemClock } from '../ports.js';
import { createMemoryOutboxStorage } from './memory-storage.js';
import type { OutboxStorage } from './storage.js';
import type { FlushResult, Telemetry, TelemetryEvents, TelemetryOptions } from './telemetry/api.js';
import { createCapture } from './telemetry/capture.js';
import { drainOutbox } from './telemetry/drain.js';
import { createLeadership } from './telemetry/leadership.js';
import { createRescue, type Rescue } from './telemetry/rescue.js';
import { createSender } from './telemetry/sender.js';
import { createTelemetryState } from './telemetry/state.js';
import { createStatusReporter } from './telemetry/status.js';
import { createTabChannel } from './telemetry/tab-channel.js';
import { createUnloadFlush } from './telemetry/unload.js';
import { createUnsentMirror } from './telemetry/unsent-mirror.js';
import type { OutboxLimits } from './types.js';
import { MAX_USER_AGENT_LENGTH, validateBatchItem } from './validate.js';

export type { FlushReason, FlushResult, Telemetry, TelemetryEvents, TelemetryOptions, TelemetryStatus } from './telemetry/api.js';
export { DrainTimeoutError, LearnerErasedError, type DrainOptions, type DrainResult } from './telemetry/drain.js';

/**
 * Creates the telemetry outbox: capture writes to storage at once; one leader per scope sends
 * batches; per-item results decide delete / retry / reject; failures back off with full jitter.
 *
 * This function applies the defaults, opens storage and wires the parts in `telemetry/`
 * (capture, sender, unload, leadership, status), which share one `TelemetryState`; it also owns
 * the order of teardown in `destroy()`.
 */
export function createTelemetry(options: TelemetryOptions): Telemetry {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const batchSize = options.batchSize ?? 50;
  const maxBatchBytes = options.maxBatchBytes ?? 64 * 1024;
  const keepaliveChunkBytes = options.keepaliveChunkBytes ?? 60 * 1024 - 1;
  const syncIntervalMs = options.syncIntervalMs ?? 30_000;
  const limits: OutboxLimits = { maxItems: options.maxQueueSize ?? 10_000, maxBytes: options.maxQueueBytes ?? 10 * 1024 * 1024 };
  const maxEventAgeMs = options.maxEventAgeMs ?? 7 * 24 * 3600 * 1000;
  const maxItemBytes = options.maxItemBytes ?? 40 * 1024;
  const connectivity = options.connectivity ?? alwaysOnline;
  const lifecycle = options.lifecycle ?? noLifecycle;
  const scope = options.scope ?? 'default';
  const nextId = options.idGenerator ?? createIdGenerator(() => clock.now());
  const userAgent = (options.userAgent ?? (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent)?.slice(0, MAX_USER_AGENT_LENGTH);
  const validate = options.validate === undefined ? validateBatchItem : options.validate;
  const transport = options.transport;
  const emitter = new Emitter<TelemetryEvents>();
  const state = createTelemetryState();
  const unsubscribers: (() => void)[] = [];

  const storageReady: Promise<OutboxStorage> = Promise.resolve(options.storage).then(
    (s) => {
      state.storage = s;
      return s;
    },
    (err: unknown) => {
      // Storage could not be opened (private mode, a locked journal…): keep working in memory
      // rather than lose captures, and say so in the status.
      state.lastError = `outbox storage unavailable, events are kept in memory only: ${err instanceof Error ? err.message : String(err)}`;
      state.storage = createMemoryOutboxStorage();
      return state.storage;
    },
  );

  const tabs = createTabChannel();
  const mirror = createUnsentMirror();
  const report = createStatusReporter({ state, connectivity, emitter, tabs, mirror });
  const capture = createCapture({
    state,
    storageReady,
    clock,
    nextId,
    userAgent,
    validate,
    maxItemBytes,
    limits,
    mirror,
    report,
    // `sender` and `rescue` are created just below; captures can only reach this after createTelemetry returned.
    onWritten: () => {
      rescue?.clearIfWritten();
      sender.maybeFlushOnThreshold();
    },
  });
  const rescue: Rescue | null = options.rescue
    ? createRescue({ store: options.rescue, scope, instanceId: nextId(), unwritten: () => [...capture.unwritten(), ...state.spill] })
    : null;
  // From the start, not from `ready`: captures made while storage opens are the most exposed.
  if (rescue) {
    unsubscribers.push(
      lifecycle.subscribe(() => {
        if (!state.destroyed) rescue.save();
      }),
    );
  }
  const sender = createSender({ state, storageReady, transport, clock, random, connectivity, options, batchSize, maxBatchBytes, maxEventAgeMs, capture, mirror, tabs, report });
  const onLifecycle = createUnloadFlush({ state, transport, batchSize, keepaliveChunkBytes, mirror, sender, report });
  const leadership = createLeadership({ state, clock, scope, options, syncIntervalMs, nextId, emitter, tabs, mirror, report, sender });

  const ready = (async () => {
    const store = await storageReady;
    if (rescue) {
      // What earlier pages of this user could not write before they went away.
      const left = rescue.pending();
      try {
        if (left.items.length > 0) await capture.appendWithQuota(store, left.items);
        left.done();
      } catch (err) {
        // Kept in the rescue store for the next start.
        state.lastError = `outbox storage failed: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    await report.refreshStats(store);
    if (state.destroyed) return;
    unsubscribers.push(connectivity.subscribe(sender.onConnectivity), lifecycle.subscribe(onLifecycle));
    leadership.start();
  })();

  ready.catch((err: unknown) => {
    // Storage could not be opened: captures still work (held in memory, see drain) and the
    // status says why. Callers awaiting `ready` see the error themselves.
    state.lastError = `outbox storage failed: ${err instanceof Error ? err.message : String(err)}`;
    report.statusChanged();
  });

  async function flush(): Promise<FlushResult> {
    await ready;
    await capture.written();
    if (state.leader || !tabs.isOpen() || state.destroyed) return sender.flushAs('manual');
    // A follower: the leader sends.
    return leadership.delegateFlush();
  }
  const on: Telemetry['on'] = (event, listener) => emitter.on(event, listener);

  return {
    captureEvent: capture.captureEvent,
    captureItem: capture.captureItem,
    flush,
    drain: (drainOptions) => drainOutbox({ flush, status: report.status, on }, drainOptions),
    status: report.status,
    on,
    ready,
    async destroy(): Promise<void> {
      if (state.destroyed) return;
      await ready.catch(() => undefined);
      await capture.written().catch(() => undefined);
      state.destroyed = true;
      sender.stop();
      leadership.stop();
      for (const u of unsubscribers.splice(0)) u();
      // Requests were aborted above; a custom fetch that ignores the signal must not hold
      // destroy() forever (its items stay queued either way).
      const flushing = sender.running();
      if (flushing) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([flushing.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, 5_000)))]);
        clearTimeout(timer);
      }
      leadership.release();
      emitter.clear();
      await state.storage?.close();
    },
  };
}
