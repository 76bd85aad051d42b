/**
 * Identifiers made on the client. Event ids are UUIDv7 (RFC 9562): the first 48 bits are the
 * Unix time in milliseconds, so ids sort by capture time. The outbox uses that order as its
 * primary key order ("oldest first") without a second index, and the server can tell a stale
 * replay from a new event just by looking at the id.
 */

/** A UUIDv7 made by {@link createIdGenerator}; branded so that a free string is never mistaken for one. */
export type EventId = string & { readonly __eventId: true };

/** Fills a byte array with random bytes; `crypto.getRandomValues` in browsers and Node ≥ 19. */
export type RandomSource = (bytes: Uint8Array<ArrayBuffer>) => void;

const hex: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The platform's cryptographic random source. */
export const cryptoRandom: RandomSource = (bytes) => {
  globalThis.crypto.getRandomValues(bytes);
};

/**
 * Returns a UUIDv7 generator. Within one millisecond the 12-bit `rand_a` field is used as a
 * counter (RFC 9562 §6.2 method 1) so ids from one generator are strictly increasing even when
 * thousands are made per millisecond; if the clock goes backwards the last timestamp is reused,
 * which keeps the order monotonic.
 */
export function createIdGenerator(now: () => number = Date.now, random: RandomSource = cryptoRandom): () => EventId {
  let lastMs = -1;
  let counter = 0;
  const bytes = new Uint8Array(16);
  return () => {
    let ms = Math.max(now(), lastMs);
    random(bytes);
    if (ms === lastMs) {
      counter++;
      if (counter > 0xfff) {
        // Counter exhausted: borrow the next millisecond rather than break monotonicity.
        ms++;
        counter = (bytes[6]! & 0x07) << 8 | bytes[7]!;
      }
    } else {
      // Start the counter in the lower half of its range, leaving room to count up.
      counter = (bytes[6]! & 0x07) << 8 | bytes[7]!;
    }
    lastMs = ms;
    bytes[0] = Math.floor(ms / 2 ** 40) & 0xff;
    bytes[1] = Math.floor(ms / 2 ** 32) & 0xff;
    bytes[2] = (ms >>> 24) & 0xff;
    bytes[3] = (ms >>> 16) & 0xff;
    bytes[4] = (ms >>> 8) & 0xff;
    bytes[5] = ms & 0xff;
    bytes[6] = 0x70 | ((counter >>> 8) & 0x0f);
    bytes[7] = counter & 0xff;
    bytes[8] = 0x80 | (bytes[8]! & 0x3f);
    let s = '';
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
      s += hex[bytes[i]!];
    }
    return s as EventId;
  };
}

const uuidV7Pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Parses an untrusted string as an {@link EventId}; `null` when it is not a UUIDv7. */
export function parseEventId(value: string): EventId | null {
  return uuidV7Pattern.test(value) ? (value as EventId) : null;
}

/** The capture time (ms since epoch) encoded in a UUIDv7. */
export function eventIdTime(id: EventId): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
