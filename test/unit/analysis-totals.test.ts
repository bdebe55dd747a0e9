import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import { partOf } from '../../src/domain/ledger.js';
import { IDLE_CAPACITY } from '../../src/domain/chargeback.js';
import { AnalysisTotals } from '../../src/services/analysis-totals.js';
import { sortBatch } from '../../src/services/ingest-batch.js';
import { v1Lines } from '../support/event-body-arbitrary.js';
import { ledgerEntry, userCaller } from '../support/ledger-entries.js';

const priceFile = JSON.parse(readFileSync(new URL('../../prices/default-prices.json', import.meta.url), 'utf8'));
const prices = loadPriceTable(priceFile);
const entries = sortBatch(v1Lines.slice(0, 30).map((body) => ({ body, position: { partitionId: 'file', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } }))).entries;

/** The entry as merged with an LLM-log row that told other token counts: its parts say so, its fields do not. */
function withLlmLogPart(entry: LedgerEntry): LedgerEntry {
  const tokens = { source: 'llm-log' as const, promptTokens: 1, cachedTokens: 0, completionTokens: 1, reasoningTokens: 0 };
  return { ...entry, parts: [partOf(entry), { ...partOf(entry), source: 'apim-llm-log', model: null, tokens }] };
}

function added(list: readonly LedgerEntry[]) {
  const totals = new AnalysisTotals(new Map(), prices, undefined);
  for (const entry of list) totals.add(entry);
  return { lines: totals.lines(), tiles: totals.tiles(), requests: totals.requests };
}

describe('AnalysisTotals: what a request adds up to', () => {
  it('adds up the same whatever sources a request was merged from: neither the chargeback nor the tiles read them', () => {
    expect(added(entries.map(withLlmLogPart))).toEqual(added(entries));
    const totals = new AnalysisTotals(new Map(), prices, undefined);
    for (const entry of entries) expect(totals.sameContribution(entry, withLlmLogPart(entry))).toBe(true);
  });

  it('tells a change the chargeback or the tiles read from a change of sources alone', () => {
    const totals = new AnalysisTotals(new Map(), prices, undefined);
    const entry = entries[0]!;
    expect(totals.sameContribution(entry, { ...entry, tokens: { ...entry.tokens, completionTokens: entry.tokens.completionTokens + 1 } })).toBe(false);
    expect(totals.sameContribution(entry, { ...entry, timings: { ...entry.timings, totalMs: (entry.timings.totalMs ?? 0) + 1 } })).toBe(false);
    expect(totals.sameContribution(entry, { ...entry, caller: { ...entry.caller, oid: '00000000-0000-0000-0000-000000000001' } })).toBe(false);
  });
});

describe('AnalysisTotals: a provisioned (PTU) deployment', () => {
  // 720 USD a month: 1 USD an hour in a 30-day month, 24 USD a day.
  const ptuPrices = loadPriceTable({ ...priceFile, provisioned: [{ deployment: 'gpt-4o-ptu', monthlyCost: '720.00', from: '2025-01-01', to: null }] });
  const ANA = '0f8fad5b-d9cb-469f-a165-70867728950e';
  const BEN = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
  const call = (id: string, oid: string, time: string, promptTokens: number, deployment = 'gpt-4o-ptu') =>
    ledgerEntry({ id, gatewayRequestId: id, apimRequestId: id, time, caller: userCaller(oid), model: 'gpt-4o-2024-08-06', deployment, tokens: { source: 'gateway', promptTokens, cachedTokens: 0, completionTokens: 100, reasoningTokens: 0 } });
  const calls = [
    call('ptu-1', ANA, '2026-09-01T09:00:00.000Z', 1000),
    call('ptu-2', BEN, '2026-09-01T17:30:00.000Z', 3000),
    call('ptu-3', BEN, '2026-09-03T08:00:00.000Z', 500),
    call('paygo-1', ANA, '2026-09-02T12:00:00.000Z', 1000, 'chat-prod'),
  ];
  const costs = (totals: AnalysisTotals) => totals.lines().map((l) => [l.identity, l.deployment, l.priceVersion, l.costPico]);

  it("charges its requests each day's fixed cost by their share of its tokens, and a day without them idle capacity, as a report over those days does", () => {
    const totals = new AnalysisTotals(new Map(), ptuPrices, undefined);
    for (const entry of calls) totals.add(entry);
    const DAY = 24_000_000_000_000n;
    // 2026-09-01: 1,100 and 3,100 tokens share 24 USD (largest remainder); 2026-09-02 idle; 2026-09-03 Ben alone.
    expect(costs(totals)).toEqual([
      [IDLE_CAPACITY, 'gpt-4o-ptu', 'provisioned:gpt-4o-ptu@2025-01-01', DAY],
      [ANA, 'chat-prod', 'gpt-4o@2024-01-01', 3_500_000_000n],
      [ANA, 'gpt-4o-ptu', 'provisioned:gpt-4o-ptu@2025-01-01', 6_285_714_285_714n],
      [BEN, 'gpt-4o-ptu', 'provisioned:gpt-4o-ptu@2025-01-01', 17_714_285_714_286n + DAY],
    ]);
  });

  it('adds up the same from parts added up in other threads, in any order', () => {
    const whole = new AnalysisTotals(new Map(), ptuPrices, undefined);
    for (const entry of calls) whole.add(entry);
    const [first, second] = [new AnalysisTotals(new Map(), ptuPrices, undefined), new AnalysisTotals(new Map(), ptuPrices, undefined)];
    calls.forEach((entry, i) => (i % 2 === 0 ? first : second).add(entry));
    const merged = new AnalysisTotals(new Map(), ptuPrices, undefined);
    merged.absorb(second.parts());
    merged.absorb(first.parts());
    expect(merged.lines()).toEqual(whole.lines());
  });
});
