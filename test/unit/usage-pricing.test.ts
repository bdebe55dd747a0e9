import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import { ChargebackLines, IDLE_CAPACITY, type ChargebackLine } from '../../src/domain/chargeback.js';
import { PriceMatcher } from '../../src/domain/price-matching.js';
import { UsageLines } from '../../src/domain/usage.js';
import { priceTableVersion, priceUsage } from '../../src/domain/usage-pricing.js';
import { ledgerEntry, noCaller, userCaller } from '../support/ledger-entries.js';
import { MIXED_PRICES } from '../support/price-tables.js';

const table = loadPriceTable(MIXED_PRICES);

const entries = fc.array(
  fc
    .record({
      oid: fc.constantFrom('a', 'b', 'c'),
      day: fc.constantFrom('2026-10-14', '2026-10-15', '2026-10-16'),
      minute: fc.integer({ min: 0, max: 1439 }),
      model: fc.constantFrom('gpt-4o-2024-08-06', 'gpt-4o-mini-2024-07-18', 'dall-e-3', 'whisper', 'o9-unknown', null),
      deployment: fc.constantFrom('chat', 'batch', null),
      operation: fc.constantFrom('ChatCompletions_Create', 'ImageGenerations_Create', 'AudioTranscriptions_Create'),
      status: fc.constantFrom(200, 200, 429),
      source: fc.constantFrom('gateway' as const, 'llm-log' as const, 'none' as const),
      region: fc.constantFrom('eastus', 'swedencentral', null),
      prompt: fc.integer({ min: 0, max: 5_000 }),
      completion: fc.integer({ min: 0, max: 2_000 }),
      cachedShare: fc.integer({ min: 0, max: 100 }),
      audioInShare: fc.integer({ min: 0, max: 100 }),
      audioOutShare: fc.integer({ min: 0, max: 100 }),
      reasoningShare: fc.integer({ min: 0, max: 100 }),
    })
    .map((g): LedgerEntry => {
      const cached = Math.floor((g.prompt * g.cachedShare) / 100);
      // Cached and audio input may overlap: a response may count cached audio among its cached tokens.
      const audioIn = g.audioInShare > 70 ? Math.floor((g.prompt * g.audioInShare) / 100) : 0;
      const audioOut = g.audioOutShare > 70 ? Math.floor((g.completion * g.audioOutShare) / 100) : 0;
      const time = new Date(Date.parse(`${g.day}T00:00:00Z`) + g.minute * 60_000).toISOString();
      return ledgerEntry({
        time,
        caller: userCaller(g.oid),
        model: g.model,
        deployment: g.deployment,
        operation: g.operation,
        status: g.status,
        backendRegion: g.region,
        tokens: {
          source: g.source,
          promptTokens: g.prompt,
          cachedTokens: cached,
          completionTokens: g.completion,
          reasoningTokens: Math.floor((g.completion * g.reasoningShare) / 100),
          ...(audioIn ? { audioPromptTokens: audioIn } : {}),
          ...(audioOut ? { audioCompletionTokens: audioOut } : {}),
        },
      });
    }),
  { maxLength: 120 },
);

const comparable = (lines: readonly ChargebackLine[]) =>
  lines.map(({ identityKind: _kind, ...line }) => ({ ...line, tokenSources: { ...line.tokenSources } }));

describe('usage priced when read', () => {
  it('costs exactly what pricing each request does: same lines, price versions, unpriced usage and picodollars', () => {
    const matcher = new PriceMatcher(table);
    fc.assert(
      fc.property(entries, (generated) => {
        const direct = new ChargebackLines(matcher);
        const byDay = new Map<string, UsageLines>();
        for (const entry of generated) {
          direct.addEntry(entry);
          const day = entry.time.slice(0, 10);
          const usage = byDay.get(day) ?? new UsageLines();
          usage.addEntry(entry);
          byDay.set(day, usage);
        }
        const priced = priceUsage([...byDay].map(([day, usage]) => ({ day, lines: usage.list() })), matcher);
        expect(comparable(priced)).toEqual(comparable(direct.list()));
      }),
      { numRuns: 300 },
    );
  });

  it('gives usage the same lines whatever the order entries and finer lines are added in', () => {
    fc.assert(
      fc.property(entries, fc.integer({ min: 0, max: 120 }), (generated, cut) => {
        const whole = new UsageLines();
        for (const entry of generated) whole.addEntry(entry);
        const first = new UsageLines();
        const second = new UsageLines();
        generated.slice(0, cut).forEach((e) => first.addEntry(e));
        generated.slice(cut).reverse().forEach((e) => second.addEntry(e));
        const merged = new UsageLines();
        for (const line of [...second.list(), ...first.list()]) merged.addLine(line);
        expect(merged.list()).toEqual(whole.list());
      }),
    );
  });

  it('names a price table by its content', () => {
    const same = loadPriceTable(JSON.parse(JSON.stringify({ currency: 'USD', source: 'x', retrieved: '2026-10-01', prices: [{ model: 'gpt-4o', from: '2024-01-01', inputPer1M: '2.50' }] })));
    const changed = loadPriceTable({ currency: 'USD', source: 'x', retrieved: '2026-10-01', prices: [{ model: 'gpt-4o', from: '2024-01-01', inputPer1M: '2.75' }] });
    expect(priceTableVersion(same)).toBe(priceTableVersion(loadPriceTable({ currency: 'USD', source: 'x', retrieved: '2026-10-01', prices: [{ model: 'gpt-4o', from: '2024-01-01', inputPer1M: '2.50' }] })));
    expect(priceTableVersion(changed)).not.toBe(priceTableVersion(same));
    expect(priceTableVersion(same)).toMatch(/^sha256:[0-9a-f]{16}$/);
  });
});

describe('provisioned (PTU) deployments in reports', () => {
  const ptuTable = loadPriceTable({
    currency: 'USD',
    source: 'test prices',
    retrieved: '2026-10-01',
    prices: [{ model: 'gpt-4o', from: '2024-01-01', inputPer1M: '2.50', outputPer1M: '10.00' }],
    provisioned: [{ deployment: 'ptu-chat', monthlyCost: '7440.00', from: '2026-10-16' }],
  });
  const usageOf = (oid: string, deployment: string, prompt: number, day: string) => {
    const usage = new UsageLines();
    usage.addEntry(ledgerEntry({ time: `${day}T12:00:00.000Z`, caller: { ...noCaller, oid, idtyp: 'user' }, model: 'gpt-4o-2024-08-06', deployment, tokens: { source: 'gateway', promptTokens: prompt, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } }));
    return { day, lines: usage.list() };
  };
  const october = { from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-11-01T00:00:00Z') };
  const costBy = (lines: readonly ChargebackLine[]) => Object.fromEntries(lines.map((l) => [`${l.identity}/${l.deployment}`, l.costPico]));
  const matcher = new PriceMatcher(ptuTable);

  it('splits each day of the monthly cost by that day’s token shares, reports unused days as idle, and prices other deployments per token as before', () => {
    const days = [
      usageOf('a', 'ptu-chat', 3_000, '2026-10-20'),
      usageOf('b', 'ptu-chat', 1_000, '2026-10-20'),
      usageOf('b', 'ptu-chat', 5, '2026-10-21'),
      usageOf('a', 'chat', 1_000_000, '2026-10-20'),
    ];
    const lines = priceUsage(days, matcher, { entries: ptuTable.provisioned, range: october });
    // In effect from 16 October: 16 of 31 days of 7,440 USD = 3,840 USD, 240 USD a day. 20 October is split 3:1,
    // 21 October is b's, and the 14 other days are idle.
    expect(costBy(lines)).toEqual({
      'a/ptu-chat': 180_000_000_000_000n,
      'b/ptu-chat': 300_000_000_000_000n,
      [`${IDLE_CAPACITY}/ptu-chat`]: 3_360_000_000_000_000n,
      'a/chat': 2_500_000_000_000n,
    });
    expect(lines.find((l) => l.deployment === 'ptu-chat')!.priceVersion).toBe('provisioned:ptu-chat@2026-10-16');
  });

  it('gives a period’s report the sum of its days’ reports, identity by identity (property)', () => {
    const dayOf = fc.integer({ min: 14, max: 20 }).map((d) => `2026-10-${String(d)}`);
    const usage = fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 5_000 }), dayOf), { maxLength: 12 });
    fc.assert(
      fc.property(usage, (uses) => {
        const days = uses.map(([identity, tokens, day]) => usageOf(identity, 'ptu-chat', tokens, day));
        const period = { from: new Date('2026-10-14T00:00:00Z'), to: new Date('2026-10-21T00:00:00Z') };
        const addTo = (sums: Map<string, bigint>, lines: readonly ChargebackLine[]) => {
          for (const l of lines) sums.set(`${l.identity}/${l.deployment}/${l.priceVersion}`, (sums.get(`${l.identity}/${l.deployment}/${l.priceVersion}`) ?? 0n) + l.costPico);
          return sums;
        };
        const whole = addTo(new Map(), priceUsage(days, matcher, { entries: ptuTable.provisioned, range: period }));
        const summed = new Map<string, bigint>();
        for (let d = 14; d < 21; d++) {
          const range = { from: new Date(`2026-10-${d}T00:00:00Z`), to: new Date(`2026-10-${d + 1}T00:00:00Z`) };
          addTo(summed, priceUsage(days.filter((u) => u.day === `2026-10-${d}`), matcher, { entries: ptuTable.provisioned, range }));
        }
        expect(whole).toEqual(summed);
      }),
    );
  });

  it('reports a provisioned deployment nobody used in the period as idle capacity, never dropped', () => {
    const lines = priceUsage([usageOf('a', 'chat', 1_000, '2026-10-20')], matcher, { entries: ptuTable.provisioned, range: { from: new Date('2026-10-20T00:00:00Z'), to: new Date('2026-10-20T05:00:00Z') } });
    expect(costBy(lines)[`${IDLE_CAPACITY}/ptu-chat`]).toBe(50_000_000_000_000n);
  });

  it('gives the hours of a month exactly its monthly cost, however the month is cut into reports', () => {
    const awkward = loadPriceTable({ currency: 'USD', source: 'x', retrieved: '2026-10-01', prices: [], provisioned: [{ deployment: 'ptu-chat', monthlyCost: '1000.000001', from: '2026-01-01' }] });
    const hourly = new PriceMatcher(awkward);
    let sum = 0n;
    for (let h = Date.parse('2026-10-01T00:00:00Z'); h < Date.parse('2026-11-01T00:00:00Z'); h += 7 * 3_600_000) {
      const range = { from: new Date(h), to: new Date(Math.min(h + 7 * 3_600_000, Date.parse('2026-11-01T00:00:00Z'))) };
      sum += priceUsage([], hourly, { entries: awkward.provisioned, range }).reduce((s, l) => s + l.costPico, 0n);
    }
    expect(sum).toBe(1_000_000_001_000_000n);
  });
});
