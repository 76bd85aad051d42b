/**
 * The SDK session of the signed-in learner and what the sync panel shows about it. This store is
 * the one composition point: it opens a session (through the injected factory) when a learner
 * signs in and destroys it on sign-out; everything else reaches the SDK through it.
 */
import { defineStore } from 'pinia';
import { computed, inject, ref, shallowRef, watch } from 'vue';
import { sessionFactoryKey, storedViewReaderKey, type FlushRecord, type JsonObject, type LearnerSession, type PeerDevice, type SessionStatus } from '../sdk/port';
import { useAuthStore } from './auth';

/** Longest the app waits for local data before showing screens anyway, ms. */
export const LOAD_GATE_MS = 3_000;
/**
 * The same gate while a kept dashboard stands in, ms. That view is true for the stored document,
 * so giving up on the load after 3 s would replace true numbers with an empty document's
 * ("0 topics") on a slow device; it waits for the load much longer and only then shows the app
 * anyway.
 */
export const KEPT_VIEW_LOAD_GATE_MS = 30_000;
/**
 * Longest the session waits for the stored view to be read, ms. The read is one small IndexedDB
 * transaction, but an open IndexedDB can stay unanswered (a deletion queued behind another tab, a
 * browser that never answers): the session, which also syncs with the server, must not wait on it.
 */
export const STORED_VIEW_WAIT_MS = 1_000;

/** Shown on the sign-in screen when the server said the learner's data was erased. */
export const ERASED_MESSAGE = 'This account was deleted, so its practice has been removed from this device too.';

/** How many flush results the sync panel keeps. */
export const FLUSH_HISTORY = 8;

/** The status before any session exists: nothing connected, nothing pending. */
export const IDLE_STATUS: SessionStatus = Object.freeze({
  online: globalThis.navigator?.onLine ?? true,
  connected: false,
  synced: false,
  unsavedChanges: 0,
  queuedEvents: 0,
  lastSyncTime: null,
  lastError: null,
});

export const useSyncStore = defineStore('sync', () => {
  const factory = inject(sessionFactoryKey, null);
  const readStoredView = inject(storedViewReaderKey, null);
  const auth = useAuthStore();

  /** Not deep-reactive: the session is a live SDK object, only its snapshots are state. */
  const session = shallowRef<LearnerSession | null>(null);
  const loaded = ref(false);
  /**
   * What the last page saved as the view of the stored document (`LearnerSession.saveView`),
   * read before the session opens and only while the stored document is exactly the state it was
   * saved for; `null` once the document is loaded (or without one). Screens may show it until
   * `loaded`.
   */
  const storedView = shallowRef<unknown>(null);
  /** Bumped by every open and close, so that an open waiting for its stored view can tell it was overtaken. */
  let generation = 0;
  const status = shallowRef<SessionStatus>(IDLE_STATUS);
  const flushes = shallowRef<readonly FlushRecord[]>([]);
  const peers = shallowRef<readonly PeerDevice[]>([]);
  /** Last telemetry capture failure (shown in the panel, never thrown at a screen). */
  const telemetryError = ref<string | null>(null);
  let unsubscribers: (() => void)[] = [];

  /**
   * The SDK knows the last sync of its own lifetime only; after a reload (offline, say) it would
   * read "never". The last confirmed sync is kept per learner so the panel stays true.
   */
  const rememberedSync = ref<number | null>(null);
  const syncKey = (userId: string): string => `prepmate.lastSync.${userId}`;
  const lastSyncTime = computed(() => {
    const live = status.value.lastSyncTime;
    const kept = rememberedSync.value;
    return live === null ? kept : kept === null ? live : Math.max(live, kept);
  });
  function rememberSync(userId: string, at: number | null): void {
    if (at === null || (rememberedSync.value !== null && at <= rememberedSync.value)) return;
    rememberedSync.value = at;
    try {
      localStorage.setItem(syncKey(userId), String(at));
    } catch {
      // Best effort: only the "last sync" label depends on it.
    }
  }
  function recallSync(userId: string): number | null {
    try {
      const n = Number(localStorage.getItem(syncKey(userId)));
      return Number.isFinite(n) && n > 0 ? n : null;
    } catch {
      return null;
    }
  }

  /**
   * Opens the learner's session. With a stored view, it is shown first: the session (whose load
   * of a large document keeps the page busy for a while) opens after the next frame is painted.
   */
  function open(userId: string): void {
    if (!factory) throw new Error('No session factory: provide sessionFactoryKey on the app (see main.ts).');
    const mine = ++generation;
    if (!readStoredView) return start(userId);
    let answered = false;
    const gate = setTimeout(() => {
      answered = true;
      if (mine === generation) start(userId);
    }, STORED_VIEW_WAIT_MS);
    readStoredView(userId)
      .catch(() => null)
      .then((view) => {
        if (answered) return; // too late: the session opened without it
        answered = true;
        clearTimeout(gate);
        if (mine !== generation) return;
        if (view === null) return start(userId);
        storedView.value = view;
        afterNextPaint(() => {
          if (mine === generation) start(userId);
        });
      });
  }

  function start(userId: string): void {
    const s = factory!({ userId, getToken: (o) => auth.getToken(o) });
    session.value = s;
    loaded.value = false;
    rememberedSync.value = recallSync(userId);
    status.value = s.status();
    peers.value = s.peers();
    flushes.value = [];
    unsubscribers = [
      s.onStatus((next) => {
        status.value = next;
        rememberSync(userId, next.lastSyncTime);
      }),
      s.onPeers((next) => (peers.value = next)),
      s.onFlush((record) => (flushes.value = [record, ...flushes.value].slice(0, FLUSH_HISTORY))),
      // The account was deleted (here or on another device): nothing of it may stay on this one.
      s.onErased(() => void forgetErased(userId)),
    ];
    const markLoaded = (): void => {
      if (session.value !== s) return;
      loaded.value = true;
      storedView.value = null;
    };
    // A local store that cannot be read still leaves a working (server-synced) document.
    s.whenLoaded.then(markLoaded, markLoaded);
    // The gate only avoids a flash of "no data" while IndexedDB loads; if that hangs (another tab
    // holding an upgrade), show the app anyway: the mirror fills in as the document loads.
    setTimeout(markLoaded, storedView.value === null ? LOAD_GATE_MS : KEPT_VIEW_LOAD_GATE_MS);
  }

  /** The learner whose deletion this device asked for: its erased close is expected, not news. */
  let erasingHere: string | null = null;

  /**
   * Deleting from this device's "Your data" screen: the server's "erased" close may arrive before
   * the HTTP answer, and that flow signs out with its own words. `null` once it failed.
   */
  function expectErasure(userId: string | null): void {
    erasingHere = userId;
  }

  async function forgetErased(userId: string): Promise<void> {
    if (session.value?.userId !== userId || erasingHere === userId) return;
    await close({ forget: true });
    if (auth.userId === userId) await auth.signOut({ forgotten: true, message: ERASED_MESSAGE });
  }

  /**
   * Ends the session. `forget`: also remove everything it kept on this device (only once the
   * server has all of it, or the account is gone).
   */
  async function close(options: { forget?: boolean } = {}): Promise<void> {
    const s = session.value;
    generation++;
    for (const off of unsubscribers) off();
    unsubscribers = [];
    session.value = null;
    loaded.value = false;
    storedView.value = null;
    status.value = IDLE_STATUS;
    rememberedSync.value = null;
    peers.value = [];
    flushes.value = [];
    if (options.forget) {
      try {
        localStorage.removeItem(syncKey(s?.userId ?? ''));
      } catch {
        // Only the "last sync" label lived there.
      }
      await s?.forget();
    } else await s?.destroy();
  }

  // Sign-in opens the learner's session, sign-out (or another learner) closes it.
  watch(
    () => auth.userId,
    async (userId, previous) => {
      if (userId === previous && session.value) return;
      if (session.value) await close();
      else {
        // An open still waiting for its stored view is overtaken too.
        generation++;
        storedView.value = null;
      }
      if (userId) open(userId);
    },
    { immediate: true },
  );

  /** Every change and every activity event is on the server (nothing would be lost by forgetting the device). */
  const allOnServer = computed(() => loaded.value && status.value.unsavedChanges === 0 && status.value.queuedEvents === 0);

  /** Records real use; a failure is shown in the sync panel instead of breaking the screen. */
  function track(eventType: string, eventData: JsonObject = {}): void {
    const s = session.value;
    if (!s) return;
    s.captureEvent(eventType, eventData).then(
      () => (telemetryError.value = null),
      (err: unknown) => (telemetryError.value = err instanceof Error ? err.message : String(err)),
    );
  }

  async function flushNow(): Promise<void> {
    await session.value?.flush();
  }

  function setPresence(screen: string): void {
    session.value?.setPresence(screen);
  }

  /** Keeps `view` as what the document looks like now (see `storedView`); false when it was not kept. */
  function saveView(view: unknown): Promise<boolean> {
    return loaded.value && session.value ? session.value.saveView(view) : Promise.resolve(false);
  }

  return { session, loaded, storedView, saveView, status, lastSyncTime, flushes, peers, telemetryError, allOnServer, track, flushNow, setPresence, close, expectErasure };
});

/**
 * Runs `fn` once the frame after the current one has been painted (a task after the next animation
 * frame). A hidden page paints no frames (browsers pause animation frames in background tabs), so
 * there it runs at once, and when the page is hidden before the frame came: a reload in a background
 * tab must still open its session (load, sync, flush) without waiting to be looked at.
 */
function afterNextPaint(fn: () => void): void {
  const doc = globalThis.document as Document | undefined;
  if (typeof requestAnimationFrame !== 'function' || doc?.visibilityState === 'hidden') {
    setTimeout(fn, 0);
    return;
  }
  let ran = false;
  const run = (): void => {
    if (ran) return;
    ran = true;
    doc?.removeEventListener('visibilitychange', onHidden);
    fn();
  };
  const onHidden = (): void => {
    if (doc?.visibilityState === 'hidden') setTimeout(run, 0);
  };
  doc?.addEventListener('visibilitychange', onHidden);
  requestAnimationFrame(() => setTimeout(run, 0));
}
