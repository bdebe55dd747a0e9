import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { isCanonicalInstant, parseInstant } from '../../src/contracts/utc-instant.js';
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
