/**
 * Parsers of the security variables (`FIELD_ENCRYPTION_KEY`, `ENCRYPTED_FIELDS`,
 * `BATCH_SIGNING_KEYS`). Pure functions: `config.ts` calls them to refuse a bad environment at
 * start, the composition root calls them again to build the keyring and the signer.
 */

/** One AES-256 key and the id stored beside every ciphertext it made. */
export interface FieldKey {
  readonly kid: string;
  /** 32 bytes. */
  readonly key: Buffer;
}

export interface FieldKeyring {
  /** The key new ciphertext is made with: the first of the list. */
  readonly current: FieldKey;
  /** Every key that can still decrypt, current included. */
  readonly byKid: ReadonlyMap<string, FieldKey>;
}

/** A parse failure; the message says what the variable accepts, never the secret itself. */
export class KeyFormatError extends Error {
  override readonly name = 'KeyFormatError';
}

const KID = /^[A-Za-z0-9_-]{1,32}$/;
const CLIENT_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Minimum length of a batch signing secret: HMAC keys shorter than this are guessable. */
export const MIN_SIGNING_SECRET_LENGTH = 16;

/**
 * `kid:base64-of-32-bytes[,oldKid:base64,...]` — the first key encrypts, all of them decrypt,
 * so a rotation prepends the new key and keeps the old ones until `npm run rotate-keys` is done.
 */
export function parseFieldKeys(text: string): FieldKeyring {
  const entries = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) throw new KeyFormatError('accepts keyId:base64-of-32-bytes[,oldKeyId:base64,...]');
  const byKid = new Map<string, FieldKey>();
  const keys: FieldKey[] = [];
  for (const [i, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    const kid = colon > 0 ? entry.slice(0, colon) : '';
    const b64 = colon > 0 ? entry.slice(colon + 1) : '';
    if (!KID.test(kid)) throw new KeyFormatError(`key ${i + 1}: accepts keyId:base64 where keyId is 1-32 of [A-Za-z0-9_-]`);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64)) throw new KeyFormatError(`key ${i + 1} (${kid}): the key is not base64`);
    const key = Buffer.from(b64, b64.includes('-') || b64.includes('_') ? 'base64url' : 'base64');
    if (key.length !== 32) throw new KeyFormatError(`key ${i + 1} (${kid}): must decode to 32 bytes (AES-256), got ${key.length}; make one with \`openssl rand -base64 32\``);
    if (byKid.has(kid)) throw new KeyFormatError(`key id ${kid} appears twice`);
    const k = { kid, key };
    byKid.set(kid, k);
    keys.push(k);
  }
  return { current: keys[0]!, byKid };
}

/** `answers.text,notes` → `['answers.text', 'notes']` (dotted paths into `eventData`). */
export function parseEncryptedFields(text: string): string[] {
  const paths = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of paths) if (!PATH.test(p)) throw new KeyFormatError(`"${p}" is not a dotted path of [A-Za-z0-9_-] names (e.g. answers.text)`);
  return [...new Set(paths)];
}

/** `clientId:secret,...` → clientId → secret. */
export function parseSigningKeys(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [i, entry] of text.split(',').map((s) => s.trim()).filter(Boolean).entries()) {
    const colon = entry.indexOf(':');
    const clientId = colon > 0 ? entry.slice(0, colon) : '';
    const secret = colon > 0 ? entry.slice(colon + 1) : '';
    if (!CLIENT_ID.test(clientId)) throw new KeyFormatError(`entry ${i + 1}: accepts clientId:secret where clientId is 1-64 of [A-Za-z0-9_.-]`);
    if (secret.length < MIN_SIGNING_SECRET_LENGTH) throw new KeyFormatError(`entry ${i + 1} (${clientId}): the secret must be at least ${MIN_SIGNING_SECRET_LENGTH} characters`);
    if (out.has(clientId)) throw new KeyFormatError(`client ${clientId} appears twice`);
    out.set(clientId, secret);
  }
  return out;
}
