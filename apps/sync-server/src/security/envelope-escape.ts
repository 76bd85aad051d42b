/**
 * Learner data may hold anything, including objects shaped like the server's ciphertext envelope
 * (`{ "__enc": "v1", kid, iv, tag, ct }`). Stored as sent, such an object would be taken for
 * ciphertext by the start-up key check, the decryptor and `rotate-keys` — one event could stop
 * the next start. So the key name `__enc` is reserved for envelopes the server makes: on the way
 * in, every key of learner data spelled `__enc`, `___enc`, `____enc`, … gains one more leading
 * underscore; on the way out, every such key with three or more underscores loses one. The
 * mapping is reversible for every input, and stored learner data never holds a key `__enc`, so
 * an envelope in the database was made by the server.
 */

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `__enc` with two or more leading underscores: the learner's spelling of keys we escape. */
const LEARNER_KEY = /^_{2,}enc$/;
/** `___enc` with three or more: an escaped learner key. */
const ESCAPED_KEY = /^_{3,}enc$/;

function mapKeys(value: unknown, rename: (key: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => mapKeys(v, rename));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[rename(k)] = mapKeys(v, rename);
  return out;
}

/** True when some key at any depth matches `pattern` (no allocation: almost no data has one). */
function hasKey(value: unknown, pattern: RegExp): boolean {
  if (Array.isArray(value)) return value.some((v) => hasKey(v, pattern));
  if (!isPlainObject(value)) return false;
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    if (pattern.test(k) || hasKey(value[k], pattern)) return true;
  }
  return false;
}

/**
 * Learner data as stored: no key is `__enc`. Data without such a key is returned as it is (every
 * event went through a full copy before, for nothing; callers serialise or copy it anyway).
 */
export function escapeLearnerData(data: Record<string, unknown>): Record<string, unknown> {
  if (!hasKey(data, LEARNER_KEY)) return data;
  return mapKeys(data, (k) => (LEARNER_KEY.test(k) ? `_${k}` : k)) as Record<string, unknown>;
}

/** Stored learner data (after decryption) as the learner sent it; unchanged when nothing was escaped. */
export function unescapeLearnerData(data: Record<string, unknown>): Record<string, unknown> {
  if (!hasKey(data, ESCAPED_KEY)) return data;
  return mapKeys(data, (k) => (ESCAPED_KEY.test(k) ? k.slice(1) : k)) as Record<string, unknown>;
}
