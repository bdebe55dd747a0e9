import fc from 'fast-check';
import { describe, it, expect } from 'vitest';
import { gatewayEventV1Schema } from '../../src/contracts/gateway-event.js';
import { normalizeEvent } from '../../src/domain/event-normalization.js';
import { hourBucket, toLedgerEntry } from '../../src/domain/ledger.js';
import { canonicalEvents, instantLikeText, mutatedEvent, ordered } from '../support/gateway-event-arbitraries.js';

/** What `hourBucket` computed before it read canonical texts directly: a round trip through Date. */
function hourBucketViaDate(time: string | Date): string {
  return new Date(time).toISOString().slice(0, 13);
}

describe('toLedgerEntry', () => {
  it('gives the entry of the zod path, key order included, for simulated events with random mutations', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...canonicalEvents), mutatedEvent), (event) => {
        const normalized = normalizeEvent(event);
        const parsed = gatewayEventV1Schema.safeParse(event);
        expect(normalized.ok).toBe(parsed.success);
        if (!normalized.ok || !parsed.success) return;
        const viaZod = toLedgerEntry({ ...normalized.value, event: parsed.data });
        expect(ordered(toLedgerEntry(normalized.value))).toStrictEqual(ordered(viaZod));
        expect(viaZod.time).toBe(new Date(parsed.data.time).toISOString());
        expect(viaZod.pk).toBe(hourBucketViaDate(parsed.data.time));
      }),
      { numRuns: 2000 },
    );
  });

  it('normalises times with an offset or without milliseconds to toISOString form', () => {
    const [event] = canonicalEvents as Record<string, unknown>[];
    for (const [time, expected] of [
      ['2026-05-31T23:30:00+02:00', '2026-05-31T21:30:00.000Z'],
      ['2026-05-31T23:30:00.5Z', '2026-05-31T23:30:00.500Z'],
      ['2026-05-31T23:30:00.123456Z', '2026-05-31T23:30:00.123Z'],
    ]) {
      const normalized = normalizeEvent({ ...event, time });
      if (!normalized.ok) throw new Error(normalized.reason);
      const entry = toLedgerEntry(normalized.value);
      expect(entry.time).toBe(expected);
      expect(entry.pk).toBe(expected!.slice(0, 13));
    }
  });
});

describe('hourBucket', () => {
  it('gives what a round trip through Date gives, and throws where it throws', () => {
    fc.assert(
      fc.property(fc.oneof(instantLikeText, fc.date()), (time) => {
        let expected: string;
        try {
          expected = hourBucketViaDate(time);
        } catch (error) {
          expect(() => hourBucket(time)).toThrow((error as Error).constructor as new () => Error);
          return;
        }
        expect(hourBucket(time)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });
});
