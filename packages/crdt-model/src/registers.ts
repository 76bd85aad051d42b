/**
 * Stamped last-writer-wins registers that keep the losing values.
 *
 * A record (one topic, or the corrections of one session) is a flat set of keys:
 *
 * - `field@<stamp>` → value: one write, stamped with the writer's hybrid logical clock;
 * - `field` → value: the plain value. Writers of this package store the winning value there
 *   too (a mirror, so plain Yjs readers keep seeing `status`, `goal`, …); documents written
 *   before stamps existed, and foreign writers, only have the plain key.
 *
 * A write stores its own key and deletes every `field@…` key the writer can see: those writes
 * are superseded (the new stamp is above all of them). Keys the writer could not see — writes
 * made concurrently on another device — survive the merge, so after a merge a register holds
 * exactly the concurrent writes. The value is the one with the highest stamp; the others are
 * the *losing* values, kept until someone writes the field again or dismisses them.
 *
 * A plain value that equals no stamped entry was written by an older or foreign client; it takes
 * part with the stamp `(updatedAt of the record, 0, "")` (wall 0 when `updatedAt` is unreadable).
 */
import { canonicalJson, type JsonValue } from './json.js';
import { compareStamps, decodeStamp, encodeStamp, type Stamp } from './hlc.js';

/** One write of a register. `key` is where it is stored in the record. */
export interface RegisterEntry {
  readonly key: string;
  readonly stamp: Stamp;
  readonly value: unknown;
}

/** The raw keys of one field. */
export interface RegisterGroup {
  readonly entries: readonly RegisterEntry[];
  /** The plain key's value, when the key exists. */
  readonly plain?: { readonly value: unknown };
}

/** A field's resolution. */
export interface ResolvedRegister {
  /** The entry with the highest stamp (the plain value of an older writer has key `field`). */
  readonly winner: RegisterEntry;
  /** The other concurrent writes, newest first. */
  readonly losers: readonly RegisterEntry[];
}

/** Where a stamped write of `field` is stored. */
export function registerKey(field: string, stamp: Stamp): string {
  return `${field}@${encodeStamp(stamp)}`;
}

/** Groups a record's raw keys by field; keys that are neither form are ignored. */
export function groupRegisters(raw: Iterable<readonly [string, unknown]>): Map<string, RegisterGroup> {
  const groups = new Map<string, { entries: RegisterEntry[]; plain?: { value: unknown } }>();
  const group = (field: string) => {
    let g = groups.get(field);
    if (!g) groups.set(field, (g = { entries: [] }));
    return g;
  };
  for (const [key, value] of raw) {
    if (value === undefined) continue;
    const at = key.indexOf('@');
    if (at === -1) {
      group(key).plain = { value };
      continue;
    }
    const stamp = decodeStamp(key.slice(at + 1));
    if (stamp && stamp.node !== '') group(key.slice(0, at)).entries.push({ key, stamp, value });
  }
  return groups;
}

/** Every stamp in the record (what a writer's clock must exceed). */
export function stampsOf(groups: ReadonlyMap<string, RegisterGroup>): Stamp[] {
  const out: Stamp[] = [];
  for (const g of groups.values()) for (const e of g.entries) out.push(e.stamp);
  return out;
}

/** The stamp of a plain value written without stamps: the record's `updatedAt`, or the epoch. */
export function legacyStamp(updatedAt: unknown): Stamp {
  const wall = typeof updatedAt === 'string' ? Date.parse(updatedAt) : NaN;
  return { wall: Number.isFinite(wall) && wall > 0 ? wall : 0, counter: 0, node: '' };
}

const same = (a: unknown, b: unknown): boolean => a === b || canonicalJson(a as JsonValue) === canonicalJson(b as JsonValue);

/**
 * Resolves one field: highest stamp wins; a plain value is a mirror when it equals a stamped
 * entry, else an older writer's value with `fallback` as its stamp. `undefined` when the field
 * was never written.
 */
export function resolveRegister(field: string, group: RegisterGroup | undefined, fallback: Stamp): ResolvedRegister | undefined {
  if (!group) return undefined;
  const all = [...group.entries];
  const plain = group.plain;
  if (plain && !all.some((e) => same(e.value, plain.value))) all.push({ key: field, stamp: fallback, value: plain.value });
  if (all.length === 0) return undefined;
  all.sort((a, b) => compareStamps(b.stamp, a.stamp));
  return { winner: all[0]!, losers: all.slice(1) };
}

/** What to write into a record: keys to set and keys to delete. */
export interface RegisterWrite {
  readonly set: readonly (readonly [string, unknown])[];
  readonly delete: readonly string[];
}

/**
 * A new write of `field`: its stamped key, the mirror (when `mirror`), and the deletion of every
 * stamped key of the field this writer sees (they are superseded).
 */
export function planRegisterWrite(field: string, group: RegisterGroup | undefined, value: unknown, stamp: Stamp, mirror: boolean): RegisterWrite {
  const set: (readonly [string, unknown])[] = [[registerKey(field, stamp), value]];
  const del = (group?.entries ?? []).map((e) => e.key);
  if (mirror) set.push([field, value]);
  else if (group?.plain) del.push(field);
  return { set, delete: del };
}

/**
 * Keeps the winner and deletes the losing writes of a field (the learner chose the current
 * value). With `mirror`, the plain key is set to the winner when it holds anything else: after a
 * concurrent merge it may hold a losing value, which would otherwise outlive its stamped write.
 */
export function planDismissLosers(resolved: ResolvedRegister, field: string, group: RegisterGroup | undefined, mirror: boolean): RegisterWrite {
  const del = resolved.losers.filter((e) => e.key !== field).map((e) => e.key);
  const set: (readonly [string, unknown])[] = [];
  const plain = group?.plain;
  if (mirror) {
    if (!plain || !same(plain.value, resolved.winner.value)) set.push([field, resolved.winner.value]);
  } else if (plain && resolved.winner.key !== field) del.push(field);
  return { set, delete: del };
}
