import { flushPromises } from '@vue/test-utils';
import { beforeEach, describe, expect, it } from 'vitest';
import { nextTick } from 'vue';
import type { ServerCloseReason } from '@prepmate/sync-client';
import App from '../src/App.vue';
import { explainServerClose, summarizeSync, whereYourDataIs } from '../src/sync-summary';
import SyncView from '../src/views/SyncView.vue';
import { createHarness, ONLINE, storeSignedIn } from './fakes';

beforeEach(() => {
  localStorage.clear();
  window.location.hash = '';
  document.body.innerHTML = '';
});

const NOW = 1_800_000_000_000;
const REASONS: readonly ServerCloseReason[] = ['document-too-large', 'too-many-documents', 'too-many-sockets', 'write-rate-exceeded', 'slow-reader', 'awareness-too-large'];

/** The sync badge and panel when the server closed the connection for a reason the learner should hear. */
describe('server closes in plain words', () => {
  it('when the account storage is full, then the badge says so, that nothing saved is lost, and that this device keeps the changes', () => {
    const s = summarizeSync({ ...ONLINE, connected: false, unsavedChanges: 2, serverClose: { reason: 'document-too-large', retryAt: null } }, NOW);
    expect(s).toMatchObject({ tone: 'bad', label: 'Not syncing · account storage full' });
    expect(s.detail).toMatch(/storage limit of your account/);
    expect(s.detail).toMatch(/Everything saved before is safe/);
    expect(s.detail).toMatch(/kept on this device/);
  });

  it('when the device is paused by a quota that refills, then it says when it tries again', () => {
    const sockets = summarizeSync({ ...ONLINE, connected: false, serverClose: { reason: 'too-many-sockets', retryAt: NOW + 60_000 } }, NOW);
    expect(sockets).toMatchObject({ tone: 'warn', label: 'Paused · too many open tabs' });
    expect(sockets.detail).toMatch(/tries again in about 1 minute\./);
    const rate = summarizeSync({ ...ONLINE, connected: false, serverClose: { reason: 'write-rate-exceeded', retryAt: NOW + 150_000 } }, NOW);
    expect(rate).toMatchObject({ tone: 'warn', label: 'Paused · too many changes at once' });
    expect(rate.detail).toMatch(/tries again in about 3 minutes\./);
  });

  it('when the connection is open again, then the normal summary is back (the reason no longer applies)', () => {
    expect(summarizeSync({ ...ONLINE, serverClose: { reason: 'too-many-sockets', retryAt: NOW } }, NOW).label).toBe('All changes saved');
  });

  it('when any named close is explained, then the words are plain: no codes, no protocol terms, and the changes are said to be kept', () => {
    for (const reason of REASONS) {
      for (const retryAt of [null, NOW + 30_000]) {
        const s = explainServerClose({ reason, retryAt }, NOW);
        expect(s.label.length, reason).toBeGreaterThan(0);
        expect(`${s.label} ${s.detail}`, reason).not.toMatch(/\d{4}|socket|websocket|quota|awareness|byte|close code|CRDT/i);
        expect(s.detail, reason).toMatch(/kept on this device/);
      }
    }
  });

  it('when copying is stopped, then the panel sentence says so and counts what is only on this device', () => {
    expect(whereYourDataIs({ ...ONLINE, connected: false, unsavedChanges: 3, serverClose: { reason: 'document-too-large', retryAt: null } })).toMatch(
      /right now copying to your account is stopped, and 3 changes are only on this device\.$/,
    );
    expect(whereYourDataIs({ ...ONLINE, connected: false, serverClose: { reason: 'write-rate-exceeded', retryAt: NOW } })).toMatch(/right now copying to your account is paused\.$/);
  });

  it('when the SDK reports a full account storage, then the header badge and the sync panel say so in words', async () => {
    storeSignedIn('ada');
    const h = createHarness();
    const w = h.mount(App);
    await flushPromises();
    const badge = (): string => w.find('[data-testid="sync-badge"]').text();
    expect(badge()).toContain('All changes saved');
    h.sessions[0]!.setStatus({ connected: false, unsavedChanges: 1, serverClose: { reason: 'document-too-large', retryAt: null } });
    await nextTick();
    expect(badge()).toContain('Not syncing · account storage full');
    const panel = createHarness();
    const p = panel.mount(SyncView);
    panel.sessions[0]!.setStatus({ connected: false, unsavedChanges: 1, serverClose: { reason: 'too-many-sockets', retryAt: Date.now() + 30_000 } });
    await nextTick();
    expect(p.find('[data-testid="sync-summary"]').text()).toMatch(/Paused · too many open tabs.*Close the ones you do not use\. This device tries again in about 1 minute\./);
    expect(p.find('[data-testid="sync-where"]').text()).toMatch(/copying to your account is paused, and 1 change is only on this device\.$/);
  });
});
