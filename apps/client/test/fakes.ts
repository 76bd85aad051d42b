/**
 * A fake SDK session over a real `LearnerDocument`: the stores and screens are tested against the
 * real model (so validation and merging are real) while status, peers and telemetry are driven
 * by the test.
 */
import { yjsEngine, type LearnerDocument } from '@prepmate/crdt-model';
import { mount, type VueWrapper } from '@vue/test-utils';
import { createPinia, type Pinia } from 'pinia';
import { createApp, defineComponent, h, type Component, type DefineComponent } from 'vue';
import { createHashRouter, type Router } from '../src/router';
import { sessionFactoryKey, storedViewReaderKey, type StoredViewReader, type FlushRecord, type JsonObject, type LearnerSession, type PeerDevice, type SessionConfig, type SessionStatus } from '../src/sdk/port';
import { SESSION_STORAGE_KEY } from '../src/stores/auth';

export interface FakeSession extends LearnerSession {
  readonly config: SessionConfig;
  readonly events: { eventType: string; eventData: JsonObject }[];
  /** Views the app asked to keep, in order. */
  readonly savedViews: unknown[];
  destroyed: boolean;
  /** `forget()` ran: the device's copy is gone. */
  forgotten: boolean;
  presence: string | null;
  /** The server reported the learner's data erased. */
  emitErased(): void;
  setStatus(patch: Partial<SessionStatus>): void;
  setPeers(peers: PeerDevice[]): void;
  emitFlush(record: FlushRecord): void;
}

export const ONLINE: SessionStatus = {
  online: true,
  connected: true,
  synced: true,
  unsavedChanges: 0,
  queuedEvents: 0,
  lastSyncTime: null,
  lastError: null,
};

/** `whenLoaded`: when the fake's local store has loaded (default: at once). */
export function createFakeSession(config: SessionConfig, document: LearnerDocument = yjsEngine.create(), whenLoaded: Promise<void> = Promise.resolve()): FakeSession {
  let status = ONLINE;
  let peers: PeerDevice[] = [];
  const statusListeners = new Set<(s: SessionStatus) => void>();
  const peerListeners = new Set<(p: readonly PeerDevice[]) => void>();
  const flushListeners = new Set<(r: FlushRecord) => void>();
  const erasedListeners = new Set<() => void>();
  const fake: FakeSession = {
    config,
    userId: config.userId,
    document,
    whenLoaded,
    events: [],
    savedViews: [],
    destroyed: false,
    forgotten: false,
    presence: null,
    status: () => status,
    onStatus(l) {
      statusListeners.add(l);
      return () => statusListeners.delete(l);
    },
    onFlush(l) {
      flushListeners.add(l);
      return () => flushListeners.delete(l);
    },
    peers: () => peers,
    onPeers(l) {
      peerListeners.add(l);
      return () => peerListeners.delete(l);
    },
    setPresence(screen) {
      fake.presence = screen;
    },
    async captureEvent(eventType, eventData = {}) {
      fake.events.push({ eventType, eventData });
    },
    async flush() {
      const record: FlushRecord = { at: Date.now(), ok: true, reason: 'manual', sent: fake.events.length, stored: fake.events.length, duplicates: 0, rejected: 0, remaining: 0 };
      fake.emitFlush(record);
      return record;
    },
    async saveView(view) {
      fake.savedViews.push(view);
      return true;
    },
    onErased(l) {
      erasedListeners.add(l);
      return () => erasedListeners.delete(l);
    },
    async destroy() {
      fake.destroyed = true;
    },
    async forget() {
      fake.destroyed = true;
      fake.forgotten = true;
    },
    emitErased() {
      for (const l of [...erasedListeners]) l();
    },
    setStatus(patch) {
      status = { ...status, ...patch };
      for (const l of statusListeners) l(status);
    },
    setPeers(next) {
      peers = next;
      for (const l of peerListeners) l(next);
    },
    emitFlush(record) {
      for (const l of flushListeners) l(record);
    },
  };
  return fake;
}

/** A factory that remembers every session it made. */
/** `whenLoaded`: called per session for when its local store has loaded (default: at once). */
export function fakeFactory(whenLoaded?: () => Promise<void>): { factory: (c: SessionConfig) => FakeSession; sessions: FakeSession[] } {
  const sessions: FakeSession[] = [];
  return {
    sessions,
    factory: (c) => {
      const s = createFakeSession(c, undefined, whenLoaded?.());
      sessions.push(s);
      return s;
    },
  };
}

/** A syntactically valid, unsigned JWT for `sub` (the client never verifies signatures). */
export function fakeJwt(sub: string, exp = Math.floor(Date.now() / 1000) + 3600): string {
  const b64 = (o: object): string => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, exp })}.c2lnbmF0dXJl`;
}

/** Signs `userId` in before the stores are created (as a reload with a stored session would); returns the stored token. */
export function storeSignedIn(userId: string): string {
  const token = fakeJwt(userId);
  localStorage.setItem(SESSION_STORAGE_KEY, JSON.stringify({ userId, token, mode: 'dev' }));
  return token;
}

export interface Harness {
  readonly pinia: Pinia;
  readonly router: Router;
  readonly sessions: FakeSession[];
  /** Mounts `component` with the app's plugins and the fake factory. */
  mount(component: Component, props?: Record<string, unknown>): VueWrapper;
  /** Runs `fn` inside the app context (stores that inject the factory need one). */
  run<T>(fn: () => T): T;
}

/** Pinia + router + fake SDK, as main.ts wires the real ones. */
/**
 * `readStoredView`: what the app reads as the view the last page kept (default: no reader, as in
 * tests before views). `whenLoaded`: when each session's local store has loaded (default: at once).
 */
export function createHarness(options: { readStoredView?: StoredViewReader; whenLoaded?: () => Promise<void> } = {}): Harness {
  const { factory, sessions } = fakeFactory(options.whenLoaded);
  const pinia = createPinia();
  const router = createHashRouter(window);
  const provided: Record<symbol, unknown> = { [sessionFactoryKey as symbol]: factory };
  if (options.readStoredView) provided[storedViewReaderKey as symbol] = options.readStoredView;
  // A host app gives the stores an injection context even when no component is mounted.
  const host = createApp(defineComponent({ render: () => h('div') }));
  host.provide(sessionFactoryKey, factory).use(pinia).use(router);
  if (options.readStoredView) host.provide(storedViewReaderKey, options.readStoredView);
  return {
    pinia,
    router,
    sessions,
    mount(component, props) {
      // Screens take different props; the harness is deliberately untyped about which.
      return mount(component as DefineComponent, {
        props: props as never,
        attachTo: document.body,
        global: { plugins: [pinia, router], provide: provided },
      });
    },
    run: (fn) => host.runWithContext(fn),
  };
}
