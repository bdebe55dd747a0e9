import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { importRetailPrices, readPriceTable } from '../../src/adapters/files/price-files.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import { JsonTextError, parseJsonKeepingNumberText } from '../../src/domain/exact-json.js';
import { PriceMatcher, priceEntry } from '../../src/domain/price-matching.js';
import { CONVERSION_SKIPS } from '../../src/domain/retail-price-table.js';
import { SKIP_REASONS } from '../../src/domain/retail-price-meters.js';
import { temporaryFolder } from '../support/temporary-folder.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/retail-prices/${name}`, import.meta.url));
const PAGES = [fixture('eastus-page-1.json'), fixture('eastus-page-2.json')];

async function tempFile(name: string, text: string): Promise<string> {
  const path = join(await temporaryFolder('tokenledger-prices-'), name);
  await writeFile(path, text);
  return path;
}

describe('JSON text read with numbers as written', () => {
  it('keeps every number as its text, also inside nested arrays, and leaves strings alone', () => {
    expect(parseJsonKeepingNumberText('{"a": 8.8E-05, "b": [0.0, -1, 2e-05], "c": "1.5", "d": "x\\"2"}')).toEqual({ a: '8.8E-05', b: ['0.0', '-1', '2e-05'], c: '1.5', d: 'x"2' });
    expect(parseJsonKeepingNumberText('\ufeff{"n": 1}')).toEqual({ n: '1' });
  });

  it('reads what JSON.parse reads, numbers as their text, and refuses what it refuses', () => {
    /** JSON.parse's value with each number replaced by the text it was read from, checked against that text. */
    const sameValue = (exact: unknown, plain: unknown): boolean => {
      if (typeof plain === 'number') return typeof exact === 'string' && Object.is(Number(exact), plain);
      if (Array.isArray(plain)) return Array.isArray(exact) && exact.length === plain.length && plain.every((v, i) => sameValue(exact[i], v));
      if (typeof plain === 'object' && plain !== null) {
        const keys = Object.keys(plain);
        return typeof exact === 'object' && exact !== null && Object.keys(exact).length === keys.length && keys.every((k) => sameValue((exact as Record<string, unknown>)[k], (plain as Record<string, unknown>)[k]));
      }
      return Object.is(exact, plain);
    };
    const edited = fc.tuple(fc.json(), fc.nat(), fc.constantFrom('', ',', '}', ']', '"', 'x', '1', '\\', ' ', '\n'));
    fc.assert(
      fc.property(edited, fc.boolean(), ([text, at, insert], edit) => {
        const input = edit ? text.slice(0, at % (text.length + 1)) + insert + text.slice((at % (text.length + 1)) + 1) : text;
        let plain: unknown;
        try {
          plain = JSON.parse(input);
        } catch {
          expect(() => parseJsonKeepingNumberText(input)).toThrow(JsonTextError);
          return;
        }
        expect(sameValue(parseJsonKeepingNumberText(input), plain)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('names the line and column of a syntax error', () => {
    const error = (() => {
      try {
        parseJsonKeepingNumberText('{\n  "Items": [\n    {"a": 1,}\n  ]\n}');
      } catch (e) {
        return e as JsonTextError;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(JsonTextError);
    expect(error).toMatchObject({ line: 3, column: 13 });
    expect(() => parseJsonKeepingNumberText('{"Items": [')).toThrow(/^line 1, column 12: /);
    // JSON.parse gives no position for an unexpected token; it is found all the same.
    expect(() => parseJsonKeepingNumberText('{"Items": [1,\n  x]}')).toThrow(/^line 2, column 3: Unexpected token 'x'$/);
    expect(() => parseJsonKeepingNumberText('{"a": 1}\n}')).toThrow(/^line 2, column 1: Unexpected non-whitespace character after JSON$/);
  });
});

describe('Azure Retail Prices pages → price file', () => {
  it('converts the Global prices of both pages, keeping every price change with its effective date', async () => {
    const { file, conversion, warnings } = await importRetailPrices(PAGES, { asOf: '2025-08-25' });
    expect(warnings).toEqual([]);
    expect(conversion.region).toBe('eastus');
    const of = (model: string) => file.prices.filter((entry) => entry.model === model);
    // The cached-input meter of gpt-4o 2024-08-06 starts two months after its input and output meters.
    expect(of('gpt-4o-2024-08-06')).toEqual([
      { model: 'gpt-4o-2024-08-06', deployment: null, from: '2024-08-01', to: '2024-10-01', inputPer1M: '2.5', outputPer1M: '10' },
      { model: 'gpt-4o-2024-08-06', deployment: null, from: '2024-10-01', to: null, inputPer1M: '2.5', cachedInputPer1M: '1.25', outputPer1M: '10' },
    ]);
    expect(of('gpt-5-mini')).toEqual([{ model: 'gpt-5-mini', deployment: null, from: '2025-08-01', to: null, inputPer1M: '0.25', cachedInputPer1M: '0.025', outputPer1M: '2' }]);
    expect(of('text-embedding-3-small')).toEqual([{ model: 'text-embedding-3-small', deployment: null, from: '2024-06-01', to: null, inputPer1M: '0.02' }]);
    expect(of('gpt-4o-realtime-preview-2024-12-17')).toEqual([
      { model: 'gpt-4o-realtime-preview-2024-12-17', deployment: null, from: '2025-01-01', to: null, inputPer1M: '5', cachedInputPer1M: '2.5', outputPer1M: '20', audioInputPer1M: '40', audioOutputPer1M: '80' },
    ]);
    expect(conversion.skipped.get(CONVERSION_SKIPS.cachedAudio)).toBe(1);
    expect(conversion.skipped.get(SKIP_REASONS.batch)).toBe(1);
    expect(conversion.skipped.get(CONVERSION_SKIPS.otherDeploymentType)).toBe(3);
    expect(file).toMatchObject({ currency: 'USD', retrieved: '2025-08-25', source: expect.stringMatching(/eastus-page-1\.json, eastus-page-2\.json.*global.*eastus/) });
  });

  it('writes a price file the ordinary loader takes, which prices a request exactly at its day\'s price', async () => {
    const { file } = await importRetailPrices(PAGES, { asOf: '2025-08-25' });
    const matcher = new PriceMatcher(loadPriceTable(JSON.parse(JSON.stringify(file))));
    const tokens = { promptTokens: 1500, cachedTokens: 500, completionTokens: 300, reasoningTokens: 0 };
    const now = matcher.match({ model: 'gpt-4o-2024-08-06', deployment: null, time: '2025-09-10T10:00:00Z' })!;
    // 1,000 × 2,500,000 + 500 × 1,250,000 + 300 × 10,000,000 picodollars.
    expect(priceEntry({ tokens }, now).costPico).toBe(6_125_000_000n);
    const before = matcher.match({ model: 'gpt-4o-2024-08-06', deployment: null, time: '2024-09-15T10:00:00Z' })!;
    // Before a cached-input price existed, cached tokens are priced as input.
    expect(priceEntry({ tokens }, before).costPico).toBe(6_750_000_000n);
    expect(before.priceVersion).toBe('gpt-4o-2024-08-06@2024-08-01');
  });

  it('takes the prices in effect on the as-of day and leaves out later ones', async () => {
    const { file, conversion } = await importRetailPrices(PAGES, { asOf: '2024-09-30' });
    expect(file.prices.map((entry) => entry.model)).toEqual(['gpt-4o-2024-05-13', 'gpt-4o-2024-08-06', 'gpt-4o-mini-2024-07-18', 'text-embedding-3-small']);
    expect(file.prices.find((entry) => entry.model === 'gpt-4o-2024-08-06')).not.toHaveProperty('cachedInputPer1M');
    expect(conversion.skipped.get(CONVERSION_SKIPS.notYet)).toBeGreaterThan(0);
  });

  it('takes another deployment type on request, with its effective end date', async () => {
    const { file } = await importRetailPrices(PAGES, { asOf: '2025-08-25', deploymentType: 'regional' });
    // effectiveEndDate 2025-08-31T23:59:00Z: in effect through 31 August.
    expect(file.prices).toEqual([
      { model: 'gpt-4o-2024-05-13', deployment: null, from: '2024-05-01', to: '2025-09-01', inputPer1M: '5' },
      { model: 'text-embedding-3-small', deployment: null, from: '2024-05-01', to: '2025-09-01', inputPer1M: '0.02' },
    ]);
  });

  it('prices an image per call from a price per 100 images', async () => {
    const { file } = await importRetailPrices([fixture('spaincentral-images.json')], { asOf: '2025-08-25' });
    expect(file.prices.find((entry) => entry.model === 'dall-e-3')).toEqual({ model: 'dall-e-3', deployment: null, from: '2025-03-01', to: null, perRequest: '0.04' });
  });

  it('asks for a region when the pages hold prices of several', async () => {
    await expect(importRetailPrices([...PAGES, fixture('spaincentral-images.json')], { asOf: '2025-08-25' })).rejects.toThrow(/2 regions \(eastus, spaincentral\): choose one with --region/);
    const { conversion } = await importRetailPrices([...PAGES, fixture('spaincentral-images.json')], { asOf: '2025-08-25', region: 'spaincentral' });
    expect(conversion.skipped.get(CONVERSION_SKIPS.otherRegion)).toBeGreaterThan(0);
  });

  it('warns when every page given has a NextPageLink (pages are missing)', async () => {
    const { warnings } = await importRetailPrices([PAGES[0]!], { asOf: '2025-08-25' });
    expect(warnings).toEqual([expect.stringMatching(/every page given \(1\) has a NextPageLink/)]);
  });

  it('reads an array of pages as one response', async () => {
    const pages = await Promise.all(PAGES.map((path) => readFile(path, 'utf8')));
    const path = await tempFile('pages.json', `[${pages.join(',')}]`);
    const together = await importRetailPrices([path], { asOf: '2025-08-25' });
    const apart = await importRetailPrices(PAGES, { asOf: '2025-08-25' });
    expect(together.file.prices).toEqual(apart.file.prices);
  });

  it('refuses two meters that price one token kind of one model differently from the same day, naming both', async () => {
    const text = await readFile(PAGES[0]!, 'utf8');
    const twin = text.replace('"meterName": "gpt 4o 0806 cached Inp glbl Tokens"', '"meterName": "gpt-4o-0806-Inp-glbl Tokens"');
    const path = await tempFile('twin.json', twin.replace('"effectiveStartDate": "2024-10-01T00:00:00Z", "meterId": "00c1710c', '"effectiveStartDate": "2024-08-01T00:00:00Z", "meterId": "00c1710c'));
    await expect(importRetailPrices([path], { asOf: '2025-08-25' })).rejects.toThrow(/twin\.json: Items\[\d+\] .* both price input tokens of gpt-4o-2024-08-06, global, from 2024-08-01, differently \(0\.00125 per 1K and 0\.0025 per 1K\)/);
  });
});

describe('errors name the file and what is wrong', () => {
  it('a file that is not JSON: the file, line and column', async () => {
    const path = await tempFile('broken.json', '{\n  "Items": [\n    {"meterName": "x",}\n  ]\n}\n');
    await expect(importRetailPrices([path], { asOf: '2025-08-25' })).rejects.toThrow(/broken\.json: not JSON: line 3, column 23: /);
    await expect(readPriceTable(path)).rejects.toThrow(/broken\.json: not JSON: line 3, column 23: /);
  });

  it('JSON without "Items"', async () => {
    const path = await tempFile('other.json', '{"value": []}');
    await expect(importRetailPrices([path], { asOf: '2025-08-25' })).rejects.toThrow(/other\.json: not an Azure Retail Prices response: .* found no "Items"/);
  });

  it('an item with a missing or mistyped field: its index and field', async () => {
    const text = (await readFile(PAGES[0]!, 'utf8')).replace('"retailPrice": 0.0025,', '"retailPrice": "cheap",').replace('"meterName": "gpt-4o-0806-Outp-glbl Tokens", ', '');
    const path = await tempFile('fields.json', text);
    const error = await importRetailPrices([path], { asOf: '2025-08-25' }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/fields\.json: invalid Azure Retail Prices response \(2 problems\):/);
    expect((error as Error).message).toMatch(/Items\[0\]\.retailPrice: expected a number/);
    expect((error as Error).message).toMatch(/Items\[1\]\.meterName: expected a meter name string/);
  });

  it('a response in another currency is refused naming that currency, never as "only USD" for a USD file', async () => {
    const usd = await readFile(PAGES[0]!, 'utf8');
    const eur = await tempFile('eur.json', usd.replace('"BillingCurrency": "USD"', '"BillingCurrency": "EUR"').replaceAll('"currencyCode": "USD"', '"currencyCode": "EUR"'));
    await expect(importRetailPrices([eur], { asOf: '2025-08-25' })).rejects.toThrow(/eur\.json: BillingCurrency is "EUR": TokenLedger prices in USD/);
    const item = await tempFile('item-eur.json', usd.replace('"currencyCode": "USD"', '"currencyCode": "EUR"'));
    await expect(importRetailPrices([item], { asOf: '2025-08-25' })).rejects.toThrow(/item-eur\.json: Items\[0\]: a price in "EUR", not USD/);
    // A USD response with a broken item says what is broken.
    const broken = await tempFile('usd-broken.json', usd.replace('"retailPrice": 0.0025,', '"retailPrice": null,'));
    const error = (await importRetailPrices([broken], { asOf: '2025-08-25' }).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(/Items\[0\]\.retailPrice/);
    expect(error.message).not.toMatch(/only USD/);
  });

  it('a price file with a lower-case currency is told to write "USD", not that only USD is supported', () => {
    expect(() => loadPriceTable({ currency: 'usd', prices: [] })).toThrow(/currency: write the currency code as "USD" exactly, got "usd"/);
    expect(() => loadPriceTable({ currency: 'EUR', prices: [] })).toThrow(/only USD prices are supported, got "EUR"/);
  });

  it('a Retail Prices response given where a price file is loaded says how to convert it', async () => {
    const response = JSON.parse(await readFile(PAGES[0]!, 'utf8')) as unknown;
    expect(() => loadPriceTable(response)).toThrow(/Azure Retail Prices API response .*`tokenledger prices import --retail FILE --out/);
  });

  it('--prices reads a saved response directly, and a price file as before, each error naming the file', async () => {
    const { table, imported } = await readPriceTable(PAGES[1]!, { asOf: '2025-08-25' });
    expect(imported?.conversion.region).toBe('eastus');
    expect(table.prices.find((entry) => entry.model === 'gpt-5-mini')).toMatchObject({ inputPer1MMicros: 250_000n, cachedInputPer1MMicros: 25_000n, outputPer1MMicros: 2_000_000n });
    const own = await tempFile('own.json', JSON.stringify({ currency: 'USD', prices: [{ model: 'gpt-4o', from: '2024-01-01', inputPer1M: 2.5 }] }));
    await expect(readPriceTable(own)).rejects.toThrow(/own\.json: invalid price table .*\n.*prices\[0\]\.inputPer1M: expected a decimal string/);
  });
});
