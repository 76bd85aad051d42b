import type { Store } from './ports.js';

/** Receives the duration of every store call (server.ts connects it to the metrics registry). */
export type StoreTimer = (port: string, operation: string, outcome: 'ok' | 'error', seconds: number) => void;

const PORTS = ['documents', 'telemetry', 'syncQueue', 'batchLogs', 'leases', 'audit', 'records'] as const;

/**
 * Times every call of one port: a promise until it settles, anything else as it returns. A
 * Proxy rather than a copy, so a port's methods keep their `this` and members added later are
 * timed too; wrappers are made once per method, not per call.
 */
function timedPort<T extends object>(port: T, name: string, timer: StoreTimer): T {
  const wrappers = new Map<PropertyKey, unknown>();
  return new Proxy(port, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      let wrapper = wrappers.get(key);
      if (!wrapper) {
        const fn = value as (...args: unknown[]) => unknown;
        wrapper = (...args: unknown[]): unknown => {
          const started = process.hrtime.bigint();
          const done = (outcome: 'ok' | 'error'): void => timer(name, key, outcome, Number(process.hrtime.bigint() - started) / 1e9);
          let result: unknown;
          try {
            result = fn.apply(target, args);
          } catch (error) {
            done('error');
            throw error;
          }
          if (result instanceof Promise) {
            return result.then(
              (v: unknown) => {
                done('ok');
                return v;
              },
              (error: unknown) => {
                done('error');
                throw error;
              },
            );
          }
          done('ok');
          return result;
        };
        wrappers.set(key, wrapper);
      }
      return wrapper;
    },
  });
}

/**
 * The store with every port call timed (database operation latency). It sits directly on the
 * adapter, below the security decorators, so it measures the database and not encryption.
 */
export function timedStore(store: Store, timer: StoreTimer): Store {
  const ports = Object.fromEntries(PORTS.map((p) => [p, timedPort(store[p], p, timer)])) as Pick<Store, (typeof PORTS)[number]>;
  return {
    kind: store.kind,
    ...ports,
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
