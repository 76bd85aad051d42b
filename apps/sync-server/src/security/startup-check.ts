import type { RecordStore } from '../storage/ports.js';
import { findEncryptedValues } from './field-cipher.js';
import type { FieldKeyring } from '../key-formats.js';

/** Events read at start to check that the configured keys can read what is stored. */
export const STARTUP_SAMPLE = 200;

/**
 * Reads the first stored events and returns a problem when their ciphertext names a key id the
 * keyring lacks (or there is ciphertext and no key at all): starting anyway would answer every
 * read of those events with an error, or — worse — let an operator believe the data is readable.
 * Null when the sample is fine.
 */
export async function checkStoredCiphertext(records: RecordStore, keyring: FieldKeyring | null, sample = STARTUP_SAMPLE): Promise<string | null> {
  const page = await records.scan('events', null, sample);
  const kids = new Set<string>();
  for (const r of page.records) {
    if (r.type !== 'event') continue;
    for (const found of findEncryptedValues(r.event.eventData)) kids.add(found.value.kid);
  }
  if (kids.size === 0) return null;
  if (keyring === null) return `FIELD_ENCRYPTION_KEY: stored events hold encrypted fields (key ids ${[...kids].join(', ')}) but no key is configured`;
  const unknown = [...kids].filter((k) => !keyring.byKid.has(k));
  if (unknown.length > 0) return `FIELD_ENCRYPTION_KEY: stored events are encrypted with key id(s) ${unknown.join(', ')}, which the configured keys (${[...keyring.byKid.keys()].join(', ')}) do not include; add the old key after the current one`;
  return null;
}
