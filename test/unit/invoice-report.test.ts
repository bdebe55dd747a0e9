import { describe, expect, it } from 'vitest';
import type { DirectoryRow } from '../../src/contracts/directory.js';
import { allocateInvoice, UNALLOCATED, type AllocationCostRow, type AllocationPart, type RowAllocation } from '../../src/domain/invoice-allocation.js';
import { invoiceReport, invoiceReportCsv, visibleAllocations } from '../../src/domain/invoice-report.js';
import { monthsOf, storedInvoiceFor } from '../../src/services/invoice-report.js';
import { storeAllocation } from '../support/invoice-allocations.js';
import { MemoryInvoiceAllocationStore } from '../support/memory-stores.js';

const ALICE = '11111111-1111-1111-1111-111111111111';
const BOB = '22222222-2222-2222-2222-222222222222';
const CAROL = '33333333-3333-3333-3333-333333333333';
const directory = new Map<string, DirectoryRow>([
  [ALICE, { identity: ALICE, displayName: 'Alice', team: 'Search', costCenter: 'CC-1' }],
  [BOB, { identity: BOB, displayName: 'Bob', team: 'Search', costCenter: 'CC-2' }],
  [CAROL, { identity: CAROL, displayName: 'Carol', team: 'Ads', costCenter: 'CC-2' }],
]);

function row(day: string, overrides: Partial<AllocationCostRow> = {}): AllocationCostRow {
  return {
    billingAccountId: '1',
    invoiceId: null,
    chargePeriodStart: `${day}T00:00:00Z`,
    chargePeriodEnd: `${day}T23:59:59Z`,
    resourceId: '/subscriptions/s/resourceGroups/r/providers/Microsoft.CognitiveServices/accounts/a',
    meterName: 'gpt 4.1 Inp glbl Tokens',
    meter: { type: 'tokens', model: 'gpt-4.1', kind: 'input' },
    billedCost: '1.00',
    effectiveCost: '0.90',
    currency: 'USD',
    billedTokens: null,
    ...overrides,
  };
}
const part = (identity: string, billedCost: string, effectiveCost: string, reason: string | null = null): AllocationPart => ({ identity, billedCost, effectiveCost, tokens: 10n, reason });

const allocations: RowAllocation[] = [
  { row: row('2026-11-20'), parts: [part(ALICE, '0.50', '0.45'), part(CAROL, '0.25', '0.20'), part(UNALLOCATED, '0.25', '0.25', 'no caller')] },
  { row: row('2026-11-21', { billedCost: '-0.10', effectiveCost: '-0.10' }), parts: [part(BOB, '-0.10', '-0.10')] },
  { row: row('2026-11-22', { billedCost: '0.30', effectiveCost: '0.30' }), parts: [part(UNALLOCATED, '0.30', '0.30', 'no usage')] },
];
const estimates = [
  { team: 'Search', costPico: 1_000_000_000_000n },
  { team: 'Ads', costPico: 100_000_000_000n },
];

describe('the chargeback report on the invoice', () => {
  it('groups the parts by team through the directory, the unallocated part last with its amounts by reason', () => {
    const report = invoiceReport(allocations, { groupBy: 'team', directory, estimates, estimateCurrency: 'USD' });
    expect(report.rows.map((r) => [r.key, r.billedCost, r.effectiveCost])).toEqual([
      ['Ads', '0.25', '0.20'],
      ['Search', '0.40', '0.35'],
      [UNALLOCATED, '0.55', '0.55'],
    ]);
    expect(report.rows.at(-1)!.reasons).toEqual([
      { reason: 'no caller', billedCost: '0.25', effectiveCost: '0.25' },
      { reason: 'no usage', billedCost: '0.30', effectiveCost: '0.30' },
    ]);
    expect(report.totals).toEqual({ billedCost: '1.20', effectiveCost: '1.10', tokens: '50' });
    expect(report.teams!.map((t) => [t.team, t.estimate, t.billedCost, t.billedDifference])).toEqual([
      ['Ads', '0.100000000000', '0.25', '0.150000000000'],
      ['Search', '1.000000000000', '0.40', '-0.600000000000'],
    ]);
    const csv = invoiceReportCsv(report).split('\r\n');
    expect(csv[0]).toBe('key,identity,displayName,team,costCenter,billedCost,effectiveCost,tokens,currency');
    expect(csv.at(-2)).toBe('TOTAL,,,,,1.20,1.10,50,USD');
  });

  it('groups by identity with each identity’s directory names, and by cost center', () => {
    const byIdentity = invoiceReport(allocations, { groupBy: 'identity', directory, estimates, estimateCurrency: 'USD' });
    expect(byIdentity.rows.map((r) => [r.key, r.displayName, r.team, r.costCenter])).toEqual([
      [ALICE, 'Alice', 'Search', 'CC-1'],
      [BOB, 'Bob', 'Search', 'CC-2'],
      [CAROL, 'Carol', 'Ads', 'CC-2'],
      [UNALLOCATED, null, null, null],
    ]);
    const byCostCenter = invoiceReport(allocations, { groupBy: 'costCenter', directory, estimates, estimateCurrency: 'USD' });
    expect(byCostCenter.rows.map((r) => [r.key, r.billedCost])).toEqual([['CC-1', '0.50'], ['CC-2', '0.15'], [UNALLOCATED, '0.55']]);
  });

  it("shows a caller without Chargeback.ReadAll only their own identity's parts, never the unallocated", () => {
    const visible = visibleAllocations(allocations, { identities: [BOB] });
    const report = invoiceReport(visible, { groupBy: 'identity', directory, estimates: [], estimateCurrency: 'USD' });
    expect(report.rows.map((r) => [r.key, r.billedCost])).toEqual([[BOB, '-0.10']]);
    expect(report.totals.billedCost).toBe('-0.10');
  });

  it('refuses to add amounts of two currencies, and compares with no estimate in another currency', () => {
    const eur = [{ row: row('2026-11-20', { currency: 'EUR' }), parts: [part(ALICE, '1.00', '0.90')] }];
    expect(() => invoiceReport([...allocations, ...eur], { groupBy: 'team', directory, estimates, estimateCurrency: 'USD' })).toThrow(/several currencies \(EUR, USD\)/);
    const report = invoiceReport(eur, { groupBy: 'team', directory, estimates, estimateCurrency: 'USD' });
    expect(report.currency).toBe('EUR');
    expect(report.teams).toBeNull();
  });

  it('writes the sums of no parts to the cent, as every other amount (a team with an estimate and no invoice part)', () => {
    const report = invoiceReport([], { groupBy: 'team', directory, estimates, estimateCurrency: 'USD' });
    expect(report.totals.billedCost).toBe('0.00');
    expect(report.teams!.every((team) => team.billedCost === '0.00' && team.effectiveCost === '0.00')).toBe(true);
  });
});

describe('reading the stored invoice of a period', () => {
  it('names every month a period touches', () => {
    expect(monthsOf({ from: new Date('2026-11-30T00:00:00Z'), to: new Date('2027-02-01T00:00:00Z') })).toEqual(['2026-11', '2026-12', '2027-01']);
    expect(monthsOf({ from: new Date('2026-11-20T00:00:00Z'), to: new Date('2026-11-21T00:00:00Z') })).toEqual(['2026-11']);
  });

  it('takes the rows charged in the period from the latest run of each export', async () => {
    const store = new MemoryInvoiceAllocationStore();
    const put = async (exportName: string, exportedAt: string, rows: RowAllocation[]) => {
      await storeAllocation(store, { exportName, contentHash: exportName, exportedAt, allocatedAt: exportedAt, counts: { skippedRows: 0, unplacedRequests: 0, bypassCalls: 0 }, allocations: rows });
    };
    await put('focus/daily/20261101-20261130/run-a/part_0.csv', '2026-11-21T06:00:00Z', allocations.slice(0, 1));
    await put('focus/daily/20261101-20261130/run-b/part_0.csv', '2026-11-23T06:00:00Z', allocations);
    const stored = await storedInvoiceFor(store, { from: new Date('2026-11-21T00:00:00Z'), to: new Date('2026-11-23T00:00:00Z') });
    expect(stored.exports).toEqual(['focus/daily/20261101-20261130/run-b/part_0.csv']);
    expect(stored.allocations).toEqual(allocations.slice(1));
  });

  it("keeps a month's rows from an earlier run when a later run of the series no longer covers that month", async () => {
    const store = new MemoryInvoiceAllocationStore();
    const counts = { skippedRows: 0, unplacedRequests: 0, bypassCalls: 0 };
    // A monthly export without a date-range folder: each run folder is a run of the series `costs/monthly`.
    const october = 'costs/monthly/run-2026-11-01/part_0.csv';
    const november = 'costs/monthly/run-2026-12-01/part_0.csv';
    const oct20 = { row: row('2026-10-20'), parts: [part(ALICE, '1.00', '0.90')] };
    const oct31 = { row: row('2026-10-31'), parts: [part(ALICE, '1.00', '0.90')] };
    const nov20 = { row: row('2026-11-20'), parts: [part(ALICE, '1.00', '0.90')] };
    expect(await storeAllocation(store, { exportName: october, contentHash: 'a', exportedAt: '2026-11-01T06:00:00Z', allocatedAt: '2026-11-01T07:00:00Z', counts, allocations: [oct20] })).toBe(true);
    // The November run's file first held an October row, then was written again without it: its October head is empty.
    expect(await storeAllocation(store, { exportName: november, contentHash: 'b1', exportedAt: '2026-12-01T06:00:00Z', allocatedAt: '2026-12-01T07:00:00Z', counts, allocations: [oct31, nov20] }, '"1"')).toBe(true);
    expect(await storeAllocation(store, { exportName: november, contentHash: 'b2', exportedAt: '2026-12-01T06:00:00Z', allocatedAt: '2026-12-01T08:00:00Z', counts, allocations: [nov20] }, '"2"')).toBe(true);
    expect((await store.listHeads('2026-10')).find((head) => head.exportName === november)).toMatchObject({ rows: 0, parts: 0 });

    const stored = await storedInvoiceFor(store, { from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-11-01T00:00:00Z') });
    expect(stored.exports).toEqual([october]);
    expect(stored.allocations).toEqual([oct20]);
  });
});

describe('the stored invoice of a daily month-to-date export', () => {
  /** Counts the allocation parts the store hands out. */
  class CountingStore extends MemoryInvoiceAllocationStore {
    partsRead = 0;
    override async listAllocations(...args: Parameters<MemoryInvoiceAllocationStore['listAllocations']>) {
      const found = await super.listAllocations(...args);
      for (const stored of found.parts) for (const slice of stored.slices) this.partsRead += slice.parts.length;
      return found;
    }
  }

  it('reads the parts of the latest run only, not of every run the export wrote this month', async () => {
    const store = new CountingStore();
    const identities = Array.from({ length: 40 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    // Run n restates days 1 to n; each is a file of its own run folder in one series.
    for (let run = 1; run <= 10; run++) {
      const days = Array.from({ length: run }, (_, d) => `2026-11-${String(d + 1).padStart(2, '0')}`);
      const exportedAt = `2026-11-${String(run + 1).padStart(2, '0')}T06:00:00Z`;
      const exportName = `focus/daily/20261101-20261130/run-${String(run).padStart(2, '0')}/part_0.csv`;
      const rows = days.map((day) => ({ row: row(day), parts: identities.map((identity) => part(identity, '0.025', '0.0225')) }));
      expect(await storeAllocation(store, { exportName, contentHash: exportName, exportedAt, allocatedAt: exportedAt, counts: { skippedRows: 0, unplacedRequests: 0, bypassCalls: 0 }, allocations: rows })).toBe(true);
    }
    store.partsRead = 0;
    const invoice = await storedInvoiceFor(store, { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-12-01T00:00:00Z') });
    expect(invoice.exports).toEqual(['focus/daily/20261101-20261130/run-10/part_0.csv']);
    const used = invoice.allocations.reduce((sum, a) => sum + a.parts.length, 0);
    expect(used).toBe(10 * identities.length);
    expect(store.partsRead).toBe(used);
  });
});

describe('a team named like the unallocated row', () => {
  it('keeps the team’s allocated cost out of the unallocated row, whose reasons add up to it', () => {
    const account = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/aoai-eastus';
    const row: AllocationCostRow = {
      billingAccountId: '12345678', invoiceId: 'E0600ABCDE', chargePeriodStart: '2026-11-20T00:00:00Z', chargePeriodEnd: '2026-11-21T00:00:00Z',
      resourceId: account, meterName: 'gpt 4.1 Inp glbl Tokens', meter: { type: 'tokens', model: 'gpt-4.1', kind: 'input' },
      billedCost: '10.00', effectiveCost: '10.00', currency: 'USD', billedTokens: 1_000_000n,
    };
    const identity = '11111111-1111-1111-1111-111111111111';
    // 600k of the 1M tokens billed are the team's; 400k no request accounts for.
    const allocations = allocateInvoice([row], [{ identity, attributed: true, time: '2026-11-20T10:00:00Z', resourceId: account, model: 'gpt-4.1', tokens: { input: 600_000n } }]);
    const directory = new Map<string, DirectoryRow>([[identity, { identity, displayName: 'Batch jobs', team: 'unallocated', costCenter: 'CC-1' }]]);
    const report = invoiceReport(allocations, { groupBy: 'team', directory, estimates: [], estimateCurrency: 'USD' });
    expect(report.rows.map((r) => [r.key, r.team, r.billedCost, r.reasons?.map((x) => x.billedCost) ?? null])).toEqual([
      ['unallocated', 'unallocated', '6.00', null],
      ['unallocated', null, '4.00', ['4.00']],
    ]);
  });
});
