/**
 * Signing out without losing work and without leaving it behind. Once the server has every change
 * and every activity event, signing out removes the learner's data from this device (a shared
 * device keeps nothing). Otherwise the learner is told what is only here and chooses: wait for the
 * sync (then it is removed), sign out and keep it here (the same learner signing in again, even
 * offline, sends it), or stay.
 */
import { defineStore } from 'pinia';
import { ref, watch } from 'vue';
import { useAuthStore } from './auth';
import { useSyncStore } from './sync';

export type SignOutPhase = 'idle' | 'confirm' | 'waiting' | 'working';

/** How long a sign-out waits for a quick upload of activity events before asking, ms. */
export const QUICK_FLUSH_MS = 3_000;

export const CLEARED_MESSAGE = 'Signed out. Your practice is saved in your account, and nothing of it is left on this device.';
export const KEPT_MESSAGE = 'Signed out. Your unsynced practice stays on this device; sign in again as the same learner to send it.';

export const useSignOutStore = defineStore('signOut', () => {
  const auth = useAuthStore();
  const sync = useSyncStore();
  const phase = ref<SignOutPhase>('idle');
  let stopWaiting: (() => void) | null = null;

  async function forgetAndSignOut(): Promise<void> {
    phase.value = 'working';
    await sync.close({ forget: true });
    await auth.signOut({ forgotten: true, message: CLEARED_MESSAGE });
    phase.value = 'idle';
  }

  /** The "Sign out" button. */
  async function request(): Promise<void> {
    if (phase.value !== 'idle') return;
    if (!sync.allOnServer && sync.loaded && sync.status.unsavedChanges === 0 && sync.status.online) {
      // Only activity events are waiting: an upload usually takes a moment, try it before asking.
      phase.value = 'working';
      await Promise.race([sync.flushNow().catch(() => undefined), new Promise((ok) => setTimeout(ok, QUICK_FLUSH_MS))]);
      phase.value = 'idle';
    }
    if (sync.allOnServer) await forgetAndSignOut();
    else phase.value = 'confirm';
  }

  /** Waits until the server has everything, then signs out and removes the device's copy. */
  function waitThenSignOut(): void {
    if (sync.allOnServer) {
      void forgetAndSignOut();
      return;
    }
    phase.value = 'waiting';
    // The document syncs by itself once connected; activity events are sent now rather than at
    // the next interval (and by the SDK on its own when the network comes back).
    void sync.flushNow().catch(() => undefined);
    stopWaiting?.();
    stopWaiting = watch(
      () => sync.allOnServer,
      (done) => {
        if (!done || phase.value !== 'waiting') return;
        stopWaiting?.();
        stopWaiting = null;
        void forgetAndSignOut();
      },
    );
  }

  async function keepAndSignOut(): Promise<void> {
    stopWaiting?.();
    stopWaiting = null;
    phase.value = 'working';
    await auth.signOut({ message: KEPT_MESSAGE });
    phase.value = 'idle';
  }

  function cancel(): void {
    stopWaiting?.();
    stopWaiting = null;
    phase.value = 'idle';
  }

  return { phase, request, waitThenSignOut, keepAndSignOut, cancel };
});
