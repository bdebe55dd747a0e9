import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCostExport, readCostExport } from '../../src/adapters/files/cost-export.js';
import { CsvRecordReader, MAX_RECORD_CHARS, parseCsv, type CsvRecord } from '../../src/adapters/files/focus-cost-export.js';
import { allocationRowOf } from '../../src/domain/focus-cost-rows.js';

const FIXTURE = new URL('../fixtures/cost-exports/focus-1.2-preview-azure-openai.csv', import.meta.url).pathname;

describe('FOCUS cost export reader', () => {
  it('reads every row of a 1.2-preview export with the columns Microsoft writes', async () => {
    const { kind, rows, columns } = await readCostExport(FIXTURE);
    expect(kind).toBe('focus');
    expect(columns).toHaveLength(105);
    expect(columns.slice(0, 3)).toEqual(['BilledCost', 'BillingAccountId', 'BillingAccountName']);
    expect(rows).toHaveLength(7);
    expect(rows[0]).toMatchObject({ BilledCost: '0.0164', BillingAccountId: '12345678', InvoiceId: 'E0600ABCDE', SkuMeter: 'gpt 4.1 Inp glbl Tokens', ChargePeriodStart: '2026-11-20T00:00:00Z', ConsumedQuantity: '8.2', ConsumedUnit: '1K Tokens' });
  });

  it('keeps commas, doubled quotes and line breaks inside quoted fields, and counts lines across them', async () => {
    const { rows } = await readCostExport(FIXTURE);
    expect(rows[3]!.ChargeDescription).toBe('Azure OpenAI, "gpt 4o 0806 Inp glbl",\nper 1K tokens');
    expect(rows[4]!.line).toBe(7);
    expect(JSON.parse((await readFile(FIXTURE, 'utf8')).split('\r\n')[1]!.match(/"(\{.*\})"/)![1]!.replace(/""/g, '"'))).toEqual({ env: 'prod', owner: 'ai-platform' });
  });

  it('reads Azure OpenAI rows as token or provisioned meters and skips other services', async () => {
    const rows = (await readCostExport(FIXTURE)).rows.map(allocationRowOf);
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

  it.each([
    ['x_PricingBlockSize 1000', { x_PricingBlockSize: '1000', x_PricingUnitDescription: '1K' }],
    ['only x_PricingUnitDescription 1K', { x_PricingBlockSize: '', x_PricingUnitDescription: '1K' }],
  ])('reads the tokens a row billed when its units are the pricing units Microsoft states (ConsumedUnit Units, PricingQuantity in blocks, %s)', async (_, block) => {
    // microsoft/finops-toolkit src/open-data/PricingUnits.csv: UnitOfMeasure 1K is DistinctUnits "Units", block size 1000.
    const [header, first] = parseCsv(await readFile(FIXTURE, 'utf8'));
    const values = [...first!.fields];
    const set = (column: string, value: string) => (values[header!.fields.indexOf(column)] = value);
    for (const [column, value] of Object.entries({ ConsumedQuantity: '8200', ConsumedUnit: 'Units', PricingQuantity: '8.2', PricingUnit: 'Units', ...block })) set(column, value);
    const csv = `${header!.fields.join(',')}\r\n${values.map((v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',')}\r\n`;

    const [row] = parseCostExport(csv, 'focus.csv', allocationRowOf).rows;

    expect(row).toMatchObject({ meter: { type: 'tokens', model: 'gpt-4.1', kind: 'input' }, billedTokens: 8200n });
  });

  it('reads a GPT-5.x meter named by its version alone (5.4 inp Gl 1M Tokens) as that model\'s tokens, whichever product the row names', async () => {
    // Retail Prices items of product "Azure OpenAI GPT5" name gpt-5.4 Global input "5.4 inp Gl 1M Tokens" (prices/README.md);
    // Cost Management names its rows by the same meters.
    const [header, first] = parseCsv(await readFile(FIXTURE, 'utf8'));
    /** The fixture's first row with some cells changed, read as allocation reads it. */
    const rowWith = (changed: Record<string, string>) => {
      const values = header!.fields.map((column, i) => changed[column] ?? first!.fields[i]!);
      const csv = `${header!.fields.join(',')}\r\n${values.map((v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',')}\r\n`;
      return parseCostExport(csv, 'focus.csv', allocationRowOf).rows[0];
    };
    const meter = '5.4 inp Gl 1M Tokens';
    for (const x_SkuMeterSubcategory of ['Azure OpenAI', 'Azure OpenAI GPT5']) {
      const row = rowWith({ SkuMeter: meter, x_SkuMeterName: meter, ChargeDescription: meter, ConsumedQuantity: '0.0082', ConsumedUnit: '1M Tokens', PricingQuantity: '0.0082', PricingUnit: '1M Tokens', x_SkuMeterSubcategory });
      expect(row).toMatchObject({ meter: { type: 'tokens', model: 'gpt-5.4', kind: 'input' }, billedTokens: 8200n });
    }
    // A meter that starts with another number is no GPT-5 model.
    for (const other of ['4 32K Inp regnl Tokens', '1106 Inp glbl Tokens']) expect(rowWith({ SkuMeter: other, x_SkuMeterName: other })?.meter.type).toBe('unreadable');
  });

  it('reads a FOCUS 1.0 export: x_InvoiceId, x_SkuMeterName and dates without seconds', async () => {
    const { rows, columns } = await readCostExport(new URL('../fixtures/cost-exports/focus-1.0-azure-openai.csv', import.meta.url).pathname);
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
    expect(() => parseCostExport('Cost,Date\n1,2\n', 'x.csv')).toThrow(/x\.csv: not a "Cost and usage details \(FOCUS\)" export: missing columns BilledCost, EffectiveCost/);
    const header = 'BilledCost,EffectiveCost,BillingAccountId,BillingCurrency,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,ResourceId,ServiceName,x_SkuMeterName';
    expect(() => parseCostExport(`${header}\nabc,1,a,USD,Usage,2026-11-20T00:00Z,2026-11-21T00:00Z,/r,S,m\n1,1\n`, 'x.csv')).toThrow(/line 2: BilledCost: expected a decimal number[\s\S]*line 3: 2 fields, the header has 10/);
    expect(parseCostExport(`${header}\n8e-07,1,a,USD,Usage,2026-11-20T00:00Z,2026-11-21T00:00Z,/r,S,m\n`).rows[0]!.BilledCost).toBe('8e-07');
  });

  it('refuses a charge period that names no real day, and reads one written without Z as UTC', () => {
    const header = 'BilledCost,EffectiveCost,BillingAccountId,BillingCurrency,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,ResourceId,ServiceName,x_SkuMeterName';
    const rowFrom = (start: string, end: string) => `${header}\n1,1,a,USD,Usage,${start},${end},/r,S,m\n`;
    expect(() => parseCostExport(rowFrom('2026-02-30T00:00:00Z', '2026-02-31T00:00:00Z'), 'x.csv')).toThrow(/line 2: ChargePeriodStart: expected an ISO date and time naming a real day/);
    expect(() => parseCostExport(rowFrom('2026-11-20T24:00:00Z', '2026-11-21T00:00:00Z'), 'x.csv')).toThrow(/line 2: ChargePeriodStart/);
    // FOCUS date-times are UTC; Date.parse would read `2026-11-20T00:00:00` in the process' time zone.
    const [row] = parseCostExport(rowFrom('2026-11-20T00:00:00', '2026-11-21T00:00'), 'x.csv').rows;
    expect(row).toMatchObject({ ChargePeriodStart: '2026-11-20T00:00:00Z', ChargePeriodEnd: '2026-11-21T00:00Z' });
  });
});

/** The records of `text` read by `CsvRecordReader` from the pieces it is cut into at `cuts`, or the error it throws. */
function readInPieces(text: string, cuts: readonly number[]): CsvRecord[] | string {
  const reader = new CsvRecordReader();
  const at = [...new Set(cuts.map((cut) => cut % (text.length + 1)))].sort((a, b) => a - b);
  const records: CsvRecord[] = [];
  try {
    let from = 0;
    for (const to of [...at, text.length]) {
      records.push(...reader.push(text.slice(from, to)));
      from = to;
    }
    records.push(...reader.end());
    return records;
  } catch (error) {
    return (error as Error).message;
  }
}

function readWhole(text: string): CsvRecord[] | string {
  try {
    return parseCsv(text);
  } catch (error) {
    return (error as Error).message;
  }
}

/** A field as RFC 4180 writes it: quoted when it holds a separator, a quote or a line break, or is empty. */
const written = (field: string) => (/[",\r\n]/.test(field) || field === '' ? `"${field.replaceAll('"', '""')}"` : field);

describe('CSV records read piece by piece', () => {
  it('gives back any records written by RFC 4180, each with its first line, however the text is cut', () => {
    const field = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', ',', '"', '\r', '\n', 'é', '😀'), maxLength: 8 });
    fc.assert(
      fc.property(
        fc.array(fc.array(field, { minLength: 1, maxLength: 4 }), { maxLength: 6 }),
        fc.constantFrom('\r\n', '\n'),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 8 }),
        (records, newline, bom, trailing, cuts) => {
          const lines = records.map((fields) => fields.map(written).join(','));
          const text = (bom ? '\ufeff' : '') + lines.join(newline) + (trailing && lines.length > 0 ? newline : '');
          let line = 1;
          const expected = lines.map((written, i) => {
            const record = { line, fields: records[i]! };
            line += written.split('\n').length - 1 + 1;
            return record;
          });
          expect(readInPieces(text, cuts)).toEqual(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('reads any text, damaged or not, the same in pieces as whole: the same records or the same error', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ',', '"', '\r', '\n', 'é'), maxLength: 40 }), fc.array(fc.nat(), { maxLength: 8 }), (text, cuts) => {
        expect(readInPieces(text, cuts)).toEqual(readWhole(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses a record that has not ended after a mebibyte, holding no more of the text than that', () => {
    const reader = new CsvRecordReader();
    expect(reader.push('a,b\r\n1,"2\r\n')).toEqual([{ line: 1, fields: ['a', 'b'] }]);
    const piece = 'x'.repeat(1 << 16);
    expect(() => {
      for (let given = 0; given <= MAX_RECORD_CHARS; given += piece.length) reader.push(piece);
    }).toThrow('line 2: a record of more than 1,048,576 characters (is a quote left open?)');
  });
});

