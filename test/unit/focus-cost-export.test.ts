import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseCsv, parseFocusExport, readFocusExport } from '../../src/adapters/files/focus-cost-export.js';
import { allocationRowOf } from '../../src/domain/focus-cost-rows.js';

const FIXTURE = new URL('../fixtures/cost-exports/focus-1.2-preview-azure-openai.csv', import.meta.url).pathname;

describe('FOCUS cost export reader', () => {
  it('reads every row of a 1.2-preview export with the columns Microsoft writes', async () => {
    const { rows, columns } = await readFocusExport(FIXTURE);
    expect(columns).toHaveLength(105);
    expect(columns.slice(0, 3)).toEqual(['BilledCost', 'BillingAccountId', 'BillingAccountName']);
    expect(rows).toHaveLength(7);
    expect(rows[0]).toMatchObject({ BilledCost: '0.0164', BillingAccountId: '12345678', InvoiceId: 'E0600ABCDE', SkuMeter: 'gpt 4.1 Inp glbl Tokens', ChargePeriodStart: '2026-11-20T00:00:00Z', ConsumedQuantity: '8.2', ConsumedUnit: '1K Tokens' });
  });

  it('keeps commas, doubled quotes and line breaks inside quoted fields, and counts lines across them', async () => {
    const { rows } = await readFocusExport(FIXTURE);
    expect(rows[3]!.ChargeDescription).toBe('Azure OpenAI, "gpt 4o 0806 Inp glbl",\nper 1K tokens');
    expect(rows[4]!.line).toBe(7);
    expect(JSON.parse((await readFile(FIXTURE, 'utf8')).split('\r\n')[1]!.match(/"(\{.*\})"/)![1]!.replace(/""/g, '"'))).toEqual({ env: 'prod', owner: 'ai-platform' });
  });

  it('reads Azure OpenAI rows as token or provisioned meters and skips other services', async () => {
    const rows = (await readFocusExport(FIXTURE)).rows.map(allocationRowOf);
    expect(rows.map((r) => r?.meter ?? null)).toEqual([
      { type: 'tokens', model: 'gpt-4.1', kind: 'input' },
      { type: 'tokens', model: 'gpt-4.1', kind: 'output' },
      { type: 'tokens', model: 'gpt-4.1', kind: 'cachedInput' },
      { type: 'tokens', model: 'gpt-4o-2024-08-06', kind: 'input' },
      { type: 'provisioned' },
      { type: 'tokens', model: 'gpt-4.1', kind: 'input' },
      null,
    ]);
    expect(rows[0]!.billedTokens).toBe(8200n);
    expect(rows[1]!.billedTokens).toBe(2460n);
    expect(rows[5]!.billedCost).toBe('-0.0100');
  });

  it('reads a FOCUS 1.0 export: x_InvoiceId, x_SkuMeterName and dates without seconds', async () => {
    const { rows, columns } = await readFocusExport(new URL('../fixtures/cost-exports/focus-1.0-azure-openai.csv', import.meta.url).pathname);
    expect(columns).toHaveLength(96);
    expect(columns).not.toContain('SkuMeter');
    const read = rows.map(allocationRowOf);
    expect(read[0]).toMatchObject({ invoiceId: 'E0600FGHIJ', meterName: 'gpt 4o 0806 Inp glbl Tokens', chargePeriodStart: '2024-11-20T00:00Z', currency: 'EUR', billedTokens: 50_000n, meter: { type: 'tokens', model: 'gpt-4o-2024-08-06', kind: 'input' } });
    expect(read[1]).toMatchObject({ billedCost: '0.188240', meter: { kind: 'output' } });
    expect(read[2]).toBeNull();
  });

  it('parses RFC 4180: CRLF or LF, a byte order mark, empty fields, a quoted field at the end', () => {
    expect(parseCsv('\ufeffa,b,c\r\n1,,"x ""y"""\n"2\r\n3",4,\n').map((r) => r.fields)).toEqual([['a', 'b', 'c'], ['1', '', 'x "y"'], ['2\r\n3', '4', '']]);
    expect(() => parseCsv('a,"b\n1,2')).toThrow(/line 1: a quoted field is not closed/);
    expect(() => parseCsv('a,"b"c')).toThrow(/text after a closing quote/);
  });

  it('says which columns are missing and which lines cannot be read', () => {
    expect(() => parseFocusExport('Cost,Date\n1,2\n', 'x.csv')).toThrow(/x\.csv: not a "Cost and usage details \(FOCUS\)" export: missing columns BilledCost, EffectiveCost/);
    const header = 'BilledCost,EffectiveCost,BillingAccountId,BillingCurrency,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,ResourceId,ServiceName,x_SkuMeterName';
    expect(() => parseFocusExport(`${header}\nabc,1,a,USD,Usage,2026-11-20T00:00Z,2026-11-21T00:00Z,/r,S,m\n1,1\n`, 'x.csv')).toThrow(/line 2: BilledCost: expected a decimal number[\s\S]*line 3: 2 fields, the header has 10/);
    expect(parseFocusExport(`${header}\n8e-07,1,a,USD,Usage,2026-11-20T00:00Z,2026-11-21T00:00Z,/r,S,m\n`).rows[0]!.BilledCost).toBe('8e-07');
  });
});
