/**
 * Where the server is. By default the app talks to the origin that served it (the sync server
 * serves the built app; `vite` proxies `/api` and `/sync` in development). `VITE_API_URL`, set at
 * build time, points it at a server on another origin; that server must list this app's origin
 * in its `CLIENT_URL` (CORS).
 */
import { syncSocketUrl } from '@prepmate/sync-client';

export interface ApiEndpoints {
  /** Origin (and path prefix) of the REST API; `/api/...` is appended. */
  readonly apiBaseUrl: string;
  /** The document socket, `ws(s)://…/sync`. */
  readonly wsUrl: string;
}

/** The endpoints for `VITE_API_URL` (if set) or the page's origin. A malformed URL fails loudly at start. */
export function apiEndpoints(viteApiUrl: string | undefined, pageOrigin: string): ApiEndpoints {
  const configured = viteApiUrl?.trim();
  let apiBaseUrl = pageOrigin;
  if (configured) {
    let url: URL;
    try {
      url = new URL(configured);
    } catch {
      throw new Error(`VITE_API_URL is not a URL: ${JSON.stringify(configured)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`VITE_API_URL must be an http(s) URL, got ${url.protocol}`);
    apiBaseUrl = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  }
  return { apiBaseUrl, wsUrl: syncSocketUrl(apiBaseUrl) };
}

/** This build's endpoints, from this page. */
export function currentApiEndpoints(): ApiEndpoints {
  return apiEndpoints(import.meta.env.VITE_API_URL, window.location.origin);
}
