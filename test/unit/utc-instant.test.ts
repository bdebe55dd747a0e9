import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { daysInMonth, isCanonicalInstant, isoInstantMs, parseInstant } from '../../src/contracts/utc-instant.js';
import { canonicalShapedInstant, instantLikeText } from '../support/gateway-event-arbitraries.js';

const YEAR_0 = Date.parse('0000-01-01T00:00:00.000Z');
const YEAR_10000 = Date.parse('+010000-01-01T00:00:00.000Z');

/** A canonical instant with one character replaced by any other. */
const oneCharacterChanged = fc
  .record({ time: canonicalShapedInstant, at: fc.nat({ max: 23 }), character: fc.string({ minLength: 1, maxLength: 1 }) })
  .map(({ time, at, character }) => time.slice(0, at) + character + time.slice(at + 1));

describe('parseInstant', () => {
  it('reads every canonical instant of the years 0000 to 9999 as Date.parse does', () => {
    fc.assert(
      fc.property(fc.integer({ min: YEAR_0, max: YEAR_10000 - 1 }), (ms) => {
        const time = new Date(ms).toISOString();
        expect(parseInstant(time)).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with Date.parse on out-of-range fields, which Date.parse refuses or rolls over into the next day', () => {
    for (const time of ['2026-02-29T10:00:00.000Z', '2026-02-30T10:00:00.000Z', '2026-04-31T10:00:00.000Z', '2026-03-10T24:00:00.000Z', '2024-02-29T10:00:00.000Z', '1900-02-29T00:00:00.000Z', '2000-02-29T00:00:00.000Z']) {
      expect(parseInstant(time), time).toEqual(Date.parse(time));
    }
    fc.assert(
      fc.property(canonicalShapedInstant, (time) => {
        expect(parseInstant(time)).toEqual(Date.parse(time));
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with Date.parse on other ISO forms and on any text', () => {
    for (const time of ['2026-03-10T10:00:00Z', '2026-03-10T10:00:00.000+02:00', '2026-03-10T10:00:00.000z', '2026-03-10', '+002026-03-10T10:00:00.000Z', '2026-03-10T10:00:00.0000Z', ' 2026-03-10T10:00:00.000Z', 'not a time', '']) {
      expect(parseInstant(time), time).toEqual(Date.parse(time));
    }
    fc.assert(
      fc.property(fc.oneof(fc.string(), oneCharacterChanged), (time) => {
        expect(parseInstant(time)).toEqual(Date.parse(time));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('isCanonicalInstant', () => {
  it('holds exactly for the texts that are their own toISOString', () => {
    fc.assert(
      fc.property(instantLikeText, (text) => {
        const ms = Date.parse(text);
        expect(isCanonicalInstant(text)).toBe(!Number.isNaN(ms) && new Date(ms).toISOString() === text);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('isoInstantMs', () => {
  const two = (n: number) => String(n).padStart(2, '0');
  /** A real day and time of day, written with a fraction of 0 to 7 digits and an explicit offset. */
  const realInstantText = fc
    .record({ year: fc.integer({ min: 1970, max: 2100 }), month: fc.integer({ min: 1, max: 12 }), dayIndex: fc.nat(), hour: fc.nat({ max: 23 }), minute: fc.nat({ max: 59 }), second: fc.nat({ max: 59 }), fraction: fc.stringMatching(/^\d{0,7}$/), offset: fc.constantFrom('Z', '+00:00', '+05:30', '-08:00', '+14:00', '-12:00') })
    .map(({ year, month, dayIndex, hour, minute, second, fraction, offset }) => `${year}-${two(month)}-${two((dayIndex % daysInMonth(year, month)) + 1)}T${two(hour)}:${two(minute)}:${two(second)}${fraction ? `.${fraction}` : ''}${offset}`);

  it('reads a real date and time with an offset as Date.parse does, the fraction cut to the millisecond', () => {
    fc.assert(
      fc.property(realInstantText, (text) => {
        expect(isoInstantMs(text)).toBe(Date.parse(text));
      }),
      { numRuns: 5000 },
    );
    expect(isoInstantMs('2028-02-29T23:59:59.9999999Z')).toBe(Date.UTC(2028, 1, 29, 23, 59, 59, 999));
    expect(isoInstantMs('2026-11-20T00:00Z')).toBe(Date.UTC(2026, 10, 20));
    expect(isoInstantMs('2026-11-20')).toBe(Date.UTC(2026, 10, 20));
  });

  it.each(['2026-02-30T10:00:00.1234567Z', '2027-02-29', '2026-04-31T10:00:00+02:00', '2026-11-15T24:00:00Z', '2026-11-15T10:60:00Z', '2026-11-15T10:00:60Z', '2026-13-01T00:00:00Z', '2026-11-15T10:00:00+24:00', '2026-11-15 10:00:00Z', 'yesterday'])('refuses %s instead of rolling it over', (text) => {
    expect(isoInstantMs(text)).toBeNaN();
  });

  it('reads a date and time without an offset as UTC, whatever the process time zone', () => {
    const zone = process.env['TZ'];
    try {
      for (const tz of ['Asia/Kolkata', 'America/Los_Angeles']) {
        process.env['TZ'] = tz;
        expect({ tz, ms: isoInstantMs('2026-11-20T00:00:00') }).toEqual({ tz, ms: Date.UTC(2026, 10, 20) });
      }
    } finally {
      if (zone === undefined) delete process.env['TZ'];
      else process.env['TZ'] = zone;
    }
  });
});
