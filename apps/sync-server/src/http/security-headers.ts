import helmet from 'helmet';
import type { RequestHandler } from 'express';

/**
 * Security headers on every answer (helmet): `nosniff`, no framing, no referrer to other sites,
 * and a Content-Security-Policy that allows only this origin's own code. The app keeps its
 * token in `localStorage`, so an injected script would own the learner's account: scripts,
 * styles, workers (the service worker and Workbox's files) and connections (REST and the
 * `/sync` WebSocket) come from this origin only, and no inline script runs. `upgrade-insecure-requests`
 * is left out: the server also runs on plain http on a developer's machine, and TLS belongs to the
 * proxy in front of it. A page served from elsewhere (CLIENT_URL) is governed by its own server's headers.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        workerSrc: ["'self'"],
        manifestSrc: ["'self'"],
        objectSrc: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // The app is same-origin; a cross-origin app (CLIENT_URL) reads the API through CORS, which CORP would block.
    crossOriginResourcePolicy: { policy: 'same-site' },
  });
}
