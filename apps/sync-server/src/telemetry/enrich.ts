import { isIPv4, isIPv6 } from 'node:net';

/** A client timestamp further ahead of the server than this is flagged `future_timestamp`. */
export const FUTURE_TOLERANCE_MS = 5 * 60 * 1000;
/** A device clock further off than this (measured with `sentAt`) is flagged `clock_skew`. */
export const SKEW_TOLERANCE_MS = 24 * 60 * 60 * 1000;
/** Longest user agent kept; real ones are < 300 characters, longer ones are noise. */
export const MAX_USER_AGENT_LENGTH = 512;

export type TimestampFlag = 'future_timestamp' | 'clock_skew' | 'sanitized_keys';

/**
 * The address with the part that identifies a host removed: IPv4 keeps its /24, IPv6 its /48
 * (last 80 bits zeroed). IPv4-mapped IPv6 addresses are treated as IPv4. Anything that is not
 * an address gives `null`, never the raw input.
 */
export function anonymiseIp(ip: string | null | undefined): string | null {
  if (!ip) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const candidate = mapped?.[1] ?? ip;
  if (isIPv4(candidate)) {
    const octets = candidate.split('.');
    octets[3] = '0';
    return octets.join('.');
  }
  const bare = candidate.split('%')[0] ?? candidate;
  if (!isIPv6(bare)) return null;
  const groups = expandIPv6(bare);
  return `${groups.slice(0, 3).map((g) => g.toString(16)).join(':')}::`;
}

/** The eight 16-bit groups of an IPv6 address (including `::` and a trailing dotted quad). */
function expandIPv6(ip: string): number[] {
  let text = ip;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted[1].split('.').map(Number);
    text = text.slice(0, -dotted[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string): number[] => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = new Array<number>(Math.max(0, 8 - left.length - right.length)).fill(0);
  return [...left, ...zeros, ...right];
}

export interface TimeEnrichment {
  readonly serverTimestamp: Date;
  readonly clientTimestamp: Date | null;
  readonly sentAt: Date | null;
  /** `receivedAt − (sentAt − clientTimestamp)`: the event time on the server's clock. */
  readonly correctedTimestamp: Date | null;
  readonly flags: TimestampFlag[];
}

/**
 * Server-side times of one event. The raw client values are kept beside the corrected one:
 * correction assumes the device clock did not jump between the event and the send, which the
 * server cannot verify.
 */
export function enrichTimes(receivedAt: Date, clientTimestamp: Date | null, sentAt: Date | null): TimeEnrichment {
  const flags: TimestampFlag[] = [];
  let correctedTimestamp: Date | null = null;
  if (sentAt && clientTimestamp) {
    correctedTimestamp = new Date(receivedAt.getTime() - (sentAt.getTime() - clientTimestamp.getTime()));
  }
  if (clientTimestamp && clientTimestamp.getTime() - receivedAt.getTime() > FUTURE_TOLERANCE_MS) flags.push('future_timestamp');
  // Without `sentAt` an old clientTimestamp is indistinguishable from an offline device
  // catching up, so skew is judged only on the send time.
  if (sentAt && Math.abs(sentAt.getTime() - receivedAt.getTime()) > SKEW_TOLERANCE_MS) flags.push('clock_skew');
  return { serverTimestamp: receivedAt, clientTimestamp, sentAt, correctedTimestamp, flags };
}

export function trimUserAgent(userAgent: unknown): string | null {
  if (typeof userAgent !== 'string' || userAgent.length === 0) return null;
  return userAgent.slice(0, MAX_USER_AGENT_LENGTH);
}
