import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { loadPriceTable, type PriceFile, type PriceTable } from '../../src/contracts/price-table.js';
import { costPicodollars, formatPicodollars, microsToPicodollars, type Picodollars } from '../../src/domain/money.js';
import {
  allocateProvisioned,
  priceEntry,
  PriceMatcher,
  RequestPricer,
  type PriceMatch,
  type PriceQuery,
  type TokenCounts,
} from '../../src/domain/price-matching.js';
import { modelOwner } from '../support/model-owner.js';

const defaultPriceFile: unknown = JSON.parse(readFileSync(new URL('../../prices/default-prices.json', import.meta.url), 'utf8'));

type RawPrice = PriceFile['prices'][number];

function file(prices: RawPrice[], provisioned: PriceFile['provisioned'] = []): PriceFile {
  return { currency: 'USD', source: 'test', retrieved: '2025-01-01', prices, provisioned };
}

function modelPrice(model: string, inputPer1M: string, extra: Partial<RawPrice> = {}): RawPrice {
  return { model, deployment: null, from: '2024-01-01', to: null, inputPer1M, outputPer1M: '1.00', ...extra };
}

function loadError(json: unknown): string {
  try {
    loadPriceTable(json);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected loadPriceTable to throw');
}

const at = (time: string, model: string | null, deployment: string | null = null): PriceQuery => ({ model, deployment, time });
const tokens = (promptTokens: number, cachedTokens: number, completionTokens: number, reasoningTokens: number): TokenCounts => ({
  promptTokens,
  cachedTokens,
  completionTokens,
  reasoningTokens,
});

describe('the default price file', () => {
  const table = loadPriceTable(defaultPriceFile);

  it('validates, names its source and retrieval date, and is in USD', () => {
    expect(table.currency).toBe('USD');
    expect(table.source).toMatch(/verify against the Azure retail prices API/);
    expect(table.retrieved).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(table.provisioned).toEqual([]);
  });

  it('holds the Global Standard prices of the design handbook, in micros per 1M tokens', () => {
    const rates = Object.fromEntries(
      table.prices.map((p) => [p.model, [p.inputPer1MMicros, p.cachedInputPer1MMicros, p.outputPer1MMicros]]),
    );
    expect(rates).toEqual({
      'gpt-4o': [2_500_000n, 1_250_000n, 10_000_000n],
      'gpt-4o-mini': [150_000n, 75_000n, 600_000n],
      'gpt-4.1': [2_000_000n, 500_000n, 8_000_000n],
      'gpt-4.1-mini': [400_000n, 100_000n, 1_600_000n],
      'o3-mini': [1_100_000n, 550_000n, 4_400_000n],
      'text-embedding-3-small': [20_000n, 20_000n, 0n],
      'text-embedding-3-large': [130_000n, 130_000n, 0n],
      'gpt-35-turbo': [500_000n, 500_000n, 1_500_000n],
      // Versions Azure prices apart (Retail Prices API, Global): gpt 4o 0513 Input/Output global 0.005/0.015 per 1K;
      // gpt-35-turbo4K (0613) 0.0015/0.002 and gpt-35-turbo16K-1106 0.001/0.002 per 1K.
      'gpt-4o-2024-05-13': [5_000_000n, 5_000_000n, 15_000_000n],
      'gpt-35-turbo-0613': [1_500_000n, 1_500_000n, 2_000_000n],
      'gpt-35-turbo-1106': [1_000_000n, 1_000_000n, 2_000_000n],
    });
    const matcher = new PriceMatcher(table);
    const owner = (model: string) => matcher.match({ model, deployment: null, time: '2025-06-01T00:00:00Z' })?.priceVersion;
    expect([owner('gpt-4o-2024-05-13'), owner('gpt-4o-2024-08-06'), owner('gpt-35-turbo-0613'), owner('gpt-35-turbo-0125')]).toEqual([
      'gpt-4o-2024-05-13@2024-01-01',
      'gpt-4o@2024-01-01',
      'gpt-35-turbo-0613@2024-01-01',
      'gpt-35-turbo@2024-01-01',
    ]);
  });

  it('gives every entry a distinct, stable price version', () => {
    const versions = table.prices.map((p) => p.priceVersion);
    expect(new Set(versions).size).toBe(versions.length);
    expect(versions).toContain('gpt-4o@2024-01-01');
    expect(versions).toContain('gpt-4o-mini@2024-01-01');
  });

  it('matches dated model versions to their family', () => {
    const matcher = new PriceMatcher(table);
    const version = (model: string) => matcher.match(at('2025-03-01T12:00:00Z', model))?.priceVersion ?? null;
    expect(version('gpt-4o-2024-08-06')).toBe('gpt-4o@2024-01-01');
    expect(version('gpt-4o-mini-2024-07-18')).toBe('gpt-4o-mini@2024-01-01');
    expect(version('gpt-4.1-2025-04-14')).toBe('gpt-4.1@2024-01-01');
    expect(version('gpt-4.1-mini-2025-04-14')).toBe('gpt-4.1-mini@2024-01-01');
    expect(version('o3-mini-2025-01-31')).toBe('o3-mini@2024-01-01');
    expect(version('gpt-35-turbo-0125')).toBe('gpt-35-turbo@2024-01-01');
    expect(version('text-embedding-3-large')).toBe('text-embedding-3-large@2024-01-01');
  });
});

describe('loadPriceTable errors', () => {
  it('lists every problem with its path in one error', () => {
    const message = loadError({
      currency: 'EUR',
      source: 'test',
      retrieved: '2025-13-01',
      prices: [
        modelPrice('gpt-4o', '2.1234567'),
        modelPrice('gpt-4o-mini', '-0.15'),
        modelPrice('gpt-4.1', '1e-3'),
        { ...modelPrice('o3-mini', '1.10'), outputPer1M: 4.4 },
      ],
    });
    expect(message).toMatch(/^invalid price table \(6 problems\):/);
    expect(message).toContain('currency: only USD prices are supported, got "EUR"');
    expect(message).toContain('retrieved: expected a calendar date YYYY-MM-DD, got "2025-13-01"');
    expect(message).toContain('prices[0].inputPer1M: decimal "2.1234567" has 7 decimal places; at most 6');
    expect(message).toContain('prices[1].inputPer1M: negative amount "-0.15"');
    expect(message).toContain('prices[2].inputPer1M: exponent notation "1e-3" is not allowed');
    expect(message).toContain('prices[3].outputPer1M: expected a decimal string like "2.50" (JSON numbers are binary floats, not exact)');
  });

  it('refuses "to" on or before "from"', () => {
    expect(loadError(file([modelPrice('gpt-4o', '2.50', { from: '2024-06-01', to: '2024-06-01' })]))).toContain(
      'prices[0].to: "to" (2024-06-01) must be after "from" (2024-06-01)',
    );
    expect(loadError(file([modelPrice('gpt-4o', '2.50', { from: '2024-06-01', to: '2024-05-31' })]))).toContain(
      'prices[0].to: "to" (2024-05-31) must be after "from" (2024-06-01)',
    );
    expect(
      loadError(file([], [{ deployment: 'ptu', monthlyCost: '100', from: '2024-06-01', to: '2024-01-01' }])),
    ).toContain('provisioned[0].to: "to" (2024-01-01) must be after "from" (2024-06-01)');
  });

  it('refuses overlapping ranges of the same model, naming both entries', () => {
    const message = loadError(
      file([
        modelPrice('gpt-4o', '2.50', { to: '2024-07-01' }),
        modelPrice('gpt-4o-mini', '0.15'),
        modelPrice('gpt-4o', '2.00', { from: '2024-06-01' }),
      ]),
    );
    expect(message).toContain(
      'prices[2]: prices[2] (gpt-4o@2024-06-01, 2024-06-01 to open end) overlaps prices[0] (gpt-4o@2024-01-01, 2024-01-01 to 2024-07-01) for model gpt-4o',
    );
    expect(message).toMatch(/\(1 problem\)/);
  });

  it('reports overlaps even when other entries are invalid too', () => {
    const message = loadError(
      file([
        { ...modelPrice('gpt-4o', '2.50'), deployment: 'prod' },
        { model: null, deployment: 'prod', from: '2024-01-01', to: null, inputPer1M: '2.75' },
        { model: null, deployment: 'prod', from: '2024-12-31', to: null, inputPer1M: '2.75' },
      ]),
    );
    expect(message).toContain('prices[0]: name exactly one of "model" (a model name prefix) or "deployment"');
    expect(message).toContain('prices[2]: prices[2] (deployment:prod@2024-12-31, 2024-12-31 to open end) overlaps prices[1]');
    expect(message).toMatch(/\(2 problems\)/);
  });

  it('accepts back-to-back ranges (to is exclusive)', () => {
    const table = loadPriceTable(
      file([modelPrice('gpt-4o', '5.00', { to: '2024-06-01' }), modelPrice('gpt-4o', '2.50', { from: '2024-06-01' })]),
    );
    expect(table.prices.map((p) => p.priceVersion)).toEqual(['gpt-4o@2024-01-01', 'gpt-4o@2024-06-01']);
  });

  it('refuses a deployment that is provisioned and priced per token at the same time, and overlapping PTU ranges', () => {
    const message = loadError(
      file(
        [{ model: null, deployment: 'ptu-east', from: '2024-01-01', to: null, inputPer1M: '2.50' }],
        [
          { deployment: 'ptu-east', monthlyCost: '2000', from: '2025-01-01', to: null },
          { deployment: 'ptu-west', monthlyCost: '2000', from: '2025-01-01', to: null },
          { deployment: 'ptu-west', monthlyCost: '2500', from: '2025-02-01', to: null },
        ],
      ),
    );
    expect(message).toContain('provisioned[0]: provisioned[0] (provisioned:ptu-east@2025-01-01, 2025-01-01 to open end) overlaps the per-token prices[0]');
    expect(message).toContain('provisioned[2]: provisioned[2] (provisioned:ptu-west@2025-02-01, 2025-02-01 to open end) overlaps provisioned[1]');
  });

  it('refuses unknown fields, empty names, malformed dates and a missing price list', () => {
    const message = loadError({
      currency: 'USD',
      source: 'test',
      retrieved: '2025-01-01',
      prices: [{ ...modelPrice('gpt-4o', '2.50'), cachedInputPer1m: '1.25' }, modelPrice('', '1.00'), modelPrice('gpt 4o', '1.00', { from: '2024-1-1' })],
    });
    expect(message).toMatch(/prices\[0\]: Unrecognized key: "cachedInputPer1m"/);
    expect(message).toContain('prices[1].model: must not be empty');
    expect(message).toContain('prices[2].model: must not contain whitespace');
    expect(message).toContain('prices[2].from: expected a calendar date YYYY-MM-DD, got "2024-1-1"');
    expect(loadError({ currency: 'USD', source: 'test', retrieved: '2025-01-01' })).toMatch(/prices: /);
    expect(loadError(null)).toMatch(/^invalid price table \(1 problem\):\n {2}- \(root\): /);
  });

  it('accepts a file with only currency and prices, keeping source and retrieved when they are given', () => {
    const minimal = loadPriceTable({ currency: 'USD', prices: [modelPrice('gpt-4o', '2.50')] });
    expect(minimal.prices).toHaveLength(1);
    expect(minimal.source).toBeUndefined();
    expect(loadPriceTable({ currency: 'USD', source: 'contract', retrieved: '2026-01-31', prices: [] })).toMatchObject({ source: 'contract', retrieved: '2026-01-31' });
  });

  it('says a currency is missing, rather than that the file is not in USD, when there is none', () => {
    const message = loadError({ prices: [] });
    expect(message).toContain('currency: missing: a price file names its currency ("currency": "USD")');
    expect(message).not.toContain('only USD prices are supported');
  });

  it('defaults cached input to the input price and output to zero', () => {
    const [entry] = loadPriceTable(file([{ model: 'text-embedding-3-small', from: '2024-01-01', inputPer1M: '0.02' } as RawPrice])).prices;
    expect(entry).toMatchObject({ deployment: null, to: null, inputPer1MMicros: 20_000n, cachedInputPer1MMicros: 20_000n, outputPer1MMicros: 0n });
  });
});

describe('PriceMatcher.match', () => {
  const table = loadPriceTable(
    file([
      modelPrice('gpt-4o', '2.50', { cachedInputPer1M: '1.25', outputPer1M: '10.00' }),
      modelPrice('gpt-4o-mini', '0.15'),
      modelPrice('gpt-4.1', '2.00'),
      modelPrice('gpt-4', '30.00'),
      modelPrice('gpt-5', '1.25', { from: '2025-08-07' }),
      modelPrice('gpt-5-mini', '0.25', { from: '2025-09-01' }),
      { model: null, deployment: 'gpt-4o-datazone', from: '2024-01-01', to: '2025-01-01', inputPer1M: '2.75', outputPer1M: '11.00' },
      { model: null, deployment: 'assistants', from: '2024-01-01', to: null, inputPer1M: '3.00' },
    ]),
  );
  const matcher = new PriceMatcher(table);
  const version = (query: PriceQuery) => matcher.match(query)?.priceVersion ?? null;

  it('takes the model\'s own entry, or that of its name without its version, never another model\'s', () => {
    expect(version(at('2025-01-01T00:00:00Z', 'gpt-4o-mini-2024-07-18'))).toBe('gpt-4o-mini@2024-01-01');
    expect(version(at('2025-01-01T00:00:00Z', 'gpt-4o-mini'))).toBe('gpt-4o-mini@2024-01-01');
    expect(version(at('2025-01-01T00:00:00Z', 'gpt-4o-2024-08-06'))).toBe('gpt-4o@2024-01-01');
    expect(version(at('2025-01-01T00:00:00Z', 'gpt-4.1-2025-04-14'))).toBe('gpt-4.1@2024-01-01');
    expect(version(at('2025-01-01T00:00:00Z', 'gpt-4-0613'))).toBe('gpt-4@2024-01-01');
    expect(version(at('2025-01-01T00:00:00Z', 'gpt-4o-minimal'))).toBeNull(); // another model: neither gpt-4o-mini nor gpt-4o
    expect(version(at('2025-01-01T00:00:00Z', 'gpt-4o-mini-realtime-preview-2024-12-17'))).toBeNull(); // not gpt-4o-mini
    expect(version(at('2025-01-01T00:00:00Z', 'gpt-4o-preview'))).toBe('gpt-4o@2024-01-01');
    expect(version(at('2025-01-01T00:00:00Z', 'gpt-4.5-preview'))).toBeNull(); // neither gpt-4 nor gpt-4.1
    expect(version(at('2025-01-01T00:00:00Z', 'gpt-4x'))).toBeNull();
  });

  it('returns null for an unknown model and for a missing model without a deployment entry', () => {
    expect(matcher.match(at('2025-01-01T00:00:00Z', 'llama-3-70b'))).toBeNull();
    expect(matcher.match(at('2025-01-01T00:00:00Z', 'gpt'))).toBeNull();
    expect(matcher.match(at('2025-01-01T00:00:00Z', null, 'gpt-4o-prod'))).toBeNull();
    expect(matcher.match(at('2025-01-01T00:00:00Z', ''))).toBeNull();
  });

  it('lets a deployment entry win over the model, and price a request without a model', () => {
    expect(version(at('2024-06-01T00:00:00Z', 'gpt-4o-2024-08-06', 'gpt-4o-datazone'))).toBe('deployment:gpt-4o-datazone@2024-01-01');
    expect(version(at('2024-06-01T00:00:00Z', null, 'assistants'))).toBe('deployment:assistants@2024-01-01');
    expect(version(at('2024-06-01T00:00:00Z', 'gpt-4o-2024-08-06', 'other-deployment'))).toBe('gpt-4o@2024-01-01');
  });

  it('falls back to the model price once a deployment entry has ended', () => {
    expect(version(at('2024-12-31T23:59:59.999Z', 'gpt-4o', 'gpt-4o-datazone'))).toBe('deployment:gpt-4o-datazone@2024-01-01');
    expect(version(at('2025-01-01T00:00:00Z', 'gpt-4o', 'gpt-4o-datazone'))).toBe('gpt-4o@2024-01-01');
    expect(version(at('2025-01-01T00:00:00Z', null, 'gpt-4o-datazone'))).toBeNull();
  });

  it('applies "from" inclusive and "to" exclusive at the UTC day boundary', () => {
    expect(version(at('2025-08-06T23:59:59.999Z', 'gpt-5-2025-08-07'))).toBeNull();
    expect(version(at('2025-08-07T00:00:00Z', 'gpt-5-2025-08-07'))).toBe('gpt-5@2025-08-07');
    expect(version(at('2025-08-07T01:30:00+02:00', 'gpt-5'))).toBeNull(); // 2025-08-06T23:30Z
    expect(version(at('2023-12-31T23:59:59.999Z', 'gpt-4o'))).toBeNull();
    expect(version(at('2024-01-01T00:00:00.000Z', 'gpt-4o'))).toBe('gpt-4o@2024-01-01');
  });

  it('switches price versions exactly at midnight UTC of "to"', () => {
    const changing = new PriceMatcher(
      loadPriceTable(file([modelPrice('gpt-4o', '5.00', { to: '2024-06-01' }), modelPrice('gpt-4o', '2.50', { from: '2024-06-01' })])),
    );
    expect(changing.match(at('2024-05-31T23:59:59.999Z', 'gpt-4o'))?.priceVersion).toBe('gpt-4o@2024-01-01');
    expect(changing.match(at('2024-06-01T00:00:00.000Z', 'gpt-4o'))?.priceVersion).toBe('gpt-4o@2024-06-01');
  });

  it('leaves a model unpriced when its own prefix has no price in effect, rather than using a shorter one', () => {
    expect(version(at('2025-08-20T00:00:00Z', 'gpt-5-mini-2025-08-07'))).toBeNull();
    expect(version(at('2025-09-01T00:00:00Z', 'gpt-5-mini-2025-08-07'))).toBe('gpt-5-mini@2025-09-01');
  });

  it('answers the same from its cache, and refuses a time that is not an instant', () => {
    const first = matcher.match(at('2025-01-01T08:00:00Z', 'gpt-4o-2024-08-06'));
    expect(matcher.match(at('2025-01-01T20:00:00Z', 'gpt-4o-2024-08-06'))).toBe(first);
    const tiny = new PriceMatcher(table, { cacheSize: 1 });
    expect(tiny.match(at('2025-01-01T00:00:00Z', 'gpt-4o'))?.priceVersion).toBe('gpt-4o@2024-01-01');
    expect(tiny.match(at('2025-01-01T00:00:00Z', 'gpt-4o-mini'))?.priceVersion).toBe('gpt-4o-mini@2024-01-01');
    expect(tiny.match(at('2025-01-01T00:00:00Z', 'gpt-4o'))?.priceVersion).toBe('gpt-4o@2024-01-01');
    expect(() => matcher.match(at('yesterday', 'gpt-4o'))).toThrow(/request time "yesterday" is not an ISO-8601 instant/);
  });

  it('finds provisioned deployments by date', () => {
    const ptu = new PriceMatcher(loadPriceTable(file([], [{ deployment: 'gpt-4o-ptu', monthlyCost: '2000.00', from: '2025-01-01', to: '2025-07-01' }])));
    expect(ptu.provisionedFor({ deployment: 'gpt-4o-ptu', time: '2025-03-01T00:00:00Z' })).toMatchObject({
      priceVersion: 'provisioned:gpt-4o-ptu@2025-01-01',
      monthlyCostMicros: 2_000_000_000n,
    });
    expect(ptu.provisionedFor({ deployment: 'gpt-4o-ptu', time: '2025-07-01T00:00:00Z' })).toBeNull();
    expect(ptu.provisionedFor({ deployment: 'other', time: '2025-03-01T00:00:00Z' })).toBeNull();
    expect(ptu.provisionedFor({ deployment: null, time: '2025-03-01T00:00:00Z' })).toBeNull();
  });
});

describe('priceEntry', () => {
  const matcher = new PriceMatcher(loadPriceTable(defaultPriceFile));
  const gpt4o = matcher.match(at('2025-06-01T00:00:00Z', 'gpt-4o-2024-08-06'))!;

  it('prices cached and reasoning tokens correctly (worked example)', () => {
    // gpt-4o: 1,000 prompt tokens of which 400 cached; 200 completion tokens of which 50 reasoning.
    // 600 × 2.50/1M = 0.0015; 400 × 1.25/1M = 0.0005; 200 × 10.00/1M = 0.002 (reasoning is inside the 200).
    const priced = priceEntry({ tokens: tokens(1_000, 400, 200, 50) }, gpt4o);
    expect(priced.priceVersion).toBe('gpt-4o@2024-01-01');
    expect(priced.tokens).toEqual({ uncachedInput: 600, cachedInput: 400, output: 200, audioInput: 0, audioOutput: 0, perRequest: 0 });
    expect(formatPicodollars(priced.lines.uncachedInput, 4)).toBe('0.0015');
    expect(formatPicodollars(priced.lines.cachedInput, 4)).toBe('0.0005');
    expect(formatPicodollars(priced.lines.output, 3)).toBe('0.002');
    expect(priced.costPico).toBe(4_000_000_000n); // 0.004 USD = 4,000 micros, exactly
    expect(formatPicodollars(priced.costPico)).toBe('0.004000');
  });

  it('keeps sub-micro costs exact', () => {
    const mini = matcher.match(at('2025-06-01T00:00:00Z', 'gpt-4o-mini-2024-07-18'))!;
    const priced = priceEntry({ tokens: tokens(7, 3, 1, 0) }, mini); // 4 × 0.15 + 3 × 0.075 + 1 × 0.60 per 1M
    expect(priced.costPico).toBe(600_000n + 225_000n + 600_000n);
    expect(formatPicodollars(priced.costPico, 12)).toBe('0.000001425000');
  });

  it('prices embeddings by input only', () => {
    const embedding = matcher.match(at('2025-06-01T00:00:00Z', 'text-embedding-3-small'))!;
    expect(priceEntry({ tokens: tokens(1_000_000, 0, 0, 0) }, embedding).costPico).toBe(microsToPicodollars(20_000n));
  });

  it('refuses token counts that contradict each other', () => {
    expect(() => priceEntry({ tokens: tokens(10, 11, 0, 0) }, gpt4o)).toThrow(/cachedTokens \(11\) exceed promptTokens \(10\)/);
    expect(() => priceEntry({ tokens: tokens(10, 0, 5, 6) }, gpt4o)).toThrow(/reasoningTokens \(6\) exceed completionTokens \(5\)/);
    expect(() => priceEntry({ tokens: tokens(-1, 0, 0, 0) }, gpt4o)).toThrow(/promptTokens must be a non-negative integer/);
  });
});

describe('RequestPricer', () => {
  const MAX_SAFE = Number.MAX_SAFE_INTEGER;
  /** Token counts from none to the safe-integer limit and past it, contradictory ones included. */
  const count = fc.oneof(fc.nat({ max: 2_000 }), fc.nat({ max: 10 ** 10 }), fc.integer({ min: MAX_SAFE - 2_000, max: MAX_SAFE }), fc.constantFrom(-1, 0.5, MAX_SAFE + 1, Number.NaN));
  /** Prices in micros per 1M tokens, from zero to far beyond 2^53, negative ones included. */
  const micros = fc.oneof(fc.bigInt({ min: 0n, max: 100_000_000n }), fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.bigInt({ min: -1_000n, max: -1n }));
  const match = fc.record({ input: micros, cached: micros, output: micros }).map(
    ({ input, cached, output }): PriceMatch => ({
      priceVersion: 'm@2025-01-01',
      model: 'm',
      deployment: null,
      from: '2025-01-01',
      to: null,
      inputPer1MMicros: input,
      cachedInputPer1MMicros: cached,
      outputPer1MMicros: output,
      pricesTokens: true,
      audioInputPer1MMicros: null,
      audioOutputPer1MMicros: null,
      perRequestMicros: null,
    }),
  );
  /** The cost a pricing call returns (and whether as a Number), or the message it throws. */
  const outcome = (run: () => number | bigint): { costPico: bigint; asNumber: boolean } | string => {
    try {
      const cost = run();
      return { costPico: BigInt(cost), asNumber: typeof cost === 'number' };
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('costs any request exactly like priceEntry, as a Number only while the cost is a safe integer', () => {
    fc.assert(
      fc.property(match, count, count, count, count, (price, prompt, cached, completion, reasoning) => {
        const request = tokens(prompt, cached, completion, reasoning);
        const expected = outcome(() => priceEntry({ tokens: request }, price).costPico);
        const actual = outcome(() => new RequestPricer(price).cost(request));
        expect(actual).toEqual(typeof expected === 'string' ? expected : { costPico: expected.costPico, asNumber: expected.costPico <= BigInt(MAX_SAFE) });
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('allocateProvisioned', () => {
  it('splits a monthly cost by token share, exactly', () => {
    const parts = allocateProvisioned(100_000_000n, [
      { key: 'team-b', tokens: 1 },
      { key: 'team-a', tokens: 1 },
      { key: 'team-c', tokens: 1 },
    ]); // 100 USD over three equal shares
    expect([...parts.keys()]).toEqual(['team-a', 'team-b', 'team-c']);
    expect([...parts.values()]).toEqual([33_333_333_333_334n, 33_333_333_333_333n, 33_333_333_333_333n]);
  });

  it('adds up shares of the same key and refuses to split by nothing', () => {
    const parts = allocateProvisioned(3_000_000n, [
      { key: 'a', tokens: 1 },
      { key: 'b', tokens: 1 },
      { key: 'a', tokens: 1 },
    ]);
    expect(parts).toEqual(new Map([['a', 2_000_000_000_000n], ['b', 1_000_000_000_000n]]));
    expect(() => allocateProvisioned(1n, [])).toThrow(/no tokens to allocate/);
    expect(() => allocateProvisioned(1n, [{ key: 'a', tokens: 0 }])).toThrow(/no tokens to allocate/);
  });

  it('property: parts sum exactly to the monthly cost, whatever the order of shares', () => {
    const shares = fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), tokens: fc.nat({ max: 10_000_000 }) }), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 12n }), shares, (monthlyCostMicros, input) => {
        fc.pre(input.some((share) => share.tokens > 0));
        const parts = allocateProvisioned(monthlyCostMicros, input);
        const total = [...parts.values()].reduce((a, b) => a + b, 0n);
        expect(total).toBe(microsToPicodollars(monthlyCostMicros));
        expect(allocateProvisioned(monthlyCostMicros, [...input].reverse())).toEqual(parts);
      }),
    );
  });
});

describe('pricing properties over random tables and requests', () => {
  const modelKeys = ['gpt', 'gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'o3-mini', 'text-embedding-3-small'];
  const deployments = ['prod', 'dz', 'batch'];
  const days = ['2024-01-01', '2024-03-01', '2024-06-15', '2024-09-30', '2025-01-01'];

  const amount = fc
    .tuple(fc.nat({ max: 100 }), fc.nat({ max: 999_999 }))
    .map(([whole, micros]) => `${whole}.${micros.toString().padStart(6, '0')}`);

  /** Consecutive, non-overlapping ranges for one key from a sorted subset of the boundary days. */
  const rangesFor = (key: { model: string | null; deployment: string | null }) =>
    fc
      .tuple(fc.subarray(days, { minLength: 1 }), fc.boolean(), fc.array(fc.tuple(amount, fc.option(amount), fc.option(amount)), { minLength: 5, maxLength: 5 }))
      .map(([starts, openEnded, amounts]): RawPrice[] =>
        starts.map((from, index) => {
          const [inputPer1M, cachedInputPer1M, outputPer1M] = amounts[index]!;
          const to = starts[index + 1] ?? (openEnded ? null : '2026-01-01');
          return {
            ...key,
            from,
            to,
            inputPer1M,
            ...(cachedInputPer1M === null ? {} : { cachedInputPer1M }),
            ...(outputPer1M === null ? {} : { outputPer1M }),
          };
        }),
      );

  const priceTable = fc
    .tuple(
      fc.subarray(modelKeys).chain((models) => fc.tuple(...models.map((model) => rangesFor({ model, deployment: null })))),
      fc.subarray(deployments).chain((names) => fc.tuple(...names.map((deployment) => rangesFor({ model: null, deployment })))),
    )
    .map(([modelRanges, deploymentRanges]) => loadPriceTable(file([...modelRanges.flat(), ...deploymentRanges.flat()])));

  const request = fc.record({
    model: fc.option(
      fc.tuple(fc.constantFrom(...modelKeys, 'gpt-4', 'llama'), fc.constantFrom('', '-2024-08-06', '-mini', '-minimal', 'x', '-0613', '-preview', '-mini-2024-07-18', '-2')).map(([base, suffix]) => base + suffix),
    ),
    deployment: fc.option(fc.constantFrom(...deployments, 'other')),
    time: fc.date({ min: new Date('2023-12-30T00:00:00Z'), max: new Date('2026-01-03T00:00:00Z'), noInvalidDate: true }).map((date) => date.toISOString()),
    tokens: fc
      .tuple(fc.nat({ max: 200_000 }), fc.nat({ max: 200_000 }), fc.nat({ max: 100_000 }), fc.nat({ max: 100_000 }))
      .map(([a, b, c, d]) => tokens(Math.max(a, b), Math.min(a, b), Math.max(c, d), Math.min(c, d))),
  });

  /** The matching rules written out plainly, without indexes or cache. */
  function referenceMatch(table: PriceTable, query: PriceQuery): PriceMatch | null {
    const day = query.time.slice(0, 10);
    const inEffect = (entry: PriceMatch) => entry.from <= day && (entry.to === null || day < entry.to);
    const byDeployment = table.prices.find((entry) => entry.deployment !== null && entry.deployment === query.deployment && inEffect(entry));
    if (byDeployment) return byDeployment;
    if (query.model === null) return null;
    const owner = modelOwner(query.model, (name) => table.prices.some((entry) => entry.model === name));
    return owner === undefined ? null : (table.prices.find((entry) => entry.model === owner && inEffect(entry)) ?? null);
  }

  it('property: the indexed, cached matcher agrees with the plain rules', () => {
    fc.assert(
      fc.property(priceTable, fc.array(request, { maxLength: 60 }), (table, requests) => {
        const matcher = new PriceMatcher(table, { cacheSize: 8 });
        for (const query of [...requests, ...requests]) {
          expect(matcher.match(query)?.priceVersion ?? null).toBe(referenceMatch(table, query)?.priceVersion ?? null);
        }
      }),
    );
  });

  it('property: the sum of per-request costs equals the cost of the per-price-version token sums (linearity)', () => {
    fc.assert(
      fc.property(priceTable, fc.array(request, { maxLength: 80 }), (table, requests) => {
        const matcher = new PriceMatcher(table);
        let sumOfCosts: Picodollars = 0n;
        const byVersion = new Map<string, { match: PriceMatch; uncached: number; cached: number; output: number }>();
        for (const query of requests) {
          const match = matcher.match(query);
          if (!match) continue;
          const priced = priceEntry(query, match);
          expect(priced.costPico).toBe(priced.lines.uncachedInput + priced.lines.cachedInput + priced.lines.output);
          sumOfCosts += priced.costPico;
          const sums = byVersion.get(match.priceVersion) ?? { match, uncached: 0, cached: 0, output: 0 };
          sums.uncached += query.tokens.promptTokens - query.tokens.cachedTokens;
          sums.cached += query.tokens.cachedTokens;
          sums.output += query.tokens.completionTokens;
          byVersion.set(match.priceVersion, sums);
        }
        let costOfSums: Picodollars = 0n;
        for (const { match, uncached, cached, output } of byVersion.values()) {
          costOfSums +=
            costPicodollars(uncached, match.inputPer1MMicros) +
            costPicodollars(cached, match.cachedInputPer1MMicros) +
            costPicodollars(output, match.outputPer1MMicros);
        }
        expect(sumOfCosts).toBe(costOfSums);
      }),
    );
  });
});
