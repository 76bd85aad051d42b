import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isoDateTimeSchema, isoToMs } from '@prepmate/crdt-model';
import { eventItem, uid } from '../api/fixtures.js';
import { openDatabase, start, type Client, type TestDatabase } from './harness.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const NOW = new Date('2026-06-01T12:00:00.000Z');

/**
 * Timestamp verification is ingestion's (telemetry/enrich.ts); the security checks verify it end to end:
 * a client time more than 5 minutes ahead is flagged `future_timestamp`, a device clock more
 * than 24 h off (measured by the batch's `sentAt`) is flagged `clock_skew`, and the corrected
 * time `receivedAt − (sentAt − clientTimestamp)` is stored beside the raw one.
 */
describe('timestamp verification', () => {
  let db: TestDatabase;
  let client: Client;
  beforeAll(async () => {
    db = await openDatabase('sqlite');
    client = await start(db, {}, { now: () => NOW });
  });
  afterAll(async () => {
    await client?.stop();
    await db?.dispose();
  });

  async function ingest(clientTimestamp: Date, sentAt: Date | null): Promise<{ flags: string[]; clientTimestamp: string; correctedTimestamp: string | null; serverTimestamp: string }> {
    const userId = uid('clock');
    const token = await client.token(userId);
    const eventId = uid('e');
    const body = { batchId: uid('b'), ...(sentAt ? { sentAt: sentAt.toISOString() } : {}), items: [eventItem(eventId, { metadata: { clientTimestamp: clientTimestamp.toISOString() } })] };
    const res = await client.request('POST', '/api/telemetry/batch', { token, body });
    expect(res.status).toBe(200);
    const events = await client.request('GET', '/api/telemetry/events', { token });
    return events.json.data.events[0].metadata;
  }

  it('when a device clock is 3 days ahead, then the event is flagged future_timestamp and clock_skew and stored with the corrected time', async () => {
    const ahead = 3 * 24 * HOUR;
    const happened = new Date(NOW.getTime() - 10 * MIN); // on the server's clock
    const m = await ingest(new Date(happened.getTime() + ahead), new Date(NOW.getTime() + ahead));
    expect(m.flags.sort()).toEqual(['clock_skew', 'future_timestamp']);
    expect(m.correctedTimestamp).toBe(happened.toISOString());
    expect(m.serverTimestamp).toBe(NOW.toISOString());
    // The raw client value is kept, never silently replaced.
    expect(m.clientTimestamp).toBe(new Date(happened.getTime() + ahead).toISOString());
  });

  it('when the client time is 6 minutes ahead without sentAt, then it is flagged future_timestamp only; 4 minutes is tolerated', async () => {
    expect((await ingest(new Date(NOW.getTime() + 6 * MIN), null)).flags).toEqual(['future_timestamp']);
    expect((await ingest(new Date(NOW.getTime() + 4 * MIN), null)).flags).toEqual([]);
  });

  it('when a device clock is 2 days behind, then it is flagged clock_skew and corrected; an offline event from last week sent with a right clock is not flagged', async () => {
    const behind = 2 * 24 * HOUR;
    const m = await ingest(new Date(NOW.getTime() - behind - 5 * MIN), new Date(NOW.getTime() - behind));
    expect(m.flags).toEqual(['clock_skew']);
    expect(m.correctedTimestamp).toBe(new Date(NOW.getTime() - 5 * MIN).toISOString());
    const offline = await ingest(new Date(NOW.getTime() - 7 * 24 * HOUR), NOW);
    expect(offline.flags).toEqual([]);
  });
});

describe('reading client times', () => {
  // What reaches enrichment has passed the ISO date-time schema; for all of it the reader must
  // give the instant `Date` reads.
  const valid = (text: string): boolean => isoDateTimeSchema.safeParse(text).success;
  it('when a client time is read, then it is the instant Date reads, for the usual form and every other valid one', () => {
    const around = fc.date({ min: new Date(-62_198_755_200_000), max: new Date(253_402_300_799_999), noInvalidDate: true });
    fc.assert(
      fc.property(around, (d) => {
        const text = d.toISOString();
        if (valid(text)) expect(isoToMs(text), text).toBe(Date.parse(text));
      }),
      { numRuns: 3000 },
    );
    // The usual form with one character changed: whatever the schema still accepts.
    const chars = '0123456789-:TZ.+ /a';
    let checked = 0;
    fc.assert(
      fc.property(fc.date({ min: new Date(0), max: new Date(253_402_300_799_999), noInvalidDate: true }), fc.nat({ max: 23 }), fc.constantFrom(...chars), (d, at, c) => {
        const iso = d.toISOString();
        const text = iso.slice(0, at) + c + iso.slice(at + 1);
        if (!valid(text)) return;
        checked += 1;
        expect(Object.is(isoToMs(text), Date.parse(text)), text).toBe(true);
      }),
      { numRuns: 3000 },
    );
    expect(checked).toBeGreaterThan(500);
    for (const text of ['2024-02-29T10:00:00.000Z', '2026-02-29T10:00:00.000Z', '2026-04-31T10:00:00.000Z', '2026-12-31T23:59:59.999Z', '2026-01-01T24:00:00.000Z', '2026-01-32T10:00:00.000Z', '2026-13-01T10:00:00.000Z', '0999-01-01T00:00:00.000Z', '0050-01-01T00:00:00.000Z', '2026-01-01T10:00:00Z', '2026-01-01T10:00:00.123+02:00', '2026-01-01T10:00:00.1234Z']) {
      if (valid(text)) expect(Object.is(isoToMs(text), Date.parse(text)), text).toBe(true);
    }
  });
});
