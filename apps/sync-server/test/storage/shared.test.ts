import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoString, metadataFromJson, metadataToJson } from '../../src/storage/shared.js';

describe('metadata text', () => {
  it('formats every date as Date#toJSON does', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }), (d) => {
        expect(isoString(d)).toBe(d.toJSON());
      }),
      { numRuns: 2000 },
    );
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
});
