/**
 * Pieces every adapter shares, so the three agree byte for byte on what they accept and return:
 * snapshot splitting, the event cursor, metadata (de)serialisation and small limits.
 */
import { InvalidCursorError } from './errors.js';
import type { SyncQueueError } from './ports/sync-queue.js';
import type { BatchLog } from './ports/batch-logs.js';
import type { BatchLogDraft, TelemetryMetadata } from './ports/telemetry.js';

/**
 * Largest snapshot part, bytes. MongoDB rejects documents above 16 MB; 12 MiB leaves room for
 * the BSON envelope (and FerretDB's JSON encoding of binary data) with margin.
 */
export const SNAPSHOT_PART_BYTES = 12 * 1024 * 1024;

/** A failed queue item keeps only its most recent errors, so a poison item cannot grow without bound. */
export const MAX_QUEUE_ERRORS = 20;

export function splitSnapshot(state: Uint8Array, partBytes = SNAPSHOT_PART_BYTES): Uint8Array[] {
  if (state.byteLength <= partBytes) return [state];
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < state.byteLength; offset += partBytes) {
    parts.push(state.subarray(offset, Math.min(offset + partBytes, state.byteLength)));
  }
  return parts;
}

export function joinParts(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

export interface SnapshotPartMeta {
  readonly version: number;
  /**
   * Random per write. Two writers that raced for the same version may each have written some
   * of its parts (the unique index stops only the duplicates); grouping by token means such a
   * mix is never taken for a complete snapshot.
   */
  readonly token?: string;
  readonly part: number;
  readonly partCount: number;
}

/**
 * The newest version whose parts are all present. A crash while writing a new version leaves
 * it incomplete; readers then keep using the previous one, which is deleted only afterwards.
 */
export function newestCompleteVersion(parts: readonly SnapshotPartMeta[]): { version: number; token: string } | null {
  const seen = new Map<string, { version: number; token: string; parts: Set<number>; expected: number }>();
  for (const p of parts) {
    const token = p.token ?? '';
    const key = `${p.version}:${token}`;
    const entry = seen.get(key) ?? { version: p.version, token, parts: new Set<number>(), expected: p.partCount };
    entry.parts.add(p.part);
    seen.set(key, entry);
  }
  let best: { version: number; token: string } | null = null;
  for (const e of seen.values()) {
    if (e.parts.size === e.expected && (best === null || e.version > best.version)) best = { version: e.version, token: e.token };
  }
  return best;
}

/** Position in the newest-first event order: `createdAt` then the store's own id as tie-break. */
export interface EventCursor {
  readonly createdAt: number;
  readonly id: string;
}

export function encodeCursor(cursor: EventCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id]), 'utf8').toString('base64url');
}

/** Returns null for anything that is not a cursor we made; callers treat that as bad input. */
export function decodeCursor(raw: string): EventCursor | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && Number.isFinite(value[0]) && typeof value[1] === 'string') {
      return { createdAt: value[0] as number, id: value[1] };
    }
  } catch {
    // fall through: not base64url JSON
  }
  return null;
}

export function requireCursor(raw: string | undefined): EventCursor | null {
  if (raw === undefined || raw === '') return null;
  const cursor = decodeCursor(raw);
  // A storage error; the HTTP layer answers it with 400 VALIDATION_FAILED.
  if (cursor === null) throw new InvalidCursorError();
  return cursor;
}

/**
 * A `recentEvents` position (`deletions:seq`) as the SQLite and memory stores make it, or null
 * for anything else, which those stores answer with a complete read.
 */
export function parsePosition(raw: string): { readonly deletions: number; readonly seq: number } | null {
  const m = /^(\d{1,15}):(\d{1,15})$/.exec(raw);
  return m === null ? null : { deletions: Number(m[1]), seq: Number(m[2]) };
}

/**
 * The log of a batch whose `inserted` of `events` events were new, written at `endTime`
 * (what every adapter's `insertEventsWithLog` stores; the SQLite writer thread does the same sums).
 */
export function completeBatchLog(draft: BatchLogDraft, inserted: number, events: number, endTime: Date): BatchLog {
  return {
    ...draft,
    successCount: draft.successCount + inserted,
    duplicateCount: draft.duplicateCount + (events - inserted),
    endTime,
    duration: Math.max(0, endTime.getTime() - draft.startTime.getTime()),
  };
}

const metadataDateKeys = ['clientTimestamp', 'serverTimestamp', 'sentAt', 'correctedTimestamp'] as const;

function dateJson(d: Date): string {
  const iso = isoString(d);
  return iso === null ? 'null' : `"${iso}"`;
}

/**
 * Remembers, per metadata key, the JSON text of the last date it formatted there (by identity).
 * The events of one batch share their receive time and usually their send time: the same Date
 * objects, 500 times. Dates must not be changed while a cache that has seen them is in use.
 */
export class DateTexts {
  private readonly last = new Map<string, { date: Date; text: string }>();
  text(key: string, d: Date): string {
    const seen = this.last.get(key);
    if (seen === undefined) {
      const text = dateJson(d);
      this.last.set(key, { date: d, text });
      return text;
    }
    if (seen.date !== d) {
      seen.date = d;
      seen.text = dateJson(d);
    }
    return seen.text;
  }
}

/** `"key":` for the metadata keys seen so far (a handful: the type's own keys). */
const keyTexts = new Map<string, string>();
const MAX_KEY_TEXTS = 64;

function keyText(key: string): string {
  let text = keyTexts.get(key);
  if (text === undefined) {
    text = `${JSON.stringify(key)}:`;
    if (keyTexts.size < MAX_KEY_TEXTS) keyTexts.set(key, text);
  }
  return text;
}

/** Printable ASCII without `"` and `\`: JSON.stringify would only add the quotes. */
const PLAIN_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** `JSON.stringify(s)` for a string. */
export function stringJson(s: string): string {
  return s.length <= 256 && PLAIN_STRING.test(s) ? `"${s}"` : JSON.stringify(s);
}

/**
 * JSON text for a metadata column: dates as ISO strings, revived by {@link metadataFromJson}.
 * `dates`, for a run of records that share Date objects (one batch), formats each of those once.
 */
export function metadataToJson(metadata: TelemetryMetadata, dates?: DateTexts): string {
  // Written member by member instead of copying the object with its dates formatted and then
  // stringifying the copy: this runs for every ingested event, and the copy (an object per event)
  // plus `Date#toJSON`'s detour (~2 µs a date, four dates an event) were most of an event's
  // serialisation. Key texts are made once per key, plain strings are quoted without the
  // escaper, an empty `flags` is `[]` without a call. Same text as JSON.stringify would write
  // (shared.test.ts checks it on generated metadata): members in key order, `undefined` ones left out.
  let out = '{';
  for (const key of Object.keys(metadata)) {
    const value = (metadata as unknown as Record<string, unknown>)[key];
    let text: string;
    if (typeof value === 'string') {
      text = stringJson(value);
    } else if (value === null) {
      text = 'null';
    } else if (value instanceof Date) {
      text = dates ? dates.text(key, value) : dateJson(value);
    } else if (Array.isArray(value) && value.length === 0) {
      text = '[]';
    } else {
      if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
      const json = JSON.stringify(value) as string | undefined;
      if (json === undefined) continue;
      text = json;
    }
    out += out.length === 1 ? `${keyText(key)}${text}` : `,${keyText(key)}${text}`;
  }
  return `${out}}`;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);
const PAD2 = Array.from({ length: 100 }, (_, n) => pad2(n));
const PAD3 = Array.from({ length: 1000 }, (_, n) => pad3(n));

const DAY_MS = 86_400_000;
/** 10000-01-01T00:00:00.000Z: from there on toISOString writes an expanded year. */
const YEAR_10000_MS = 253_402_300_800_000;
/** The `YYYY-MM-DDT` of the last day formatted (a batch's dates are nearly all on one or two days). */
let lastDay = Number.NaN;
let lastDayText = '';

/**
 * `Date#toJSON`'s text (null for an invalid date), without its generic property lookups. From
 * 1970 to 9999 the time of day is written from the epoch milliseconds, and the day's text is kept
 * from the previous call when it is the same day: seven `getUTC…` calls a date were most of the
 * cost of the metadata column.
 */
export function isoString(d: Date): string | null {
  const t = d.getTime();
  if (Number.isNaN(t)) return null;
  if (t >= 0 && t < YEAR_10000_MS) {
    const day = Math.floor(t / DAY_MS);
    if (day !== lastDay) {
      lastDayText = d.toISOString().slice(0, 11);
      lastDay = day;
    }
    let ms = t - day * DAY_MS;
    const hours = Math.floor(ms / 3_600_000);
    ms -= hours * 3_600_000;
    const minutes = Math.floor(ms / 60_000);
    ms -= minutes * 60_000;
    const seconds = Math.floor(ms / 1000);
    ms -= seconds * 1000;
    return `${lastDayText}${PAD2[hours]}:${PAD2[minutes]}:${PAD2[seconds]}.${PAD3[ms]}Z`;
  }
  const year = d.getUTCFullYear();
  // Years outside 0000–9999 take toISOString's expanded form.
  if (year < 0 || year > 9999) return d.toISOString();
  const y = year < 10 ? `000${year}` : year < 100 ? `00${year}` : year < 1000 ? `0${year}` : `${year}`;
  return `${y}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${pad3(d.getUTCMilliseconds())}Z`;
}

export function metadataFromJson(text: string): TelemetryMetadata {
  const raw = JSON.parse(text) as Record<string, unknown>;
  for (const key of metadataDateKeys) {
    const v = raw[key];
    if (typeof v === 'string') raw[key] = new Date(v);
  }
  return raw as unknown as TelemetryMetadata;
}

export function errorsFromJson(text: string): SyncQueueError[] {
  const raw = JSON.parse(text) as { at: string; message: string }[];
  return raw.map((e) => ({ at: new Date(e.at), message: e.message }));
}

export function emptyStatusCounts(): Record<'pending' | 'syncing' | 'synced' | 'error', number> {
  return { pending: 0, syncing: 0, synced: 0, error: 0 };
}

/** Range bounds matching names that start with `userId/` ('0' is the code point after '/'). */
export function userDocumentRange(userId: string): { gte: string; lt: string } {
  return { gte: `${userId}/`, lt: `${userId}0` };
}

export function clampLimit(limit: number, max = 1000): number {
  if (!Number.isFinite(limit)) return max;
  return Math.max(1, Math.min(max, Math.floor(limit)));
}
