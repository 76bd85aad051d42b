import type { EventId } from '../../ids.js';
import type { ChannelPort } from '../../ports.js';
import type { FlushResult, TelemetryEvents, TelemetryStatus } from './api.js';

/** The sync events a leader shares with the other tabs of its scope. */
export type SharedEvent = 'sync:start' | 'sync:complete' | 'sync:error';

/** What the instances of one scope tell each other over their BroadcastChannel. */
export type ChannelMessage =
  | { readonly t: 'status'; readonly s: Pick<TelemetryStatus, 'queuedEvents' | 'queuedBytes' | 'lastSyncTime' | 'lastError' | 'syncing' | 'nextRetryAt' | 'learnerErased'> }
  /** A follower asks the leader to flush; with an id it wants the result back (`flushed`). */
  | { readonly t: 'flush'; readonly id?: string }
  | { readonly t: 'flushed'; readonly id: string; readonly result: FlushResult }
  /** The leader's sync events, re-emitted by followers so every tab can show sync activity. */
  | { readonly t: 'event'; readonly name: SharedEvent; readonly payload: TelemetryEvents[SharedEvent] }
  | { readonly t: 'hello' }
  | { readonly t: 'removed'; readonly ids: readonly EventId[] };

/** This instance's end of the channel between the tabs of its scope. */
export interface TabChannel {
  /** Starts listening on `port`; every message from another tab goes to `onMessage`, unchecked. */
  open(port: ChannelPort, onMessage: (data: unknown) => void): void;
  /** Sends to the other tabs; nothing happens before `open`. */
  post(msg: ChannelMessage): void;
  /** A channel was opened: without one there is no leader to ask. */
  isOpen(): boolean;
  close(): void;
}

export function createTabChannel(): TabChannel {
  let channel: ChannelPort | null = null;
  return {
    open(port, onMessage) {
      channel = port;
      channel.addEventListener('message', (ev) => onMessage(ev.data));
    },
    post(msg) {
      try {
        channel?.postMessage(msg);
      } catch {
        // A closed channel during teardown: status sharing is best effort.
      }
    },
    isOpen: () => channel !== null,
    close() {
      channel?.close();
    },
  };
}
