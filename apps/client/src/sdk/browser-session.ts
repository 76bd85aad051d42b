/**
 * The real {@link LearnerSession}: `createSyncClient` of `@prepmate/sync-client`, plus the two
 * things the app adds on top of it: presence of this device through Yjs awareness, and the
 * flush history of the sync panel.
 */
import { browserRescueStore, createSyncClient, forgetLocalData, readBrowserStoredView, type FlushResult, type SyncClient, type SyncClientOptions, type SyncStatus } from '@prepmate/sync-client';
import { currentApiEndpoints, type ApiEndpoints } from '../config/api';
import type { FlushRecord, LearnerSession, PeerDevice, SessionConfig, SessionStatus, StoredViewReader } from './port';

/** What this app publishes in the awareness state of its document. */
interface DevicePresence {
  readonly label: string;
  readonly screen: string;
}

const DEVICE_KEY = 'prepmate.device.v1';
const DEVICE_ID_KEY = 'prepmate.device-id.v1';
/** The server's close code for an erased document (docs/PROTOCOL.md, `DOCUMENT_DELETED`). */
const CLOSE_DOCUMENT_DELETED = 4410;

/** "Chrome on Linux" from the user agent; enough to tell one's own devices apart. */
export function describeUserAgent(ua: string): string {
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : 'an unknown system';
  return `${browser} on ${os}`;
}

/** A stable per-browser label with a short random tag, so two identical browsers differ. */
function deviceLabel(): string {
  let tag: string | null = null;
  try {
    tag = localStorage.getItem(DEVICE_KEY);
    if (!tag) {
      tag = Math.random().toString(36).slice(2, 6).toUpperCase();
      localStorage.setItem(DEVICE_KEY, tag);
    }
  } catch {
    tag = null;
  }
  const base = describeUserAgent(navigator.userAgent);
  return tag ? `${base} · ${tag}` : base;
}

/**
 * A stable id of this browser profile for the document's edit stamps: it tells which losing
 * values of concurrent edits were made here ("Restore mine"). Not personal data; it is not
 * tied to the learner. Without storage, a random id per session.
 */
export function deviceId(storage: Pick<Storage, 'getItem' | 'setItem'> | null = safeLocalStorage()): string {
  const fresh = (): string => Array.from(globalThis.crypto.getRandomValues(new Uint8Array(12)), (b) => (b % 36).toString(36)).join('');
  if (!storage) return fresh();
  try {
    let id = storage.getItem(DEVICE_ID_KEY);
    if (!id || !/^[a-z0-9]{12}$/.test(id)) {
      id = fresh();
      storage.setItem(DEVICE_ID_KEY, id);
    }
    return id;
  } catch {
    return fresh();
  }
}

function safeLocalStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

function toSessionStatus(s: SyncStatus): SessionStatus {
  return {
    online: s.online,
    connected: s.connected,
    synced: s.synced,
    unsavedChanges: s.unsavedChanges,
    queuedEvents: s.queuedEvents,
    lastSyncTime: s.lastSyncTime,
    lastError: s.lastError,
    ...(s.serverClose ? { serverClose: { reason: s.serverClose.reason, retryAt: s.serverClose.retryAt } } : {}),
  };
}

function toRecord(r: FlushResult, at: number, reason?: string): FlushRecord {
  return {
    at,
    ok: r.error === undefined,
    sent: r.sent,
    stored: r.stored + r.merged,
    duplicates: r.duplicates,
    rejected: r.rejected,
    remaining: r.remaining,
    ...(reason !== undefined ? { reason } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
    ...(r.skipped !== undefined ? { skipped: r.skipped } : {}),
  };
}

function isPresence(value: unknown): value is DevicePresence {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.label === 'string' && typeof v.screen === 'string';
}

/** The view a session of this browser kept for the learner's stored document (`saveView`), while it still is what is stored. */
export const readBrowserView: StoredViewReader = (userId) => readBrowserStoredView(userId);

/** Creates the session of a signed-in learner on this build's server (`VITE_API_URL` or the page's origin). */
export function createBrowserSession(config: SessionConfig): LearnerSession {
  return createSessionWith(createSyncClient, config);
}

/** {@link createBrowserSession} over any `createSyncClient` (tests pass a fake client). */
export function createSessionWith(
  create: (options: SyncClientOptions) => SyncClient,
  config: SessionConfig,
  endpoints: ApiEndpoints = currentApiEndpoints(),
): LearnerSession {
  const client: SyncClient = create({
    apiBaseUrl: endpoints.apiBaseUrl,
    wsUrl: endpoints.wsUrl,
    userId: config.userId,
    getToken: config.getToken,
    deviceId: deviceId(),
  });
  const label = deviceLabel();
  let screen = 'dashboard';
  const peerListeners = new Set<(peers: readonly PeerDevice[]) => void>();
  const flushListeners = new Set<(record: FlushRecord) => void>();
  const erasedListeners = new Set<() => void>();
  let erased = false;
  const cleanups: (() => void)[] = [];
  let destroyed = false;

  const peers = (): PeerDevice[] => {
    const awareness = client.provider?.awareness;
    if (!awareness) return [];
    const out: PeerDevice[] = [];
    awareness.getStates().forEach((state, clientId) => {
      const device: unknown = state['device'];
      if (clientId === awareness.clientID || !isPresence(device)) return;
      // Same browser profile, other tab: the label is ours; say what it is.
      out.push({ clientId, label: device.label === label ? `${label} (another tab)` : device.label, screen: device.screen });
    });
    return out.sort((a, b) => a.clientId - b.clientId);
  };
  const publishPeers = (): void => {
    const list = peers();
    for (const l of peerListeners) l(list);
  };

  cleanups.push(
    client.on('sync:complete', (e) => {
      const record = toRecord(e, Date.now(), e.reason);
      for (const l of flushListeners) l(record);
    }),
  );

  const whenLoaded = client.ready.then(() => {
    const awareness = client.provider?.awareness;
    // Signed out before the document finished loading: nothing to announce.
    if (!awareness || destroyed) return;
    awareness.setLocalStateField('device', { label, screen } satisfies DevicePresence);
    awareness.on('change', publishPeers);
    cleanups.push(() => awareness.off('change', publishPeers));
    // Awareness of other devices is dropped when the socket closes; refresh the list then too.
    cleanups.push(client.on('status', publishPeers));
    publishPeers();
    const provider = client.provider;
    if (provider) {
      const onClose = (event: CloseEvent | null): void => {
        if (event?.code !== CLOSE_DOCUMENT_DELETED || erased) return;
        erased = true;
        for (const l of [...erasedListeners]) l();
      };
      provider.on('connection-close', onClose);
      cleanups.push(() => provider.off('connection-close', onClose));
    }
  });

  return {
    userId: config.userId,
    document: client.document,
    whenLoaded,
    status: () => toSessionStatus(client.status()),
    onStatus: (listener) => client.on('status', (s) => listener(toSessionStatus(s))),
    onFlush(listener) {
      flushListeners.add(listener);
      return () => flushListeners.delete(listener);
    },
    peers,
    onPeers(listener) {
      peerListeners.add(listener);
      return () => peerListeners.delete(listener);
    },
    setPresence(next) {
      screen = next;
      client.provider?.awareness.setLocalStateField('device', { label, screen } satisfies DevicePresence);
    },
    async captureEvent(eventType, eventData) {
      await client.captureEvent(eventType, eventData);
    },
    async flush() {
      const result = await client.flush();
      const record = toRecord(result, Date.now(), 'manual');
      // A flush that sent something was already reported by `sync:complete`; one that had nothing
      // to send (or was skipped) emits no event, but the learner who pressed the button should see it.
      if (result.sent === 0) for (const l of flushListeners) l(record);
      return record;
    },
    saveView: (view) => client.saveStoredView(view),
    onErased(listener) {
      erasedListeners.add(listener);
      return () => erasedListeners.delete(listener);
    },
    destroy,
    async forget() {
      await destroy();
      await forgetLocalData({ userId: config.userId, indexedDB: globalThis.indexedDB ?? null, rescue: browserRescueStore() });
    },
  };

  async function destroy(): Promise<void> {
    if (destroyed) return;
    destroyed = true;
    for (const off of cleanups.splice(0)) off();
    peerListeners.clear();
    flushListeners.clear();
    erasedListeners.clear();
    client.provider?.awareness.setLocalState(null);
    await client.destroy();
  }
}
