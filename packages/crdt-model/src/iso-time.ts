/** Reading the ISO date-times facts carry, which deriving and planning do for every fact. */

const DAY_MS = 86_400_000;

const digits = (s: string, from: number, to: number): number => {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + (s.charCodeAt(i) - 48);
  return n;
};

/**
 * Epoch ms of a validated ISO date-time. `YYYY-MM-DDTHH:MM:SS.sssZ` (what `toISOString` writes,
 * nearly every fact) is read by hand with integer arithmetic (days from the civil date), several
 * times faster than `Date.parse` and twice as fast as `Date.UTC` on a year of facts; anything
 * else (offsets, other precisions, years before 1000) goes to `Date.parse`.
 */
export function isoToMs(iso: string): number {
  if (iso.length === 24 && iso.charCodeAt(0) !== 48 && iso.charCodeAt(23) === 90 && iso.charCodeAt(10) === 84 && iso.charCodeAt(19) === 46) {
    const month = digits(iso, 5, 7);
    // Days since 1970-01-01 of the proleptic Gregorian date (H. Hinnant's days_from_civil).
    const year = digits(iso, 0, 4) - (month <= 2 ? 1 : 0);
    const era = Math.floor(year / 400);
    const yearOfEra = year - era * 400;
    const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + digits(iso, 8, 10) - 1;
    const days = era * 146_097 + yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear - 719_468;
    return days * DAY_MS + digits(iso, 11, 13) * 3_600_000 + digits(iso, 14, 16) * 60_000 + digits(iso, 17, 19) * 1000 + digits(iso, 20, 23);
  }
  return Date.parse(iso);
}
