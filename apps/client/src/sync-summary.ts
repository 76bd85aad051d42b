import type { SessionStatus } from './sdk/port';

/** One line about where the learner's data is, for the header badge. */
export interface SyncSummary {
  readonly tone: 'good' | 'warn' | 'accent' | 'bad';
  readonly label: string;
  /** A longer sentence for assistive technology and the tooltip. */
  readonly detail: string;
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

type ServerClose = NonNullable<SessionStatus['serverClose']>;

/** "in about 3 minutes": when this device tries again. */
function retryIn(retryAt: number, now: number): string {
  const minutes = Math.max(1, Math.ceil((retryAt - now) / 60_000));
  return `in about ${plural(minutes, 'minute', 'minutes')}`;
}

/**
 * What the server's named closes mean for the learner, in plain words: what happened, that
 * nothing saved is lost, and what happens next. Never codes or protocol words.
 */
export function explainServerClose(close: ServerClose, now: number): SyncSummary {
  const kept = 'Your changes are kept on this device.';
  const again = close.retryAt !== null ? `This device tries again ${retryIn(close.retryAt, now)}.` : 'Reload the page to try again.';
  switch (close.reason) {
    case 'document-too-large':
      return {
        tone: 'bad',
        label: 'Not syncing · account storage full',
        detail: `Your practice record has reached the storage limit of your account, so new changes were not copied to the server. Everything saved before is safe. ${kept}`,
      };
    case 'too-many-documents':
      return {
        tone: 'bad',
        label: 'Not syncing · too many documents',
        detail: `Your account already has as many synced documents as it may, so this one was not created on the server. Everything saved before is safe. ${kept}`,
      };
    case 'too-many-sockets':
      return {
        tone: 'warn',
        label: 'Paused · too many open tabs',
        detail: `Your account is open in too many tabs or devices at once. Close the ones you do not use. ${again} ${kept}`,
      };
    case 'write-rate-exceeded':
      return {
        tone: 'warn',
        label: 'Paused · too many changes at once',
        detail: `You changed more in a short time than the server accepts at once. ${again} ${kept}`,
      };
    case 'slow-reader':
      return { tone: 'warn', label: 'Reconnecting · slow connection', detail: `The connection was too slow to keep up, so it is being opened again. ${kept}` };
    case 'awareness-too-large':
      return { tone: 'bad', label: 'Not syncing · connection refused', detail: `The server refused what this device says about itself to your other devices. ${again} ${kept}` };
  }
}

/**
 * Says plainly what is saved where. "Saved" only once the server has acknowledged every change
 * (the SDK's `unsavedChanges` counts until the durable ack), never on mere connection.
 */
export function summarizeSync(s: SessionStatus, now: number = Date.now()): SyncSummary {
  const unsaved = s.unsavedChanges;
  // The server said why it closed: that matters more than "offline" or "connecting".
  if (s.serverClose && !s.connected) return explainServerClose(s.serverClose, now);
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
  if (s.serverClose && !s.connected) {
    const state = s.serverClose.retryAt !== null ? 'paused' : 'stopped';
    return `${base}; right now copying to your account is ${state}${unsaved > 0 ? `, and ${plural(unsaved, 'change is', 'changes are')} only on this device` : ''}.`;
  }
  if (unsaved > 0) {
    const it = unsaved === 1 ? 'it' : 'they';
    const when = s.online ? `${it} will be copied in a moment` : `${it} will be copied when you are back online`;
    return `${base}; right now ${plural(unsaved, 'change is', 'changes are')} only on this device, and ${when}.`;
  }
  if (!s.online || !s.connected) return `${base}; right now you are not connected, and nothing is waiting to be copied.`;
  if (!s.synced) return `${base}; right now this device is catching up with your other devices.`;
  return `${base}; right now both copies are the same.`;
}
