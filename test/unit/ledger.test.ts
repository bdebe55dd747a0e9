import fc from 'fast-check';
import { describe, it, expect } from 'vitest';
import { gatewayEventV1Schema } from '../../src/contracts/gateway-event.js';
import { normalizeEvent } from '../../src/domain/event-normalization.js';
import { duplicateWinner, hourBucket, mergeLedger, mergeLedgerEntries, partHash, partOf, toLedgerEntry } from '../../src/domain/ledger.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { ledgerEntry, noCaller } from '../support/ledger-entries.js';
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
      expect(hourBucket(entry.time)).toBe(expected!.slice(0, 13));
    }
  });

  it('lower-cases the ids the join and identities compare, upper-case letters beyond ASCII included', () => {
    const [event] = canonicalEvents as Record<string, unknown>[];
    const caller = { oid: 'D7EC1207-100B-4878-B381-D53BB6385CCD', tid: 'ångström-ÅÖ', appid: 'already-lower-1', idtyp: 'app', upn: null, sub: null };
    const normalized = normalizeEvent({ ...event, gatewayRequestId: 'req-ÄÖ', apimRequestId: 'abc-def-Ġ', caller });
    if (!normalized.ok) throw new Error(normalized.reason);
    const entry = toLedgerEntry(normalized.value);
    expect(entry.apimRequestId).toBe('abc-def-ġ');
    expect(entry.caller).toMatchObject({ oid: 'd7ec1207-100b-4878-b381-d53bb6385ccd', tid: 'ångström-åö', appid: 'already-lower-1' });
    // Not a Cosmos-safe id once lower-cased: hashed, as the id of the same request written in lower case.
    const lower = normalizeEvent({ ...event, gatewayRequestId: 'req-äö', apimRequestId: 'abc-def-ġ', caller });
    if (!lower.ok) throw new Error(lower.reason);
    expect(entry.id).toBe(toLedgerEntry(lower.value).id);
    expect(entry.id).toMatch(/^a-/);
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

describe('conflicting duplicates', () => {
  const key = { id: 'gw-1' };
  const none = { source: 'none', promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } as const;
  const v1 = (overrides: Partial<LedgerEntry>) => ledgerEntry({ ...key, stream: true, tokens: none, ...overrides });
  const variants = [v1({ status: 200 }), v1({ status: 500 }), v1({ deployment: 'chat-test' }), v1({ subscriptionId: 'sub-9' })];
  const llm = v1({ source: 'apim-llm-log', status: null, subscriptionId: null, tokens: { source: 'llm-log', promptTokens: 70, cachedTokens: 0, completionTokens: 30, reasoningTokens: 0 } });
  const gatewayLogs = v1({ source: 'apim-gateway-logs', subscriptionId: 'sub-from-logs', time: '2026-03-10T08:59:59.000Z' });
  const winner = variants.reduce((a, b) => (partHash(partOf(a)) < partHash(partOf(b)) ? a : b));

  it('keeps the part with the smaller hash of its canonical JSON, the other as the loser', () => {
    const [a, b] = variants;
    const decided = duplicateWinner(partOf(a!), partOf(b!));
    expect(duplicateWinner(partOf(b!), partOf(a!))).toEqual(decided);
    expect(partHash(decided.winner) < partHash(decided.loser!)).toBe(true);
    expect(duplicateWinner(partOf(a!), partOf(a!)).loser).toBeNull();
  });

  it('sees no conflict between one part written with its keys in another order, or a structured copy of it', () => {
    const part = partOf(variants[0]!);
    const reordered = Object.fromEntries(Object.entries(part).reverse()) as typeof part;
    expect(duplicateWinner(part, reordered)).toEqual({ winner: part, loser: null });
    expect(duplicateWinner(part, structuredClone(part))).toEqual({ winner: part, loser: null });
    const other = partOf(variants[1]!);
    expect(duplicateWinner(part, other).loser).not.toBeNull();
  });

  it('gives one document whatever the order and grouping, with every other variant reported as a loser', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray([...variants, llm, gatewayLogs], { minLength: 6, maxLength: 6 }), fc.nat(5), (order, split) => {
        const fold = (entries: LedgerEntry[]) => entries.reduce(mergeLedgerEntries);
        const left = order.slice(0, split + 1);
        const right = order.slice(split + 1);
        const merged = right.length > 0 ? mergeLedgerEntries(fold(left), fold(right)) : fold(left);
        expect(merged).toEqual([...variants, llm, gatewayLogs].reduce(mergeLedgerEntries));
        expect(merged.status).toBe(winner.status);
        expect(merged.deployment).toBe(winner.deployment);
        expect(merged.tokens.source).toBe('llm-log');
        expect(merged.time).toBe(gatewayLogs.time);
        expect(merged.parts?.map((p) => p.source)).toEqual(['gateway-v1', 'apim-gateway-logs', 'apim-llm-log']);
        const losers = new Set<string>();
        order.reduce((a, b) => {
          const result = mergeLedger(a, b);
          for (const loser of result.losers) losers.add(partHash(loser));
          return result.entry;
        });
        expect(losers).toEqual(new Set(variants.filter((v) => v !== winner).map((v) => partHash(partOf(v)))));
      }),
      { numRuns: 300 },
    );
  });

  it('replaces a stored loser that was merged with another source by recomputing the merge from its parts', () => {
    const loser = variants.find((v) => v !== winner)!;
    const stored = mergeLedgerEntries(loser, llm);
    const replaced = mergeLedgerEntries(stored, winner);
    expect(replaced).toEqual(mergeLedgerEntries(winner, llm));
    expect(mergeLedger(stored, winner).losers).toEqual([partOf(loser)]);
  });

  it('merges rows of APIM\'s LLM log into one document, whatever their order and grouping, even where they disagree', () => {
    const oneOf = <T>(...values: T[]) => fc.constantFrom(...values);
    const tokens = (promptTokens: number, completionTokens: number) => ({ source: 'llm-log' as const, promptTokens, cachedTokens: 0, completionTokens, reasoningTokens: 0 });
    const row = fc
      .record({
        time: oneOf('2026-03-10T09:15:00.000Z', '2026-03-10T09:15:00.500Z'),
        deployment: oneOf(null, 'chat-prod', 'chat-test'),
        model: oneOf(null, 'gpt-4o'),
        stream: fc.boolean(),
        subscriptionId: oneOf(null, undefined, 'sub-1'),
        backendId: oneOf(null, 'aoai-eastus', 'aoai-westus'),
        upn: oneOf(null, 'ana@contoso.example'),
        totalMs: oneOf(null, 900, 950),
        tokens: oneOf<LedgerEntry['tokens']>(none, tokens(70, 30), tokens(30, 70), tokens(100, 0), { ...tokens(70, 30), audioPromptTokens: 5 }),
        missing: oneOf<string[]>([], ['status'], ['deployment', 'status'], ['status', 'deployment']),
        reordered: fc.boolean(),
      })
      .map(({ backendId, upn, totalMs, reordered, ...fields }) => {
        const entry = v1({ ...fields, source: 'apim-llm-log', status: null, gateway: { service: 'apim', regionCode: 'eastus', backendId }, caller: { ...noCaller, upn }, timings: { totalMs, backendMs: null, ttftMs: null } });
        return reordered ? (Object.fromEntries(Object.entries(entry).reverse()) as LedgerEntry) : entry;
      });
    // Strictly equal: an unset value taken as undefined rather than null would show.
    fc.assert(
      fc.property(row, row, row, (a, b, c) => {
        expect(mergeLedgerEntries(a, b)).toStrictEqual(mergeLedgerEntries(b, a));
        const all = mergeLedgerEntries(mergeLedgerEntries(a, b), c);
        expect(mergeLedgerEntries(a, mergeLedgerEntries(b, c))).toStrictEqual(all);
        expect(mergeLedgerEntries(mergeLedgerEntries(c, a), b)).toStrictEqual(all);
        expect(mergeLedgerEntries(all, b)).toStrictEqual(all);
      }),
      { numRuns: 3000 },
    );
  });

  it('merges LLM-log rows of one request instead of treating them as conflicts', () => {
    const message = v1({ source: 'apim-llm-log', tokens: { source: 'llm-log', promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } });
    const result = mergeLedger(llm, message);
    expect(result.losers).toEqual([]);
    expect(result.entry.tokens.promptTokens).toBe(70);
  });
});
