import { describe, expect, it } from 'vitest';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import { ChargebackLines } from '../../src/domain/chargeback.js';
import { PriceMatcher } from '../../src/domain/price-matching.js';
import { tileKey } from '../../src/domain/tile-windows.js';
import { sortBatch } from '../../src/services/ingest-batch.js';
import { chargebackLines } from '../../src/services/chargeback-report.js';
import { markRangeDirty, rollupChargeback } from '../../src/services/rollup-chargeback.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { MemoryAggregateStore, MemoryLedgerStore } from '../support/memory-stores.js';

const prices = (gpt4oInput: string) =>
  loadPriceTable({
    currency: 'USD',
    source: 'test prices',
    retrieved: '2026-10-01',
    prices: [
      { model: 'gpt-4o', from: '2024-01-01', inputPer1M: gpt4oInput, cachedInputPer1M: '1.25', outputPer1M: '10.00' },
      { model: 'gpt-4o-mini', from: '2024-01-01', inputPer1M: '0.15', cachedInputPer1M: '0.075', outputPer1M: '0.60' },
      { model: 'o3-mini', from: '2024-01-01', inputPer1M: '1.10', cachedInputPer1M: '0.55', outputPer1M: '4.40' },
      { model: 'gpt-4.1', from: '2024-01-01', inputPer1M: '2.00', cachedInputPer1M: '0.50', outputPer1M: '8.00' },
      { model: 'text-embedding-3-small', from: '2024-01-01', inputPer1M: '0.02' },
    ],
  });

const DAY = '2026-10-15';
const range = { from: new Date(`${DAY}T00:00:00Z`), to: new Date('2026-10-16T00:00:00Z') };

async function ledgerOfDay(requests: number) {
  const day = simulateDay({ requests, seed: 4, day: DAY });
  const { entries } = sortBatch(day.eventLines.map((body) => ({ body, position: { partitionId: '0', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } })));
  const unique = [...new Map(entries.map((e) => [e.id, e])).values()];
  const ledger = new MemoryLedgerStore();
  await ledger.createEntries(unique);
  return { ledger, entries: unique };
}

function directCost(entries: Parameters<ChargebackLines['addEntry']>[0][], matcher: PriceMatcher): bigint {
  const lines = new ChargebackLines(matcher);
  for (const entry of entries) lines.addEntry(entry);
  return lines.list().reduce((sum, l) => sum + l.costPico, 0n);
}

describe('chargeback rollup (in-memory fake stores)', () => {
  it('builds hour, day and month tiles whose totals equal pricing the ledger directly, and clears the dirty markers', async () => {
    const { ledger, entries } = await ledgerOfDay(1500);
    const aggregates = new MemoryAggregateStore();
    await markRangeDirty(aggregates, range);
    const matcher = new PriceMatcher(prices('2.50'));
    const result = await rollupChargeback({ ledger, aggregates }, { prices: matcher });
    expect(result).toMatchObject({ hours: 24, days: 1, months: 1, entries: entries.length });
    const expected = directCost(entries, matcher);
    const month = (await aggregates.getChargebackTiles([tileKey('chargeback', 'month', '2026-10').id]))[0]!;
    expect(month.lines.reduce((sum, l) => sum + l.costPico, 0n)).toBe(expected);
    expect(month.entries).toBe(entries.length);
    const fromHours = await chargebackLines(aggregates, { from: new Date(`${DAY}T00:00:00Z`), to: new Date(`${DAY}T23:00:00Z`) });
    const lastHour = await chargebackLines(aggregates, { from: new Date(`${DAY}T23:00:00Z`), to: range.to });
    expect([...fromHours.lines, ...lastHour.lines].reduce((sum, l) => sum + l.costPico, 0n)).toBe(expected);
    expect(aggregates.dirty.size).toBe(0);
  });

  it('re-rates a closed period exactly when the price table changes and the period is rolled up again', async () => {
    const { ledger, entries } = await ledgerOfDay(800);
    const aggregates = new MemoryAggregateStore();
    await markRangeDirty(aggregates, range);
    await rollupChargeback({ ledger, aggregates }, { prices: new PriceMatcher(prices('2.50')) });
    const monthId = tileKey('chargeback', 'month', '2026-10').id;
    const before = (await aggregates.getChargebackTiles([monthId]))[0]!.lines.reduce((sum, l) => sum + l.costPico, 0n);

    const corrected = new PriceMatcher(prices('2.75'));
    await markRangeDirty(aggregates, range);
    await rollupChargeback({ ledger, aggregates }, { prices: corrected });
    const after = (await aggregates.getChargebackTiles([monthId]))[0]!.lines.reduce((sum, l) => sum + l.costPico, 0n);
    expect(after).toBe(directCost(entries, corrected));
    const gpt4oUncachedTokens = entries
      // gpt-4o by the response's model name (`gpt-4o-2024-08-06`) or by APIM's LLM log (`gpt-4o`), not gpt-4o-mini.
      .filter((e) => /^gpt-4o(-\d|$)/.test(e.model ?? ''))
      .reduce((sum, e) => sum + BigInt(e.tokens.promptTokens - e.tokens.cachedTokens), 0n);
    // 0.25 USD more per 1M uncached gpt-4o input tokens = 250,000 micro-USD per 1M = 250,000 picodollars per token.
    expect(after - before).toBe(gpt4oUncachedTokens * 250_000n);
  });

  it('rewrites identical tiles when rolled up twice (deterministic ids and content)', async () => {
    const { ledger } = await ledgerOfDay(300);
    const aggregates = new MemoryAggregateStore();
    const matcher = new PriceMatcher(prices('2.50'));
    await markRangeDirty(aggregates, range);
    await rollupChargeback({ ledger, aggregates }, { prices: matcher });
    const first = structuredClone([...aggregates.tiles.entries()]);
    await markRangeDirty(aggregates, range);
    await rollupChargeback({ ledger, aggregates }, { prices: matcher });
    expect([...aggregates.tiles.entries()]).toEqual(first);
  });
});
