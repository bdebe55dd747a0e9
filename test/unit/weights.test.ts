import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  APIM_BACKENDS_API_VERSION,
  apimBackendPoolSchema,
  poolMemberId,
  toBackendPool,
  toBicepSnippet,
  toWeightsTable,
} from '../../src/contracts/apim-backend-pool.js';
import { addObservation, buildTiles, emptyTile, observationFromRecord, rollUp, tileKey, UNKNOWN_BACKEND } from '../../src/domain/latency-tile.js';
import { backendStatsFromTile, largestRemainder, recommendWeights, type BackendStats, type WeightsRecommendation } from '../../src/domain/weights.js';
import { BACKENDS } from '../../src/simulator/population.js';
import { simulatedSources } from '../support/simulated-sources.js';

/** Per-backend statistics shaped like the simulator's regions: ms per output token from its speed, its 429 and 5xx rates. */
function simulatedStats(overrides: Partial<Record<string, Partial<BackendStats>>> = {}): BackendStats[] {
  return BACKENDS.map((b) => ({
    backendId: b.backendId,
    regionCode: b.regionCode,
    requests: b.weight * 100,
    msPerOutputToken: { p50Ms: b.msPer100Tokens / 100 + b.baseMs / 250, p95Ms: (b.msPer100Tokens / 100 + b.baseMs / 250) * 1.6 },
    ttftMs: { p50Ms: b.baseMs, p95Ms: b.baseMs * 1.7 },
    serviceMs: { p50Ms: b.baseMs + 2.2 * b.msPer100Tokens, p95Ms: (b.baseMs + 2.2 * b.msPer100Tokens) * 2.5 },
    throttleRate: b.throttleRate,
    errorRate: b.errorRate,
    ...overrides[b.backendId],
  }));
}

function weightOf(rec: WeightsRecommendation, backendId: string): number {
  return rec.weights.find((w) => w.backendId === backendId)!.weight;
}

function sum(rec: WeightsRecommendation): number {
  return rec.weights.reduce((total, w) => total + w.weight, 0);
}

function stats(backendId: string, overrides: Partial<BackendStats> = {}): BackendStats {
  return {
    backendId,
    regionCode: null,
    requests: 1000,
    msPerOutputToken: { p50Ms: 10, p95Ms: 16 },
    ttftMs: { p50Ms: 300, p95Ms: 500 },
    serviceMs: { p50Ms: 2000, p95Ms: 5000 },
    throttleRate: 0.01,
    errorRate: 0.002,
    ...overrides,
  };
}

describe('recommendWeights: the simulator’s regions', () => {
  const rec = recommendWeights({ deployment: 'gpt-4o-prod', backends: simulatedStats() });

  it('sums to 100 in integers, priority 1, and gives the slow region the lowest weight', () => {
    expect(sum(rec)).toBe(100);
    for (const w of rec.weights) {
      expect(Number.isInteger(w.weight)).toBe(true);
      expect(w.priority).toBe(1);
      expect(w.reason).not.toMatch(/\n/);
    }
    const lowest = [...rec.weights].sort((a, b) => a.weight - b.weight)[0]!;
    expect(lowest.backendId).toBe('aoai-japaneast');
    expect(rec.basis).toBe('ms-per-output-token');
    expect(rec.explanation).toMatch(/score = \(1 \/ normalised latency\) × \(1 − 429 rate\)² × \(1 − 5xx rate\)/);
  });

  it('gives the region with 30 % 429s less than an otherwise identical healthy region', () => {
    const france = simulatedStats().find((s) => s.backendId === 'aoai-francecentral')!;
    const pool = recommendWeights({
      deployment: 'gpt-4o-prod',
      backends: [france, { ...france, backendId: 'aoai-francecentral-twin', throttleRate: 0.01 }],
    });
    expect(weightOf(pool, 'aoai-francecentral')).toBeLessThan(weightOf(pool, 'aoai-francecentral-twin'));
    expect(sum(pool)).toBe(100);
    // In the four-region pool it also gets less than sweden central, which is barely faster.
    expect(weightOf(rec, 'aoai-francecentral')).toBeLessThan(weightOf(rec, 'aoai-swedencentral'));
  });

  it('explains each weight in one line', () => {
    const japan = rec.weights.find((w) => w.backendId === 'aoai-japaneast')!;
    expect(japan.reason).toMatch(/^ms\/output token p50 \d/);
    expect(japan.reason).toMatch(/429s 1\.5 %, 5xx 1\.0 %; score \d\.\d{3} → target \d/);
    expect(japan.reason).toMatch(new RegExp(`weight ${japan.weight}$`));
  });

  it('does not depend on the order of the input', () => {
    const reversed = recommendWeights({ deployment: 'gpt-4o-prod', backends: simulatedStats().reverse() });
    expect(reversed).toEqual(rec);
  });
});

describe('recommendWeights: from a simulated day’s latency tiles', () => {
  it('gives japaneast the lowest weight and francecentral less than its speed alone would earn', () => {
    const { records, entries } = simulatedSources({ requests: 3000, seed: 42, day: '2026-11-21' });
    const tiles = rollUp(buildTiles({ records, entries }), 'day').filter((t) => t.key.deployment === 'gpt-4o-prod');
    const backends = tiles.filter((t) => t.key.backendId !== UNKNOWN_BACKEND).map((tile) => backendStatsFromTile(tile.key.backendId, tile));
    expect(backends.map((b) => b.backendId).sort()).toEqual(BACKENDS.map((b) => b.backendId).sort());
    const rec = recommendWeights({ deployment: 'gpt-4o-prod', backends });
    expect(rec.basis).toBe('ms-per-output-token');
    expect(sum(rec)).toBe(100);
    expect([...rec.weights].sort((a, b) => a.weight - b.weight)[0]!.backendId).toBe('aoai-japaneast');
    // Two accounts in East US stay two pool members, each with its region.
    expect(rec.weights.filter((w) => w.regionCode === 'eastus').map((w) => w.backendId)).toEqual(['aoai-eastus', 'aoai-eastus-2']);
    const france = backends.find((b) => b.backendId === 'aoai-francecentral')!;
    expect(france.throttleRate).toBeGreaterThan(0.2);
    const unthrottled = recommendWeights({ deployment: 'gpt-4o-prod', backends: backends.map((b) => (b === france ? { ...b, throttleRate: 0.01 } : b)) });
    expect(weightOf(rec, 'aoai-francecentral')).toBeLessThan(weightOf(unthrottled, 'aoai-francecentral'));
  });
});

describe('recommendWeights: rules', () => {
  it('keeps the token-normalised basis when one backend answered only 429s and so is timed on no basis', () => {
    // aoai-long serves long answers: slower in DurationMs, faster per output token.
    const measured = [
      stats('aoai-long', { ttftMs: null, throttleRate: 0, msPerOutputToken: { p50Ms: 10, p95Ms: 14 }, serviceMs: { p50Ms: 6_000, p95Ms: 9_000 } }),
      stats('aoai-short', { ttftMs: null, throttleRate: 0, msPerOutputToken: { p50Ms: 30, p95Ms: 42 }, serviceMs: { p50Ms: 1_500, p95Ms: 2_500 } }),
    ];
    const throttled = stats('aoai-throttled', { ttftMs: null, msPerOutputToken: null, serviceMs: null, throttleRate: 1 });
    const pool = recommendWeights({ deployment: 'gpt-4o', backends: [...measured, throttled] });
    expect(pool.basis).toBe('ms-per-output-token');
    expect(weightOf(pool, 'aoai-long')).toBeGreaterThan(weightOf(pool, 'aoai-short'));
  });

  it('honours the minimum share for a very slow backend', () => {
    const backends = [stats('fast'), stats('fast-2'), stats('slow', { msPerOutputToken: { p50Ms: 1000, p95Ms: 1600 } })];
    expect(weightOf(recommendWeights({ deployment: 'd', backends }), 'slow')).toBe(5);
    expect(weightOf(recommendWeights({ deployment: 'd', backends }, { minSharePct: 12 }), 'slow')).toBe(12);
    const minimum = recommendWeights({ deployment: 'd', backends }, { minSharePct: 0 });
    expect(weightOf(minimum, 'slow')).toBe(1);
    expect(recommendWeights({ deployment: 'd', backends }).weights.find((w) => w.backendId === 'slow')!.reason).toMatch(/the 5 % minimum share/);
  });

  it('caps the minimum share so every healthy backend fits', () => {
    const backends = Array.from({ length: 30 }, (_, i) => stats(`b${String(i).padStart(2, '0')}`, i === 0 ? { msPerOutputToken: { p50Ms: 1, p95Ms: 1 } } : {}));
    const rec = recommendWeights({ deployment: 'd', backends }, { minSharePct: 10 });
    expect(sum(rec)).toBe(100);
    expect(Math.min(...rec.weights.map((w) => w.weight))).toBe(3);
    expect(rec.explanation).toMatch(/Minimum share per healthy backend: 3 % \(10 % requested/);
  });

  it('drains an unhealthy backend to 0 — at most maxStepPct per run when a previous recommendation exists', () => {
    const backends = [stats('a'), stats('b'), stats('broken', { errorRate: 0.4 })];
    const first = recommendWeights({ deployment: 'd', backends });
    expect(weightOf(first, 'broken')).toBe(0);
    expect(first.weights.find((w) => w.backendId === 'broken')!.reason).toMatch(/^unhealthy: 5xx rate 40\.0 % > 20\.0 %/);
    const stepped = recommendWeights({ deployment: 'd', backends, previous: { a: 30, b: 30, broken: 40 } });
    expect(weightOf(stepped, 'broken')).toBe(20);
    expect(sum(stepped)).toBe(100);
    const next = recommendWeights({ deployment: 'd', backends, previous: Object.fromEntries(stepped.weights.map((w) => [w.backendId, w.weight])) });
    expect(weightOf(next, 'broken')).toBe(0);
  });

  it('never zeroes a healthy backend and excludes no one when every backend is unhealthy', () => {
    const all = recommendWeights({ deployment: 'd', backends: [stats('a', { errorRate: 0.5 }), stats('b', { errorRate: 0.6 })] });
    expect(all.weights.every((w) => w.weight > 0)).toBe(true);
    expect(all.explanation).toMatch(/none is excluded/);
  });

  it('scores a backend with too few requests at the pool median instead of judging it', () => {
    const rec = recommendWeights({
      deployment: 'd',
      backends: [stats('a'), stats('b', { msPerOutputToken: { p50Ms: 20, p95Ms: 32 } }), stats('new', { requests: 3, errorRate: 1, msPerOutputToken: null, serviceMs: null, ttftMs: null })],
    });
    const fresh = rec.weights.find((w) => w.backendId === 'new')!;
    expect(fresh.healthy).toBe(true);
    expect(fresh.reason).toMatch(/^3 requests \(< 20\): scored at the pool median/);
    expect(fresh.weight).toBeGreaterThan(weightOf(rec, 'b') - 1);
    expect(fresh.weight).toBeLessThan(weightOf(rec, 'a'));
  });

  it('falls back to raw service latency when token counts are not known, and says so', () => {
    const backends = simulatedStats(Object.fromEntries(BACKENDS.map((b) => [b.backendId, { msPerOutputToken: null, ttftMs: null }])));
    const rec = recommendWeights({ deployment: 'embeddings', backends });
    expect(rec.basis).toBe('service-latency');
    expect(rec.explanation).toMatch(/No token counts known .*raw service latency \(DurationMs/);
    expect(rec.weights.every((w) => w.reason.startsWith('service ms p50 '))).toBe(true);
    expect([...rec.weights].sort((a, b) => a.weight - b.weight)[0]!.backendId).toBe('aoai-japaneast');
    // One backend without token figures is enough: the pool compares like with like.
    const mixed = recommendWeights({ deployment: 'd', backends: simulatedStats({ 'aoai-eastus': { msPerOutputToken: null, ttftMs: null } }) });
    expect(mixed.basis).toBe('service-latency');
  });

  it('uses time to first token for a streaming pool', () => {
    const rec = recommendWeights({ deployment: 'd', streaming: true, backends: simulatedStats() });
    expect(rec.basis).toBe('ttft');
    expect(rec.explanation).toMatch(/time to first token/);
  });

  it('reads relative previous weights as percentages and ignores the step limit when they do not cover the pool', () => {
    const backends = [stats('a'), stats('b', { msPerOutputToken: { p50Ms: 40, p95Ms: 64 } })];
    const relative = recommendWeights({ deployment: 'd', backends, previous: { a: 1, b: 3 } });
    expect(relative.stepLimited).toBe(true);
    expect(relative.weights.map((w) => w.previousWeight)).toEqual([25, 75]);
    expect(weightOf(relative, 'a')).toBe(45);
    expect(relative.weights.find((w) => w.backendId === 'a')!.reason).toMatch(/held to \+20 points from the previous 25/);
    const partial = recommendWeights({ deployment: 'd', backends, previous: { a: 50, gone: 50 } });
    expect(partial.stepLimited).toBe(false);
    expect(partial.explanation).toMatch(/Step limit not applied: the previous recommendation lacks b\./);
  });

  it('converges to the unconstrained recommendation in steps of at most maxStepPct', () => {
    const backends = simulatedStats();
    const target = recommendWeights({ deployment: 'd', backends });
    let previous: Record<string, number> = Object.fromEntries(BACKENDS.map((b) => [b.backendId, b.backendId === 'aoai-japaneast' ? 100 : 0]));
    let runs = 0;
    for (; runs < 10; runs++) {
      const rec = recommendWeights({ deployment: 'd', backends, previous });
      for (const w of rec.weights) expect(Math.abs(w.weight - previous[w.backendId]!)).toBeLessThanOrEqual(20);
      previous = Object.fromEntries(rec.weights.map((w) => [w.backendId, w.weight]));
      if (rec.weights.every((w) => w.weight === weightOf(target, w.backendId))) break;
    }
    expect(runs).toBeLessThan(10);
  });

  it('validates options and input', () => {
    const backends = [stats('a')];
    expect(() => recommendWeights({ deployment: 'd', backends }, { minSharePct: -1 })).toThrow();
    expect(() => recommendWeights({ deployment: 'd', backends }, { maxStepPct: 0 })).toThrow();
    expect(() => recommendWeights({ deployment: 'd', backends }, { minSharePct: 2.5 })).toThrow();
    expect(() => recommendWeights({ deployment: 'd', backends }, { unknownOption: 1 } as never)).toThrow();
    expect(() => recommendWeights({ deployment: 'd', backends: [stats('a'), stats('a')] })).toThrow(/unique/);
    expect(() => recommendWeights({ deployment: 'd', backends: [] })).toThrow();
    expect(() => recommendWeights({ deployment: 'd', backends: [stats('a', { throttleRate: 1.5 })] })).toThrow();
    expect(recommendWeights({ deployment: 'd', backends }).weights[0]!.weight).toBe(100);
  });

  it('reads its statistics from a latency tile', () => {
    const tile = emptyTile(tileKey('eastus', 'gpt-4o-prod', '2026-11-21T00:00:00.000Z', 'day'));
    const add = (status: number, durationMs: number) =>
      addObservation(tile, observationFromRecord({ time: '2026-11-21T08:00:00.000Z', account: 'contoso-aoai-eastus', regionCode: 'eastus', modelDeploymentName: 'gpt-4o-prod', status, durationMs })!);
    for (let i = 0; i < 90; i++) add(200, 1000 + i * 10);
    for (let i = 0; i < 8; i++) add(429, 10);
    for (let i = 0; i < 2; i++) add(503, 20);
    const s = backendStatsFromTile('aoai-eastus', tile);
    expect(s).toMatchObject({ backendId: 'aoai-eastus', regionCode: 'eastus', requests: 100, throttleRate: 0.08, errorRate: 0.02, msPerOutputToken: null, ttftMs: null });
    expect(s.serviceMs!.p50Ms).toBeGreaterThan(1400);
    expect(s.serviceMs!.p50Ms).toBeLessThan(1480);
  });
});

describe('recommendWeights: properties', () => {
  const quantiles = fc.option(
    fc.tuple(fc.double({ min: 0, max: 1e4, noNaN: true }), fc.double({ min: 1, max: 3, noNaN: true })).map(([p50, spread]) => ({ p50Ms: p50, p95Ms: p50 * spread })),
    { nil: null },
  );
  const backendStats = fc.record({
    requests: fc.integer({ min: 0, max: 10_000 }),
    msPerOutputToken: quantiles,
    ttftMs: quantiles,
    serviceMs: quantiles,
    throttleRate: fc.double({ min: 0, max: 1, noNaN: true }),
    errorRate: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
  });
  const scenario = fc
    .array(backendStats, { minLength: 1, maxLength: 8 })
    .chain((list) =>
      fc.record({
        backends: fc.constant(list.map((s, i) => ({ ...s, backendId: `b${i}`, regionCode: null }))),
        previous: fc.option(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: list.length, maxLength: list.length }), { nil: null }),
        streaming: fc.boolean(),
        options: fc.record({
          minSharePct: fc.integer({ min: 0, max: 50 }),
          maxStepPct: fc.integer({ min: 1, max: 100 }),
          unhealthyErrorRate: fc.double({ min: 0, max: 1, noNaN: true }),
          minRequests: fc.integer({ min: 0, max: 100 }),
        }),
      }),
    );

  it('sums to 100, integer weights 0–100, and no weight moves more than maxStepPct from the previous recommendation', () => {
    fc.assert(
      fc.property(scenario, ({ backends, previous, streaming, options }) => {
        const prev = previous && previous.some((w) => w > 0) ? Object.fromEntries(previous.map((w, i) => [`b${i}`, w])) : null;
        const rec = recommendWeights({ deployment: 'd', backends, previous: prev, streaming }, options);
        expect(sum(rec)).toBe(100);
        for (const w of rec.weights) {
          expect(Number.isInteger(w.weight)).toBe(true);
          expect(w.weight).toBeGreaterThanOrEqual(0);
          expect(w.weight).toBeLessThanOrEqual(100);
        }
        if (prev) {
          expect(rec.stepLimited).toBe(true);
          for (const w of rec.weights) expect(Math.abs(w.weight - w.previousWeight!)).toBeLessThanOrEqual(options.maxStepPct);
        } else {
          // Without a step limit: 0 only for unhealthy backends, and every healthy one keeps its minimum share.
          const healthy = rec.weights.filter((w) => w.healthy);
          const floor = Math.max(1, Math.min(options.minSharePct, Math.floor(100 / healthy.length)));
          for (const w of rec.weights) expect(w.healthy ? w.weight >= floor : w.weight === 0).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('keeps every step within maxStepPct over a sequence of runs with changing statistics', () => {
    fc.assert(
      fc.property(fc.array(scenario, { minLength: 2, maxLength: 6 }), fc.integer({ min: 1, max: 40 }), (runs, maxStepPct) => {
        const size = runs[0]!.backends.length;
        let previous: Record<string, number> | null = null;
        for (const run of runs) {
          const backends = Array.from({ length: size }, (_, i) => ({ ...(run.backends[i % run.backends.length]!), backendId: `b${i}` }));
          const rec = recommendWeights({ deployment: 'd', backends, previous }, { ...run.options, maxStepPct });
          expect(sum(rec)).toBe(100);
          if (previous) for (const w of rec.weights) expect(Math.abs(w.weight - previous[w.backendId]!)).toBeLessThanOrEqual(maxStepPct);
          previous = Object.fromEntries(rec.weights.map((w) => [w.backendId, w.weight]));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('rounds by largest remainder to the exact total, ties to the lower index', () => {
    expect(largestRemainder([33.4, 33.3, 33.3], 100)).toEqual([34, 33, 33]);
    expect(largestRemainder([50.5, 49.5], 100)).toEqual([51, 49]);
    expect(largestRemainder([100 / 3, 100 / 3, 100 / 3], 100)).toEqual([34, 33, 33]);
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 1, maxLength: 20 }), (raw) => {
        const total = raw.reduce((a, b) => a + b, 0);
        if (total === 0) return;
        const scaled = raw.map((v) => (v * 100) / total);
        const rounded = largestRemainder(scaled, 100);
        expect(rounded.reduce((a, b) => a + b, 0)).toBe(100);
        rounded.forEach((r, i) => expect(Math.abs(r - scaled[i]!)).toBeLessThan(1));
      }),
    );
  });
});

describe('APIM backend pool', () => {
  const rec = recommendWeights({ deployment: 'gpt-4o-prod', backends: simulatedStats() });

  it('renders ARM JSON that validates against the schema', () => {
    const pool = toBackendPool('aoai-gpt-4o-prod-pool', rec.weights, { apimServiceName: 'contoso-ai-gateway', description: rec.explanation });
    expect(apimBackendPoolSchema.parse(JSON.parse(JSON.stringify(pool)))).toEqual(pool);
    expect(pool).toMatchObject({ type: 'Microsoft.ApiManagement/service/backends', apiVersion: APIM_BACKENDS_API_VERSION, name: 'contoso-ai-gateway/aoai-gpt-4o-prod-pool' });
    expect(pool.properties.type).toBe('Pool');
    expect(pool.properties.pool.services).toEqual(rec.weights.map((w) => ({ id: `/backends/${w.backendId}`, priority: 1, weight: w.weight })));
  });

  it('accepts short and full backend ids and refuses shapes ARM would refuse', () => {
    const full = '/subscriptions/6f1c2b7e-3d4a-4b8e-9c0d-1a2b3c4d5e6f/resourceGroups/rg-ai/providers/Microsoft.ApiManagement/service/contoso-ai-gateway/backends/aoai-eastus';
    expect(poolMemberId(full)).toBe(full);
    expect(poolMemberId('/backends/aoai-eastus')).toBe('/backends/aoai-eastus');
    expect(poolMemberId('aoai-eastus')).toBe('/backends/aoai-eastus');
    expect(() => poolMemberId('a/b')).toThrow(/not an APIM backend/);
    const valid = toBackendPool('pool', [{ backendId: full, weight: 60 }, { backendId: 'aoai-japaneast', weight: 40 }]);
    const withServices = (services: unknown[]) => ({ ...valid, properties: { ...valid.properties, pool: { services } } });
    expect(apimBackendPoolSchema.safeParse(withServices([{ id: '/backends/a', priority: 1, weight: 101 }])).success).toBe(false);
    expect(apimBackendPoolSchema.safeParse(withServices([{ id: '/backends/a', priority: 1, weight: 2.5 }])).success).toBe(false);
    expect(apimBackendPoolSchema.safeParse(withServices([{ id: '/backends/a', priority: 101, weight: 1 }])).success).toBe(false);
    expect(apimBackendPoolSchema.safeParse(withServices([{ id: 'aoai-eastus', priority: 1, weight: 1 }])).success).toBe(false);
    expect(apimBackendPoolSchema.safeParse(withServices([{ id: '/backends/a', priority: 1, weight: 0 }])).success).toBe(false);
    expect(apimBackendPoolSchema.safeParse(withServices([])).success).toBe(false);
    expect(apimBackendPoolSchema.safeParse(withServices([{ id: '/backends/a', priority: 1, weight: 1 }, { id: '/backends/A', priority: 1, weight: 1 }])).success).toBe(false);
    expect(apimBackendPoolSchema.safeParse({ ...valid, properties: { ...valid.properties, type: 'Single' } }).success).toBe(false);
    expect(() => toBackendPool('pool', [{ backendId: 'a', weight: 0 }])).toThrow();
  });

  it('renders a Bicep resource block with escaped strings and a reason per member', () => {
    const bicep = toBicepSnippet('aoai-gpt-4o-prod-pool', rec.weights, { description: "Tuned by TokenLedger's weights" });
    const lines = bicep.split('\n');
    expect(lines[0]).toBe("resource aoaiGpt4oProdPool 'Microsoft.ApiManagement/service/backends@2024-05-01' = {");
    expect(lines).toContain('  parent: apim');
    expect(lines).toContain("  name: 'aoai-gpt-4o-prod-pool'");
    expect(lines).toContain("    description: 'Tuned by TokenLedger\\'s weights'");
    expect(lines).toContain("    type: 'Pool'");
    for (const w of rec.weights) {
      expect(lines).toContain(`          id: '/backends/${w.backendId}'`);
      expect(bicep).toContain(`// ${w.backendId}: ${w.reason}`);
    }
    expect(lines.filter((l) => l.trim().startsWith('weight:')).map((l) => Number(l.split(':')[1]))).toEqual(rec.weights.map((w) => w.weight));
    expect(lines.at(-1)).toBe('}');
    expect(toBicepSnippet('p', [{ backendId: 'a', weight: 100 }], { description: 'costs ${x}' })).toContain("description: 'costs \\${x}'");
    expect(() => toBicepSnippet('p', [{ backendId: 'a', weight: 100 }], { parentSymbol: 'not valid' })).toThrow(/Bicep identifier/);
  });

  it('renders an aligned table, header first', () => {
    const rows = toWeightsTable(rec.weights);
    expect(rows).toHaveLength(rec.weights.length + 1);
    expect(rows[0]).toMatch(/^backend\s+region\s+weight\s+priority\s+reason$/);
    const weightColumnEnd = rows[0]!.indexOf('weight') + 'weight'.length;
    rec.weights.forEach((w, i) => {
      const row = rows[i + 1]!;
      expect(row.startsWith(w.backendId)).toBe(true);
      expect(row.slice(0, weightColumnEnd).trimEnd().endsWith(` ${w.weight}`)).toBe(true);
      expect(row.endsWith(w.reason)).toBe(true);
    });
  });
});
