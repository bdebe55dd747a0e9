import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { checkDirectoryRow, normalizeIdentityKey, type DirectoryRow } from '../../src/contracts/directory.js';
import type { LedgerEntry, TokenSource } from '../../src/contracts/ledger-entry.js';
import { loadPriceTable, type PriceFile } from '../../src/contracts/price-table.js';
import { ChargebackLines, chargebackReport, GROUP_BY, UNKNOWN, UNMAPPED, type ChargebackLine, type GroupBy } from '../../src/domain/chargeback.js';
import { resolveIdentity } from '../../src/domain/identity.js';
import { PriceMatcher, priceEntry } from '../../src/domain/price-matching.js';
import { ledgerEntry, noCaller } from '../support/ledger-entries.js';
import { modelOwner } from '../support/model-owner.js';

// ---------------------------------------------------------------------------------------------------------------
// Building blocks

function priceFile(prices: PriceFile['prices']): PriceFile {
  return { currency: 'USD', source: 'test', retrieved: '2026-01-01', prices, provisioned: [] };
}

const sum = (values: readonly bigint[]): bigint => values.reduce((a, b) => a + b, 0n);
const sumNumbers = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
/** A displayed cost (`"12.345678"`) as an integer count of its last decimal place. */
const displayedUnits = (cost: string): bigint => {
  expect(cost).toMatch(/^\d+\.\d{6}$/);
  return BigInt(cost.replace('.', ''));
};

// ---------------------------------------------------------------------------------------------------------------
// Generators for the property

const MODELS = [
  'gpt-4o',
  'gpt-4o-2024-08-06',
  'gpt-4o-mini',
  'gpt-4o-mini-2024-07-18',
  'o3-mini',
  'o3-mini-2025-01-31',
  'text-embedding-3-large',
  'llama-3-70b-instruct',
] as const;
/** Every prefix a price entry could name for the models above (each cut at a `-`). */
const MODEL_PREFIXES = [...new Set(MODELS.flatMap((model) => model.split('-').map((_, i, parts) => parts.slice(0, i + 1).join('-'))))];
const DEPLOYMENTS = ['chat-prod', 'chat-dev', 'embed-shared', 'reasoning'] as const;

const GUIDS = [
  '0f8fad5b-d9cb-469f-a165-70867728950e',
  '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  'C56A4180-65AA-42EC-A945-5FD21DEC0538',
] as const;
const APP_IDS = ['3fa85f64-5717-4562-b3fc-2c963f66afa6', 'billing-batch-app'] as const;
const SUBSCRIPTIONS = ['sub-research', 'sub-support'] as const;
const DIAGNOSTIC_OBJECT_IDS = ['9B2E2C1D-3F4A-4B5C-8D6E-7F8091A2B3C4'] as const;
/** Every report key the generated callers can resolve to. */
const IDENTITY_KEYS = [...GUIDS, ...APP_IDS, ...SUBSCRIPTIONS, ...DIAGNOSTIC_OBJECT_IDS.map((id) => id.toLowerCase()), 'unattributed'];

const YEAR_START = Date.UTC(2026, 0, 1);
const YEAR_END = Date.UTC(2027, 0, 1);
const DAY_MS = 86_400_000;
/** Price ranges are cut on days counted from here, so some start before and some end after the year of requests. */
const RANGE_ORIGIN = Date.UTC(2025, 11, 1);
const rangeDate = (day: number) => new Date(RANGE_ORIGIN + day * DAY_MS).toISOString().slice(0, 10);

interface GeneratedCaller {
  readonly caller: LedgerEntry['caller'];
  readonly subscriptionId: string | null;
  readonly diagnosticsObjectId: string | null;
  /** The report key `resolveIdentity` should give. */
  readonly expectedIdentity: string;
}


/** One fixed way of calling per identity key: the same identity always presents the same claims. */
function callerFor(key: string): GeneratedCaller {
  if ((GUIDS as readonly string[]).includes(key)) {
    const isUser = key !== GUIDS[1];
    return {
      caller: { ...noCaller, oid: key, tid: 'tenant', idtyp: isUser ? 'user' : 'app', upn: isUser ? 'someone@contoso.example' : null },
      subscriptionId: 'sub-research',
      diagnosticsObjectId: null,
      expectedIdentity: key,
    };
  }
  if ((APP_IDS as readonly string[]).includes(key)) {
    return { caller: { ...noCaller, appid: key, idtyp: 'app' }, subscriptionId: 'sub-support', diagnosticsObjectId: null, expectedIdentity: key };
  }
  if ((SUBSCRIPTIONS as readonly string[]).includes(key)) {
    return { caller: noCaller, subscriptionId: key, diagnosticsObjectId: null, expectedIdentity: key };
  }
  if (key === 'unattributed') return { caller: noCaller, subscriptionId: null, diagnosticsObjectId: null, expectedIdentity: key };
  const objectId = DIAGNOSTIC_OBJECT_IDS.find((id) => id.toLowerCase() === key)!;
  return { caller: noCaller, subscriptionId: null, diagnosticsObjectId: objectId, expectedIdentity: key };
}

const tokenCounts = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 }) },
  {
    weight: 5,
    arbitrary: fc
      .record({ promptTokens: fc.integer({ min: 0, max: 200_000 }), completionTokens: fc.integer({ min: 0, max: 50_000 }) })
      .chain(({ promptTokens, completionTokens }) =>
        fc.record({
          promptTokens: fc.constant(promptTokens),
          cachedTokens: fc.integer({ min: 0, max: promptTokens }),
          completionTokens: fc.constant(completionTokens),
          reasoningTokens: fc.integer({ min: 0, max: completionTokens }),
        }),
      ),
  },
);

interface GeneratedEntry {
  readonly entry: LedgerEntry;
  readonly expectedIdentity: string;
}

const canonicalTime = fc.integer({ min: YEAR_START, max: YEAR_END - 1 }).map((ms) => new Date(ms).toISOString());

const entryWith = (times: fc.Arbitrary<string>, tokens: typeof tokenCounts) =>
  fc
    .record({
      identity: fc.constantFrom(...IDENTITY_KEYS),
      model: fc.option(fc.constantFrom(...MODELS), { nil: null, freq: 6 }),
      modelFromDiagnostics: fc.boolean(),
      deployment: fc.option(fc.constantFrom(...DEPLOYMENTS), { nil: null, freq: 8 }),
      time: times,
      tokens,
      source: fc.constantFrom<TokenSource>('gateway', 'llm-log', 'none'),
      status: fc.constantFrom(200, 200, 429, 500),
    })
    .map(({ identity, model, modelFromDiagnostics, deployment, time, tokens, source, status }): GeneratedEntry => {
      const who = callerFor(identity);
      // A model the gateway did not see may still be known from the joined diagnostics.
      const diagnosedModel = model !== null && modelFromDiagnostics;
      const needsDiagnostics = diagnosedModel || who.diagnosticsObjectId !== null;
      return {
        expectedIdentity: who.expectedIdentity,
        entry: ledgerEntry({
          time,
          caller: who.caller,
          subscriptionId: who.subscriptionId,
          deployment,
          model: diagnosedModel ? null : model,
          status,
          tokens: { source, ...tokens },
          diagnostics: needsDiagnostics
            ? {
                status: 'matched',
                durationMs: 500,
                regionCode: 'eastus',
                account: 'contoso-aoai',
                modelName: diagnosedModel ? model : null,
                modelVersion: null,
                streamType: null,
                objectId: who.diagnosticsObjectId,
                httpStatus: status,
              }
            : null,
        }),
      };
    });

const generatedEntry = entryWith(canonicalTime, tokenCounts);

interface ExpectedPrice {
  readonly fromDay: number;
  readonly toDay: number | null;
  readonly input: bigint;
  readonly cached: bigint;
  readonly output: bigint;
}

/** A decimal price with up to 6 decimals, as written in a price file, and its value in micros computed here. */
const decimalPrice = fc
  .record({ whole: fc.integer({ min: 0, max: 60 }), fraction: fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 6 }) })
  .map(({ whole, fraction }) => ({
    text: fraction === '' ? String(whole) : `${whole}.${fraction}`,
    micros: BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, '0')),
  }));

/** Prices of up to 10^15 dollars per 1M tokens: far beyond 2^53 micros, so costs leave the safe-integer range. */
const hugeDecimalPrice = fc
  .record({ whole: fc.bigInt({ min: 0n, max: 10n ** 15n }), fraction: fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 6 }) })
  .map(({ whole, fraction }) => ({
    text: fraction === '' ? String(whole) : `${whole}.${fraction}`,
    micros: whole * 1_000_000n + BigInt(fraction.padEnd(6, '0')),
  }));

/** Prices of a micro or two per 1M tokens: costs close to the safe-integer limit that are still safe integers. */
const tinyDecimalPrice = fc.constantFrom({ text: '0.000001', micros: 1n }, { text: '0.000002', micros: 2n });

type PriceArbitrary = typeof decimalPrice;

/** Non-overlapping [from, to) ranges for one key, with gaps, the last one possibly open-ended. */
const rangesForOneKey = (price: PriceArbitrary) =>
  fc
    .record({
      cuts: fc.uniqueArray(fc.integer({ min: 0, max: 430 }), { minLength: 2, maxLength: 5 }).map((cuts) => [...cuts].sort((a, b) => a - b)),
      openEnd: fc.boolean(),
    })
    .chain(({ cuts, openEnd }) => {
      const ranges = cuts.slice(0, -1).map((from, i) => ({ fromDay: from, toDay: cuts[i + 1]! as number | null }));
      if (openEnd) ranges.push({ fromDay: cuts[cuts.length - 1]!, toDay: null });
      return fc.tuple(
        ...ranges.map((range) =>
          fc.record({
            present: fc.boolean(),
            input: price,
            cached: fc.option(price, { nil: undefined }),
            output: fc.option(price, { nil: undefined }),
          }).map((amounts) => ({ ...range, ...amounts })),
        ),
      );
    })
    .map((ranges) => ranges.filter((range) => range.present));

const pricesOf = (price: PriceArbitrary) =>
  fc
    .record({
      models: fc.subarray(MODEL_PREFIXES),
      deployments: fc.subarray([...DEPLOYMENTS], { maxLength: 2 }),
    })
    .chain(({ models, deployments }) => {
      const keys = [...models.map((model) => ({ model, deployment: null })), ...deployments.map((deployment) => ({ model: null, deployment }))];
      return fc.tuple(...keys.map((key) => rangesForOneKey(price).map((ranges) => ({ key, ranges })))).map((perKey) => {
        const file: PriceFile['prices'] = [];
        const byModel = new Map<string, ExpectedPrice[]>();
        const byDeployment = new Map<string, ExpectedPrice[]>();
        for (const { key, ranges } of perKey) {
          const expected: ExpectedPrice[] = [];
          for (const range of ranges) {
            file.push({
              model: key.model,
              deployment: key.deployment,
              from: rangeDate(range.fromDay),
              to: range.toDay === null ? null : rangeDate(range.toDay),
              inputPer1M: range.input.text,
              ...(range.cached ? { cachedInputPer1M: range.cached.text } : {}),
              ...(range.output ? { outputPer1M: range.output.text } : {}),
            });
            expected.push({
              fromDay: range.fromDay,
              toDay: range.toDay,
              input: range.input.micros,
              cached: range.cached?.micros ?? range.input.micros,
              output: range.output?.micros ?? 0n,
            });
          }
          // A key whose ranges were all left out is not in the table at all, so it owns no model.
          if (expected.length === 0) continue;
          if (key.model !== null) byModel.set(key.model, expected);
          else byDeployment.set(key.deployment!, expected);
        }
        return { file, byModel, byDeployment };
      });
    });

const generatedPrices = pricesOf(decimalPrice);

const generatedDirectory = fc
  .subarray(IDENTITY_KEYS.filter((key) => key !== 'unattributed'))
  .chain((identities) =>
    fc.tuple(
      ...identities.map((identity) =>
        fc.record({ team: fc.constantFrom('search', 'ads', 'platform'), costCenter: fc.constantFrom('CC-100', 'CC-200') }).map(({ team, costCenter }) =>
          checkDirectoryRow({ identity, displayName: `Name of ${identity}`, team, costCenter }),
        ),
      ),
    ),
  )
  .map((rows) => new Map<string, DirectoryRow>(rows.map((row) => [row.identity, row])));

const scenario = fc.record({
  prices: generatedPrices,
  directory: generatedDirectory,
  entries: fc.array(generatedEntry, { minLength: 1, maxLength: 40 }),
});

// ---------------------------------------------------------------------------------------------------------------
// An independent model of what each entry should cost and where it should land

function inEffectOn(ranges: readonly ExpectedPrice[] | undefined, day: number): ExpectedPrice | null {
  return ranges?.find((range) => range.fromDay <= day && (range.toDay === null || day < range.toDay)) ?? null;
}

function expectedPrice(prices: { byModel: Map<string, ExpectedPrice[]>; byDeployment: Map<string, ExpectedPrice[]> }, entry: LedgerEntry): ExpectedPrice | null {
  const day = Math.floor((Date.parse(entry.time) - RANGE_ORIGIN) / DAY_MS);
  if (entry.deployment !== null) {
    const byDeployment = inEffectOn(prices.byDeployment.get(entry.deployment), day);
    if (byDeployment) return byDeployment;
  }
  const model = modelOf(entry);
  if (model === null) return null;
  const owner = modelOwner(model, (name) => prices.byModel.has(name));
  return owner === undefined ? null : inEffectOn(prices.byModel.get(owner), day);
}

function modelOf(entry: LedgerEntry): string | null {
  return entry.model ?? (entry.diagnostics?.status === 'matched' ? entry.diagnostics.modelName : null);
}

interface Expected {
  requests: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  costPico: bigint;
}

const sumsOf = ({ requests, promptTokens, cachedTokens, completionTokens, reasoningTokens, costPico }: Expected): Expected => ({
  requests,
  promptTokens,
  cachedTokens,
  completionTokens,
  reasoningTokens,
  costPico,
});

const emptyExpected = (): Expected => ({ requests: 0, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0, costPico: 0n });

function expectedCost(price: ExpectedPrice | null, entry: LedgerEntry): bigint {
  const t = entry.tokens;
  if (price === null || t.promptTokens + t.completionTokens === 0) return 0n;
  return BigInt(t.promptTokens - t.cachedTokens) * price.input + BigInt(t.cachedTokens) * price.cached + BigInt(t.completionTokens) * price.output;
}

function expectedGroupKey(groupBy: GroupBy, generated: GeneratedEntry, directory: ReadonlyMap<string, DirectoryRow>): string {
  const row = directory.get(normalizeIdentityKey(generated.expectedIdentity));
  switch (groupBy) {
    case 'identity':
      return generated.expectedIdentity;
    case 'team':
      return row?.team ?? UNMAPPED;
    case 'costCenter':
      return row?.costCenter ?? UNMAPPED;
    case 'model':
      return modelOf(generated.entry) ?? UNKNOWN;
    case 'deployment':
      return generated.entry.deployment ?? UNKNOWN;
  }
}

function linesOf(matcher: PriceMatcher, entries: readonly LedgerEntry[]): ChargebackLine[] {
  const lines = new ChargebackLines(matcher);
  for (const entry of entries) lines.addEntry(entry);
  return lines.list();
}

// ---------------------------------------------------------------------------------------------------------------

describe('chargeback totals over random ledgers and price tables', () => {
  it('every grouping sums exactly to the same totals, which match each entry priced independently', () => {
    fc.assert(
      fc.property(scenario, ({ prices, directory, entries }) => {
        const matcher = new PriceMatcher(loadPriceTable(priceFile(prices.file)));
        const lines = linesOf(matcher, entries.map((g) => g.entry));

        const grand = emptyExpected();
        const unpriced = new Map<string, { model: string; deployment: string; requests: number; promptTokens: number; completionTokens: number }>();
        for (const { entry } of entries) {
          const t = entry.tokens;
          const price = expectedPrice(prices, entry);
          grand.requests += 1;
          grand.promptTokens += t.promptTokens;
          grand.cachedTokens += t.cachedTokens;
          grand.completionTokens += t.completionTokens;
          grand.reasoningTokens += t.reasoningTokens;
          grand.costPico += expectedCost(price, entry);
          if (price === null && t.promptTokens + t.completionTokens > 0) {
            const model = modelOf(entry) ?? UNKNOWN;
            const deployment = entry.deployment ?? UNKNOWN;
            const u = unpriced.get(`${model} ${deployment}`) ?? { model, deployment, requests: 0, promptTokens: 0, completionTokens: 0 };
            u.requests += 1;
            u.promptTokens += t.promptTokens;
            u.completionTokens += t.completionTokens;
            unpriced.set(`${model} ${deployment}`, u);
          }
        }

        const displayedTotals = new Set<string>();
        for (const groupBy of GROUP_BY) {
          const report = chargebackReport(lines, { groupBy, directory, currency: 'USD' });
          const { rows, totals } = report;

          // The rows add up to the totals, exactly, in costs and in tokens.
          expect(sum(rows.map((r) => r.costPico)), groupBy).toBe(totals.costPico);
          expect(sumNumbers(rows.map((r) => r.requests)), groupBy).toBe(totals.requests);
          expect(sumNumbers(rows.map((r) => r.promptTokens)), groupBy).toBe(totals.promptTokens);
          expect(sumNumbers(rows.map((r) => r.cachedTokens)), groupBy).toBe(totals.cachedTokens);
          expect(sumNumbers(rows.map((r) => r.completionTokens)), groupBy).toBe(totals.completionTokens);
          expect(sumNumbers(rows.map((r) => r.reasoningTokens)), groupBy).toBe(totals.reasoningTokens);

          // The totals are the grand total of the ledger, whatever the grouping.
          expect(sumsOf(totals), groupBy).toEqual(grand);

          // The displayed row costs add up to the displayed total, digit for digit.
          expect(sum(rows.map((r) => displayedUnits(r.cost))), groupBy).toBe(displayedUnits(totals.cost));
          displayedTotals.add(totals.cost);

          // Each row holds exactly what an independent grouping of the entries puts under its key.
          const expectedRows = new Map<string, Expected>();
          for (const generated of entries) {
            const key = expectedGroupKey(groupBy, generated, directory);
            const e = expectedRows.get(key) ?? emptyExpected();
            const t = generated.entry.tokens;
            e.requests += 1;
            e.promptTokens += t.promptTokens;
            e.cachedTokens += t.cachedTokens;
            e.completionTokens += t.completionTokens;
            e.reasoningTokens += t.reasoningTokens;
            e.costPico += expectedCost(expectedPrice(prices, generated.entry), generated.entry);
            expectedRows.set(key, e);
          }
          expect(new Map(rows.map((r) => [r.key, sumsOf(r)])), groupBy).toEqual(expectedRows);

          // Unpriced models are listed by model, each (model, deployment) once, with all of its tokens.
          const models = report.unpriced.map((u) => u.model);
          expect(models, groupBy).toEqual([...models].sort());
          expect(new Map(report.unpriced.map((u) => [`${u.model} ${u.deployment}`, u])), groupBy).toEqual(unpriced);
        }
        expect(displayedTotals.size).toBe(1);
      }),
      { numRuns: 300 },
    );
  });

  it('lines accumulated in any order, split over two collections and merged, equal the lines of one pass', () => {
    const orderedScenario = scenario.chain((s) =>
      fc.record({
        order: fc.shuffledSubarray(
          s.entries.map((_, i) => i),
          { minLength: s.entries.length, maxLength: s.entries.length },
        ),
        split: fc.integer({ min: 0, max: s.entries.length }),
      }).map(({ order, split }) => ({ ...s, order, split })),
    );
    fc.assert(
      fc.property(orderedScenario, ({ prices, directory, entries, order, split }) => {
        const matcher = new PriceMatcher(loadPriceTable(priceFile(prices.file)));
        const inOnePass = linesOf(matcher, entries.map((g) => g.entry));

        const shuffled = order.map((i) => entries[i]!.entry);
        const first = new ChargebackLines(matcher);
        const second = new ChargebackLines(matcher);
        shuffled.slice(0, split).forEach((entry) => first.addEntry(entry));
        shuffled.slice(split).forEach((entry) => second.addEntry(entry));
        const merged = new ChargebackLines(matcher);
        for (const line of [...second.list(), ...first.list()]) merged.addLine(line);

        expect(merged.list()).toEqual(inOnePass);
        for (const groupBy of GROUP_BY) {
          expect(chargebackReport(merged.list(), { groupBy, directory, currency: 'USD' })).toEqual(
            chargebackReport(inOnePass, { groupBy, directory, currency: 'USD' }),
          );
        }
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Extreme inputs against the plain way of building lines

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** From none to the safe-integer limit: costs and their sums leave the safe-integer range. */
const anyCount = fc.oneof(fc.nat({ max: 2_000 }), fc.nat({ max: 10 ** 10 }), fc.integer({ min: MAX_SAFE - 2_000, max: MAX_SAFE }));

const extremeTokenCounts = fc
  .record({ promptTokens: anyCount, completionTokens: anyCount })
  .chain(({ promptTokens, completionTokens }) =>
    fc.record({
      promptTokens: fc.constant(promptTokens),
      cachedTokens: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: promptTokens })),
      completionTokens: fc.constant(completionTokens),
      reasoningTokens: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: completionTokens })),
    }),
  );

const pad = (value: number) => String(value).padStart(2, '0');

/** A time of the year of requests in any form `Date.parse` reads, with the day rolled over by `T24:00` or February 30. */
const anyIsoTime = fc.oneof(
  canonicalTime,
  canonicalTime.map((iso) => `${iso.slice(0, 19)}Z`),
  canonicalTime.map((iso) => iso.slice(0, 10)),
  canonicalTime.map((iso) => `${iso.slice(0, 10)}T24:00:00.000Z`),
  fc.integer({ min: YEAR_START, max: YEAR_END - 1 }).chain((ms) =>
    fc.integer({ min: -12 * 60, max: 14 * 60 }).map((offset) => {
      const local = new Date(ms + offset * 60_000).toISOString().slice(0, 23);
      return `${local}${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
    }),
  ),
  fc.constantFrom('2026-02-29T23:59:59.999Z', '2026-02-30T00:00:00.000Z', '2026-04-31T12:00:00.000Z'),
);

/** The lines of `entries` built the plain way: each entry priced by `priceEntry` and added to the line of its key. */
function plainLines(matcher: PriceMatcher, entries: readonly LedgerEntry[]): ChargebackLine[] {
  const lines = new Map<string, ChargebackLine>();
  for (const entry of entries) {
    const { key: identity, kind: identityKind } = resolveIdentity(entry);
    const model = modelOf(entry) ?? UNKNOWN;
    const deployment = entry.deployment ?? UNKNOWN;
    const t = entry.tokens;
    const hasTokens = t.promptTokens + t.completionTokens > 0;
    const match = hasTokens ? matcher.match({ model: modelOf(entry), deployment: entry.deployment, time: entry.time }) : null;
    const priceVersion = match?.priceVersion ?? null;
    const unpriced = hasTokens && match === null;
    const key = [identity, model, deployment, priceVersion ?? '', unpriced ? 'unpriced' : ''].join('\u0000');
    const line = lines.get(key) ?? {
      identity,
      identityKind,
      model,
      deployment,
      priceVersion,
      unpriced,
      requests: 0,
      promptTokens: 0,
      cachedTokens: 0,
      completionTokens: 0,
      reasoningTokens: 0,
      costPico: 0n,
      tokenSources: { gateway: 0, 'llm-log': 0, none: 0 },
    };
    line.requests += 1;
    line.promptTokens += t.promptTokens;
    line.cachedTokens += t.cachedTokens;
    line.completionTokens += t.completionTokens;
    line.reasoningTokens += t.reasoningTokens;
    line.costPico += match ? priceEntry(entry, match).costPico : 0n;
    line.tokenSources[t.source] += 1;
    lines.set(key, line);
  }
  return [...lines.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, line]) => line);
}

describe('chargeback lines of extreme token counts, prices and time formats', () => {
  const extremeScenario = fc.record({
    prices: pricesOf(fc.oneof(decimalPrice, hugeDecimalPrice, tinyDecimalPrice)),
    entries: fc.array(entryWith(anyIsoTime, extremeTokenCounts), { minLength: 1, maxLength: 60 }),
    listedAfter: fc.nat({ max: 60 }),
  });

  it('equal the sum of each entry priced by priceEntry under its line key, also when listed part way', () => {
    fc.assert(
      fc.property(extremeScenario, ({ prices, entries, listedAfter }) => {
        const matcher = new PriceMatcher(loadPriceTable(priceFile(prices.file)));
        const ledger = entries.map((g) => g.entry);
        const lines = new ChargebackLines(matcher);
        ledger.slice(0, listedAfter).forEach((entry) => lines.addEntry(entry));
        const early = lines.list();
        expect(early).toEqual(plainLines(matcher, ledger.slice(0, listedAfter)));
        ledger.slice(listedAfter).forEach((entry) => lines.addEntry(entry));
        expect(lines.list()).toEqual(plainLines(matcher, ledger));
      }),
      { numRuns: 300 },
    );
  });

  it('keep a line exact when its cost passes 2^53 in steps that are each a safe integer', () => {
    const micro = loadPriceTable(priceFile([{ model: 'gpt-4o', deployment: null, from: '2026-01-01', to: null, inputPer1M: '0.000001', outputPer1M: '0.000003' }]));
    const matcher = new PriceMatcher(micro);
    // 2^53 − 1 prompt tokens at one micro per 1M cost 2^53 − 1 picodollars, the largest safe integer.
    const big = ledgerEntry({ model: 'gpt-4o', tokens: { source: 'gateway', promptTokens: MAX_SAFE, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } });
    const odd = ledgerEntry({ model: 'gpt-4o', tokens: { source: 'gateway', promptTokens: 1, cachedTokens: 0, completionTokens: 3, reasoningTokens: 0 } });
    const ledger = [big, odd, big, odd, odd, big];
    const lines = new ChargebackLines(matcher);
    ledger.forEach((entry) => lines.addEntry(entry));
    expect(lines.list().map((line) => line.costPico)).toEqual([3n * BigInt(MAX_SAFE) + 3n * 10n]);
    expect(lines.list()).toEqual(plainLines(matcher, ledger));
  });
});

describe('a chargeback worked by hand', () => {
  const table = loadPriceTable(
    priceFile([
      { model: 'gpt-4o-mini', deployment: null, from: '2024-01-01', to: null, inputPer1M: '0.15', cachedInputPer1M: '0.075', outputPer1M: '0.60' },
      { model: 'gpt-4o', deployment: null, from: '2024-01-01', to: null, inputPer1M: '2.50', cachedInputPer1M: '1.25', outputPer1M: '10.00' },
    ]),
  );
  const alice = { ...noCaller, oid: '0f8fad5b-d9cb-469f-a165-70867728950e', idtyp: 'user' as const, upn: 'alice@contoso.example' };
  const batchApp = { ...noCaller, appid: 'billing-batch-app', idtyp: 'app' as const };
  const entries = [
    // 800 uncached × 0.15 + 200 cached × 0.075 + 500 output × 0.60 per 1M = $0.000435
    ledgerEntry({ id: 'a', caller: alice, tokens: { source: 'gateway', promptTokens: 1_000, cachedTokens: 200, completionTokens: 500, reasoningTokens: 0 } }),
    // 10,000 × 0.15 + 2,345 × 0.075 + 678 × 0.60 per 1M = $0.002082675 (reasoning is inside the 678 output tokens)
    ledgerEntry({ id: 'b', caller: batchApp, tokens: { source: 'llm-log', promptTokens: 12_345, cachedTokens: 2_345, completionTokens: 678, reasoningTokens: 100 } }),
    ledgerEntry({ id: 'c', caller: batchApp, model: 'llama-3-70b', deployment: 'oss', tokens: { source: 'gateway', promptTokens: 300, cachedTokens: 0, completionTokens: 50, reasoningTokens: 0 } }),
    // Throttled: no tokens, so nothing to price, whether or not the model has a price.
    ledgerEntry({ id: 'd', caller: alice, model: 'llama-3-70b', deployment: 'oss', status: 429 }),
    ledgerEntry({ id: 'e', caller: alice, status: 429 }),
  ];
  const lines = new ChargebackLines(new PriceMatcher(table));
  for (const entry of entries) lines.addEntry(entry);
  const directory = new Map<string, DirectoryRow>([
    [alice.oid, checkDirectoryRow({ identity: alice.oid, displayName: 'Alice', team: 'search', costCenter: 'CC-100' })],
  ]);

  it('prices gpt-4o-mini entries by hand to the exact picodollar and the rounded display', () => {
    const report = chargebackReport(lines.list(), { groupBy: 'model', directory, currency: 'USD' });
    const mini = report.rows.find((row) => row.key === 'gpt-4o-mini-2024-07-18')!;
    expect(mini.costPico).toBe(435_000_000n + 2_082_675_000n);
    expect(mini.cost).toBe('0.002518');
    expect(mini.requests).toBe(3);
    expect(mini.priceVersions).toEqual(['gpt-4o-mini@2024-01-01']);
    expect(report.totals.costPico).toBe(2_517_675_000n);
    expect(report.totals.cost).toBe('0.002518');

    const exact = chargebackReport(lines.list(), { groupBy: 'identity', directory, currency: 'USD', decimals: 12 });
    expect(Object.fromEntries(exact.rows.map((row) => [row.key, row.cost]))).toEqual({
      [alice.oid]: '0.000435000000',
      'billing-batch-app': '0.002082675000',
    });
  });

  it('reports a model without a price as unpriced with its tokens, at no cost', () => {
    const report = chargebackReport(lines.list(), { groupBy: 'model', directory, currency: 'USD' });
    expect(report.unpriced).toEqual([{ model: 'llama-3-70b', deployment: 'oss', requests: 1, promptTokens: 300, completionTokens: 50 }]);
    const llama = report.rows.find((row) => row.key === 'llama-3-70b')!;
    expect(llama.costPico).toBe(0n);
    expect(llama.cost).toBe('0.000000');
    expect(llama.promptTokens).toBe(300);
    expect(llama.priceVersions).toEqual([]);
  });

  it('counts a request without tokens (a 429) but neither prices it nor reports it as unpriced', () => {
    const throttled = lines.list().filter((line) => line.promptTokens + line.completionTokens === 0);
    expect(throttled.map((line) => [line.model, line.requests, line.unpriced, line.priceVersion, line.costPico])).toEqual([
      ['gpt-4o-mini-2024-07-18', 1, false, null, 0n],
      ['llama-3-70b', 1, false, null, 0n],
    ]);
    const report = chargebackReport(lines.list(), { groupBy: 'model', directory, currency: 'USD' });
    expect(report.rows.find((row) => row.key === 'llama-3-70b')!.requests).toBe(2);
    expect(report.totals.requests).toBe(5);
    expect(report.unpriced.map((u) => u.requests)).toEqual([1]);
  });

  it('reports the tokens of an unpriced model whether a throttled request of the same caller came before or after', () => {
    const throttled = ledgerEntry({ id: 't', caller: alice, model: 'llama-3-70b', deployment: 'oss', status: 429 });
    const used = ledgerEntry({ id: 'u', caller: alice, model: 'llama-3-70b', deployment: 'oss', tokens: { source: 'gateway', promptTokens: 300, cachedTokens: 0, completionTokens: 50, reasoningTokens: 0 } });
    for (const order of [[throttled, used], [used, throttled]]) {
      const sameCaller = new ChargebackLines(new PriceMatcher(table));
      for (const entry of order) sameCaller.addEntry(entry);
      const report = chargebackReport(sameCaller.list(), { groupBy: 'identity', directory, currency: 'USD' });
      expect(report.unpriced, `${order[0]!.id} first`).toEqual([{ model: 'llama-3-70b', deployment: 'oss', requests: 1, promptTokens: 300, completionTokens: 50 }]);
      expect(report.totals.requests).toBe(2);
    }
  });

  it('groups identities missing from the directory under (unmapped) by team', () => {
    const report = chargebackReport(lines.list(), { groupBy: 'team', directory, currency: 'USD' });
    expect(report.rows.map((row) => [row.key, row.team, row.costPico])).toEqual([
      [UNMAPPED, UNMAPPED, 2_082_675_000n],
      ['search', 'search', 435_000_000n],
    ]);
    expect(report.rows.every((row) => row.identity === null && row.displayName === null)).toBe(true);
  });

  it('gives an APIM subscription whose id is a GUID one row, in whatever case its requests spell it', () => {
    const subscription = 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE';
    const lines = new ChargebackLines(new PriceMatcher(table));
    for (const subscriptionId of [subscription, subscription.toLowerCase()]) {
      lines.addEntry(ledgerEntry({ caller: noCaller, subscriptionId, tokens: { source: 'gateway', promptTokens: 10, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } }));
    }
    const report = chargebackReport(lines.list(), { groupBy: 'identity', directory, currency: 'USD' });
    expect(report.rows.map((row) => [row.key, row.requests])).toEqual([[subscription.toLowerCase(), 2]]);
  });

  it('looks identities up in the directory case-insensitively for GUIDs', () => {
    const upper = new ChargebackLines(new PriceMatcher(table));
    upper.addEntry(ledgerEntry({ caller: { ...alice, oid: alice.oid.toUpperCase() }, tokens: { source: 'gateway', promptTokens: 10, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } }));
    const report = chargebackReport(upper.list(), { groupBy: 'team', directory, currency: 'USD' });
    expect(report.rows.map((row) => row.key)).toEqual(['search']);
  });
});
