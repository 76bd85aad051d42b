/**
 * The platform as ports, so that the same SDK runs in a browser tab, in Node, and in tests
 * with fakes. Every port has a browser default (`browserPorts`), a Node default, and a fake.
 */

/** Time and timers. Tests pass fake timers; the SDK never reads `Date.now` directly. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The global timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const h = setTimeout(fn, ms);
    // In Node a pending retry must not keep a finished script alive.
    (h as { unref?: () => void }).unref?.();
    return h;
  },
  clearTimeout: (h) => clearTimeout(h as Parameters<typeof clearTimeout>[0]),
};

/**
 * The subset of the Web Locks API (`navigator.locks`) the SDK uses: an exclusive named lock held
 * for as long as the callback's promise is pending. `navigator.locks` fits as is.
 */
export interface LockPort {
  request(name: string, options: { signal?: AbortSignal }, callback: (lock: unknown) => Promise<void>): Promise<unknown>;
}

/** The subset of `BroadcastChannel` the SDK uses; the global one fits as is. */
export interface ChannelPort {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  close(): void;
}

/** Whether the network is reachable, and changes of that. */
export interface ConnectivityPort {
  isOnline(): boolean;
  /** Returns the unsubscribe function. */
  subscribe(listener: (online: boolean) => void): () => void;
}

/** Why the page may be about to go away: the last moment to hand events to the network. */
export type LifecycleSignal = 'hidden' | 'pagehide';

export interface LifecyclePort {
  subscribe(listener: (signal: LifecycleSignal) => void): () => void;
}

/**
 * A small synchronous key-value store that outlives the page (`localStorage` in browsers). A page
 * that is going away can still write here from its `pagehide` handler; an IndexedDB transaction
 * started then, or a moment before, may be aborted with the page.
 */
export interface RescueStore {
  get(key: string): string | null;
  /** May throw (quota, storage disabled). */
  set(key: string, value: string): void;
  remove(key: string): void;
  keys(): string[];
}

/** An in-memory {@link RescueStore}: tests, or to stand in for one page's `localStorage`. */
export function createMemoryRescueStore(): RescueStore {
  const map = new Map<string, string>();
  return {
    get: (key) => map.get(key) ?? null,
    set: (key, value) => void map.set(key, value),
    remove: (key) => void map.delete(key),
    keys: () => [...map.keys()],
  };
}

/** Always online; nothing to subscribe to (Node services). */
export const alwaysOnline: ConnectivityPort = {
  isOnline: () => true,
  subscribe: () => () => undefined,
};

/** No page lifecycle (Node). */
export const noLifecycle: LifecyclePort = { subscribe: () => () => undefined };

/** A connectivity port driven by hand: for tests, or for apps with their own reachability check. */
export interface ManualConnectivity extends ConnectivityPort {
  setOnline(online: boolean): void;
}

export function createManualConnectivity(initial = true): ManualConnectivity {
  let online = initial;
  const listeners = new Set<(online: boolean) => void>();
  return {
    isOnline: () => online,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    setOnline(next) {
      if (next === online) return;
      online = next;
      for (const l of [...listeners]) l(next);
    },
  };
}

/** A lifecycle port driven by hand: tests simulate `pagehide` with it. */
export interface ManualLifecycle extends LifecyclePort {
  fire(signal: LifecycleSignal): void;
}

export function createManualLifecycle(): ManualLifecycle {
  const listeners = new Set<(signal: LifecycleSignal) => void>();
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    fire(signal) {
      for (const l of [...listeners]) l(signal);
    },
  };
}

/**
 * Web Locks semantics inside one JavaScript realm: for Node, tests that simulate two tabs, and
 * browsers without `navigator.locks`. Exclusive, FIFO, and an aborted waiting request rejects
 * with an `AbortError` just like the real API.
 */
export function createInProcessLocks(): LockPort {
  const queues = new Map<string, { run: () => void; signal: AbortSignal | undefined; cancel: () => void }[]>();
  const held = new Set<string>();

  const next = (name: string): void => {
    const queue = queues.get(name);
    const waiter = queue?.shift();
    if (!waiter) {
      queues.delete(name);
      return;
    }
    waiter.run();
  };

  return {
    request(name, options, callback) {
      return new Promise<unknown>((resolve, reject) => {
        const signal = options.signal;
        if (signal?.aborted) {
          reject(new DOMException('The lock request was aborted', 'AbortError'));
          return;
        }
        const entry = {
          signal,
          cancel: () => {
            const queue = queues.get(name);
            const i = queue?.indexOf(entry) ?? -1;
            if (queue && i >= 0) {
              queue.splice(i, 1);
              reject(new DOMException('The lock request was aborted', 'AbortError'));
            }
          },
          run: () => {
            signal?.removeEventListener('abort', entry.cancel);
            held.add(name);
            Promise.resolve()
              .then(() => callback({ name, mode: 'exclusive' }))
              .then(resolve, reject)
              .finally(() => {
                held.delete(name);
                next(name);
              });
          },
        };
        signal?.addEventListener('abort', entry.cancel, { once: true });
        if (!held.has(name) && !(queues.get(name)?.length)) entry.run();
        else {
          const queue = queues.get(name) ?? [];
          queue.push(entry);
          queues.set(name, queue);
        }
      });
    },
  };
}

/** The browser's ports, each only where the platform has it. */
export function browserConnectivity(): ConnectivityPort {
  const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
  const target = globalThis as unknown as Partial<Pick<EventTarget, 'addEventListener' | 'removeEventListener'>>;
  if (typeof target.addEventListener !== 'function' || typeof nav?.onLine !== 'boolean') return alwaysOnline;
  return {
    isOnline: () => nav.onLine !== false,
    subscribe(listener) {
      const on = (): void => listener(true);
      const off = (): void => listener(false);
      target.addEventListener!('online', on);
      target.addEventListener!('offline', off);
      return () => {
        target.removeEventListener!('online', on);
        target.removeEventListener!('offline', off);
      };
    },
  };
}

export function browserLifecycle(): LifecyclePort {
  const doc = (globalThis as { document?: Document }).document;
  const win = globalThis as unknown as Partial<Pick<EventTarget, 'addEventListener' | 'removeEventListener'>>;
  if (!doc || typeof win.addEventListener !== 'function') return noLifecycle;
  return {
    subscribe(listener) {
      const vis = (): void => {
        if (doc.visibilityState === 'hidden') listener('hidden');
      };
      const hide = (): void => listener('pagehide');
      doc.addEventListener('visibilitychange', vis);
      win.addEventListener!('pagehide', hide);
      return () => {
        doc.removeEventListener('visibilitychange', vis);
        win.removeEventListener!('pagehide', hide);
      };
    },
  };
}

/** `navigator.locks` when present, otherwise `null` (the caller then acts alone). */
export function browserLocks(): LockPort | null {
  const locks = (globalThis as { navigator?: { locks?: LockPort } }).navigator?.locks;
  return locks ?? null;
}

/** A `BroadcastChannel` factory when the platform has one. */
export function browserChannel(): ((name: string) => ChannelPort) | null {
  const BC = (globalThis as { BroadcastChannel?: new (name: string) => ChannelPort }).BroadcastChannel;
  return BC ? (name) => new BC(name) : null;
}

/** `localStorage` when the page may use it (not in workers, not when storage is blocked), else `null`. */
export function browserRescueStore(): RescueStore | null {
  let ls: Storage | undefined;
  try {
    ls = (globalThis as { localStorage?: Storage }).localStorage;
  } catch {
    return null; // reading the property throws when the user blocks site data
  }
  if (!ls) return null;
  const storage = ls;
  return {
    get: (key) => storage.getItem(key),
    set: (key, value) => storage.setItem(key, value),
    remove: (key) => storage.removeItem(key),
    keys: () => Array.from({ length: storage.length }, (_, i) => storage.key(i)).filter((k): k is string => k !== null),
  };
}
