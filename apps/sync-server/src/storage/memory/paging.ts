import type { RecordPage, StoreRecord } from '../ports.js';
import { clampLimit, encodeCursor, requireCursor } from '../shared.js';

export interface KeysetQuery<T> {
  /** The time the listing is ordered by; `seq` (the insertion order) breaks ties. */
  readonly timeOf: (row: T) => Date;
  readonly seqOf: (row: T) => number;
  /** `desc`: newest first (events); `asc`: oldest first (audit). */
  readonly order: 'asc' | 'desc';
  readonly limit: number;
  /** Opaque cursor from a previous page; rejected (InvalidCursorError) when not one of ours. */
  readonly cursor: string | undefined;
}

/** One page of a (time, seq) keyset listing over rows already filtered, plus the next page's cursor. */
export function keysetPage<T>(rows: readonly T[], q: KeysetQuery<T>): { rows: T[]; nextCursor: string | null } {
  const cursor = requireCursor(q.cursor);
  const limit = clampLimit(q.limit);
  const sign = q.order === 'desc' ? -1 : 1;
  const key = (r: T): [number, number] => [q.timeOf(r).getTime(), q.seqOf(r)];
  const after = (r: T): boolean => {
    if (cursor === null) return true;
    const [t, s] = key(r);
    return sign * (t - cursor.createdAt) > 0 || (t === cursor.createdAt && sign * (s - Number(cursor.id)) > 0);
  };
  const matching = rows.filter(after).sort((a, b) => {
    const [ta, sa] = key(a);
    const [tb, sb] = key(b);
    return sign * (ta - tb) || sign * (sa - sb);
  });
  const page = matching.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, nextCursor: matching.length > limit && last !== undefined ? encodeCursor({ createdAt: q.timeOf(last).getTime(), id: String(q.seqOf(last)) }) : null };
}

/** One page of a whole table in insertion order (backup): `after` is the last seq of the previous page. */
export function seqPage<T>(rows: readonly T[], after: string | null, limit: number, seqOf: (r: T) => number, map: (r: T) => StoreRecord): RecordPage {
  const n = clampLimit(limit, 10_000);
  const afterSeq = after === null ? 0 : Number(after);
  const selected = rows.filter((r) => seqOf(r) > afterSeq).sort((a, b) => seqOf(a) - seqOf(b)).slice(0, n);
  const last = selected.at(-1);
  return { records: selected.map(map), next: selected.length === n && last !== undefined ? String(seqOf(last)) : null };
}
