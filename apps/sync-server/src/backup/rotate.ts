import { systemActor } from '../audit/context.js';
import type { Store } from '../storage/ports.js';
import type { FieldCipher } from '../security/field-cipher.js';

export interface RotationReport {
  readonly scanned: number;
  readonly reencrypted: number;
  readonly kid: string;
}

/**
 * Re-encrypts stored events under the current key (`FIELD_ENCRYPTION_KEY`'s first entry): every
 * event holding ciphertext of an older key, or plaintext at a path of `ENCRYPTED_FIELDS`
 * (fields added after the events were stored), is decrypted and encrypted again in place.
 * Safe to run while servers run (each event is rewritten whole; a server reads either version,
 * since both keys are configured) and to repeat after an interruption.
 */
export async function rotateKeys(store: Store, cipher: FieldCipher, options: { pageSize?: number; now?: () => Date } = {}): Promise<RotationReport> {
  const pageSize = options.pageSize ?? 500;
  let scanned = 0;
  let reencrypted = 0;
  let after: string | null = null;
  do {
    const page = await store.records.scan('events', after, pageSize);
    for (const r of page.records) {
      if (r.type !== 'event') continue;
      scanned += 1;
      const e = r.event;
      if (!cipher.needsRotation(e.eventData)) continue;
      const ctx = { userId: e.userId, eventId: e.metadata.eventId };
      const data = cipher.encrypt(cipher.decrypt(e.eventData, ctx), ctx);
      if (await store.records.replaceEventData(e.userId, e.metadata.eventId, data)) reencrypted += 1;
    }
    after = page.next;
  } while (after !== null);
  const at = (options.now ?? (() => new Date()))();
  await store.audit.append([
    { at, ...systemActor('rotate-keys'), action: 'keys.rotate', subjectUserId: null, target: cipher.currentKid, details: { scanned, reencrypted, fields: [...cipher.paths] } },
  ]);
  return { scanned, reencrypted, kid: cipher.currentKid };
}
