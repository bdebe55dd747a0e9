import { constants } from 'node:buffer';
import { createWriteStream } from 'node:fs';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseCostExport, parseParquetCostExport, readCostExport } from '../../src/adapters/files/cost-export.js';
import { parseCsv } from '../../src/adapters/files/focus-cost-export.js';
import { allocationCsv, allocationFocus, allocationLines } from '../../src/domain/allocation-formats.js';
import { allocationRowOf } from '../../src/domain/focus-cost-rows.js';
import { allocateInvoice, sumAmounts, UNALLOCATED, UNALLOCATED_REASONS } from '../../src/domain/invoice-allocation.js';
import { checkFocusExport } from '../support/focus-conformance.js';
import { temporaryFolder } from '../support/temporary-folder.js';

const fixture = (name: string) => new URL(`../fixtures/cost-exports/${name}`, import.meta.url).pathname;
const EA_ACTUAL = fixture('actual-ea-2024-08-01-azure-openai.csv');
const MCA_AMORTIZED = fixture('amortized-mca-2023-12-01-preview-azure-openai.csv');
const FOCUS = fixture('focus-1.2-preview-azure-openai.csv');

describe('cost export reader', () => {
  it('tells a FOCUS export from an actual-cost export by its header', async () => {
    expect((await readCostExport(FOCUS)).kind).toBe('focus');
    const actual = await readCostExport(EA_ACTUAL);
    expect(actual.kind).toBe('actual-or-amortized');
    expect(actual.columns).toHaveLength(57);
    expect((await readCostExport(MCA_AMORTIZED)).columns).toHaveLength(65);
  });

  it('reads an EA actual-cost export: the day as charge period, the cost as billed and effective cost, 1K units as thousands of tokens', async () => {
    const { rows } = await readCostExport(EA_ACTUAL);
    const read = rows.map(allocationRowOf);
    expect(read.map((r) => r?.meter ?? null)).toEqual([
      { type: 'tokens', model: 'gpt-4.1', kind: 'input' },
      { type: 'tokens', model: 'gpt-4.1', kind: 'output' },
      { type: 'tokens', model: 'gpt-4.1', kind: 'cachedInput' },
      { type: 'tokens', model: 'gpt-4o-2024-08-06', kind: 'input' },
      { type: 'provisioned' },
      null,
    ]);
    expect(read[0]).toEqual({
      billingAccountId: '12345678',
      invoiceId: null,
      chargePeriodStart: '2026-11-20T00:00:00Z',
      chargePeriodEnd: '2026-11-21T00:00:00Z',
      resourceId: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/aoai-eastus',
      meterName: 'gpt 4.1 Inp glbl Tokens',
      meter: { type: 'tokens', model: 'gpt-4.1', kind: 'input' },
      billedCost: '0.0164',
      effectiveCost: '0.0164',
      currency: 'USD',
      billedTokens: 8200n,
      context: { billingAccountName: 'Contoso', subAccountName: 'AI Platform', regionId: 'eastus', regionName: null, chargeClass: null, billingPeriodStart: '2026-11-01T00:00:00Z', billingPeriodEnd: '2026-12-01T00:00:00Z', tags: '{"team":"ai-platform"}' },
    });
    expect(read[1]!.billedTokens).toBe(2460n);
    expect(read[3]!.billedTokens).toBe(500_000n);
    expect(read[4]).toMatchObject({ billedCost: '0', effectiveCost: '0', billedTokens: null });
    const allocated = await readCostExport(EA_ACTUAL, allocationRowOf);
    expect(allocated.rowsRead - allocated.rows.length).toBe(1);
    expect(sumAmounts(allocated.rows.map((r) => r.billedCost))).toBe('1.28708');
  });

  it('reads an MCA amortized-cost export by its camelCase columns: invoice, billing currency, reservation usage as provisioned, effective cost only', async () => {
    const { rows: kept, rowsRead } = await readCostExport(MCA_AMORTIZED, allocationRowOf);
    expect(rowsRead - kept.length).toBe(1);
    expect(kept.map((r) => [r.meter, r.invoiceId, r.currency, r.effectiveCost, r.billedTokens])).toEqual([
      [{ type: 'tokens', model: 'gpt-4o-2024-08-06', kind: 'input' }, 'G012345678', 'EUR', '2.76', 1_200_000n],
      [{ type: 'tokens', model: 'gpt-4o-2024-08-06', kind: 'output' }, 'G012345678', 'EUR', '1.3846', 150_500n],
      [{ type: 'provisioned' }, 'G012345678', 'EUR', '17.02', null],
    ]);
    expect(kept[0]!.billingAccountId).toBe('/providers/Microsoft.Billing/billingAccounts/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee:ffffffff-0000-0000-0000-000000000000_2019-05-31');
    // The reservation was billed when bought: its amortized share of the day is effective cost, billed 0.
    expect(kept[2]!.billedCost).toBe('0');
    expect(sumAmounts(kept.map((r) => r.billedCost))).toBe('4.1446');
    expect(sumAmounts(kept.map((r) => r.effectiveCost))).toBe('21.1646');
    // Its allocation lines say they are euros (an MCA billing account's profiles may bill in several currencies).
    const lines = allocationLines(allocateInvoice(kept, []), new Map());
    expect(lines.map((l) => l.currency)).toEqual(['EUR', 'EUR', 'EUR']);
    const [header, ...csvLines] = allocationCsv(lines).trimEnd().split('\r\n');
    expect(header!.split(',')).toContain('currency');
    expect(csvLines.every((line) => line.split(',').includes('EUR'))).toBe(true);
  });

  it("reads Microsoft's EA sample exports, which name the cost Cost (microsoft/finops-toolkit, EA_ActualCost_Small.csv, EA_AmortizedCost_Small.csv)", async () => {
    const actual = await readCostExport(fixture('ea-actual-finops-toolkit-small.csv'));
    expect({ kind: actual.kind, rowsRead: actual.rowsRead }).toEqual({ kind: 'actual-or-amortized', rowsRead: 11 });
    // Line 2: a reserved VM instance bought, Cost 3.25 USD, ChargeType Purchase.
    expect(actual.rows[0]).toMatchObject({ BilledCost: '3.25', EffectiveCost: '0', BillingCurrency: 'USD', ChargeCategory: 'Purchase' });
    const amortized = await readCostExport(fixture('ea-amortized-finops-toolkit-small.csv'));
    expect(amortized.rowsRead).toBe(28);
    // Line 2: usage the reservation covers, its amortized Cost 0.493152: effective cost only.
    expect(amortized.rows[0]).toMatchObject({ BilledCost: '0', EffectiveCost: '0.493152', BillingCurrency: 'USD' });
  });

  it('reads CostInBillingCurrency, not Cost, from a file that has both', () => {
    const header = 'Date,MeterName,MeterCategory,ResourceId,Cost,CostInBillingCurrency,BillingAccountId,BillingCurrencyCode';
    expect(parseCostExport(`${header}\n11/20/2026,m,Cognitive Services,/r,9,1.5,a,USD\n`).rows[0]).toMatchObject({ BilledCost: '1.5', EffectiveCost: '1.5' });
  });

  it('reads the billed tokens of an actual-cost token row whose meter name drops the word Tokens, by its UnitOfMeasure', async () => {
    const text = (await readFile(EA_ACTUAL, 'utf8')).replace('gpt 4.1 Inp glbl Tokens,', 'gpt 4.1 Inp glbl,');
    const row = parseCostExport(text, 'actual.csv', allocationRowOf).rows.find((r) => r.meterName === 'gpt 4.1 Inp glbl');
    expect(row).toMatchObject({ meter: { type: 'tokens', model: 'gpt-4.1', kind: 'input' }, billedTokens: 8200n });
  });

  it('reads the Azure OpenAI token rows of an actual-cost export as the same allocation rows as the equivalent FOCUS rows', async () => {
    const tokenRows = async (path: string) => (await readCostExport(path, allocationRowOf)).rows.filter((r) => r.meter.type === 'tokens' && !r.billedCost.startsWith('-')).map((r) => ({ ...r, invoiceId: null, context: { ...r.context, regionName: null, tags: null } }));
    expect(await tokenRows(EA_ACTUAL)).toEqual(await tokenRows(FOCUS));
  });

  it('reads a gzipped export by its .gz name', async () => {
    const dir = await temporaryFolder('tokenledger-cost-export-');
    await writeFile(join(dir, 'part_0_0001.csv.gz'), gzipSync(await readFile(EA_ACTUAL)));
    expect((await readCostExport(join(dir, 'part_0_0001.csv.gz'))).rows).toHaveLength(6);
  });

  it('reads a CSV export as it comes, keeping only the rows the caller selects, and names a bad row however far in', async () => {
    const dir = await temporaryFolder('tokenledger-cost-export-');
    const text = await readFile(EA_ACTUAL, 'utf8');
    const [header, ...rows] = text.trimEnd().split('\n');
    // The export's one row of another service, many times over: megabytes of rows that allocation passes over.
    const other = rows.find((row) => !/CognitiveServices/i.test(row))!;
    const copies = 20_000;
    const big = `${header}\n${rows.join('\n')}\n${`${other}\n`.repeat(copies)}`;
    const plain = join(dir, 'part_0_0001.csv');
    const zipped = join(dir, 'part_0_0002.csv.gz');
    await writeFile(plain, big);
    await writeFile(zipped, gzipSync(big));
    for (const path of [plain, zipped]) {
      const { rows: kept, rowsRead } = await readCostExport(path, allocationRowOf);
      expect(rowsRead).toBe(rows.length + copies);
      expect(kept.map((r) => r.billedCost)).toEqual((await readCostExport(EA_ACTUAL, allocationRowOf)).rows.map((r) => r.billedCost));
    }
    const lastLine = 1 + rows.length + copies + 1;
    await writeFile(plain, `${big}1,2\n`);
    await expect(readCostExport(plain, allocationRowOf)).rejects.toThrow(`${plain}: 1 row cannot be read:\n  line ${lastLine}: 2 fields, the header has 57`);
  });

  it('refuses a record that never ends after a mebibyte, whatever the size of the file, before unzipping it all', async () => {
    const dir = await temporaryFolder('tokenledger-cost-export-');
    const max = constants.MAX_STRING_LENGTH;
    const refusal = /: line \d+: a record of more than 1,048,576 characters \(is a quote left open\?\)$/;
    // A sparse file larger than a string can hold: a cost export was once read whole, and refused for its size.
    const plain = join(dir, 'part_0_0001.csv');
    await writeFile(plain, await readFile(EA_ACTUAL));
    await truncate(plain, max + 1);
    await expect(readCostExport(plain)).rejects.toThrow(refusal);
    // Half a megabyte that unzips to more than a string can hold.
    const zipped = join(dir, 'part_0_0002.csv.gz');
    const mebibyte = Buffer.alloc(1 << 20, '0');
    const unzipped = function* () {
      for (let bytes = 0; bytes <= max; bytes += mebibyte.length) yield mebibyte;
    };
    await pipeline(Readable.from(unzipped()), createGzip({ level: 1 }), createWriteStream(zipped));
    await expect(readCostExport(zipped)).rejects.toThrow(refusal);
    // A CSV under a .gz name.
    const misnamed = join(dir, 'part_0_0003.csv.gz');
    await writeFile(misnamed, await readFile(EA_ACTUAL));
    await expect(readCostExport(misnamed)).rejects.toThrow(`${misnamed}: not a gzip file that can be read (incorrect header check)`);
  });

  it('reads a Parquet export as its CSV: the same allocation rows, amounts equal to the exact decimal', async () => {
    for (const name of ['focus-1.2-preview-azure-openai', 'actual-ea-2024-08-01-azure-openai']) {
      const csv = await readCostExport(fixture(`${name}.csv`));
      const parquet = await readCostExport(fixture(`${name}.parquet`));
      expect(parquet.kind).toBe(csv.kind);
      expect(parquet.columns).toEqual(csv.columns);
      const fromCsv = await readCostExport(fixture(`${name}.csv`), allocationRowOf);
      const fromParquet = await readCostExport(fixture(`${name}.parquet`), allocationRowOf);
      expect(fromParquet.rowsRead - fromParquet.rows.length).toBe(fromCsv.rowsRead - fromCsv.rows.length);
      // A DOUBLE column keeps a cost's value, not its trailing zeros: `-0.0100` is read as `-0.01`.
      const sameScale = (rows: typeof fromCsv.rows) => rows.map((r) => ({ ...r, billedCost: sumAmounts([r.billedCost, '0.00000']), effectiveCost: sumAmounts([r.effectiveCost, '0.00000']) }));
      expect(sameScale(fromParquet.rows)).toEqual(sameScale(fromCsv.rows));
      expect(sumAmounts(fromParquet.rows.map((r) => r.billedCost))).toBe(sumAmounts(fromCsv.rows.map((r) => r.billedCost)).replace(/0+$/, ''));
    }
    expect((await readCostExport(fixture('actual-ea-2024-08-01-azure-openai.parquet'))).rows[0]).toMatchObject({ ChargePeriodStart: '2026-11-20T00:00:00Z', BilledCost: '0.0164', ConsumedQuantity: '8.2', ConsumedUnit: '1K', PricingQuantity: '8.2', x_PricingUnitDescription: '1K' });
  });

  it("keeps each row's billing account and subscription names, region, billing period, correction class and tags as the export wrote them", async () => {
    const contexts = async (name: string) => (await readCostExport(fixture(name), allocationRowOf)).rows.map((row) => row.context);
    const [first, , , , , credit] = await contexts('focus-1.2-preview-azure-openai.csv');
    const november = { billingPeriodStart: '2026-11-01T00:00:00Z', billingPeriodEnd: '2026-12-01T00:00:00Z' };
    expect(first).toEqual({ billingAccountName: 'Contoso', subAccountName: 'AI Platform', regionId: 'eastus', regionName: 'East US', chargeClass: null, ...november, tags: '{"env":"prod","owner":"ai-platform"}' });
    expect(credit).toMatchObject({ chargeClass: 'Correction' });
    // The actual-cost layout: SubscriptionName, ResourceLocation, BillingPeriodEndDate (the last day) and its own tags.
    for (const name of ['actual-ea-2024-08-01-azure-openai.csv', 'actual-ea-2024-08-01-azure-openai.parquet']) {
      expect((await contexts(name))[0], name).toEqual({ billingAccountName: 'Contoso', subAccountName: 'AI Platform', regionId: 'eastus', regionName: null, chargeClass: null, ...november, tags: '{"team":"ai-platform"}' });
    }
    // An empty billing period cell is no billing period, not a row that cannot be read.
    const [header, first_] = parseCsv(await readFile(EA_ACTUAL, 'utf8'));
    const values = [...first_!.fields];
    for (const column of ['BillingPeriodStartDate', 'BillingPeriodEndDate']) values[header!.fields.indexOf(column)] = '';
    const csv = `${header!.fields.join(',')}\r\n${values.map((v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',')}\r\n`;
    expect(parseCostExport(csv, 'x.csv', allocationRowOf).rows[0]!.context).toMatchObject({ billingPeriodStart: null, billingPeriodEnd: null });
  });

  it('names a file that is not Parquet', async () => {
    await expect(parseParquetCostExport(new TextEncoder().encode('BilledCost\n1\n'), 'x.parquet')).rejects.toThrow(/^x\.parquet: not a Parquet file that can be read/);
  });

  it('reads ISO dates as well as MM/DD/YYYY, and refuses a date that is no day', () => {
    const header = 'Date,MeterName,MeterCategory,ResourceId,CostInBillingCurrency,BillingAccountId,BillingCurrencyCode';
    expect(parseCostExport(`${header}\n2026-11-30T00:00:00Z,m,Cognitive Services,/r,1,a,USD\n`).rows[0]).toMatchObject({ ChargePeriodStart: '2026-11-30T00:00:00Z', ChargePeriodEnd: '2026-12-01T00:00:00Z' });
    expect(() => parseCostExport(`${header}\n02/30/2026,m,c,/r,1,a,USD\n`, 'x.csv')).toThrow(/x\.csv: 1 row cannot be read:\n {2}line 2: Date: expected a date/);
    expect(() => parseCostExport(`${header}\n11/20/2026,m,c,/r,1.2.3,a,USD\n`, 'x.csv')).toThrow(/line 2: CostInBillingCurrency: expected a decimal number/);
  });

  it('refuses a file of neither layout, naming the columns each one misses', () => {
    expect(() => parseCostExport('Date,MeterName,Amount\n11/20/2026,m,1\n', 'x.csv')).toThrow(
      'x.csv: not a "Cost and usage details (FOCUS)" export: missing columns BilledCost, EffectiveCost, BillingAccountId, BillingCurrency, ChargeCategory, ChargePeriodStart, ChargePeriodEnd, ResourceId, ServiceName; nor a "Cost and usage details (actual)" or "(amortized)" export: missing columns MeterCategory, ResourceId, CostInBillingCurrency or Cost, BillingAccountId, BillingCurrencyCode or BillingCurrency',
    );
    expect(() => parseCostExport('', 'x.csv')).toThrow(/x\.csv: empty file/);
  });
});

/**
 * Reservation rows of an EA export, for a PTU reservation. Columns: the EA schema 2024-08-01 (the header of the
 * fixture above). Actual cost holds the purchase (`ChargeType` `Purchase`) and refunds; amortized cost the unused
 * part (`UnusedReservation`): Learn, "Get Enterprise Agreement reservation costs and usage". Microsoft's mapping to
 * FOCUS (FinOps toolkit, "Convert Cost Management data to FOCUS"): EffectiveCost 0 for a commitment's Purchase or
 * Refund; a Refund is a Purchase of ChargeClass Correction; UnusedReservation is CommitmentDiscountStatus Unused. The
 * meter is the Retail Prices item `Provisioned Managed Global Unit`, 260 USD a PTU for a 1-month term.
 */
describe('reservation rows of an actual- or amortized-cost export', () => {
  const reservation = {
    BillingAccountId: '12345678', BillingAccountName: 'Contoso', BillingCurrencyCode: 'USD', SubscriptionId: '00000000-0000-0000-0000-000000000001',
    ProductName: 'Azure AI Foundry Provisioned Throughput Reservation', MeterCategory: 'Cognitive Services', MeterSubCategory: 'Azure OpenAI',
    MeterName: 'Provisioned Managed Global Unit', UnitOfMeasure: '1/Hour', ConsumedService: 'Microsoft.CognitiveServices',
    ReservationId: '22222222-0000-0000-0000-000000000001', PricingModel: 'Reservation',
  };
  async function eaRows(rows: readonly Record<string, string>[]) {
    const [header] = parseCsv(await readFile(EA_ACTUAL, 'utf8'));
    const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
    const text = [header!.fields.join(','), ...rows.map((r) => header!.fields.map((c) => quote(r[c] ?? '')).join(','))].join('\r\n') + '\r\n';
    return parseCostExport(text).rows;
  }

  it('reads a purchase as billed with no effective cost, and a refund as a purchase correction', async () => {
    const [purchase, refund] = await eaRows([
      { ...reservation, Date: '11/01/2026', ChargeType: 'Purchase', Quantity: '15', CostInBillingCurrency: '3900' },
      { ...reservation, Date: '11/10/2026', ChargeType: 'Refund', Quantity: '5', CostInBillingCurrency: '-866.67' },
    ]);
    expect(purchase).toMatchObject({ ChargeCategory: 'Purchase', BilledCost: '3900', EffectiveCost: '0' });
    expect(purchase!.ChargeClass).toBeUndefined();
    expect(refund).toMatchObject({ ChargeCategory: 'Purchase', ChargeClass: 'Correction', BilledCost: '-866.67', EffectiveCost: '0' });
  });

  it('keeps a PTU reservation bought, refunded or left unused as Azure OpenAI cost, unallocated with its reason', async () => {
    const rows = await eaRows([
      { ...reservation, Date: '11/01/2026', ChargeType: 'Purchase', Quantity: '15', CostInBillingCurrency: '3900' },
      { ...reservation, Date: '11/10/2026', ChargeType: 'Refund', Quantity: '5', CostInBillingCurrency: '-866.67' },
      // Amortized: 5 of 15 PTUs idle all day, 120 unit-hours. The row names no resource.
      { ...reservation, Date: '11/20/2026', ChargeType: 'UnusedReservation', Quantity: '120', CostInBillingCurrency: '43.33' },
    ]);
    const kept = rows.map(allocationRowOf).filter((r) => r !== null);
    const allocations = allocateInvoice(kept, []);
    expect(allocations.map((a) => a.parts.map((p) => [p.identity, p.billedCost, p.effectiveCost, p.reason]))).toEqual([
      [[UNALLOCATED, '3900.00', '0.00', UNALLOCATED_REASONS.commitmentBought]],
      [[UNALLOCATED, '-866.67', '0.00', UNALLOCATED_REASONS.commitmentBought]],
      [[UNALLOCATED, '0.00', '43.33', UNALLOCATED_REASONS.commitmentUnused]],
    ]);
    const focus = checkFocusExport(allocationFocus(allocations, new Map()));
    expect(focus.problems).toEqual([]);
    expect(focus.rows.map((r) => [r.ChargeCategory, r.ChargeClass, r.PricingCategory, r.ConsumedQuantity, r.ResourceId, r.ResourceType])).toEqual([
      ['Purchase', '', 'Committed', '', '', ''],
      ['Purchase', 'Correction', '', '', '', ''],
      ['Usage', '', 'Committed', '0', '', ''],
    ]);
  });

  it('allocates a refund of pay-as-you-go usage as that usage, a usage correction, not as a reservation refunded', async () => {
    // PricingModel OnDemand, no ReservationId: ChargeType Refund is then a correction of usage.
    const account = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/aoai-eastus';
    const onDemand = { ...reservation, ResourceId: account, ResourceLocation: 'EastUS', ProductName: 'Azure OpenAI', MeterName: 'gpt 4o 0806 Inp glbl Tokens', UnitOfMeasure: '1K', PricingModel: 'OnDemand', ReservationId: '' };
    const rows = await eaRows([
      { ...onDemand, Date: '11/20/2026', ChargeType: 'Usage', Quantity: '500', CostInBillingCurrency: '1.25' },
      { ...onDemand, Date: '11/20/2026', ChargeType: 'Refund', Quantity: '-100', CostInBillingCurrency: '-0.25' },
    ]);
    expect(rows[1]).toMatchObject({ ChargeCategory: 'Usage', ChargeClass: 'Correction', BilledCost: '-0.25', EffectiveCost: '-0.25' });
    const usage = [{ identity: 'alice', attributed: true, time: '2026-11-20T10:00:00Z', resourceId: account.toUpperCase(), model: 'gpt-4o-2024-08-06', tokens: { input: 500_000n } }];
    const [, refund] = allocateInvoice(rows.map(allocationRowOf).filter((r) => r !== null), usage);
    expect(refund!.parts.map((p) => [p.identity, p.billedCost, p.reason])).toEqual([['alice', '-0.25', null]]);
  });
});
