import { describe, expect, it, vi } from 'vitest';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import type { UsageLine } from '../../src/contracts/usage-tile.js';
import { coverRange } from '../../src/domain/tile-windows.js';
import { IDLE_CAPACITY } from '../../src/domain/chargeback.js';
import { UsageLines, usageTileDocuments } from '../../src/domain/usage.js';
import * as usagePricing from '../../src/domain/usage-pricing.js';
import { chargebackLines } from '../../src/services/chargeback-report.js';
import { ledgerEntry, userCaller } from '../support/ledger-entries.js';
import { MemoryAggregateStore } from '../support/memory-stores.js';
import { MIXED_PRICES } from '../support/price-tables.js';

const table = loadPriceTable({ ...MIXED_PRICES, provisioned: [{ deployment: 'ptu-chat', monthlyCost: '7440.00', from: '2026-10-16' }] });
const pricing = usagePricing.pricingOf(table);

/** One tile's lines: each of `users` calls each deployment once, with a few tokens that vary by tile. */
function linesOf(window: string, users: readonly string[]): UsageLine[] {
  const usage = new UsageLines();
  const time = window.length === 10 ? `${window}T12:00:00.000Z` : `${window}:30:00.000Z`;
  users.forEach((oid, i) => {
    for (const deployment of ['ptu-chat', 'chat']) {
      const promptTokens = 1_000 + 37 * i + window.length * 13 + Number(window.slice(8, 10));
      usage.addEntry(ledgerEntry({ id: `${window}-${oid}-${deployment}`, time, caller: userCaller(oid), model: 'gpt-4o-2024-08-06', deployment, tokens: { source: 'gateway', promptTokens, cachedTokens: 0, completionTokens: 7 * i, reasoningTokens: 0 } }));
    }
  });
  return usage.list();
}

describe('chargebackLines over a long period', () => {
  // From 05:00 on 28 September to 03:00 on 3 December: hour tiles at both ends, day tiles of three months between,
  // the PTU deployment in effect from 16 October and a gpt-4o price change on 16 October.
  const range = { from: new Date('2026-09-28T05:00:00Z'), to: new Date('2026-12-03T03:00:00Z') };
  const users = Array.from({ length: 12 }, (_, i) => `0a1b2c3d-0000-4000-8000-${String(i + 1).padStart(12, '0')}`);

  async function storeWithTiles(): Promise<{ aggregates: MemoryAggregateStore; tiles: { day: string; lines: UsageLine[] }[] }> {
    const aggregates = new MemoryAggregateStore();
    const tiles: { day: string; lines: UsageLine[] }[] = [];
    for (const { grain, window } of coverRange(range.from, range.to)) {
      // Some days see no traffic at all: their provisioned capacity is idle.
      if (window.startsWith('2026-10-2')) continue;
      const lines = linesOf(window, users);
      const { head, parts } = usageTileDocuments(grain, window, 'g1', lines.length, lines);
      await aggregates.putUsageParts(parts);
      expect(await aggregates.replaceUsageHead(head, null)).toBe(true);
      tiles.push({ day: window.slice(0, 10), lines });
    }
    return { aggregates, tiles };
  }

  it('gives exactly the lines of pricing the whole period at once, idle provisioned days included', async () => {
    const { aggregates, tiles } = await storeWithTiles();
    const whole = usagePricing.priceUsage(tiles, pricing.matcher, { entries: pricing.provisioned, range });
    const { lines } = await chargebackLines(aggregates, range, pricing);
    expect(lines).toEqual(whole);
    expect(lines.some((l) => l.identity === IDLE_CAPACITY && l.costPico > 0n)).toBe(true);
    expect(new Set(lines.map((l) => l.priceVersion)).size).toBeGreaterThanOrEqual(3);
  });

  it('prices one day of usage at a time, not every day of the period at once', async () => {
    const { aggregates } = await storeWithTiles();
    const priced = vi.spyOn(usagePricing, 'priceUsage');
    try {
      await chargebackLines(aggregates, range, pricing);
      const handed = priced.mock.calls.map(([days]) => new Set([...days].map((d) => d.day)).size);
      expect(Math.max(...handed)).toBe(1);
    } finally {
      priced.mockRestore();
    }
  });
});
