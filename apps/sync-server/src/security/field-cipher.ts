import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { FieldKeyring } from '../key-formats.js';

/**
 * Field-level encryption of telemetry `eventData` (AES-256-GCM). An encrypted value is replaced
 * by an envelope that carries everything needed to decrypt it except the key:
 *
 *     { "__enc": "v1", "kid": "k2026", "iv": "<12 bytes b64>", "tag": "<16 bytes b64>", "ct": "<b64>" }
 *
 * The plaintext is the JSON of the original value (any JSON type). The additional authenticated
 * data binds the ciphertext to its place — `prepmate-field/v1 \0 userId \0 eventId \0 path` —
 * so a database writer cannot move one learner's ciphertext into another learner's event.
 * (`__enc`, not `$enc`: MongoDB and FerretDB refuse `$`-prefixed field names in stored data.)
 */
export interface EncryptedValue {
  readonly __enc: 'v1';
  readonly kid: string;
  readonly iv: string;
  readonly tag: string;
  readonly ct: string;
}

/** Where an event's values live; part of the AAD. */
export interface FieldContext {
  readonly userId: string;
  readonly eventId: string;
}

/** A ciphertext that cannot be read: unknown key id, wrong key, or tampered data. */
export class FieldDecryptionError extends Error {
  override readonly name = 'FieldDecryptionError';
}

export interface FieldCipher {
  /** The configured paths (dotted). */
  readonly paths: readonly string[];
  readonly currentKid: string;
  /** A copy of `data` with every configured path (and any envelope-shaped input) encrypted. */
  encrypt(data: Record<string, unknown>, ctx: FieldContext): Record<string, unknown>;
  /** A copy of `data` with every envelope decrypted, wherever it is. */
  decrypt(data: Record<string, unknown>, ctx: FieldContext): Record<string, unknown>;
  /** True when `data` holds plaintext at a configured path or an envelope of an older key. */
  needsRotation(data: Record<string, unknown>): boolean;
}

type Json = unknown;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function isEncryptedValue(v: unknown): v is EncryptedValue {
  if (!isPlainObject(v) || v['__enc'] !== 'v1') return false;
  const keys = Object.keys(v);
  return keys.length === 5 && ['kid', 'iv', 'tag', 'ct'].every((k) => typeof v[k] === 'string');
}

/** Every envelope in `value` with its dotted path (array indices are not part of paths). */
export function findEncryptedValues(value: Json, path = ''): { path: string; value: EncryptedValue }[] {
  if (isEncryptedValue(value)) return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((v) => findEncryptedValues(v, path));
  if (isPlainObject(value)) return Object.entries(value).flatMap(([k, v]) => findEncryptedValues(v, path === '' ? k : `${path}.${k}`));
  return [];
}

const aad = (ctx: FieldContext, path: string): Buffer => Buffer.from(`prepmate-field/v1\0${ctx.userId}\0${ctx.eventId}\0${path}`, 'utf8');

export function createFieldCipher(keyring: FieldKeyring, paths: readonly string[]): FieldCipher {
  const segmentsOf = paths.map((p) => p.split('.'));

  function seal(value: Json, ctx: FieldContext, path: string): EncryptedValue {
    const { kid, key } = keyring.current;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(ctx, path));
    const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return { __enc: 'v1', kid, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
  }

  function open(envelope: EncryptedValue, ctx: FieldContext, path: string): Json {
    const k = keyring.byKid.get(envelope.kid);
    if (k === undefined) throw new FieldDecryptionError(`stored ciphertext uses key id "${envelope.kid}", which FIELD_ENCRYPTION_KEY does not contain`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', k.key, Buffer.from(envelope.iv, 'base64'));
      decipher.setAAD(aad(ctx, path));
      decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
      const text = Buffer.concat([decipher.update(Buffer.from(envelope.ct, 'base64')), decipher.final()]).toString('utf8');
      return JSON.parse(text) as Json;
    } catch (error) {
      throw new FieldDecryptionError(`ciphertext at ${path} (key ${envelope.kid}) does not authenticate: wrong key or altered data`, { cause: error });
    }
  }

  /** Applies `leaf` at the end of `segments`, through arrays, leaving everything else as is. */
  function atPath(value: Json, segments: readonly string[], i: number, path: string, leaf: (v: Json, path: string) => Json): Json {
    if (i === segments.length) return leaf(value, path);
    if (Array.isArray(value)) return value.map((v) => atPath(v, segments, i, path, leaf));
    const name = segments[i]!;
    if (!isPlainObject(value) || !Object.hasOwn(value, name) || value[name] === undefined) return value;
    return { ...value, [name]: atPath(value[name], segments, i + 1, path === '' ? name : `${path}.${name}`, leaf) };
  }

  /** Envelope-shaped input from a client is sealed like a secret, so reading it back cannot fail or be confused with ours. */
  function sealLookalikes(value: Json, ctx: FieldContext, path: string): Json {
    if (isEncryptedValue(value)) return seal(value, ctx, path);
    if (Array.isArray(value)) return value.map((v) => sealLookalikes(v, ctx, path));
    if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sealLookalikes(v, ctx, path === '' ? k : `${path}.${k}`)]));
    return value;
  }

  function openAll(value: Json, ctx: FieldContext, path: string): Json {
    // No recursion into what an envelope decrypts to: that is the client's own value.
    if (isEncryptedValue(value)) return open(value, ctx, path);
    if (Array.isArray(value)) return value.map((v) => openAll(v, ctx, path));
    if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, openAll(v, ctx, path === '' ? k : `${path}.${k}`)]));
    return value;
  }

  return {
    paths,
    currentKid: keyring.current.kid,
    encrypt(data, ctx) {
      let out = sealLookalikes(data, ctx, '') as Record<string, unknown>;
      for (const segments of segmentsOf) {
        out = atPath(out, segments, 0, '', (v, path) => (isEncryptedValue(v) ? v : seal(v, ctx, path))) as Record<string, unknown>;
      }
      return out;
    },
    decrypt(data, ctx) {
      return openAll(data, ctx, '') as Record<string, unknown>;
    },
    needsRotation(data) {
      if (findEncryptedValues(data).some((e) => e.value.kid !== keyring.current.kid)) return true;
      let plaintext = false;
      for (const segments of segmentsOf) {
        atPath(data, segments, 0, '', (v) => {
          if (!isEncryptedValue(v)) plaintext = true;
          return v;
        });
      }
      return plaintext;
    },
  };
}
