import { yjsEngine } from '@prepmate/crdt-model';
import { Emitter, type FlushResult, type SyncClient, type SyncClientEvents, type SyncClientOptions, type SyncStatus } from '@prepmate/sync-client';
import { describe, expect, it, vi } from 'vitest';
import { apiEndpoints } from '../src/config/api';
import { createSessionWith, deviceId } from '../src/sdk/browser-session';
import type { FlushRecord, PeerDevice } from '../src/sdk/port';

/** The part of y-protocols' Awareness the adapter uses, in memory. */
class FakeAwareness {
  readonly clientID = 1;
  readonly states = new Map<number, Record<string, unknown>>();
  readonly #listeners = new Set<() => void>();
  getStates(): Map<number, Record<string, unknown>> {
    return this.states;
  }
  setLocalStateField(field: string, value: unknown): void {
    this.states.set(this.clientID, { ...this.states.get(this.clientID), [field]: value });
    this.emit();
  }
  setLocalState(state: Record<string, unknown> | null): void {
    if (state) this.states.set(this.clientID, state);
    else this.states.delete(this.clientID);
    this.emit();
  }
  on(_event: 'change', listener: () => void): void {
    this.#listeners.add(listener);
  }
  off(_event: 'change', listener: () => void): void {
    this.#listeners.delete(listener);
  }
  emit(): void {
    for (const l of this.#listeners) l();
  }
}

const STATUS: SyncStatus = {
  online: true,
  connected: true,
  synced: true,
  unsavedChanges: 0,
  queuedEvents: 0,
  lastSyncTime: null,
  lastError: null,
  serverClose: null,
  // The adapter never reads the outbox's own status; left empty so SDK additions do not break this fake.
  telemetry: {} as SyncStatus['telemetry'],
};
const EMPTY_FLUSH: FlushResult = { sent: 0, stored: 0, duplicates: 0, merged: 0, rejected: 0, retried: 0, remaining: 0 };

function fakeClient() {
  const awareness = new FakeAwareness();
  const emitter = new Emitter<SyncClientEvents>();
  const closeListeners = new Set<(event: { code: number } | null) => void>();
  const provider = {
    awareness,
    on: (_event: 'connection-close', l: (event: { code: number } | null) => void) => closeListeners.add(l),
    off: (_event: 'connection-close', l: (event: { code: number } | null) => void) => closeListeners.delete(l),
    /** The server closed the document's socket with `code`. */
    close: (code: number) => {
      for (const l of [...closeListeners]) l({ code });
    },
  };
  const captured: { type: string; data: unknown }[] = [];
  let options: SyncClientOptions | null = null;
  const client = {
    document: yjsEngine.create(),
    provider,
    ready: Promise.resolve(),
    status: () => STATUS,
    on: <K extends keyof SyncClientEvents>(e: K, l: (p: SyncClientEvents[K]) => void) => emitter.on(e, l),
    captureEvent: async (type: string, data: unknown) => {
      captured.push({ type, data });
      return 'evt_1';
    },
    flush: vi.fn(async (): Promise<FlushResult> => EMPTY_FLUSH),
    destroy: vi.fn(async () => undefined),
  };
  const create = (o: SyncClientOptions): SyncClient => {
    options = o;
    // Only the members the adapter touches exist; the rest of SyncClient is not under test.
    return client as unknown as SyncClient;
  };
  return { create, client, awareness, emitter, provider, captured, options: () => options };
}

describe('browser session (the SDK adapter)', () => {
  it('when created, then the SDK gets this origin, the ws URL and the token source', async () => {
    const f = fakeClient();
    const getToken = vi.fn(async () => 't');
    const s = createSessionWith(f.create, { userId: 'ada', getToken });
    await s.whenLoaded;
    const o = f.options()!;
    expect(o.userId).toBe('ada');
    expect(o.apiBaseUrl).toBe(window.location.origin);
    expect(o.wsUrl).toBe(`${window.location.origin.replace(/^http/, 'ws')}/sync`);
    expect(o.getToken).toBe(getToken);
    expect(s.status()).toEqual({ online: true, connected: true, synced: true, unsavedChanges: 0, queuedEvents: 0, lastSyncTime: null, lastError: null });
  });

  it('when the API is on another origin (VITE_API_URL), then the SDK gets that origin and its wss URL', async () => {
    const f = fakeClient();
    const s = createSessionWith(f.create, { userId: 'ada', getToken: async () => 't' }, apiEndpoints('https://api.prepmate.example/', 'http://app.local'));
    await s.whenLoaded;
    expect(f.options()).toMatchObject({ apiBaseUrl: 'https://api.prepmate.example', wsUrl: 'wss://api.prepmate.example/sync' });
    await s.destroy();
  });

  it('when other devices and tabs publish presence, then they are listed, and this device announces its screen', async () => {
    const f = fakeClient();
    const s = createSessionWith(f.create, { userId: 'ada', getToken: async () => 't' });
    await s.whenLoaded;
    const own = f.awareness.states.get(1)!['device'] as { label: string; screen: string };
    expect(own.screen).toBe('dashboard');
    const seen: (readonly PeerDevice[])[] = [];
    s.onPeers((p) => seen.push(p));
    f.awareness.states.set(7, { device: { label: 'Firefox on Android · QX1Z', screen: 'topic' } });
    f.awareness.states.set(9, { device: { label: own.label, screen: 'sync' } });
    f.awareness.states.set(11, { cursor: 'not ours' });
    f.awareness.emit();
    expect(seen.at(-1)).toEqual([
      { clientId: 7, label: 'Firefox on Android · QX1Z', screen: 'topic' },
      { clientId: 9, label: `${own.label} (another tab)`, screen: 'sync' },
    ]);
    s.setPresence('log');
    expect((f.awareness.states.get(1)!['device'] as { screen: string }).screen).toBe('log');
    await s.destroy();
    expect(f.awareness.states.has(1)).toBe(false);
    expect(f.client.destroy).toHaveBeenCalled();
  });

  it('when flushes happen, then each is reported once: SDK flushes from events, empty manual ones from the call', async () => {
    const f = fakeClient();
    const s = createSessionWith(f.create, { userId: 'ada', getToken: async () => 't' });
    const records: FlushRecord[] = [];
    s.onFlush((r) => records.push(r));
    f.emitter.emit('sync:complete', { ...EMPTY_FLUSH, sent: 3, stored: 2, merged: 1, reason: 'interval', durationMs: 5 });
    f.emitter.emit('sync:complete', { ...EMPTY_FLUSH, sent: 2, remaining: 2, error: 'HTTP 503', reason: 'retry', durationMs: 5 });
    await s.flush();
    f.client.flush.mockResolvedValueOnce({ ...EMPTY_FLUSH, sent: 1, stored: 1 });
    await s.flush();
    expect(records.map((r) => [r.reason, r.ok, r.sent, r.stored, r.error])).toEqual([
      ['interval', true, 3, 3, undefined],
      ['retry', false, 2, 0, 'HTTP 503'],
      ['manual', true, 0, 0, undefined],
    ]);
  });

  it('when an event is captured, then it goes to the SDK outbox as is', async () => {
    const f = fakeClient();
    const s = createSessionWith(f.create, { userId: 'ada', getToken: async () => 't' });
    await s.captureEvent('screen_viewed', { screen: 'sync' });
    expect(f.captured).toEqual([{ type: 'screen_viewed', data: { screen: 'sync' } }]);
  });

  it('when the server closes the document as erased, then the app is told once; other closes are not erasure', async () => {
    const f = fakeClient();
    const s = createSessionWith(f.create, { userId: 'ada', getToken: async () => 't' });
    await s.whenLoaded;
    const erased = vi.fn();
    s.onErased(erased);
    f.provider.close(1006);
    f.provider.close(4401);
    expect(erased).not.toHaveBeenCalled();
    f.provider.close(4410);
    f.provider.close(4410);
    expect(erased).toHaveBeenCalledTimes(1);
  });

  it('when the session is forgotten, then the SDK is destroyed and its unload copies are removed from localStorage', async () => {
    localStorage.clear();
    localStorage.setItem('prepmate-doc-rescue:ada:k1', '[]');
    localStorage.setItem('prepmate-outbox-rescue:ada:k2', '[]');
    localStorage.setItem('prepmate-doc-rescue:grace:k3', '[]');
    const f = fakeClient();
    const s = createSessionWith(f.create, { userId: 'ada', getToken: async () => 't' });
    await s.whenLoaded;
    await s.forget();
    expect(f.client.destroy).toHaveBeenCalledTimes(1);
    expect(Object.keys(localStorage).filter((k) => k.includes('rescue'))).toEqual(['prepmate-doc-rescue:grace:k3']);
  });
});

describe('device id', () => {
  it('when asked twice on one device, then the same id is returned; a missing or tampered one is replaced', () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    const first = deviceId(storage);
    expect(first).toMatch(/^[a-z0-9]{12}$/);
    expect(deviceId(storage)).toBe(first);
    store.set('prepmate.device-id.v1', 'not valid!');
    const replaced = deviceId(storage);
    expect(replaced).not.toBe('not valid!');
    expect(replaced).toMatch(/^[a-z0-9]{12}$/);
    expect(deviceId(null)).not.toBe(deviceId(null));
  });
});
