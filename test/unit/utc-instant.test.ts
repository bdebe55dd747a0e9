import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { parseInstant } from '../../src/domain/utc-instant.js';

const YEAR_0 = Date.parse('0000-01-01T00:00:00.000Z');
const YEAR_10000 = Date.parse('+010000-01-01T00:00:00.000Z');
const pad = (value: number, width: number) => String(value).padStart(width, '0');

/** Canonical shape, but any two-digit fields: months 00–19, days 00–39, hours 00–29, minutes and seconds 00–69. */
const canonicalShape = fc
  .record({
    year: fc.integer({ min: 0, max: 9999 }),
    month: fc.integer({ min: 0, max: 19 }),
    day: fc.integer({ min: 0, max: 39 }),
    hour: fc.integer({ min: 0, max: 29 }),
    minute: fc.integer({ min: 0, max: 69 }),
    second: fc.integer({ min: 0, max: 69 }),
    millisecond: fc.integer({ min: 0, max: 999 }),
  })
  .map(
    ({ year, month, day, hour, minute, second, millisecond }) =>
      `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}.${pad(millisecond, 3)}Z`,
  );

/** A canonical instant with one character replaced by any other. */
const oneCharacterChanged = fc
  .record({ time: canonicalShape, at: fc.nat({ max: 23 }), character: fc.string({ minLength: 1, maxLength: 1 }) })
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
      fc.property(canonicalShape, (time) => {
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
