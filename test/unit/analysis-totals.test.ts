import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import { partOf } from '../../src/domain/ledger.js';
import { AnalysisTotals } from '../../src/services/analysis-totals.js';
import { sortBatch } from '../../src/services/ingest-batch.js';
import { v1Lines } from '../support/event-body-arbitrary.js';

const prices = loadPriceTable(JSON.parse(readFileSync(new URL('../../prices/default-prices.json', import.meta.url), 'utf8')));
const entries = sortBatch(v1Lines.slice(0, 30).map((body) => ({ body, position: { partitionId: 'file', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } }))).entries;

/** The entry as merged with an LLM-log row that told other token counts: its parts say so, its fields do not. */
function withLlmLogPart(entry: LedgerEntry): LedgerEntry {
  const tokens = { source: 'llm-log' as const, promptTokens: 1, cachedTokens: 0, completionTokens: 1, reasoningTokens: 0 };
  return { ...entry, parts: [partOf(entry), { ...partOf(entry), source: 'apim-llm-log', model: null, tokens }] };
}

function added(list: readonly LedgerEntry[]) {
  const totals = new AnalysisTotals(new Map(), prices, undefined);
  for (const entry of list) totals.add(entry);
  return { lines: totals.chargeback.list(), tiles: totals.tiles(), requests: totals.requests };
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
