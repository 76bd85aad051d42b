/**
 * Registers the service worker that vite-plugin-pwa generates (`/sw.js`, Workbox precache of the
 * app shell). Only in production builds: in `vite dev` a caching worker would serve stale modules.
 * A new worker activates at once (`skipWaiting` + `clientsClaim`); the page picks up the new shell
 * on its next load, which never interrupts a learner in the middle of a form.
 */
export function registerServiceWorker(nav: Navigator = navigator): void {
  if (!import.meta.env.PROD || !('serviceWorker' in nav)) return;
  const register = (): void => {
    nav.serviceWorker.register('/sw.js', { scope: '/' }).catch((err: unknown) => {
      // Not fatal: the app works online without it; say why offline reloads will not.
      console.warn('PrepMate: the offline cache is unavailable:', err);
    });
  };
  if (document.readyState === 'complete') register();
  else window.addEventListener('load', register, { once: true });
}
