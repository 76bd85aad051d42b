import type { Emitter } from '../../emitter.js';
import type { EventId } from '../../ids.js';
import type { Clock } from '../../ports.js';
import type { FlushResult, TelemetryEvents, TelemetryOptions } from './api.js';
import { emptyResult } from './batch-results.js';
import type { Sender } from './sender.js';
import type { TelemetryState } from './state.js';
import type { StatusReporter } from './status.js';
import type { ChannelMessage, TabChannel } from './tab-channel.js';
import type { UnsentMirror } from './unsent-mirror.js';

export interface LeadershipDeps {
  readonly state: TelemetryState;
  readonly clock: Clock;
  /** Names the Web Lock and the BroadcastChannel. */
  readonly scope: string;
  readonly options: Pick<TelemetryOptions, 'locks' | 'channel' | 'followerFlushTimeoutMs'>;
  readonly syncIntervalMs: number;
  /** Makes the ids of delegated flushes. */
  readonly nextId: () => EventId;
  readonly emitter: Emitter<TelemetryEvents>;
  readonly tabs: TabChannel;
  readonly mirror: UnsentMirror;
  readonly report: Pick<StatusReporter, 'statusChanged'>;
  readonly sender: Pick<Sender, 'flushAs'>;
}

/**
 * One sending instance per origin and scope: elected with a Web Lock, the others follow through
 * the BroadcastChannel (status, sync events, flush requests and their results).
 */
export interface Leadership {
  /** Opens the channel to the other tabs, then runs for leader (leads at once without locks). */
  start(): void;
  /** A follower's `flush()`: the leader sends; waits for its answer, for at most `followerFlushTimeoutMs`. */
  delegateFlush(): Promise<FlushResult>;
  /** Withdraws from the election, stops the interval, answers waiting follower flushes. */
  stop(): void;
  /** Steps down (the next instance in line takes over) and closes the channel. */
  release(): void;
}

export function createLeadership(deps: LeadershipDeps): Leadership {
  const { state, clock, scope, options, syncIntervalMs, nextId, emitter, tabs, mirror, report, sender } = deps;
  let releaseLeadership: (() => void) | null = null;
  const lockAbort = new AbortController();
  let intervalTimer: unknown = null;
  /** Manual flushes of this follower waiting for the leader's answer. */
  const delegated = new Map<string, (result: FlushResult) => void>();

  function becomeLeader(): void {
    if (state.destroyed) return;
    state.leader = true;
    report.statusChanged();
    const tick = (): void => {
      intervalTimer = clock.setTimeout(() => {
        if (!state.destroyed && state.leader && state.nextRetryAt === null) void sender.flushAs('interval');
        if (!state.destroyed) tick();
      }, syncIntervalMs);
    };
    tick();
    void sender.flushAs('startup');
  }

  function onChannelMessage(data: unknown): void {
    if (state.destroyed || typeof data !== 'object' || data === null) return;
    const msg = data as ChannelMessage;
    if (msg.t === 'flush' && state.leader) {
      const id = msg.id;
      if (typeof id === 'string') {
        // A user pressed "sync now" in another tab: treat it like a manual flush here.
        void sender.flushAs('follower').then((result) => tabs.post({ t: 'flushed', id, result }));
      } else if (state.nextRetryAt === null) void sender.flushAs('follower');
    } else if (msg.t === 'flushed' && typeof msg.id === 'string') {
      delegated.get(msg.id)?.(msg.result);
    } else if (msg.t === 'event' && !state.leader && (msg.name === 'sync:start' || msg.name === 'sync:complete' || msg.name === 'sync:error')) {
      emitter.emit(msg.name, msg.payload as never);
    } else if (msg.t === 'hello' && state.leader) {
      report.statusChanged();
    } else if (msg.t === 'removed' && Array.isArray(msg.ids)) {
      mirror.forget(msg.ids);
    } else if (msg.t === 'status' && !state.leader && typeof msg.s === 'object' && msg.s !== null) {
      ({
        queuedEvents: state.queuedEvents,
        queuedBytes: state.queuedBytes,
        lastSyncTime: state.lastSyncTime,
        lastError: state.lastError,
        syncing: state.syncing,
        nextRetryAt: state.nextRetryAt,
      } = msg.s);
      // Sticky: a tab that becomes the sender later must not try the erased learner again.
      if (msg.s.learnerErased === true) state.learnerErased = true;
      report.statusChanged();
    }
  }

  return {
    start() {
      if (options.channel) {
        tabs.open(options.channel(`prepmate-outbox:${scope}`), onChannelMessage);
        tabs.post({ t: 'hello' });
      }
      if (!options.locks) {
        becomeLeader();
        return;
      }
      // Held until destroy(): queued behind the current leader, granted when it goes away.
      void options.locks
        .request(`prepmate-outbox:${scope}`, { signal: lockAbort.signal }, () =>
          new Promise<void>((release) => {
            releaseLeadership = release;
            becomeLeader();
          }),
        )
        .catch(() => undefined);
    },
    delegateFlush() {
      const id = nextId();
      return new Promise<FlushResult>((resolve) => {
        const timer = clock.setTimeout(() => finish({ ...emptyResult(), remaining: state.queuedEvents, skipped: 'not-leader' }), options.followerFlushTimeoutMs ?? 30_000);
        const finish = (result: FlushResult): void => {
          clock.clearTimeout(timer);
          delegated.delete(id);
          resolve(result);
        };
        delegated.set(id, finish);
        tabs.post({ t: 'flush', id });
      });
    },
    stop() {
      lockAbort.abort();
      for (const finish of [...delegated.values()]) finish({ ...emptyResult(), remaining: state.queuedEvents, skipped: 'destroyed' });
      if (intervalTimer !== null) clock.clearTimeout(intervalTimer);
    },
    release() {
      state.leader = false;
      releaseLeadership?.();
      tabs.close();
    },
  };
}
