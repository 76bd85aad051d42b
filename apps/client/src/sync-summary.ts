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

/**
 * One sentence for the sync panel: where the learner's practice is kept and whether all of it has
 * reached the server. No protocol words: "device" and "your account", never socket or outbox.
 */
export function whereYourDataIs(s: SessionStatus): string {
  const base = 'Everything you record is saved on this device at once and copied to your account on the PrepMate server whenever you are online';
  const unsaved = s.unsavedChanges;
  if (unsaved > 0) {
    const it = unsaved === 1 ? 'it' : 'they';
    const when = s.online ? `${it} will be copied in a moment` : `${it} will be copied when you are back online`;
    return `${base}; right now ${plural(unsaved, 'change is', 'changes are')} only on this device, and ${when}.`;
  }
  if (!s.online || !s.connected) return `${base}; right now you are not connected, and nothing is waiting to be copied.`;
  if (!s.synced) return `${base}; right now this device is catching up with your other devices.`;
  return `${base}; right now both copies are the same.`;
}
