import type { SessionStatus } from './sdk/port';

/** One line about where the learner's data is, for the header badge. */
export interface SyncSummary {
  readonly tone: 'good' | 'warn' | 'accent' | 'bad';
  readonly label: string;
  /** A longer sentence for assistive technology and the tooltip. */
  readonly detail: string;
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/**
 * Says plainly what is saved where. "Saved" only once the server has acknowledged every change
 * (the SDK's `unsavedChanges` counts until the durable ack), never on mere connection.
 */
export function summarizeSync(s: SessionStatus): SyncSummary {
  const unsaved = s.unsavedChanges;
  if (!s.online) {
    return unsaved > 0
      ? { tone: 'warn', label: `Offline · ${plural(unsaved, 'change', 'changes')} on this device`, detail: `You are offline. ${plural(unsaved, 'change is', 'changes are')} kept on this device and will sync when you reconnect.` }
      : { tone: 'warn', label: 'Offline', detail: 'You are offline. Everything you do is kept on this device and syncs when you reconnect.' };
  }
  if (!s.connected) {
    return { tone: 'warn', label: unsaved > 0 ? `Connecting · ${plural(unsaved, 'change', 'changes')} to sync` : 'Connecting…', detail: 'Reaching the sync server. Your changes are kept on this device meanwhile.' };
  }
  if (unsaved > 0) return { tone: 'accent', label: 'Saving…', detail: `Sending ${plural(unsaved, 'change', 'changes')} to the server.` };
  if (!s.synced) return { tone: 'accent', label: 'Syncing…', detail: 'Catching up with your other devices.' };
  return { tone: 'good', label: 'All changes saved', detail: 'Everything is saved on the server and on this device.' };
}
