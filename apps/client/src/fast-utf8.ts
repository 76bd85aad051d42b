/**
 * The string reader the app's bundle gives lib0 (see `build-plugins/lib0-fast-strings.ts`).
 *
 * A year's learner document is about 300 000 short ASCII strings (map keys, ids, ISO dates, the
 * field names of every fact). lib0 reads each one with a `TextDecoder.decode` call, and in
 * Chromium that call's fixed cost was the largest part of applying a year on a new device.
 * Building a short ASCII string from its char codes gives the same string for a fraction of it.
 * Everything else (longer strings, any byte above 0x7f) still goes to the fatal UTF-8 decoder,
 * so invalid UTF-8 is refused exactly as before.
 *
 * Most of those strings repeat (every fact has the same nine field names, a few hundred topic
 * ids and kinds), so the reader also remembers the last string it built for each of a fixed
 * number of hash slots and answers a repeat with that same string: no new string to allocate
 * and collect, and V8 finds an object key it has already internalised. A slot holds one string
 * of at most `INTERNED_STRING_BYTES`, so the memory is bounded (a few hundred KiB at most) and a
 * collision only costs a rebuild.
 */

/** The part of lib0's `Decoder` the reader uses. */
export interface ByteCursor {
  readonly arr: Uint8Array;
  pos: number;
}

/** Reads the next `length` bytes of a cursor as UTF-8 and moves past them. */
export type Utf8Reader = (cursor: ByteCursor, length: number) => string;

/** Strings up to this many bytes take the char-code path (well below any argument-count limit). */
export const SHORT_STRING_BYTES = 128;

/** Strings up to this many bytes are remembered: keys, ids and dates, not free text. */
export const INTERNED_STRING_BYTES = 32;

/** Hash slots of a reader (a power of two). */
const SLOTS = 4096;

/**
 * A reader with its own table of remembered strings. It throws a `RangeError` when fewer than
 * `length` bytes are left (reading nothing), and whatever `utf8` throws for invalid UTF-8.
 */
export function createUtf8Reader(utf8: TextDecoder): Utf8Reader {
  const slots: (string | undefined)[] = new Array<string | undefined>(SLOTS);
  return (cursor, length) => {
    const bytes = cursor.arr;
    const start = cursor.pos;
    const end = start + length;
    if (end > bytes.length) throw new RangeError('Unexpected end of array');
    cursor.pos = end;
    if (length <= INTERNED_STRING_BYTES) {
      // FNV-1a over the bytes while checking that they are ASCII.
      let hash = 0x811c9dc5 ^ length;
      let i = start;
      for (; i < end; i++) {
        const byte = bytes[i]!;
        if (byte >= 0x80) break;
        hash = Math.imul(hash ^ byte, 0x01000193);
      }
      if (i === end) {
        const slot = (hash ^ (hash >>> 16)) & (SLOTS - 1);
        const known = slots[slot];
        if (known !== undefined && known.length === length) {
          let j = 0;
          while (j < length && known.charCodeAt(j) === bytes[start + j]) j += 1;
          if (j === length) return known;
        }
        const built = fromAscii(bytes, start, end);
        slots[slot] = built;
        return built;
      }
    } else if (length <= SHORT_STRING_BYTES) {
      let i = start;
      while (i < end && bytes[i]! < 0x80) i += 1;
      if (i === end) return fromAscii(bytes, start, end);
    }
    return utf8.decode(bytes.subarray(start, end));
  };
}

/** `bytes[start, end)`, all below 0x80, as a string. */
function fromAscii(bytes: Uint8Array, start: number, end: number): string {
  // strictBindCallApply types `apply`'s arguments as number[]; a Uint8Array is an array-like of numbers.
  return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
}
