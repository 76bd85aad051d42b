/**
 * Who is signed in. The token and userId live in localStorage so that a reload with no network
 * reopens the app for the same learner (the document and outbox are in IndexedDB, keyed by userId).
 */
import { userIdSchema } from '@prepmate/crdt-model';
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { currentApiEndpoints } from '../config/api';

/** How the token was obtained; decides whether it can be renewed without the learner. */
export type SignInMode = 'dev' | 'token';

/** What is kept across reloads. */
export interface StoredSession {
  readonly userId: string;
  readonly token: string;
  readonly mode: SignInMode;
}

/** A sign-in failure with a message meant for the learner. */
export class SignInError extends Error {
  override readonly name = 'SignInError';
}

export const SESSION_STORAGE_KEY = 'prepmate.session.v1';
/** Renew a dev token this long before it expires, ms. */
const RENEW_BEFORE_MS = 60_000;

function readStored(): StoredSession | null {
  try {
    const raw = globalThis.localStorage?.getItem(SESSION_STORAGE_KEY);
    if (!raw) return null;
    const value = JSON.parse(raw) as Partial<StoredSession>;
    if (typeof value.userId !== 'string' || typeof value.token !== 'string') return null;
    if (!userIdSchema.safeParse(value.userId).success) return null;
    return { userId: value.userId, token: value.token, mode: value.mode === 'dev' ? 'dev' : 'token' };
  } catch {
    // Unreadable storage (private mode, corrupt value): start signed out rather than crash.
    return null;
  }
}

/** The claims the app reads from a JWT; the signature is the server's business. */
export interface TokenClaims {
  readonly sub: string;
  /** Expiry, seconds since epoch. */
  readonly exp?: number;
}

/** Reads the payload of a JWT without verifying it, or `null` when it is not one. */
export function readTokenClaims(token: string): TokenClaims | null {
  const part = token.trim().split('.')[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const payload = JSON.parse(new TextDecoder().decode(bytes)) as { sub?: unknown; exp?: unknown };
    if (typeof payload.sub !== 'string') return null;
    return typeof payload.exp === 'number' ? { sub: payload.sub, exp: payload.exp } : { sub: payload.sub };
  } catch {
    return null;
  }
}

async function fetchDevToken(userId: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(`${currentApiEndpoints().apiBaseUrl}/api/auth/dev-token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ userId }),
    });
  } catch {
    throw new SignInError('The server cannot be reached. Check your connection and try again.');
  }
  if (response.status === 404) throw new SignInError('Quick sign-in is turned off on this server. Paste a token instead.');
  if (!response.ok) throw new SignInError(`The server refused the sign-in (HTTP ${response.status}).`);
  const body = (await response.json()) as { token?: unknown };
  if (typeof body.token !== 'string') throw new SignInError('The server answered without a token.');
  return body.token;
}

export const useAuthStore = defineStore('auth', () => {
  const session = ref<StoredSession | null>(readStored());
  /** The server refused a pasted token that the app cannot renew: the learner must sign in again. */
  const expired = ref(false);
  const userId = computed(() => session.value?.userId ?? null);
  const signedIn = computed(() => session.value !== null);

  function save(next: StoredSession | null): void {
    session.value = next;
    expired.value = false;
    try {
      if (next) globalThis.localStorage?.setItem(SESSION_STORAGE_KEY, JSON.stringify(next));
      else globalThis.localStorage?.removeItem(SESSION_STORAGE_KEY);
    } catch {
      // Storage full or blocked: the session still works until the tab closes.
    }
  }

  /** Dev mode: asks the server for a token for `userId` (`POST /api/auth/dev-token`). */
  async function signInDev(rawUserId: string): Promise<void> {
    const parsed = userIdSchema.safeParse(rawUserId.trim());
    if (!parsed.success) throw new SignInError('Use 1–128 letters, digits, "_" or "-".');
    const token = await fetchDevToken(parsed.data);
    save({ userId: parsed.data, token, mode: 'dev' });
  }

  /** Any mode: a token issued elsewhere; the learner is the token's `sub`. */
  function signInWithToken(rawToken: string): void {
    const token = rawToken.trim();
    const claims = readTokenClaims(token);
    if (!claims) throw new SignInError('This does not look like a PrepMate token.');
    const parsed = userIdSchema.safeParse(claims.sub);
    if (!parsed.success) throw new SignInError('The token names an invalid learner id.');
    if (claims.exp !== undefined && claims.exp * 1000 <= Date.now()) throw new SignInError('This token has expired.');
    save({ userId: parsed.data, token, mode: 'token' });
  }

  function signOut(): void {
    save(null);
  }

  /**
   * The SDK's `getToken`: the stored token, renewed in dev mode when it expires soon or the server
   * refused it. Offline, the stored token is returned as is: nothing can be sent anyway.
   */
  async function getToken(options: { forceRefresh: boolean }): Promise<string> {
    const current = session.value;
    if (!current) throw new SignInError('Signed out');
    const exp = readTokenClaims(current.token)?.exp;
    const expiring = exp !== undefined && exp * 1000 - RENEW_BEFORE_MS <= Date.now();
    if (current.mode !== 'dev') {
      // Nothing can renew a pasted token; say so once it is refused or past its expiry. The SDK
      // keeps everything queued meanwhile, and signing in again as the same learner sends it.
      if (options.forceRefresh || (exp !== undefined && exp * 1000 <= Date.now())) expired.value = true;
      return current.token;
    }
    if (globalThis.navigator?.onLine === false) return current.token;
    if (!options.forceRefresh && !expiring) return current.token;
    const token = await fetchDevToken(current.userId);
    // The learner may have signed out while the request was in flight.
    if (session.value?.userId === current.userId) save({ ...current, token });
    return token;
  }

  return { session, userId, signedIn, expired, signInDev, signInWithToken, signOut, getToken };
});
