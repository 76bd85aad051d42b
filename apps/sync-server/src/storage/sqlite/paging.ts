import type { RecordPage, StoreRecord } from '../ports.js';
import { clampLimit, encodeCursor, requireCursor } from '../shared.js';
import type { Connection } from './connection.js';

export interface KeysetQuery {
  readonly table: string;
  /** The time column the listing is ordered by; `id` breaks ties. */
  readonly timeColumn: string;
  /** `desc`: newest first (events); `asc`: oldest first (audit). */
  readonly order: 'asc' | 'desc';
  /** SQL conditions ANDed together, using named parameters from `params`. */
  readonly where: readonly string[];
  readonly params: Readonly<Record<string, unknown>>;
  readonly limit: number;
  /** Opaque cursor from a previous page; rejected (InvalidCursorError) when not one of ours. */
  readonly cursor: string | undefined;
}

/**
 * One page of a (time, id) keyset listing: the rows after the cursor in the listing's order,
 * plus the cursor of the next page (null on the last). Reads one row more than the page to
 * know whether another page follows.
 */
export function keysetPage<R extends { id: number }>(c: Connection, q: KeysetQuery, timeOf: (r: R) => number): { rows: R[]; nextCursor: string | null } {
  const cursor = requireCursor(q.cursor);
  const limit = clampLimit(q.limit);
  const where = q.where.length > 0 ? [...q.where] : ['1 = 1'];
  const params: Record<string, unknown> = { ...q.params, limit: limit + 1 };
  const [cmp, dir] = q.order === 'desc' ? ['<', 'DESC'] : ['>', 'ASC'];
  if (cursor !== null) {
    where.push(`(${q.timeColumn} ${cmp} @cAt OR (${q.timeColumn} = @cAt AND id ${cmp} @cId))`);
    params['cAt'] = cursor.createdAt;
    params['cId'] = Number(cursor.id);
  }
  const rows = c.prep(`SELECT * FROM ${q.table} WHERE ${where.join(' AND ')} ORDER BY ${q.timeColumn} ${dir}, id ${dir} LIMIT @limit`).all(params) as R[];
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const nextCursor = rows.length > limit && last !== undefined ? encodeCursor({ createdAt: timeOf(last), id: String(last.id) }) : null;
  return { rows: page, nextCursor };
}

/** One page of a whole table in id order (backup): `after` is the last id of the previous page. */
export function idPage<R extends { id: number }>(c: Connection, table: string, after: string | null, limit: number, map: (r: R) => StoreRecord): RecordPage {
  const n = clampLimit(limit, 10_000);
  const rows = c.prep(`SELECT * FROM ${table} WHERE id > ? ORDER BY id LIMIT ?`).all(after === null ? 0 : Number(after), n) as R[];
  return { records: rows.map(map), next: rows.length === n ? String(rows.at(-1)?.id ?? '') : null };
}
