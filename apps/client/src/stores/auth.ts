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
/**
 * Learners whose practice is still kept on this device, as SHA-256 hashes of their ids (a shared
 * device should not list who used it). Only they can be signed in without the network.
 */
export const KEPT_LEARNERS_KEY = 'prepmate.kept.v1';
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

/** Hex SHA-256 of a learner id, or `null` where WebCrypto is missing (plain http on a LAN). */
async function learnerHash(userId: string): Promise<string | null> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  const digest = await subtle.digest('SHA-256', new TextEncoder().encode(`prepmate:${userId}`));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function readKept(): string[] {
  try {
    const value: unknown = JSON.parse(globalThis.localStorage?.getItem(KEPT_LEARNERS_KEY) ?? '[]');
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

function writeKept(list: readonly string[]): void {
  try {
    if (list.length === 0) globalThis.localStorage?.removeItem(KEPT_LEARNERS_KEY);
    else globalThis.localStorage?.setItem(KEPT_LEARNERS_KEY, JSON.stringify(list));
  } catch {
    // Without storage the learner simply cannot sign in offline.
  }
}

/** The fetch failed before any answer: no network (or no server). */
class NetworkError extends SignInError {}

async function fetchDevToken(userId: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(`${currentApiEndpoints().apiBaseUrl}/api/auth/dev-token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ userId }),
    });
  } catch {
    throw new NetworkError('The server cannot be reached. Check your connection and try again.');
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
  /** What the sign-in screen says after a sign-out (what was kept or removed), or `null`. */
  const notice = ref<string | null>(null);
  const userId = computed(() => session.value?.userId ?? null);
  const signedIn = computed(() => session.value !== null);
  /** Signed in without the network from this device's copy; the token is fetched once online. */
  const offlineSignIn = computed(() => session.value?.mode === 'dev' && session.value.token === '');

  /** Marks whether this learner's practice stays on this device (and so may be opened offline). */
  async function keepOnDevice(id: string, kept: boolean): Promise<void> {
    const hash = await learnerHash(id);
    if (!hash) return;
    const list = readKept().filter((h) => h !== hash);
    writeKept(kept ? [...list, hash] : list);
  }

  async function keptOnDevice(id: string): Promise<boolean> {
    const hash = await learnerHash(id);
    return hash !== null && readKept().includes(hash);
  }

  function save(next: StoredSession | null): void {
    session.value = next;
    expired.value = false;
    if (next) notice.value = null;
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
    let token: string;
    try {
      // Known offline: do not send a request that can only fail.
      if (globalThis.navigator?.onLine === false) throw new NetworkError('offline');
      token = await fetchDevToken(parsed.data);
    } catch (err) {
      if (!(err instanceof NetworkError)) throw err;
      // No network: a learner whose practice is on this device opens it; the SDK asks for a
      // token (getToken) once the network is back, and sends what was done meanwhile.
      if (!(await keptOnDevice(parsed.data))) {
        throw new SignInError('You are offline, and this learner’s practice is not on this device. Connect to the internet to sign in.');
      }
      token = '';
    }
    save({ userId: parsed.data, token, mode: 'dev' });
    await keepOnDevice(parsed.data, true);
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
    // Best effort: without it the learner only loses the offline sign-in.
    keepOnDevice(parsed.data, true).catch(() => undefined);
  }

  /**
   * Forgets the session. `forgotten`: the learner's practice was removed from this device, so it
   * can no longer be opened offline; `message` is shown on the sign-in screen.
   */
  async function signOut(options: { forgotten?: boolean; message?: string } = {}): Promise<void> {
    const id = session.value?.userId;
    if (id && options.forgotten) await keepOnDevice(id, false);
    save(null);
    notice.value = options.message ?? null;
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
    // An empty token: signed in offline, none fetched yet.
    if (!options.forceRefresh && !expiring && current.token !== '') return current.token;
    const token = await fetchDevToken(current.userId);
    // The learner may have signed out while the request was in flight.
    if (session.value?.userId === current.userId) save({ ...current, token });
    return token;
  }

  return { session, userId, signedIn, expired, notice, offlineSignIn, signInDev, signInWithToken, signOut, getToken, keptOnDevice };
});
