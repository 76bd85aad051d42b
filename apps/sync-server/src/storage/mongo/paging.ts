import type { Types } from 'mongoose';
import type { RecordPage, StoreRecord } from '../ports.js';
import { clampLimit, encodeCursor, requireCursor } from '../shared.js';
import { toObjectIds } from './connection.js';

type Filter = Record<string, unknown>;

/** The slice of a mongoose model the pagers use, so any of our models fits. */
interface Findable {
  find(filter: Filter): { sort(s: Record<string, 1 | -1>): { limit(n: number): { lean<T>(): Promise<T> } } };
}

export interface KeysetQuery {
  /** The Date field the listing is ordered by; `_id` breaks ties. */
  readonly timeField: string;
  /** `desc`: newest first (events); `asc`: oldest first (audit). */
  readonly order: 'asc' | 'desc';
  /** Conditions ANDed together. */
  readonly and: readonly Filter[];
  readonly limit: number;
  /** Opaque cursor from a previous page; rejected (InvalidCursorError) when not one of ours. */
  readonly cursor: string | undefined;
}

/**
 * The conditions as one filter: each as top-level fields where no other condition uses the same
 * field, the rest under `$and`. MongoDB reads both forms alike; FerretDB (on PostgreSQL) pushes
 * only top-level field conditions down to its SQL query and otherwise reads the whole collection,
 * so a learner's listing under `$and` decoded every learner's events.
 */
export function allOf(conditions: readonly Filter[]): Filter {
  const flat: Filter = {};
  const rest: Filter[] = [];
  for (const condition of conditions) {
    for (const [key, value] of Object.entries(condition)) {
      if (key === '$and' || Object.hasOwn(flat, key)) rest.push({ [key]: value });
      else flat[key] = value;
    }
  }
  if (rest.length > 0) flat['$and'] = rest;
  return flat;
}

/**
 * One page of a (time, _id) keyset listing plus the cursor of the next page (null on the last).
 * Reads one document more than the page to know whether another page follows.
 */
export async function keysetPage<D extends { _id: Types.ObjectId }>(model: Findable, q: KeysetQuery, timeOf: (d: D) => Date): Promise<{ rows: D[]; nextCursor: string | null }> {
  const cursor = requireCursor(q.cursor);
  const limit = clampLimit(q.limit);
  const and = [...q.and];
  const [cmp, dir] = q.order === 'desc' ? (['$lt', -1] as const) : (['$gt', 1] as const);
  if (cursor !== null) {
    const at = new Date(cursor.createdAt);
    const [id] = toObjectIds([cursor.id]);
    if (id === undefined) return { rows: [], nextCursor: null };
    and.push({ $or: [{ [q.timeField]: { [cmp]: at } }, { [q.timeField]: at, _id: { [cmp]: id } }] });
  }
  const rows = await model
    .find(allOf(and))
    .sort({ [q.timeField]: dir, _id: dir })
    .limit(limit + 1)
    .lean<D[]>();
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, nextCursor: rows.length > limit && last !== undefined ? encodeCursor({ createdAt: timeOf(last).getTime(), id: last._id.toHexString() }) : null };
}

/** One page of a whole collection in `_id` order (backup): `after` is the last `_id` of the previous page. */
export async function idPage<D extends { _id: Types.ObjectId }>(model: Findable, after: string | null, limit: number, map: (d: D) => StoreRecord): Promise<RecordPage> {
  const n = clampLimit(limit, 10_000);
  const [afterId] = after === null ? [] : toObjectIds([after]);
  const rows = await model.find(afterId === undefined ? {} : { _id: { $gt: afterId } }).sort({ _id: 1 }).limit(n).lean<D[]>();
  const last = rows.at(-1);
  return { records: rows.map(map), next: rows.length === n && last !== undefined ? last._id.toHexString() : null };
}
