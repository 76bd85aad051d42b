import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TelemetryMetadata } from '../../src/storage/ports.js';
import { DateTexts, isoString, metadataFromJson, metadataToJson } from '../../src/storage/shared.js';

describe('metadata text', () => {
  it('formats every date as Date#toJSON does', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }), (d) => {
        expect(isoString(d)).toBe(d.toJSON());
      }),
      { numRuns: 2000 },
    );
    // Most generated dates above are outside 1970–9999, where the text is built from the epoch
    // milliseconds and the day's text is reused from the call before: those dates on their own,
    // in runs that go back and forth between days, and the edges of the range.
    fc.assert(
      fc.property(fc.array(fc.date({ min: new Date(0), max: new Date(253_402_300_799_999), noInvalidDate: true }), { minLength: 1, maxLength: 10 }), (dates) => {
        for (const d of dates) expect(isoString(d)).toBe(d.toJSON());
      }),
      { numRuns: 2000 },
    );
    for (const t of [-1, 0, 1, 86_399_999, 86_400_000, Date.UTC(2024, 1, 29, 23, 59, 59, 999), 253_402_300_799_999, 253_402_300_800_000]) {
      expect(isoString(new Date(t))).toBe(new Date(t).toJSON());
    }
    expect(isoString(new Date(Number.NaN))).toBeNull();
    expect(isoString(new Date(Date.UTC(5, 0, 1, 2, 3, 4, 5)) )).toBe(new Date(Date.UTC(5, 0, 1, 2, 3, 4, 5)).toJSON());
  });

  it('writes the text JSON.stringify wrote, and reads it back', () => {
    const metadata = {
      eventId: 'evt_1',
      clientTimestamp: new Date('2026-01-02T03:04:05.006Z'),
      serverTimestamp: new Date('2026-01-02T03:04:06.007Z'),
      sentAt: null,
      correctedTimestamp: new Date('0099-12-31T23:59:59.999Z'),
      userAgent: 'ua',
      ipAddress: '10.0.0.0',
      extra: { screen: 'topic', at: '2026-01-02' },
      flags: ['clock_skew'],
    };
    const text = metadataToJson(metadata);
    expect(text).toBe(JSON.stringify(metadata));
    expect(metadataFromJson(text)).toEqual(metadata);
  });

  it('writes what JSON.stringify writes for any metadata, with or without the date cache, across a batch sharing dates', () => {
    const date = fc.oneof(fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15) }), fc.constant(new Date(Number.NaN)));
    const metadata = fc.record(
      {
        eventId: fc.string(),
        clientTimestamp: fc.option(date),
        serverTimestamp: date,
        sentAt: fc.option(date, { nil: undefined }),
        correctedTimestamp: fc.option(date),
        userAgent: fc.option(fc.string(), { nil: undefined }),
        ipAddress: fc.option(fc.string()),
        extra: fc.dictionary(fc.string(), fc.jsonValue()),
        flags: fc.array(fc.string()),
      },
      { requiredKeys: ['eventId', 'clientTimestamp', 'serverTimestamp'] },
    );
    fc.assert(
      fc.property(fc.array(metadata, { minLength: 1, maxLength: 20 }), date, (list, shared) => {
        const dates = new DateTexts();
        // Half the records share one Date object, as the events of one batch share their receive time.
        list.forEach((m, i) => {
          // Members set to `undefined` are generated on purpose (JSON.stringify leaves them out).
          const record = (i % 2 === 0 ? { ...m, serverTimestamp: shared } : m) as TelemetryMetadata;
          const expected = JSON.stringify(record);
          expect(metadataToJson(record)).toBe(expected);
          expect(metadataToJson(record, dates)).toBe(expected);
        });
      }),
      { numRuns: 200 },
    );
  });
});
