/**
 * State a test starts from but does not test, written as another device of the learner would:
 * the real SDK in Node over the real WebSocket, signed in through the dev token endpoint. Faster
 * than the UI, and a test that needs it does not depend on another test having made it.
 */
import { createSyncClient, type SyncClient } from '@prepmate/sync-client/node';

/** A dev-mode token for `userId` (the server runs with `AUTH_MODE=dev`). */
export async function devToken(serverUrl: string, userId: string): Promise<string> {
  const res = await fetch(`${serverUrl}/api/auth/dev-token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ userId }) });
  if (!res.ok) throw new Error(`dev token for ${userId}: HTTP ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

/**
 * Writes into the learner's document with `write` (one transaction) and returns once the server
 * has stored it.
 */
export async function seedLearner(serverUrl: string, userId: string, write: (document: SyncClient['document']) => void): Promise<void> {
  const token = await devToken(serverUrl, userId);
  const seeder = createSyncClient({ apiBaseUrl: serverUrl, wsUrl: `${serverUrl.replace(/^http/, 'ws')}/sync`, userId, getToken: async () => token });
  try {
    await seeder.ready;
    seeder.doc.transact(() => write(seeder.document));
    await seeder.whenSaved();
  } finally {
    await seeder.destroy();
  }
}
