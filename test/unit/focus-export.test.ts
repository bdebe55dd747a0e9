import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkDirectoryRow, type DirectoryRow } from '../../src/contracts/directory.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import { allocationFocus } from '../../src/domain/allocation-formats.js';
import { IDLE_CAPACITY } from '../../src/domain/chargeback.js';
import { FOCUS_COLUMNS, focusCsv, listPriceFocusRows } from '../../src/domain/focus-export.js';
import { UNALLOCATED, type RowAllocation } from '../../src/domain/invoice-allocation.js';
import { formatPicodollars } from '../../src/domain/money.js';
import { PriceMatcher } from '../../src/domain/price-matching.js';
import { UsageLines } from '../../src/domain/usage.js';
import { priceUsage, type DayUsage } from '../../src/domain/usage-pricing.js';
import { checkFocusExport, FOCUS_SPEC, sameAmount, sumExact } from '../support/focus-conformance.js';
import { ledgerEntry, userCaller } from '../support/ledger-entries.js';
import { MIXED_PRICES } from '../support/price-tables.js';

const SUBSCRIPTION = '00000000-0000-4000-8000-000000000001';
const EASTUS_ACCOUNT = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/aoai-eastus`;
const table = loadPriceTable({ ...MIXED_PRICES, provisioned: [{ deployment: 'ptu-chat', monthlyCost: '7440.00', from: '2026-10-01' }] });
const matcher = new PriceMatcher(table);
const october = { from: new Date('2026-10-14T00:00:00Z'), to: new Date('2026-10-17T00:00:00Z') };
const directory = new Map<string, DirectoryRow>(
  [{ identity: 'a', displayName: 'Alice', team: 'search', costCenter: 'CC-100', kind: 'user' }].map((r) => {
    const row = checkDirectoryRow(r);
    return [row.identity, row];
  }),
);

const entries = fc.array(
  fc
    .record({
      oid: fc.constantFrom('a', 'b'),
      day: fc.constantFrom('2026-10-14', '2026-10-15', '2026-10-16'),
      minute: fc.integer({ min: 0, max: 1439 }),
      model: fc.constantFrom('gpt-4o', 'gpt-4o-2024-08-06', 'gpt-4o-mini-2024-07-18', 'dall-e-3', 'whisper', 'o9-unknown'),
      deployment: fc.constantFrom('chat', 'batch', 'ptu-chat', null),
      operation: fc.constantFrom('ChatCompletions_Create', 'ImageGenerations_Create'),
      region: fc.constantFrom('eastus', 'swedencentral', null),
      prompt: fc.integer({ min: 0, max: 5_000 }),
      completion: fc.integer({ min: 0, max: 2_000 }),
      cachedShare: fc.integer({ min: 0, max: 100 }),
      audio: fc.boolean(),
    })
    .map((g): LedgerEntry => {
      const time = new Date(Date.parse(`${g.day}T00:00:00Z`) + g.minute * 60_000).toISOString();
      return ledgerEntry({
        time,
        caller: userCaller(g.oid),
        model: g.model,
        deployment: g.deployment,
        operation: g.operation,
        backendRegion: g.region,
        tokens: {
          source: 'gateway',
          promptTokens: g.prompt,
          cachedTokens: Math.floor((g.prompt * g.cachedShare) / 100),
          completionTokens: g.completion,
          reasoningTokens: 0,
          ...(g.audio ? { audioPromptTokens: Math.floor(g.prompt / 2), audioCompletionTokens: Math.floor(g.completion / 2) } : {}),
        },
      });
    }),
  { maxLength: 60 },
);

function daysOf(generated: readonly LedgerEntry[]): DayUsage[] {
  const byDay = new Map<string, UsageLines>();
  for (const entry of generated) {
    const day = entry.time.slice(0, 10);
    const usage = byDay.get(day) ?? new UsageLines();
    usage.addEntry(entry);
    byDay.set(day, usage);
  }
  return [...byDay].map(([day, usage]) => ({ day, lines: usage.list() }));
}

function exportOf(generated: readonly LedgerEntry[]) {
  const days = daysOf(generated);
  const lines = priceUsage(days, matcher, { entries: table.provisioned, range: october });
  const rows = listPriceFocusRows({
    days,
    prices: matcher,
    lines,
    provisionedVersions: new Set(table.provisioned.map((e) => e.priceVersion)),
    directory,
    accounts: [{ region: 'eastus', resourceId: EASTUS_ACCOUNT }],
    currency: 'USD',
    ...october,
  });
  const total = lines.reduce((sum, l) => sum + l.costPico, 0n);
  // The provisioned deployment, in effect all period, is idle capacity in every export nobody used it in.
  return { csv: focusCsv(rows), rows: rows.filter((r) => r.x_Identity !== IDLE_CAPACITY), total };
}

describe('FOCUS 1.2 export at list prices', () => {
  it('passes the FOCUS 1.2 column test, and its BilledCost adds up exactly to the report total', () => {
    fc.assert(
      fc.property(entries, (generated) => {
        const { csv, total } = exportOf(generated);
        const check = checkFocusExport(csv);
        expect(check.problems).toEqual([]);
        expect(sameAmount(sumExact(check.rows.map((r) => r.BilledCost!)), formatPicodollars(total, 12))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('writes one row per price component, each with its quantity and exact unit price', () => {
    const request = ledgerEntry({
      time: '2026-10-15T10:00:00.000Z',
      caller: userCaller('a'),
      model: 'gpt-4o-2024-08-06',
      deployment: 'chat',
      backendRegion: 'eastus',
      tokens: { source: 'gateway', promptTokens: 1_000, cachedTokens: 200, completionTokens: 300, reasoningTokens: 0, audioPromptTokens: 100, audioCompletionTokens: 50 },
    });
    const { rows } = exportOf([request]);
    expect(rows.map((r) => [r.x_PriceComponent, r.PricingQuantity, r.ContractedUnitPrice, r.ContractedCost])).toEqual([
      ['audio input', '100', '0.00004', '0.004'],
      ['audio output', '50', '0.00008', '0.004'],
      ['cached input', '200', '0.00000125', '0.00025'],
      ['input', '700', '0.0000025', '0.00175'],
      ['output', '250', '0.00001', '0.0025'],
    ]);
    for (const row of rows) {
      expect(row).toMatchObject({ PricingUnit: 'Tokens', ChargeCategory: 'Usage', ChargeFrequency: 'Usage-Based', PricingCategory: 'Standard', SkuPriceId: `gpt-4o@2024-01-01#${row.x_PriceComponent}` });
      expect(row.ChargePeriodStart).toBe('2026-10-15T00:00:00Z');
      expect(row.ChargePeriodEnd).toBe('2026-10-16T00:00:00Z');
      expect(row.BillingPeriodStart).toBe('2026-10-01T00:00:00Z');
    }
  });

  it("names the region's Azure OpenAI account as ResourceId and its subscription as the accounts, and none where the account is unknown", () => {
    const at = (region: string | null) =>
      exportOf([ledgerEntry({ time: '2026-10-15T10:00:00.000Z', caller: userCaller('a'), model: 'gpt-4o-mini', deployment: 'chat', backendRegion: region, tokens: { source: 'gateway', promptTokens: 10, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } })]).rows[0]!;
    expect(at('eastus')).toMatchObject({ ResourceId: EASTUS_ACCOUNT, ResourceName: 'aoai-eastus', ResourceType: 'Microsoft.CognitiveServices/accounts', SubAccountId: `/subscriptions/${SUBSCRIPTION}`, BillingAccountId: SUBSCRIPTION, RegionId: 'eastus', RegionName: 'East US' });
    expect(at('swedencentral')).toMatchObject({ ResourceId: null, SubAccountId: null, RegionId: 'swedencentral', RegionName: 'Sweden Central' });
  });

  it('carries team and cost center in Tags and in x_ columns', () => {
    const { rows } = exportOf([ledgerEntry({ time: '2026-10-15T10:00:00.000Z', caller: userCaller('a'), model: 'gpt-4o-mini', deployment: 'chat', tokens: { source: 'gateway', promptTokens: 10, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } })]);
    expect(rows[0]).toMatchObject({ x_Identity: 'a', x_Team: 'search', x_CostCenter: 'CC-100', x_DisplayName: 'Alice' });
    expect(JSON.parse(rows[0]!.Tags!)).toMatchObject({ identity: 'a', team: 'search', costCenter: 'CC-100' });
  });

  it('states a provisioned deployment share as one unit at the share, so quantity × price is still the cost', () => {
    const { rows } = exportOf([ledgerEntry({ time: '2026-10-15T10:00:00.000Z', caller: userCaller('a'), model: 'gpt-4o', deployment: 'ptu-chat', tokens: { source: 'gateway', promptTokens: 10, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } })]);
    // The day it was used of 7,440 USD a month (240 a day); the other two days of the export are idle capacity.
    expect(rows).toEqual([expect.objectContaining({ ChargeFrequency: 'Recurring', PricingQuantity: '1', PricingUnit: 'Units', ContractedUnitPrice: '240', BilledCost: '240', ConsumedQuantity: '10' })]);
  });

  it('keeps usage no price covers out, and writes no row with neither cost nor quantity', () => {
    const { rows } = exportOf([
      ledgerEntry({ time: '2026-10-15T10:00:00.000Z', caller: userCaller('a'), model: 'o9-unknown', deployment: 'chat', tokens: { source: 'gateway', promptTokens: 10, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } }),
      ledgerEntry({ time: '2026-10-15T10:00:00.000Z', caller: userCaller('a'), model: 'gpt-4o-mini', deployment: 'chat', status: 429, tokens: { source: 'gateway', promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } }),
    ]);
    expect(rows).toEqual([]);
  });

  it("counts a request that used nothing billable (a throttled call) in x_Requests, on its day's row of the same identity, model, deployment and region", () => {
    const call = (time: string, status: number, promptTokens: number) =>
      ledgerEntry({ time, caller: userCaller('a'), model: 'gpt-4o-mini', deployment: 'chat', backendRegion: 'eastus', status, tokens: { source: 'gateway', promptTokens, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } });
    const { rows } = exportOf([call('2026-10-15T09:00:00.000Z', 429, 0), call('2026-10-15T10:00:00.000Z', 200, 10), call('2026-10-15T10:05:00.000Z', 429, 0), call('2026-10-16T10:00:00.000Z', 429, 0)]);
    // The 16th has nothing billable: no row, so its throttled call is in no x_Requests (as the README says).
    expect(rows.map((r) => [r.ChargePeriodStart, r.x_PriceComponent, r.x_Requests])).toEqual([['2026-10-15T00:00:00Z', 'input', '3']]);
  });
});

describe('FOCUS 1.2 export of the invoice allocation', () => {
  const row = (meter: RowAllocation['row']['meter'], billedCost: string) => ({
    billingAccountId: '/providers/Microsoft.Billing/billingAccounts/123',
    invoiceId: 'INV-1',
    chargePeriodStart: '2026-10-15T00:00:00Z',
    chargePeriodEnd: '2026-10-16T00:00:00Z',
    resourceId: EASTUS_ACCOUNT,
    meterName: 'gpt-4o-0806-Inp-glbl 1M Tokens',
    meter,
    billedCost,
    effectiveCost: billedCost,
    currency: 'USD',
    billedTokens: null,
  });
  const allocations: RowAllocation[] = [
    {
      row: row({ type: 'tokens', model: 'gpt-4o', kind: 'input' }, '0.03'),
      parts: [
        { identity: 'a', billedCost: '0.02', effectiveCost: '0.02', tokens: 8_000n, reason: null },
        { identity: UNALLOCATED, billedCost: '0.01', effectiveCost: '0.01', tokens: 4_000n, reason: 'unattributed requests (no caller identity)' },
        { identity: 'b', billedCost: '0', effectiveCost: '0', tokens: 0n, reason: null },
      ],
    },
    { row: { ...row({ type: 'provisioned' }, '8e-02'), meterName: 'Provisioned Managed Global Unit' }, parts: [{ identity: 'a', billedCost: '8e-02', effectiveCost: '8e-02', tokens: 10n, reason: null }] },
    { row: row({ type: 'tokens', model: 'gpt-4o', kind: 'input' }, '-0.05'), parts: [{ identity: UNALLOCATED, billedCost: '-0.05', effectiveCost: '-0.05', tokens: 0n, reason: 'no usage on this resource, meter and charge period' }] },
  ];

  it('passes the FOCUS 1.2 column test, bills exactly the allocated parts and prices token parts at list price', () => {
    const csv = allocationFocus(allocations, directory, { matcher, currency: 'USD' });
    const check = checkFocusExport(csv);
    expect(check.problems).toEqual([]);
    expect(check.rows).toHaveLength(4);
    expect(sameAmount(sumExact(check.rows.map((r) => r.BilledCost!)), '0.06')).toBe(true);
    expect(check.rows[0]).toMatchObject({ BillingAccountId: '/providers/Microsoft.Billing/billingAccounts/123', InvoiceId: 'INV-1', PricingQuantity: '8000', ListUnitPrice: '0.0000025', ListCost: '0.02', x_Team: 'search' });
    expect(check.rows[1]).toMatchObject({ x_Identity: UNALLOCATED, x_Team: '', x_UnallocatedReason: 'unattributed requests (no caller identity)' });
    expect(check.rows[2]).toMatchObject({ BilledCost: '0.08', PricingQuantity: '1', ContractedUnitPrice: '0.08', ChargeFrequency: 'Recurring' });
    expect(check.rows[3]).toMatchObject({ ChargeCategory: 'Credit', BilledCost: '-0.05', ListCost: '-0.05', PricingQuantity: '', ContractedUnitPrice: '', ConsumedQuantity: '' });
  });

  it("repeats the cost row's names, region, billing period, correction class and tags as the export wrote them", () => {
    const context = { billingAccountName: 'Contoso', subAccountName: 'AI Platform', regionId: 'eastus', chargeClass: 'Correction', billingPeriodStart: '2026-09-01T00:00:00Z', billingPeriodEnd: '2026-10-01T00:00:00Z', tags: '{"env":"prod","team":"finance-owned","identity":"svc"}' };
    const corrected: RowAllocation[] = [{ row: { ...row({ type: 'tokens', model: 'gpt-4o', kind: 'input' }, '0.02'), context }, parts: [{ identity: 'a', billedCost: '0.02', effectiveCost: '0.02', tokens: 8_000n, reason: null }] }];
    const check = checkFocusExport(allocationFocus(corrected, directory, { matcher, currency: 'USD' }));
    expect(check.problems).toEqual([]);
    expect(check.rows[0]).toMatchObject({ BillingAccountName: 'Contoso', SubAccountName: 'AI Platform', RegionId: 'eastus', RegionName: 'East US', ChargeClass: 'Correction', BillingPeriodStart: '2026-09-01T00:00:00Z', BillingPeriodEnd: '2026-10-01T00:00:00Z', x_Team: 'search' });
    // The export's tags are kept beside the part's identity and team, which a resource tag of the same key never replaces.
    expect(JSON.parse(check.rows[0]!.Tags!)).toMatchObject({ identity: 'a', team: 'search', env: 'prod' });
    // A region Azure's list does not hold keeps the export's name beside its id.
    const global = checkFocusExport(allocationFocus([{ ...corrected[0]!, row: { ...corrected[0]!.row, context: { ...context, regionId: 'global', regionName: 'Global' } } }], directory, { matcher, currency: 'USD' }));
    expect(global.rows[0]).toMatchObject({ RegionId: 'global', RegionName: 'Global' });
  });

  it('states a row billed in another currency than the price table at its billed cost, never at list prices of another currency', () => {
    const euros: RowAllocation[] = [{ row: { ...row({ type: 'tokens', model: 'gpt-4o', kind: 'input' }, '9.00'), currency: 'EUR' }, parts: [{ identity: 'a', billedCost: '9.00', effectiveCost: '9.00', tokens: 1_000_000n, reason: null }] }];
    const check = checkFocusExport(allocationFocus(euros, directory, { matcher, currency: 'USD' }));
    expect(check.problems).toEqual([]);
    expect(check.rows[0]).toMatchObject({ BillingCurrency: 'EUR', BilledCost: '9.00', ListCost: '9.00', ContractedCost: '9.00', ListUnitPrice: '9.00', PricingQuantity: '1', PricingUnit: 'Units', x_PriceVersion: '' });
    expect(checkFocusExport(allocationFocus(euros, directory, { matcher, currency: 'eur' })).rows[0]).toMatchObject({ PricingQuantity: '1000000', ListUnitPrice: '0.0000025' });
  });
});

describe('the FOCUS 1.2 column test', () => {
  it('reads every column of the specification from the fixture', () => {
    expect(FOCUS_SPEC.columns.filter((c) => c.featureLevel === 'Mandatory').map((c) => c.id)).toEqual(expect.arrayContaining(['BilledCost', 'BillingAccountId', 'ChargeCategory', 'ContractedCost', 'ListCost', 'PricingQuantity', 'ProviderName', 'ServiceName']));
    expect(FOCUS_COLUMNS.filter((c) => !c.startsWith('x_')).every((c) => FOCUS_SPEC.columns.some((s) => s.id === c))).toBe(true);
  });

  it('names what a non-conforming export gets wrong', () => {
    const csv = 'BilledCost,Provider,ChargeCategory,ChargePeriodStart,PricingQuantity,ContractedUnitPrice,ContractedCost,x_Team,ServiceName\r\n1.5,Microsoft,Use,2026-10-01T00:00:00.000Z,3,0.4,1.5,t,\r\n0,Microsoft,Usage,2026-10-01T00:00:00Z,0,0,0,t,Azure OpenAI\r\n';
    const { problems } = checkFocusExport(csv);
    expect(problems).toEqual(
      expect.arrayContaining([
        'mandatory column ListCost is missing',
        'column Provider is not a FOCUS 1.2 column and not prefixed x_',
        'FOCUS column ServiceName comes after a custom column',
        'row 1: ChargeCategory "Use" is not an allowed value',
        'row 1: ChargePeriodStart "2026-10-01T00:00:00.000Z" is not YYYY-MM-DDTHH:mm:ssZ',
        'row 1: ServiceName is null, which FOCUS does not allow',
        'row 1: PricingQuantity 3 × ContractedUnitPrice 0.4 is not ContractedCost 1.5',
        'row 2: neither cost nor quantity',
      ]),
    );
  });
});
