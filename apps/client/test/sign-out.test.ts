import { flushPromises } from '@vue/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nextTick } from 'vue';
import App from '../src/App.vue';
import { KEPT_LEARNERS_KEY, SESSION_STORAGE_KEY, useAuthStore } from '../src/stores/auth';
import { CLEARED_MESSAGE, KEPT_MESSAGE, useSignOutStore } from '../src/stores/sign-out';
import { ERASED_MESSAGE, useSyncStore } from '../src/stores/sync';
import { createHarness, fakeJwt, storeSignedIn } from './fakes';

beforeEach(() => {
  localStorage.clear();
  window.location.hash = '';
  document.body.innerHTML = '';
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

const tokenServer = (): void => {
  vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ token: fakeJwt('ada') }), { status: 200 })));
};
const noNetwork = (): void => {
  vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
};

describe('sign-out', () => {
  it('when everything is on the server, then signing out removes the data from this device and says so', async () => {
    tokenServer();
    const h = createHarness();
    const { auth, flow } = h.run(() => ({ auth: useAuthStore(), flow: useSignOutStore(), sync: useSyncStore() }));
    await auth.signInDev('ada');
    await flushPromises();
    await flow.request();
    await flushPromises();
    expect(h.sessions[0]!.forgotten).toBe(true);
    expect(auth.signedIn).toBe(false);
    expect(auth.notice).toBe(CLEARED_MESSAGE);
    expect(localStorage.getItem(SESSION_STORAGE_KEY)).toBeNull();
    // Nothing is kept here, so this learner cannot be opened offline any more.
    expect(await auth.keptOnDevice('ada')).toBe(false);
  });

  it('when changes are only on this device, then the learner is asked; waiting signs out once the server has them', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(App);
    await flushPromises();
    const s = h.sessions[0]!;
    s.setStatus({ online: false, connected: false, unsavedChanges: 2 });
    await w.findAll('button').find((b) => b.text() === 'Sign out')!.trigger('click');
    await flushPromises();
    const dialog = w.find('[data-testid="signout-dialog"]');
    expect(dialog.text()).toContain('2 changes to your practice are only on this device so far.');
    expect(dialog.text()).toContain('You are offline');
    expect(s.destroyed).toBe(false);

    await dialog.findAll('button').find((b) => b.text() === 'Wait for the sync, then sign out')!.trigger('click');
    await nextTick();
    expect(w.find('[data-testid="signout-waiting"]').text()).toContain('Waiting for a connection');
    s.setStatus({ online: true, connected: true, unsavedChanges: 1 });
    await flushPromises();
    expect(s.forgotten).toBe(false);
    s.setStatus({ unsavedChanges: 0 });
    await flushPromises();
    expect(s.forgotten).toBe(true);
    // Hashing the learner id (WebCrypto) finishes on its own schedule.
    await vi.waitFor(() => expect(w.find('h1').text()).toBe('Sign in'));
    expect(w.find('[data-testid="signin-notice"]').text()).toBe(CLEARED_MESSAGE);
  });

  it('when the learner signs out keeping unsynced changes, then the data stays and the same learner can reopen it offline', async () => {
    tokenServer();
    const h = createHarness();
    const { auth, flow } = h.run(() => ({ auth: useAuthStore(), flow: useSignOutStore(), sync: useSyncStore() }));
    await auth.signInDev('ada');
    await flushPromises();
    h.sessions[0]!.setStatus({ online: false, connected: false, unsavedChanges: 1 });
    await flow.request();
    expect(flow.phase).toBe('confirm');
    flow.cancel();
    expect(auth.signedIn).toBe(true);
    await flow.request();
    await flow.keepAndSignOut();
    await flushPromises();
    expect(h.sessions[0]!.destroyed).toBe(true);
    expect(h.sessions[0]!.forgotten).toBe(false);
    expect(auth.notice).toBe(KEPT_MESSAGE);
    // The device lists the learner only as a hash.
    expect(localStorage.getItem(KEPT_LEARNERS_KEY)).not.toContain('ada');

    noNetwork();
    await auth.signInDev('ada');
    await flushPromises();
    expect(auth.userId).toBe('ada');
    expect(auth.offlineSignIn).toBe(true);
    expect(h.sessions[1]!.userId).toBe('ada');
    // Someone else, offline, is told why they cannot get in.
    await auth.signOut();
    await expect(auth.signInDev('grace')).rejects.toThrow(/offline, and this learner’s practice is not on this device/);
  });

  it('when signed in offline and the network returns, then the SDK gets a fresh token', async () => {
    tokenServer();
    const h = createHarness();
    const auth = h.run(() => useAuthStore());
    await auth.signInDev('ada');
    await auth.signOut();
    noNetwork();
    await auth.signInDev('ada');
    expect(auth.session?.token).toBe('');
    tokenServer();
    expect(await auth.getToken({ forceRefresh: false })).toBe(fakeJwt('ada'));
    expect(auth.offlineSignIn).toBe(false);
  });

  it('when the server says the account was erased, then this device forgets it and signs out', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(App);
    await flushPromises();
    h.sessions[0]!.emitErased();
    await flushPromises();
    expect(h.sessions[0]!.forgotten).toBe(true);
    await vi.waitFor(() => expect(w.find('h1').text()).toBe('Sign in'));
    expect(w.find('[data-testid="signin-notice"]').text()).toBe(ERASED_MESSAGE);
  });
});
