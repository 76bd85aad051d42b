/**
 * Hybrid logical clock stamps for the learner's editable registers (topic fields, session
 * corrections). A stamp is `(wall, counter, node)`:
 *
 * - `wall`: milliseconds since the epoch, the device's clock at the time of the edit, but never
 *   less than any stamp the writer has already seen in the register it overwrites;
 * - `counter`: breaks ties within one millisecond (and carries causality when a device's clock is
 *   behind a stamp it has seen);
 * - `node`: the writing device, so that two devices never produce the same stamp and the order
 *   of two stamps is total and the same on every replica.
 *
 * Because a write's stamp is above every stamp it supersedes, an edit made after seeing another
 * always sorts after it, whatever the clocks say: a device whose clock is a year ahead wins only
 * against edits made without having seen its own, and once the others have seen one of its
 * stamps in a record their next edits of that record sort after it.
 */

/** One stamp; compare with {@link compareStamps}. */
export interface Stamp {
  readonly wall: number;
  readonly counter: number;
  readonly node: string;
}

/** Characters of a node id (a device id): short and safe inside a map key. */
const NODE_CHARS = /^[A-Za-z0-9_-]{1,64}$/;
const WALL_DIGITS = 15;
const COUNTER_DIGITS = 6;
const MAX_COUNTER = 10 ** COUNTER_DIGITS - 1;
const STAMP_PATTERN = /^(\d{15})\.(\d{6})\.([A-Za-z0-9_-]{0,64})$/;

/** `true` when `node` can name a device in a stamp. */
export function isNodeId(node: string): boolean {
  return NODE_CHARS.test(node);
}

/**
 * The fixed-width text of a stamp (`000001764755000000.000000.<node>`); two encoded stamps
 * compare as strings in the same order as {@link compareStamps}.
 */
export function encodeStamp(stamp: Stamp): string {
  return `${String(stamp.wall).padStart(WALL_DIGITS, '0')}.${String(stamp.counter).padStart(COUNTER_DIGITS, '0')}.${stamp.node}`;
}

/** Parses an encoded stamp; `undefined` for anything else (foreign writers can store any key). */
export function decodeStamp(text: string): Stamp | undefined {
  const m = STAMP_PATTERN.exec(text);
  if (!m) return undefined;
  return { wall: Number(m[1]), counter: Number(m[2]), node: m[3]! };
}

/** Total order: wall time, then counter, then node by UTF-16 code units (never locale order). */
export function compareStamps(a: Stamp, b: Stamp): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  if (a.node === b.node) return 0;
  return a.node < b.node ? -1 : 1;
}

/**
 * A device's hybrid logical clock. `next(seen)` returns a stamp above the clock's previous
 * stamp and above every stamp in `seen` (the register's current entries), at the device's wall
 * time when that is later.
 */
export class HybridClock {
  readonly node: string;
  readonly #now: () => number;
  #last: Stamp | null = null;

  constructor(node: string, now: () => number = Date.now) {
    if (!isNodeId(node)) throw new TypeError('a clock node is 1–64 characters of [A-Za-z0-9_-]');
    this.node = node;
    this.#now = now;
  }

  /** The last stamp this clock issued, if any. */
  get last(): Stamp | null {
    return this.#last;
  }

  next(seen: Iterable<Stamp> = []): Stamp {
    let maxWall = this.#last?.wall ?? 0;
    let maxCounter = this.#last?.counter ?? -1;
    for (const s of seen) {
      if (s.wall > maxWall || (s.wall === maxWall && s.counter > maxCounter)) {
        maxWall = s.wall;
        maxCounter = s.counter;
      }
    }
    const wall = Math.max(0, Math.floor(this.#now()));
    let stamp: Stamp;
    if (wall > maxWall) stamp = { wall, counter: 0, node: this.node };
    else if (maxCounter < MAX_COUNTER) stamp = { wall: maxWall, counter: maxCounter + 1, node: this.node };
    // Counter exhausted within one millisecond: borrow the next millisecond.
    else stamp = { wall: maxWall + 1, counter: 0, node: this.node };
    this.#last = stamp;
    return stamp;
  }
}

/** A random node id for a replica that was given none (tests, the server). */
export function randomNodeId(): string {
  const bytes = new Uint8Array(9);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += (b % 36).toString(36);
  return s;
}
