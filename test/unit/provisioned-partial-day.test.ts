/**
 * A report period that covers a UTC day only in part (a month to date, `from=…T00&to=…T10`): the provisioned (PTU)
 * deployment's cost of the covered hours is split by that whole day's token shares, while per-token usage and the
 * counts of requests and tokens stay those of the period.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import type { ChargebackLine } from '../../src/domain/chargeback.js';
import { IDLE_CAPACITY, pricingOf } from '../../src/domain/usage-pricing.js';
import { chargebackLines, listPriceFocus } from '../../src/services/chargeback-report.js';
import { markRangeDirty, rollupChargeback } from '../../src/services/rollup-chargeback.js';
import { ledgerEntry, userCaller } from '../support/ledger-entries.js';
import { MemoryAggregateStore, MemoryLedgerStore } from '../support/memory-stores.js';
import { MIXED_PRICES } from '../support/price-tables.js';

const pricing = pricingOf(loadPriceTable({ ...MIXED_PRICES, provisioned: [{ deployment: 'ptu-chat', monthlyCost: '1000.00', from: '2026-01-01' }] }));

const A = '0a1b2c3d-0000-4000-8000-00000000000a';
const B = '0a1b2c3d-0000-4000-8000-00000000000b';
const C = '0a1b2c3d-0000-4000-8000-00000000000c';
const PTU = 'provisioned:ptu-chat@2026-01-01';

/**
 * An hour of October 2026 from its 281st on: 1,000 USD = 10^15 picodollars over 744 hours is 1,344,086,021,505
 * remainder 280, which go one each to the month's first 280 hours.
 */
const HOUR = 1_344_086_021_505n;

/** Largest remainder over shares in identity order, ties to the smaller identity. */
function split(total: bigint, shares: Record<string, number>): Record<string, bigint> {
  const keys = Object.keys(shares).sort();
  const sum = BigInt(keys.reduce((n, k) => n + shares[k]!, 0));
  const parts = keys.map((k) => (total * BigInt(shares[k]!)) / sum);
  const remainders = keys.map((k) => (total * BigInt(shares[k]!)) % sum);
  let left = total - parts.reduce((a, b) => a + b, 0n);
  const order = keys.map((_, i) => i).sort((x, y) => (remainders[x]! > remainders[y]! ? -1 : remainders[x]! < remainders[y]! ? 1 : x - y));
  for (const i of order) if (left-- > 0n) parts[i]! += 1n;
  return Object.fromEntries(keys.map((k, i) => [k, parts[i]!]));
}

let id = 0;
function request(oid: string, time: string, deployment: string, promptTokens: number, completionTokens: number): LedgerEntry {
  id += 1;
  return ledgerEntry({
    id: `req-${id}`,
    gatewayRequestId: `gw-${id}`,
    apimRequestId: `req-${id}`,
    time,
    caller: userCaller(oid),
    deployment,
    model: 'gpt-4o-2024-08-06',
    tokens: { source: 'gateway', promptTokens, cachedTokens: 0, completionTokens, reasoningTokens: 0 },
  });
}

/** Usage tiles of `entries`, rolled up as the timer rolls them up: hour tiles, and day tiles from them. */
async function rolledUp(entries: readonly LedgerEntry[], days: { from: string; to: string }): Promise<MemoryAggregateStore> {
  const ledger = new MemoryLedgerStore();
  const aggregates = new MemoryAggregateStore();
  expect(await ledger.createEntries(entries)).toEqual([]);
  await markRangeDirty(aggregates, { from: new Date(days.from), to: new Date(days.to) });
  for (let runs = 0; (await rollupChargeback({ ledger, aggregates })).remaining > 0; runs++) if (runs > 10) throw new Error('rollup never finished');
  return aggregates;
}

const linesOf = async (aggregates: MemoryAggregateStore, from: string, to: string) => (await chargebackLines(aggregates, { from: new Date(from), to: new Date(to) }, pricing)).lines;
const on = (lines: readonly ChargebackLine[], deployment: string) => lines.filter((l) => l.deployment === deployment);
/** Cost by identity, all its lines summed. */
function costBy(lines: readonly ChargebackLine[]): Record<string, bigint> {
  const sums: Record<string, bigint> = {};
  for (const l of lines) sums[l.identity] = (sums[l.identity] ?? 0n) + l.costPico;
  return sums;
}
const requestsBy = (lines: readonly ChargebackLine[]) => Object.fromEntries(lines.map((l) => [l.identity, l.requests]));

/** An exact decimal dollar amount (`"1.5"`) in picodollars. */
function picoOf(amount: string): bigint {
  const [whole, fraction = ''] = amount.split('.');
  return BigInt(whole!) * 10n ** 12n + BigInt(fraction.padEnd(12, '0'));
}

/** Gpt-4o on `chat` from 16 October 2026: 2.75 USD per 1M input tokens, 11.00 per 1M output tokens. */
const perToken = (prompt: number, completion: number) => BigInt(prompt) * 2_750_000n + BigInt(completion) * 11_000_000n;

describe('a report period that covers a day in part, on a provisioned deployment', () => {
  // On 30 October, a, b and c call the PTU deployment at 11:00, 12:00 and 13:00; a and c also call `chat` (per
  // token) at 00:00 and 09:00. On 31 October only b calls, and only `chat`: the PTU deployment is idle all day.
  const day = { from: '2026-10-30T00:00:00Z', to: '2026-11-01T00:00:00Z' };
  const dayShares = { [A]: 1_001, [B]: 1_001, [C]: 1_002 };
  let aggregates: MemoryAggregateStore;

  beforeAll(async () => {
    aggregates = await rolledUp(
      [
        request(A, '2026-10-30T00:00:00.000Z', 'chat', 1_000, 100),
        request(C, '2026-10-30T09:00:00.000Z', 'chat', 2_000, 50),
        request(A, '2026-10-30T11:00:00.000Z', 'ptu-chat', 1_000, 1),
        request(B, '2026-10-30T12:00:00.000Z', 'ptu-chat', 1_000, 1),
        request(C, '2026-10-30T13:00:00.000Z', 'ptu-chat', 999, 3),
        request(B, '2026-10-31T08:00:00.000Z', 'chat', 10, 10),
      ],
      day,
    );
  });

  it('charges the covered morning of a day used later that day to that day’s users, not to idle capacity', async () => {
    const lines = await linesOf(aggregates, '2026-10-30T00:00:00Z', '2026-10-30T10:00:00Z');
    expect(lines.find((l) => l.identity === IDLE_CAPACITY)).toBeUndefined();
    expect(costBy(on(lines, 'ptu-chat'))).toEqual(split(10n * HOUR, dayShares));
    // Per-token usage is that of the period: the requests at 00:00 and 09:00, none after.
    expect(costBy(on(lines, 'chat'))).toEqual({ [A]: perToken(1_000, 100), [C]: perToken(2_000, 50) });
  });

  it('splits a partly covered day’s hours by the whole day’s token shares, counting only the requests in the period', async () => {
    const lines = await linesOf(aggregates, '2026-10-30T00:00:00Z', '2026-10-30T12:00:00Z');
    const ptu = on(lines, 'ptu-chat');
    expect(costBy(ptu)).toEqual(split(12n * HOUR, dayShares));
    // Only a's request (11:00) is in the period: b and c are charged their share of the day without a request in it.
    expect(requestsBy(ptu)).toEqual({ [A]: 1, [B]: 0, [C]: 0 });
    expect(ptu.map((l) => [l.identity, l.promptTokens + l.completionTokens, l.priceVersion])).toEqual([
      [A, 1_001, PTU],
      [B, 0, PTU],
      [C, 0, PTU],
    ]);
  });

  it('adds up, identity by identity, to the whole day however the day is cut in two (each part rounds on its own)', async () => {
    const wholeLines = await linesOf(aggregates, '2026-10-30T00:00:00Z', '2026-10-31T00:00:00Z');
    expect(costBy(on(wholeLines, 'ptu-chat'))).toEqual(split(24n * HOUR, dayShares));
    const whole = costBy(wholeLines);
    for (let h = 1; h < 24; h++) {
      const cut = `2026-10-30T${String(h).padStart(2, '0')}:00:00Z`;
      const first = costBy(await linesOf(aggregates, '2026-10-30T00:00:00Z', cut));
      const second = costBy(await linesOf(aggregates, cut, '2026-10-31T00:00:00Z'));
      const off = Object.fromEntries(Object.keys(whole).map((k) => [k, (first[k] ?? 0n) + (second[k] ?? 0n) - whole[k]!]));
      expect({ cut, withinAPicodollar: Object.values(off).every((d) => d >= -1n && d <= 1n), total: Object.values(off).reduce((a, b) => a + b, 0n) }).toEqual({ cut, withinAPicodollar: true, total: 0n });
      expect([first[IDLE_CAPACITY] ?? 0n, second[IDLE_CAPACITY] ?? 0n]).toEqual([0n, 0n]);
    }
  });

  it('reports the covered hours of a day nobody used on the deployment as idle, beside a used day covered in part', async () => {
    const lines = await linesOf(aggregates, '2026-10-30T20:00:00Z', '2026-10-31T06:00:00Z');
    expect(costBy(on(lines, 'ptu-chat'))).toEqual({ ...split(4n * HOUR, dayShares), [IDLE_CAPACITY]: 6n * HOUR });
    expect(requestsBy(on(lines, 'ptu-chat'))).toEqual({ [A]: 0, [B]: 0, [C]: 0, [IDLE_CAPACITY]: 0 });
  });

  it('states a partly covered day’s provisioned shares in the FOCUS export as the report charges them', async () => {
    const query = { from: new Date('2026-10-30T00:00:00Z'), to: new Date('2026-10-30T10:00:00Z'), scope: 'all' as const };
    const rows = await listPriceFocus({ aggregates, directory: new Map(), pricing, accounts: [] }, query, 'USD');
    const provisioned = rows.filter((r) => r.x_PriceComponent === 'provisioned');
    const expected = split(10n * HOUR, dayShares);
    expect(provisioned.map((r) => [r.x_Identity, picoOf(r.ContractedCost!), r.ConsumedQuantity])).toEqual([
      [A, expected[A], '0'],
      [B, expected[B], '0'],
      [C, expected[C], '0'],
    ]);
    // Per-token rows are the period's requests only (00:00 and 09:00).
    expect(rows.filter((r) => r.x_PriceComponent !== 'provisioned').map((r) => [r.x_Identity, r.x_PriceComponent, r.PricingQuantity])).toEqual([
      [A, 'input', '1000'],
      [A, 'output', '100'],
      [C, 'input', '2000'],
      [C, 'output', '50'],
    ]);
  });
});

describe('the FOCUS export of a period across a month boundary, on a provisioned deployment', () => {
  it('states each day’s provisioned shares and idle capacity as rows of that day, billed in its month, adding up to the report', async () => {
    const aggregates = await rolledUp(
      [request(A, '2026-10-30T11:00:00.000Z', 'ptu-chat', 1_000, 1), request(B, '2026-10-30T12:00:00.000Z', 'ptu-chat', 2_000, 2), request(B, '2026-10-31T08:00:00.000Z', 'chat', 10, 10)],
      { from: '2026-10-30T00:00:00Z', to: '2026-11-02T00:00:00Z' },
    );
    const query = { from: new Date('2026-10-30T00:00:00Z'), to: new Date('2026-11-01T06:00:00Z'), scope: 'all' as const };
    const rows = await listPriceFocus({ aggregates, directory: new Map(), pricing, accounts: [] }, query, 'USD');
    // FOCUS: a row's charge period lies within its billing period; here each lies within one UTC day too.
    for (const r of rows) {
      const [start, end] = [Date.parse(r.ChargePeriodStart!), Date.parse(r.ChargePeriodEnd!)];
      expect({ row: r.x_Identity, start: r.ChargePeriodStart, oneDay: r.ChargePeriodStart!.slice(0, 10) === new Date(end - 1).toISOString().slice(0, 10), inBilling: start >= Date.parse(r.BillingPeriodStart!) && end <= Date.parse(r.BillingPeriodEnd!) }).toEqual({ row: r.x_Identity, start: r.ChargePeriodStart, oneDay: true, inBilling: true });
    }
    const provisioned = rows.filter((r) => r.x_PriceComponent === 'provisioned').map((r) => [r.ChargePeriodStart, r.ChargePeriodEnd, r.x_Identity, r.BillingPeriodStart]);
    expect(provisioned).toEqual([
      ['2026-10-30T00:00:00Z', '2026-10-31T00:00:00Z', A, '2026-10-01T00:00:00Z'],
      ['2026-10-30T00:00:00Z', '2026-10-31T00:00:00Z', B, '2026-10-01T00:00:00Z'],
      ['2026-10-31T00:00:00Z', '2026-11-01T00:00:00Z', IDLE_CAPACITY, '2026-10-01T00:00:00Z'],
      ['2026-11-01T00:00:00Z', '2026-11-01T06:00:00Z', IDLE_CAPACITY, '2026-11-01T00:00:00Z'],
    ]);
    const reported = (await linesOf(aggregates, '2026-10-30T00:00:00Z', '2026-11-01T06:00:00Z')).reduce((sum, l) => sum + l.costPico, 0n);
    expect(rows.reduce((sum, r) => sum + picoOf(r.ContractedCost!), 0n)).toBe(reported);
  });
});

describe('the remainder picodollar of a partly covered day', () => {
  it('goes by each identity’s tokens of the whole day, ties to the smaller identity, whoever called inside the period', async () => {
    // One hour of 1,344,086,021,505 picodollars over a day of 4 tokens: b's 2 at 00:30 (inside the period), a's 2 at
    // 15:00 and 16:00 (outside). Equal shares, so the odd picodollar is a's, not b's as a's hours apart would give.
    const aggregates = await rolledUp(
      [
        request(B, '2026-10-30T00:30:00.000Z', 'ptu-chat', 2, 0),
        request(A, '2026-10-30T15:00:00.000Z', 'ptu-chat', 1, 0),
        request(A, '2026-10-30T16:00:00.000Z', 'ptu-chat', 1, 0),
      ],
      { from: '2026-10-30T00:00:00Z', to: '2026-10-31T00:00:00Z' },
    );
    const lines = await linesOf(aggregates, '2026-10-30T00:00:00Z', '2026-10-30T01:00:00Z');
    expect(costBy(lines)).toEqual({ [A]: 672_043_010_753n, [B]: 672_043_010_752n });
    expect(requestsBy(lines)).toEqual({ [A]: 0, [B]: 1 });
  });
});
