/** JSON value types and helpers shared by the schemas, the documents and the derived values. */

/** A JSON primitive. */
export type JsonPrimitive = string | number | boolean | null;
/** Any JSON value. */
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object (what `eventData` must be). */
export type JsonObject = { [key: string]: JsonValue };

/**
 * Keys that would reach `Object.prototype` if a consumer ever merged the object with a naive
 * `Object.assign`/spread or a deep-merge helper; rejected at every depth.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** One problem found by {@link inspectJson}, with the path to the offending value. */
export interface JsonProblem {
  readonly path: (string | number)[];
  readonly message: string;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Walks an untrusted value and reports everything that is not plain JSON: class instances,
 * functions, non-finite numbers, forbidden keys, nesting deeper than `maxDepth`. It stops at the
 * first `maxProblems` problems so that a hostile payload cannot make the error itself huge.
 */
export function inspectJson(value: unknown, maxDepth: number, maxProblems = 20): JsonProblem[] {
  const problems: JsonProblem[] = [];
  const visit = (v: unknown, path: (string | number)[], depth: number): void => {
    if (problems.length >= maxProblems) return;
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) problems.push({ path, message: 'numbers must be finite' });
      return;
    }
    if (depth >= maxDepth) {
      problems.push({ path, message: `nested deeper than ${maxDepth} levels` });
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((item, i) => visit(item, [...path, i], depth + 1));
      return;
    }
    if (!isPlainObject(v)) {
      problems.push({ path, message: 'must be a plain JSON value' });
      return;
    }
    for (const key of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(key)) {
        problems.push({ path: [...path, key], message: `key "${key}" is not allowed` });
        continue;
      }
      visit(v[key], [...path, key], depth + 1);
    }
  };
  visit(value, [], 0);
  return problems;
}

/** `true` if `value` is a plain (non-array) object; used to tell JSON objects from arrays. */
export function isJsonObjectLike(value: unknown): value is Record<string, unknown> {
  return isPlainObject(value);
}

const encoder = new TextEncoder();

/** Size of `value` serialized as JSON, in UTF-8 bytes. */
export function jsonByteLength(value: unknown): number {
  return encoder.encode(JSON.stringify(value) ?? '').byteLength;
}

/**
 * JSON with object keys sorted at every depth. Two replicas that hold equal values produce
 * equal strings whatever order the keys were inserted in, which is what change detection and
 * convergence checks need.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'undefined';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const source = value as Record<string, unknown>;
    // A null prototype so that a stored "__proto__" key stays a plain key.
    const out = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(source).sort()) {
      const v = source[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}
