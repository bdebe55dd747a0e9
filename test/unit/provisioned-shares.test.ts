/**
 * A provisioned (PTU) deployment's cost of each UTC day, split by token share identity by identity, in the report and
 * the FOCUS export. A report period that covers a day only in part (a month to date, `from=…T00&to=…T10`) splits the
 * covered hours by that whole day's token shares, while per-token usage and the counts of requests and tokens stay
 * those of the period.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import { checkDirectoryRow } from '../../src/contracts/directory.js';
import { IDLE_CAPACITY, UNMAPPED, type ChargebackLine } from '../../src/domain/chargeback.js';
import { pricingOf } from '../../src/domain/usage-pricing.js';
import { chargebackLines, chargebackReportFor, listPriceFocus } from '../../src/services/chargeback-report.js';
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
/** A request of `oid` (null: a caller with no identity); `backendRegion` is the region that answered it. */
function request(oid: string | null, time: string, deployment: string, promptTokens: number, completionTokens: number, backendRegion = 'eastus'): LedgerEntry {
  id += 1;
  return ledgerEntry({
    id: `req-${id}`,
    gatewayRequestId: `gw-${id}`,
    apimRequestId: `req-${id}`,
    time,
    ...(oid === null ? {} : { caller: userCaller(oid) }),
    deployment,
    backendRegion,
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

  it('gives idle capacity no team or cost center: a row of its own by team, as its FOCUS rows leave x_Team empty', async () => {
    const aggregates = await rolledUp([request(A, '2026-10-30T11:00:00.000Z', 'ptu-chat', 1_000, 1), request(B, '2026-10-30T12:00:00.000Z', 'ptu-chat', 2_000, 2)], {
      from: '2026-10-30T00:00:00Z',
      to: '2026-11-01T00:00:00Z',
    });
    const directory = new Map([[A, checkDirectoryRow({ identity: A, displayName: 'Alice', team: 'search', costCenter: 'CC-100', kind: 'user' })]]);
    const query = { from: new Date('2026-10-30T00:00:00Z'), to: new Date('2026-11-01T00:00:00Z'), scope: 'all' as const };
    const ports = { aggregates, directory, pricing, accounts: [] };
    const focus = await listPriceFocus(ports, query, 'USD');
    const focusByTeam = new Map<string | null, bigint>();
    for (const r of focus) focusByTeam.set(r.x_Team, (focusByTeam.get(r.x_Team) ?? 0n) + picoOf(r.ContractedCost!));
    for (const groupBy of ['team', 'costCenter'] as const) {
      const report = await chargebackReportFor(ports, { ...query, groupBy }, 'USD');
      expect(report.rows.map((r) => [r.key, r.costPico])).toEqual([
        [IDLE_CAPACITY, 24n * HOUR],
        [UNMAPPED, focusByTeam.get(UNMAPPED)],
        [groupBy === 'team' ? 'search' : 'CC-100', focusByTeam.get('search')],
      ]);
    }
    expect(focusByTeam.get(null)).toBe(24n * HOUR);
    const byIdentity = await chargebackReportFor(ports, { ...query, groupBy: 'identity' }, 'USD');
    expect(byIdentity.rows.map((r) => [r.key, r.team, r.costCenter])).toEqual([
      [IDLE_CAPACITY, null, null],
      [A, 'search', 'CC-100'],
      [B, UNMAPPED, UNMAPPED],
    ]);
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

describe('the shares of an identity whose requests came through two regions (a load-balanced pool)', () => {
  const day = { from: '2026-10-30T00:00:00Z', to: '2026-10-31T00:00:00Z' };
  const focusOf = (aggregates: MemoryAggregateStore, from: string, to: string) =>
    listPriceFocus({ aggregates, directory: new Map(), pricing, accounts: [] }, { from: new Date(from), to: new Date(to), scope: 'all' }, 'USD');

  it('charges each identity exactly its share of a whole day when that share is a whole number of picodollars', async () => {
    // 24 × HOUR over 16 tokens: a has 2 (one via each region), b 14 (7 via each); nothing is left to round.
    const aggregates = await rolledUp(
      [
        request(A, '2026-10-30T10:00:00.000Z', 'ptu-chat', 1, 0, 'eastus'),
        request(A, '2026-10-30T11:00:00.000Z', 'ptu-chat', 1, 0, 'swedencentral'),
        request(B, '2026-10-30T12:00:00.000Z', 'ptu-chat', 7, 0, 'eastus'),
        request(B, '2026-10-30T13:00:00.000Z', 'ptu-chat', 7, 0, 'swedencentral'),
      ],
      day,
    );
    expect(costBy(on(await linesOf(aggregates, day.from, day.to), 'ptu-chat'))).toEqual({ [A]: 3n * HOUR, [B]: 21n * HOUR });
  });

  it('gives the odd picodollar by each identity’s remainder, ties to the smaller identity, in the report and the FOCUS export', async () => {
    // Equal shares of the day (a 1 + 1 via two regions, b 2): the odd picodollar of an hour is a's.
    const tied = await rolledUp(
      [
        request(B, '2026-10-30T00:30:00.000Z', 'ptu-chat', 2, 0),
        request(A, '2026-10-30T15:00:00.000Z', 'ptu-chat', 1, 0, 'eastus'),
        request(A, '2026-10-30T16:00:00.000Z', 'ptu-chat', 1, 0, 'swedencentral'),
      ],
      day,
    );
    expect(costBy(on(await linesOf(tied, day.from, '2026-10-30T01:00:00Z'), 'ptu-chat'))).toEqual(split(HOUR, { [A]: 2, [B]: 2 }));
    const shares: Record<string, bigint> = {};
    for (const r of (await focusOf(tied, day.from, '2026-10-30T01:00:00Z')).filter((r) => r.x_PriceComponent === 'provisioned')) shares[r.x_Identity!] = (shares[r.x_Identity!] ?? 0n) + picoOf(r.BilledCost!);
    expect(shares).toEqual(split(HOUR, { [A]: 2, [B]: 2 }));
    // a 4 tokens (2 via each region), b 3: of 1 to 6 hours, the odd picodollars go by a's 4/7 and b's 3/7.
    const uneven = await rolledUp(
      [
        request(A, '2026-10-30T10:00:00.000Z', 'ptu-chat', 2, 0, 'eastus'),
        request(A, '2026-10-30T11:00:00.000Z', 'ptu-chat', 2, 0, 'swedencentral'),
        request(B, '2026-10-30T12:00:00.000Z', 'ptu-chat', 3, 0),
      ],
      day,
    );
    for (const hours of [1, 2, 3, 4, 5, 6]) {
      const lines = await linesOf(uneven, day.from, `2026-10-30T${String(hours).padStart(2, '0')}:00:00Z`);
      expect({ hours, cost: costBy(on(lines, 'ptu-chat')) }).toEqual({ hours, cost: split(BigInt(hours) * HOUR, { [A]: 4, [B]: 3 }) });
    }
  });
});

describe('the FOCUS export of provisioned and per-token usage, against the report', () => {
  const day = { from: '2026-10-30T00:00:00Z', to: '2026-10-31T00:00:00Z' };
  const query = { from: new Date(day.from), to: new Date(day.to), scope: 'all' as const };
  let aggregates: MemoryAggregateStore;

  beforeAll(async () => {
    aggregates = await rolledUp(
      [
        request(null, '2026-10-30T10:00:00.000Z', 'ptu-chat', 100, 10),
        request(null, '2026-10-30T11:00:00.000Z', 'chat', 100, 10),
        request(A, '2026-10-30T12:00:00.000Z', 'ptu-chat', 100, 10),
        request(A, '2026-10-30T13:00:00.000Z', 'chat', 100, 10),
      ],
      day,
    );
  });

  it('names a caller with no identity under the same team on its provisioned share as on its per-token rows, so a pivot by team adds up to the report', async () => {
    const rows = await listPriceFocus({ aggregates, directory: new Map(), pricing, accounts: [] }, query, 'USD');
    expect(rows.filter((r) => r.x_Identity === 'unattributed').map((r) => [r.x_PriceComponent, r.x_Team, JSON.parse(r.Tags!).team ?? null])).toEqual([
      ['input', '(unmapped)', '(unmapped)'],
      ['output', '(unmapped)', '(unmapped)'],
      ['provisioned', '(unmapped)', '(unmapped)'],
    ]);
    const report = await chargebackReportFor({ aggregates, directory: new Map(), pricing }, { ...query, groupBy: 'team' }, 'USD');
    const byTeam: Record<string, bigint> = {};
    for (const r of rows) byTeam[r.x_Team ?? '(none)'] = (byTeam[r.x_Team ?? '(none)'] ?? 0n) + picoOf(r.BilledCost!);
    expect(byTeam).toEqual(Object.fromEntries(report.rows.map((r) => [r.key, r.costPico])));
  });

  it('counts each request once in x_Requests, not once per price component, so they add up to the report’s requests', async () => {
    const rows = await listPriceFocus({ aggregates, directory: new Map(), pricing, accounts: [] }, query, 'USD');
    const report = await chargebackReportFor({ aggregates, directory: new Map(), pricing }, { ...query, groupBy: 'identity' }, 'USD');
    const requests: Record<string, number> = {};
    for (const r of rows) requests[r.x_Identity!] = (requests[r.x_Identity!] ?? 0) + Number(r.x_Requests);
    expect(requests).toEqual(Object.fromEntries(report.rows.map((r) => [r.key, r.requests])));
    expect(Object.values(requests).reduce((a, b) => a + b, 0)).toBe(4);
  });
});

describe('a report of the last day a period may cover (9999-12-31), on a provisioned deployment', () => {
  it('counts that day’s requests and charges its provisioned hours to their caller, not to idle capacity', async () => {
    const range = { from: '9999-12-31T00:00:00Z', to: '9999-12-31T23:00:00Z' };
    const aggregates = await rolledUp([request(A, '9999-12-31T10:00:00.000Z', 'ptu-chat', 100, 10), request(A, '9999-12-31T11:00:00.000Z', 'chat', 100, 10)], range);
    const lines = await linesOf(aggregates, range.from, range.to);
    expect(lines.reduce((n, l) => n + l.requests, 0)).toBe(2);
    expect(Object.keys(costBy(lines))).toEqual([A]);
  });
});
