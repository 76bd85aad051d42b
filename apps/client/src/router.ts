/**
 * A small hash router. Hash URLs keep every screen on `/`, so the service worker serves one
 * cached shell for all of them and a reload offline works on any screen; the app has a few flat
 * routes, which does not justify a router dependency.
 */
import { inject, shallowRef, type App, type InjectionKey, type ShallowRef } from 'vue';

export type RouteName = 'dashboard' | 'log' | 'topic' | 'history' | 'sync' | 'settings' | 'account' | 'notFound';

export interface Route {
  readonly name: RouteName;
  /** `topicId` for `topic`; for `history` filtered to one topic; for `log` with the topic filled in. */
  readonly params: Readonly<Record<string, string>>;
  /** The path after `#`, e.g. `/topics/sql`. */
  readonly path: string;
}

/** Screen titles, used for `document.title`, headings and screen-view telemetry. */
export const ROUTE_TITLES: Readonly<Record<RouteName, string>> = {
  dashboard: 'Dashboard',
  log: 'Log practice',
  topic: 'Topic',
  history: 'History',
  sync: 'Sync',
  settings: 'Plan settings',
  account: 'Your data',
  notFound: 'Not found',
};

/** Parses `location.hash` (`#/topics/sql`) into a route. */
export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const segments = path.split('/').filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  const [first, second] = segments;
  if (segments.length === 0) return { name: 'dashboard', params: {}, path: '/' };
  if (first === 'log' && segments.length === 1) return { name: 'log', params: {}, path };
  if (first === 'log' && second !== undefined && segments.length === 2) return { name: 'log', params: { topicId: second }, path };
  if (first === 'sync' && segments.length === 1) return { name: 'sync', params: {}, path };
  if (first === 'settings' && segments.length === 1) return { name: 'settings', params: {}, path };
  if (first === 'history' && segments.length === 1) return { name: 'history', params: {}, path };
  if (first === 'history' && second !== undefined && segments.length === 2) return { name: 'history', params: { topicId: second }, path };
  if (first === 'account' && segments.length === 1) return { name: 'account', params: {}, path };
  if (first === 'topics' && second !== undefined && segments.length === 2) return { name: 'topic', params: { topicId: second }, path };
  return { name: 'notFound', params: {}, path };
}

/** The href of the log form, with the topic filled in when given. */
export function logHref(topicId?: string): string {
  return topicId ? `#/log/${encodeURIComponent(topicId)}` : '#/log';
}

/** The href of the history screen, filtered to one topic when given. */
export function historyHref(topicId?: string): string {
  return topicId ? `#/history/${encodeURIComponent(topicId)}` : '#/history';
}

/** The href of a topic's screen. */
export function topicHref(topicId: string): string {
  return `#/topics/${encodeURIComponent(topicId)}`;
}

/** Asked before the route changes; `false` keeps the learner where they are. */
export type LeaveGuard = (to: Route, from: Route) => boolean;

export interface Router {
  readonly route: ShallowRef<Route>;
  /** Navigates to `path` (with or without the leading `#`), unless a leave guard refuses. */
  push(path: string): void;
  /**
   * Registers a guard asked before every in-app navigation (links, `push`, back and forward);
   * returns its removal. A screen with an unsaved draft uses it to ask before throwing it away.
   */
  beforeLeave(guard: LeaveGuard): () => void;
  /** Asks the guards about leaving the current screen for something that is not a route (signing out). */
  mayLeave(): boolean;
  install(app: App): void;
  /** Stops listening to `hashchange`. */
  destroy(): void;
}

export const routerKey: InjectionKey<Router> = Symbol('prepmate.router');

/** Creates the router over `win.location` (a happy-dom window in tests). */
export function createHashRouter(win: Window = window): Router {
  const route = shallowRef(parseHash(win.location.hash));
  const guards = new Set<LeaveGuard>();
  const allowed = (to: Route): boolean => [...guards].every((g) => g(to, route.value));
  const onChange = (): void => {
    const next = parseHash(win.location.hash);
    if (next.path === route.value.path) return;
    if (!allowed(next)) {
      // The hash already moved (a link or the back button): put it back without a new entry.
      win.history.replaceState(win.history.state, '', `#${route.value.path}`);
      return;
    }
    route.value = next;
  };
  win.addEventListener('hashchange', onChange);
  const router: Router = {
    route,
    push(path) {
      const hash = path.startsWith('#') ? path : `#${path}`;
      if (win.location.hash === hash) return;
      const next = parseHash(hash);
      if (next.path !== route.value.path && !allowed(next)) return;
      win.location.hash = hash;
      // hashchange is asynchronous; update now so the next render already shows the target (the
      // guards were asked already: the later hashchange finds the route current and asks nothing).
      route.value = next;
    },
    beforeLeave(guard) {
      guards.add(guard);
      return () => guards.delete(guard);
    },
    mayLeave: () => allowed(route.value),
    install(app) {
      app.provide(routerKey, router);
    },
    destroy() {
      win.removeEventListener('hashchange', onChange);
    },
  };
  return router;
}

export function useRouter(): Router {
  const router = inject(routerKey, null);
  if (!router) throw new Error('No router: install createHashRouter() on the app (see main.ts).');
  return router;
}
