import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { retailPriceItemSchema, type RetailPriceItem } from '../../src/contracts/retail-prices.js';
import { parseJsonKeepingNumberText } from '../../src/domain/exact-json.js';
import { exactDecimal, picodollarsPerUnit, readMeter, SKIP_REASONS } from '../../src/domain/retail-price-meters.js';

const FIXTURES = new URL('../fixtures/retail-prices/', import.meta.url);

/** The real items of the fixture pages, and the first of each meter name. */
const allItems = ['eastus-page-1.json', 'eastus-page-2.json', 'spaincentral-images.json'].flatMap((name) => {
  const page = parseJsonKeepingNumberText(readFileSync(new URL(name, FIXTURES), 'utf8')) as { Items: unknown[] };
  return page.Items.map((raw) => retailPriceItemSchema.parse(raw));
});
const items = new Map<string, RetailPriceItem>();
for (const fixture of allItems) if (!items.has(fixture.meterName)) items.set(fixture.meterName, fixture);
const item = (meterName: string) => {
  const found = items.get(meterName);
  if (!found) throw new Error(`no fixture item ${meterName}`);
  return found;
};

describe('reading Azure OpenAI meter names into model, deployment type and token kind', () => {
  it.each([
    ['gpt-4o-0806-Inp-glbl Tokens', 'gpt-4o-2024-08-06', '2024-08-06', 'global', 'input', 1_000n],
    ['gpt-4o-0806-Outp-glbl Tokens', 'gpt-4o-2024-08-06', '2024-08-06', 'global', 'output', 1_000n],
    ['gpt 4o 0806 cached Inp glbl Tokens', 'gpt-4o-2024-08-06', '2024-08-06', 'global', 'cachedInput', 1_000n],
    ['gpt 4o 0513 Input regional Tokens', 'gpt-4o-2024-05-13', '2024-05-13', 'regional', 'input', 1_000n],
    ['gpt 4.1 Inp Data Zone Tokens', 'gpt-4.1', null, 'datazone', 'input', 1_000n],
    ['gpt 4o mini 0718 cached Inp glbl Tokens', 'gpt-4o-mini-2024-07-18', '2024-07-18', 'global', 'cachedInput', 1_000n],
    ['o3 mini 0131 cached input glbl Tokens', 'o3-mini-2025-01-31', '2025-01-31', 'global', 'cachedInput', 1_000n],
    ['GPT 5 Mini cchd Inpt Glbl 1M Tokens', 'gpt-5-mini', null, 'global', 'cachedInput', 1_000_000n],
    ['GPT 5 Mini outpt Glbl 1M Tokens', 'gpt-5-mini', null, 'global', 'output', 1_000_000n],
    ['text-embedding-3-small-glbl Tokens', 'text-embedding-3-small', null, 'global', 'input', 1_000n],
    ['gpt-4o-rt-aud-1217 Inp glbl Tokens', 'gpt-4o-realtime-preview-2024-12-17', '2024-12-17', 'global', 'audioInput', 1_000n],
    ['gpt-4o-rt-aud-1217 Outp glbl Tokens', 'gpt-4o-realtime-preview-2024-12-17', '2024-12-17', 'global', 'audioOutput', 1_000n],
    ['gpt-4o-rt-aud-1217 cchd Inp glbl Tokens', 'gpt-4o-realtime-preview-2024-12-17', '2024-12-17', 'global', 'cachedAudioInput', 1_000n],
    ['gpt-4o-rt-txt-1217 cchd Inp glbl Tokens', 'gpt-4o-realtime-preview-2024-12-17', '2024-12-17', 'global', 'cachedInput', 1_000n],
    ['Image-Dall-E-3 Std LowRes-glbl Images', 'dall-e-3', null, 'global', 'perImage', 100n],
  ])('%s → %s', (meterName, model, modelVersion, deploymentType, kind, unitsPerPrice) => {
    expect(readMeter(item(meterName))).toEqual({ meter: { model, baseModel: modelVersion ? model.slice(0, -modelVersion.length - 1) : model, modelVersion, deploymentType, kind, unitsPerPrice } });
  });

  it.each([
    ['GPT 5 Mini Batch Inpt Glbl 1M Tokens', SKIP_REASONS.batch],
    ['gpt-4.1-ft input global Tokens', SKIP_REASONS.fineTuning],
    ['Code-Interpreter-global Session', SKIP_REASONS.unit],
    ['Image-Dall-E-3 HD HighRes-glbl Images', SKIP_REASONS.imageVariant],
    // One word run together (realtime preview, audio, input) is not split: skipped rather than guessed.
    ['gpt4o realtimePrvwAudInp DataZone Tokens', SKIP_REASONS.unrecognized],
  ])('skips %s: %s', (meterName, reason) => {
    expect(readMeter(item(meterName))).toEqual({ skip: reason });
  });

  it('reads "rtime" as realtime: the Regional realtime preview\'s cached text meter', () => {
    // guygregory/modelmeters.com monthly/full/2024-12-01.ndjson (eastus2), the fields readMeter reads, as the item has them.
    const rtime = { productName: 'Azure OpenAI', type: 'Consumption', unitOfMeasure: '1K', meterName: 'gpt4o rtime cached txt inp rgnl Tokens' };
    expect(readMeter(rtime)).toEqual({ meter: { model: 'gpt-4o-realtime-preview', baseModel: 'gpt-4o-realtime-preview', modelVersion: null, deploymentType: 'regional', kind: 'cachedInput', unitsPerPrice: 1_000n } });
  });

  it('reads the meters of product "Azure OpenAI GPT5": "ccchd" cached input, and models named by their version alone', () => {
    // Meter names as the Retail Prices API lists them for eastus2 (2026), quoted by public price-refresh reports and
    // parser tests (gpt-5-codex-ccchd-inp-glbl 0.000125 per 1K beside gpt-5-codex-inp-glbl 0.00125; 5.4 inp Gl 2.5,
    // 5.4 cd inp Gl 0.25, 5.4 opt Gl 15 per 1M; 5.4 pro, 5.4 mini, 5.3 codex, 5.3 chat).
    const gpt5 = (meterName: string, unitOfMeasure = '1M') => readMeter({ productName: 'Azure OpenAI GPT5', type: 'Consumption', unitOfMeasure, meterName });
    const meter = (model: string, deploymentType: string, kind: string, unitsPerPrice = 1_000_000n) => ({ meter: { model, baseModel: model, modelVersion: null, deploymentType, kind, unitsPerPrice } });
    expect(gpt5('gpt-5-codex-ccchd-inp-glbl Tokens', '1K')).toEqual(meter('gpt-5-codex', 'global', 'cachedInput', 1_000n));
    expect(gpt5('gpt-5-codex-ccchd-inp-dzone Tokens', '1K')).toEqual(meter('gpt-5-codex', 'datazone', 'cachedInput', 1_000n));
    expect(gpt5('5.4 inp Gl 1M Tokens')).toEqual(meter('gpt-5.4', 'global', 'input'));
    expect(gpt5('5.4 cd inp Gl 1M Tokens')).toEqual(meter('gpt-5.4', 'global', 'cachedInput'));
    expect(gpt5('5.4 opt Dz 1M Tokens')).toEqual(meter('gpt-5.4', 'datazone', 'output'));
    expect(gpt5('5.4 pro inp Gl 1M Tokens')).toEqual(meter('gpt-5.4-pro', 'global', 'input'));
    expect(gpt5('5.4 mini cd Inp Gl 1M Tokens')).toEqual(meter('gpt-5.4-mini', 'global', 'cachedInput'));
    expect(gpt5('5.3 codex opt Gl 1M Tokens')).toEqual(meter('gpt-5.3-codex', 'global', 'output'));
    expect(gpt5('5.3 chat inp Gl 1M Tokens')).toEqual(meter('gpt-5.3-chat', 'global', 'input'));
    // Other service tiers (priority processing, long context, flex) are not the standard price: not read.
    for (const name of ['5.4 pp opt Gl 1M Tokens', '5.5 ShortCo Inp Std Gl 1M Tokens', '5.4 pro longco opt Dz 1M Tokens', 'chat-latest 08062026 opt Gl 1M Tokens']) {
      expect(gpt5(name)).toEqual({ skip: SKIP_REASONS.unrecognized });
    }
    // The bare version is read as a GPT-5 model only under that product.
    expect(readMeter({ productName: 'Azure OpenAI', type: 'Consumption', unitOfMeasure: '1M', meterName: '5.4 inp Gl 1M Tokens' })).toEqual({ skip: SKIP_REASONS.unrecognized });
  });

  it('skips reservations and other products by their product name and price type', () => {
    const reservation = allItems.find((i) => i.type === 'Reservation')!;
    expect(readMeter(reservation)).toEqual({ skip: SKIP_REASONS.notOpenAi });
    expect(readMeter({ ...item('gpt-4o-0806-Inp-glbl Tokens'), type: 'DevTestConsumption' })).toEqual({ skip: SKIP_REASONS.notConsumption });
    expect(readMeter({ ...item('gpt-4o-0806-Inp-glbl Tokens'), productName: 'Phi' })).toEqual({ skip: SKIP_REASONS.notOpenAi });
    expect(readMeter({ ...item('gpt-4o-0806-Inp-glbl Tokens'), tierMinimumUnits: '1000.0' })).toEqual({ skip: SKIP_REASONS.tiered });
  });

  it('names gpt-35-turbo versions by their code and refuses a version code of unknown year', () => {
    const base = item('gpt-4o-0806-Inp-glbl Tokens');
    expect(readMeter({ ...base, meterName: 'gpt-35-turbo-16K-0125 Input-regional Tokens' }).meter).toMatchObject({ model: 'gpt-35-turbo-0125', deploymentType: 'regional', kind: 'input' });
    expect(readMeter({ ...base, meterName: 'gpt-4-32K-Inp-glbl Tokens' }).meter).toMatchObject({ model: 'gpt-4-32k' });
    expect(readMeter({ ...base, meterName: 'gpt-4-8K-Inp-glbl Tokens' }).meter).toMatchObject({ model: 'gpt-4' });
    expect(readMeter({ ...base, meterName: 'gpt 4o 0909 Inp glbl Tokens' })).toEqual({ skip: SKIP_REASONS.unknownVersion });
  });
});

describe("the API's effective dates", () => {
  it.each(['2026-02-30T00:00:00Z', '2026-04-31T00:00:00Z', '2026-11-20T24:00:00Z'])('refuses %s rather than reading it as another day', (effectiveStartDate) => {
    const parsed = retailPriceItemSchema.safeParse({ ...item('gpt-4o-0806-Inp-glbl Tokens'), effectiveStartDate });
    expect(parsed.success ? parsed.data.effectiveStartDate : parsed.error.issues[0]!.message).toBe('not a real day and time');
  });
});

describe('exact prices per token from the API\'s JSON numbers', () => {
  it.each([
    ['gpt-4o-0806-Inp-glbl Tokens', '0.0025', 2_500_000n],
    ['gpt 4o 0806 cached Inp glbl Tokens', '0.00125', 1_250_000n],
    // Written in exponent form by the downloader: 7.5e-05 USD per 1K tokens is 75,000 picodollars per token.
    ['gpt 4o mini 0718 cached Inp glbl Tokens', '7.5e-05', 75_000n],
    ['text-embedding-3-small-glbl Tokens', '2e-05', 20_000n],
    ['GPT 5 Mini cchd Inpt Glbl 1M Tokens', '0.025', 25_000n],
    ['GPT 5 Mini outpt Glbl 1M Tokens', '2.0', 2_000_000n],
    ['gpt-4o-rt-aud-1217 Inp glbl Tokens', '0.04', 40_000_000n],
    ['gpt-4o-rt-aud-1217 Outp glbl Tokens', '0.08', 80_000_000n],
    ['Image-Dall-E-3 Std LowRes-glbl Images', '4.0', 40_000_000_000n],
  ])('%s at %s per unit of measure', (meterName, retailPrice, picodollars) => {
    const fixture = item(meterName);
    expect(fixture.retailPrice).toBe(retailPrice);
    expect(picodollarsPerUnit(fixture.retailPrice, readMeter(fixture).meter!.unitsPerPrice)).toBe(picodollars);
  });

  it('reads .NET exponent text and decimals a float would not hold exactly', () => {
    expect(exactDecimal('8.8E-05')).toEqual({ digits: 88n, scale: 6 });
    expect(picodollarsPerUnit('8.8E-05', 1_000n)).toBe(88_000n);
    // text-embedding-3-large's 0.00013 per 1K tokens, times 10^9 in binary floating point, is 129999.99999999999.
    expect(0.00013 * 1e9).not.toBe(130_000);
    expect(picodollarsPerUnit('0.00013', 1_000n)).toBe(130_000n);
    expect(picodollarsPerUnit('1.5E+2', 1_000_000n)).toBe(150_000_000n);
  });

  it('gives null for a price finer than one picodollar per token', () => {
    expect(picodollarsPerUnit('0.0000000001', 1_000n)).toBeNull();
    expect(() => exactDecimal('-0.5')).toThrow(/negative/);
  });
});
