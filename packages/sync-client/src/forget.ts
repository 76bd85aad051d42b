import { unsavedCountKey } from './client.js';
import type { RescueStore } from './ports.js';

/** Where the browser entry keeps one learner's data; the names `browser.ts` and `doc/persistence.ts` use. */
export function localDatabaseNames(userId: string, docName: string = userId): string[] {
  return [`prepmate-doc:${docName}`, `prepmate-outbox:${userId}`];
}

/** Prefixes of the copies the document and the outbox leave in the rescue store on unload. */
function rescuePrefixes(userId: string, docName: string): string[] {
  return [`prepmate-doc-rescue:${encodeURIComponent(docName)}:`, `prepmate-outbox-rescue:${encodeURIComponent(userId)}:`];
}

export interface ForgetLocalDataOptions {
  readonly userId: string;
  /** Default the userId, as for the client. */
  readonly docName?: string;
  /** `null`: nothing in IndexedDB to remove (memory storage). */
  readonly indexedDB: IDBFactory | null;
  readonly rescue: RescueStore | null;
}

/**
 * Removes everything the SDK keeps on this device for one learner: the document and outbox
 * databases and the unload copies. Call it after `destroy()` of that learner's client (an open
 * connection would hold the databases). A database another tab still holds is deleted by the
 * browser once that tab lets go; this resolves when the deletion is done or queued behind it.
 */
export async function forgetLocalData(options: ForgetLocalDataOptions): Promise<void> {
  const docName = options.docName ?? options.userId;
  const prefixes = rescuePrefixes(options.userId, docName);
  if (options.rescue) {
    try {
      for (const key of options.rescue.keys()) if (prefixes.some((p) => key.startsWith(p))) options.rescue.remove(key);
      options.rescue.remove(unsavedCountKey(docName));
    } catch {
      // Storage blocked: there is nothing readable to remove either.
    }
  }
  const idb = options.indexedDB;
  if (!idb) return;
  await Promise.all(
    localDatabaseNames(options.userId, docName).map(
      (name) =>
        new Promise<void>((resolve, reject) => {
          const request = idb.deleteDatabase(name);
          request.onsuccess = () => resolve();
          request.onblocked = () => resolve();
          request.onerror = () => reject(request.error ?? new Error(`could not delete ${name}`));
        }),
    ),
  );
}
