/**
 * The string reader the app's bundle gives lib0 (see `build-plugins/lib0-fast-strings.ts`).
 *
 * A year's learner document is about 200 000 short ASCII strings (map keys, ids, ISO dates, the
 * field names of every fact). lib0 reads each one with a `TextDecoder.decode` call, and in
 * Chromium that call's fixed cost was the largest part of applying a year on a new device.
 * Building a short ASCII string from its char codes gives the same string for a fraction of it.
 * Everything else (longer strings, any byte above 0x7f) still goes to the fatal UTF-8 decoder,
 * so invalid UTF-8 is refused exactly as before.
 */

/** The part of lib0's `Decoder` the reader uses. */
export interface ByteCursor {
  readonly arr: Uint8Array;
  pos: number;
}

/** Strings up to this many bytes take the char-code path (well below any argument-count limit). */
export const SHORT_STRING_BYTES = 128;

/**
 * Reads the next `length` bytes of `cursor` as UTF-8 and moves past them. Throws a `RangeError`
 * when fewer than `length` bytes are left, and whatever `utf8` throws for invalid UTF-8.
 */
export function readUtf8At(cursor: ByteCursor, length: number, utf8: TextDecoder): string {
  const bytes = cursor.arr;
  const start = cursor.pos;
  const end = start + length;
  if (end > bytes.length) throw new RangeError('Unexpected end of array');
  cursor.pos = end;
  if (length <= SHORT_STRING_BYTES) {
    let i = start;
    while (i < end && bytes[i]! < 0x80) i += 1;
    // strictBindCallApply types `apply`'s arguments as number[]; a Uint8Array is an array-like of numbers.
    if (i === end) return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  }
  return utf8.decode(bytes.subarray(start, end));
}
