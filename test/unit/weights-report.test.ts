import { describe, expect, it } from 'vitest';
import { createWeightsTimerHandler } from '../../functions/handlers/weights.js';
import { matchedOutcome } from '../../src/domain/join.js';
import { buildTiles, rollUp, serializeTile } from '../../src/domain/latency-tile.js';
import { fireTimer } from '../../src/local/timer-runner.js';
import { storeWeights, storeWeightsUpTo, weightsReport } from '../../src/services/latency-report.js';
import { diagnosticRecord } from '../support/diagnostic-records.js';
import { hourTiles } from '../support/latency-tiles.js';
import { ledgerEntry } from '../support/ledger-entries.js';
import { MemoryAggregateStore } from '../support/memory-stores.js';

const DAY = '2026-10-20';
const WINDOW = { from: new Date(`${DAY}T00:00:00Z`), to: new Date(`${DAY}T06:00:00Z`) };

/** Two pool members, one slow and one fast. */
const BACKENDS = [
  { backendId: 'aoai-slow', region: 'japaneast', ms: 2_000 },
  { backendId: 'aoai-fast', region: 'swedencentral', ms: 200 },
];

/** The hours (`HH`) of the windows stored for a deployment, in order. */
function windowsOf(aggregates: MemoryAggregateStore, deployment: string): string[] {
  return [...aggregates.weights.values()].filter((w) => w.deployment === deployment).map((w) => w.windowEnd.slice(11, 13)).sort();
}

/** Hour tiles of one deployment behind two backends: `aoai-slow` answers in `slowMs`, `aoai-fast` in 200 ms. */
async function tiles(aggregates: MemoryAggregateStore, slowMs: number, hours: readonly number[]): Promise<void> {
  const backends = [
    { backendId: 'aoai-slow', region: 'japaneast', ms: slowMs },
    { backendId: 'aoai-fast', region: 'swedencentral', ms: 200 },
  ];
  await aggregates.upsertLatencyTiles(hourTiles(DAY, 'gpt-4o', backends, hours));
}

const weightOf = (recommendations: Awaited<ReturnType<typeof weightsReport>>, backendId: string) =>
  recommendations[0]!.weights.find((w) => w.backendId === backendId)!.weight;

describe('weights recommendations: computed by a timer, only read by the API', () => {
  it('answers a request without storing anything, and the same answer when asked again', async () => {
    const aggregates = new MemoryAggregateStore();
    await tiles(aggregates, 2_000, [0, 1, 2, 3, 4, 5]);
    const first = await weightsReport(aggregates, WINDOW);
    expect(aggregates.weights.size).toBe(0);
    expect(await weightsReport(aggregates, WINDOW)).toEqual(first);
    expect(weightOf(first, 'aoai-slow')).toBeLessThan(weightOf(first, 'aoai-fast'));
  });

  it('takes a backend that answered from two regions for one pool member, named by both regions, and the timer stores it', async () => {
    // One backend id in front of accounts in two regions (or a pool the policy forwards to): tiles of each region.
    const aggregates = new MemoryAggregateStore();
    const backends = [
      { backendId: 'aoai-pool', region: 'eastus', ms: 400 },
      { backendId: 'aoai-pool', region: 'swedencentral', ms: 500 },
      { backendId: 'aoai-single', region: 'japaneast', ms: 300 },
    ];
    await aggregates.upsertLatencyTiles(hourTiles(DAY, 'gpt-4o', backends, [0, 1, 2]));
    const [recommendation] = await weightsReport(aggregates, WINDOW);
    expect(recommendation!.weights.map((w) => [w.backendId, w.regionCode])).toEqual([
      ['aoai-pool', 'eastus+swedencentral'],
      ['aoai-single', 'japaneast'],
    ]);
    expect(await storeWeights(aggregates, WINDOW)).toBe(1);
  });

  it('keeps a member of the previous recommendation that served nothing in the window, scored at the pool median', async () => {
    // Drained to 0 earlier, or its circuit breaker open: without traffic it has no tile, and a template that left
    // it out would remove it from the pool for good.
    const aggregates = new MemoryAggregateStore();
    await aggregates.createWeights({ deployment: 'gpt-4o', windowEnd: `${DAY}T00:00:00.000Z`, weights: { 'aoai-fast': 50, 'aoai-slow': 50, 'aoai-drained': 0 }, basedOn: null });
    await tiles(aggregates, 2_000, [0, 1, 2, 3, 4, 5]);
    const [recommendation] = await weightsReport(aggregates, WINDOW);
    const drained = recommendation!.weights.find((w) => w.backendId === 'aoai-drained')!;
    expect(drained).toMatchObject({ healthy: true, regionCode: null });
    expect(drained.weight).toBeGreaterThan(0);
    expect(drained.reason).toMatch(/median/);
  });

  it('answers a window the timer stored with the stored weights, after late records rewrote one of its hours', async () => {
    const aggregates = new MemoryAggregateStore();
    const window = { from: new Date(`${DAY}T00:00:00Z`), to: new Date(`${DAY}T03:00:00Z`) };
    const even = [
      { backendId: 'aoai-a', region: 'eastus', ms: 400 },
      { backendId: 'aoai-b', region: 'swedencentral', ms: 400 },
    ];
    await aggregates.upsertLatencyTiles(hourTiles(DAY, 'gpt-4o', even, [0, 1, 2]));
    expect(await storeWeights(aggregates, window)).toBe(1);
    const stored = (await aggregates.latestWeights('gpt-4o', window.to.toISOString()))!;
    // Records of hour 2 arriving after the timer ran: aoai-b was slow then, and the rollup rewrites the tile.
    await aggregates.upsertLatencyTiles(hourTiles(DAY, 'gpt-4o', [{ backendId: 'aoai-b', region: 'swedencentral', ms: 4_000 }], [2]));
    const [answer] = await weightsReport(aggregates, window);
    expect(Object.fromEntries(answer!.weights.map((w) => [w.backendId, w.weight]))).toEqual(stored.weights);
    // Each reason ends with the weight shown beside it, after the one the tiles as they are now would give.
    for (const w of answer!.weights) expect(w.reason, w.backendId).toMatch(new RegExp(`; recomputed now: (?!${w.weight};)\\d+; stored for this window: weight ${w.weight}$`));
    expect(answer!.explanation).toMatch(/The weights are the ones stored for this window; records that arrived since changed its tiles/);
  });

  it('steps from the latest recommendation the timer stored before the window, and keeps each window in the history', async () => {
    const earlier = { from: new Date(`${DAY}T00:00:00Z`), to: new Date(`${DAY}T03:00:00Z`) };
    const later = { from: earlier.to, to: new Date(`${DAY}T06:00:00Z`) };
    // aoai-slow is slow in the earlier window and the fastest in the later one.
    const aggregates = new MemoryAggregateStore();
    await tiles(aggregates, 2_000, [0, 1, 2]);
    await tiles(aggregates, 50, [3, 4, 5]);
    expect(await storeWeights(aggregates, earlier)).toBe(1);
    const stored = (await aggregates.latestWeights('gpt-4o', later.to.toISOString()))!;
    const withoutHistory = new MemoryAggregateStore();
    await tiles(withoutHistory, 50, [3, 4, 5]);
    const unbounded = weightOf(await weightsReport(withoutHistory, later), 'aoai-slow');
    const stepped = await weightsReport(aggregates, later);
    const from = stored.weights['aoai-slow']!;
    expect(weightOf(stepped, 'aoai-slow')).toBeGreaterThan(from);
    expect(weightOf(stepped, 'aoai-slow')).toBeLessThan(unbounded);
    expect(await storeWeights(aggregates, later)).toBe(1);
    expect([...aggregates.weights.values()].map((w) => w.windowEnd).sort()).toEqual([earlier.to.toISOString(), later.to.toISOString()]);
    // Once the timer stored this window, the API's answer is the one it stored.
    expect(await weightsReport(aggregates, later)).toEqual(stepped);
    const latest = (await aggregates.latestWeights('gpt-4o', later.to.toISOString()))!;
    expect(latest.weights['aoai-slow']).toBe(weightOf(stepped, 'aoai-slow'));
  });

  it('stores one recommendation per window when two timer runs overlap', async () => {
    const aggregates = new MemoryAggregateStore();
    await tiles(aggregates, 2_000, Array.from({ length: 24 }, (_, h) => h));
    const clock = () => new Date(`${DAY}T23:59:00Z`);
    const handler = createWeightsTimerHandler(() => aggregates, clock);
    await Promise.all([fireTimer('weights', handler, clock()), fireTimer('weights', handler, clock())]);
    expect([...aggregates.weights.values()].map((w) => [w.deployment, w.windowEnd])).toEqual([['gpt-4o', `${DAY}T23:00:00.000Z`]]);
    expect(await storeWeights(aggregates, { from: new Date(`${DAY}T00:00:00Z`), to: new Date(`${DAY}T23:00:00Z`) })).toBe(0);
  });

  it('stores every hourly window missed while the app was down, in order, each stepping from the one before', async () => {
    const aggregates = new MemoryAggregateStore();
    await tiles(aggregates, 2_000, Array.from({ length: 13 }, (_, h) => h));
    let now = new Date(`${DAY}T10:10:00Z`);
    const logged: string[] = [];
    const handler = createWeightsTimerHandler(() => aggregates, () => now);
    await fireTimer('weights', handler, now);
    // Down from 10:30 to 13:05: the host runs the missed schedule once when the app is back (useMonitor).
    now = new Date(`${DAY}T13:05:00Z`);
    const reads: string[] = [];
    const counting = Object.assign(Object.create(aggregates) as MemoryAggregateStore, {
      listLatencyTiles: (...args: Parameters<MemoryAggregateStore['listLatencyTiles']>) => (reads.push(args[0]), aggregates.listLatencyTiles(...args)),
    });
    await fireTimer('weights', createWeightsTimerHandler(() => counting, () => now), now, (m) => logged.push(m));
    // The span of the catch-up and its four windows cover three days: each is read once.
    expect(reads.sort()).toEqual(['2026-10-18', '2026-10-19', '2026-10-20']);
    const stored = [...aggregates.weights.values()].sort((a, b) => (a.windowEnd < b.windowEnd ? -1 : 1));
    expect(stored.map((w) => w.windowEnd)).toEqual(['10', '11', '12', '13'].map((h) => `${DAY}T${h}:00:00.000Z`));
    stored.slice(1).forEach((w, i) => expect(w.basedOn).toEqual(stored[i]!.weights));
    expect(logged).toContain(`weights: 3 recommendations stored for the 24-hour windows ending ${DAY}T11:00:00.000Z to ${DAY}T13:00:00.000Z`);
    // A run of a window already stored stores nothing.
    await fireTimer('weights', handler, now);
    expect(aggregates.weights.size).toBe(4);
  });

  /**
   * gpt-4o served every hour from 00:00 to 12:00 and was last stored for the window ending `gpt4oLatest`; gpt-4.1 served
   * `gpt41Hours` and was last stored at `gpt41Latest`. The timer runs at 13:05, after the app was down.
   */
  async function afterDowntime(gpt41Hours: readonly number[], gpt41Latest: string, gpt4oLatest = '10') {
    const aggregates = new MemoryAggregateStore();
    await aggregates.upsertLatencyTiles([...hourTiles(DAY, 'gpt-4o', BACKENDS, Array.from({ length: 13 }, (_, h) => h)), ...hourTiles(DAY, 'gpt-4.1', BACKENDS, gpt41Hours)]);
    const weights = { 'aoai-fast': 50, 'aoai-slow': 50 };
    await aggregates.createWeights({ deployment: 'gpt-4o', windowEnd: `${DAY}T${gpt4oLatest}:00:00.000Z`, weights, basedOn: null });
    await aggregates.createWeights({ deployment: 'gpt-4.1', windowEnd: `${DAY}T${gpt41Latest}:00:00.000Z`, weights, basedOn: null });
    const now = new Date(`${DAY}T13:05:00Z`);
    await fireTimer('weights', createWeightsTimerHandler(() => aggregates, () => now), now);
    return (deployment: string) => windowsOf(aggregates, deployment);
  }

  it('catches up each deployment from its own latest window only, never behind a later one stored', async () => {
    const windowsOf = await afterDowntime(Array.from({ length: 13 }, (_, h) => h), '12');
    expect(windowsOf('gpt-4o')).toEqual(['10', '11', '12', '13']);
    expect(windowsOf('gpt-4.1')).toEqual(['12', '13']);
  });

  it('catches up a deployment whose traffic left the window ending now but not the windows missed', async () => {
    // gpt-4.1 served only at 11:00 and 12:00 the day before: in the 24-hour windows ending 11:00 and 12:00, not 13:00.
    const windowsOf = await afterDowntime([-13, -12], '10');
    expect(windowsOf('gpt-4.1')).toEqual(['10', '11', '12']);
    expect(windowsOf('gpt-4o')).toEqual(['10', '11', '12', '13']);
  });

  it('catches up a deployment whose traffic left the window ending now when no other deployment is behind', async () => {
    // gpt-4.1 served only at 11:00 and 12:00 the day before and was last stored at 10:00; gpt-4o is up to date.
    const windowsOf = await afterDowntime([-13, -12], '10', '13');
    expect(windowsOf('gpt-4.1')).toEqual(['10', '11', '12']);
  });

  it('stores every missed window of a drained deployment after a catch-up run is stopped at its time limit', async () => {
    const aggregates = new MemoryAggregateStore();
    // gpt-4o serves every hour; gpt-4o-mini served only at 11:00 and 12:00 the day before. Both last stored at 10:00.
    await aggregates.upsertLatencyTiles([...hourTiles(DAY, 'gpt-4o', BACKENDS, Array.from({ length: 14 }, (_, h) => h)), ...hourTiles(DAY, 'gpt-4o-mini', BACKENDS, [-13, -12])]);
    for (const deployment of ['gpt-4o', 'gpt-4o-mini']) await aggregates.createWeights({ deployment, windowEnd: `${DAY}T10:00:00.000Z`, weights: { 'aoai-fast': 50, 'aoai-slow': 50 }, basedOn: null });
    // The 13:05 run catches up from 11:00 and is stopped at gpt-4o-mini's first write (functionTimeout).
    const stopping = Object.assign(Object.create(aggregates) as MemoryAggregateStore, {
      createWeights: async (w: Parameters<MemoryAggregateStore['createWeights']>[0]) => {
        if (w.deployment === 'gpt-4o-mini') throw new Error('functionTimeout');
        return aggregates.createWeights(w);
      },
    });
    let now = new Date(`${DAY}T13:05:00Z`);
    await expect(fireTimer('weights', createWeightsTimerHandler(() => stopping, () => now), now)).rejects.toThrow('functionTimeout');
    for (const at of ['14:05', '15:05']) {
      now = new Date(`${DAY}T${at}:00Z`);
      await fireTimer('weights', createWeightsTimerHandler(() => aggregates, () => now), now);
    }
    expect(windowsOf(aggregates, 'gpt-4o')).toEqual(['10', '11', '12', '13', '14', '15']);
    expect(windowsOf(aggregates, 'gpt-4o-mini')).toEqual(['10', '11', '12']);
  });

  it('runs only the window ending now once every window with a drained deployment\'s traffic is stored', async () => {
    const aggregates = new MemoryAggregateStore();
    // gpt-4o serves every hour of three days; gpt-4o-mini served only at 00:00 of the first, then was drained.
    await aggregates.upsertLatencyTiles([...hourTiles(DAY, 'gpt-4o', BACKENDS, Array.from({ length: 60 }, (_, h) => h)), ...hourTiles(DAY, 'gpt-4o-mini', BACKENDS, [0])]);
    const windows: number[] = [];
    for (let h = 1; h <= 48; h++) windows.push((await storeWeightsUpTo(aggregates, new Date(Date.parse(`${DAY}T00:00:00Z`) + h * 3_600_000), 24)).windows);
    expect([...aggregates.weights.values()].filter((w) => w.deployment === 'gpt-4o-mini')).toHaveLength(24);
    expect(windows).toEqual(windows.map(() => 1));
  });
});

describe('weights recommendations: pool members', () => {
  it('counts each deployment’s records for the backend the gateway routed that deployment to, when one account sits behind a backend per deployment', async () => {
    // aoai-eastus answers gpt-4o behind chat-eastus (30 requests) and text-embedding behind embed-eastus (25); the same in swedencentral.
    const HOUR = '2026-03-10T09';
    const records = [];
    const entries = [];
    let n = 0;
    for (const [account, region, backendId, deployment, count, ms] of [
      ['aoai-eastus', 'eastus', 'chat-eastus', 'gpt-4o', 30, 800],
      ['aoai-eastus', 'eastus', 'embed-eastus', 'text-embedding', 25, 80],
      ['aoai-sweden', 'swedencentral', 'chat-sweden', 'gpt-4o', 30, 900],
      ['aoai-sweden', 'swedencentral', 'embed-sweden', 'text-embedding', 25, 90],
    ] as const) {
      for (let i = 0; i < count; i++) {
        const id = `req-${++n}`;
        const minute = String(n % 50).padStart(2, '0');
        const record = diagnosticRecord({ correlationId: id, time: `${HOUR}:${minute}:30.000Z`, account, regionCode: region, modelDeploymentName: deployment, durationMs: ms + i });
        records.push(record);
        entries.push(
          ledgerEntry({
            id,
            apimRequestId: id,
            gatewayRequestId: `gw-${n}`,
            time: `${HOUR}:${minute}:00.000Z`,
            deployment,
            gateway: { service: 'apim', regionCode: 'westeurope', backendId },
            backendRegion: region,
            tokens: { source: 'gateway', promptTokens: 10, cachedTokens: 0, completionTokens: 100, reasoningTokens: 0 },
            diagnostics: matchedOutcome(record),
          }),
        );
      }
    }
    const aggregates = new MemoryAggregateStore();
    await aggregates.upsertLatencyTiles(rollUp(buildTiles({ records, entries }, '5m'), 'hour').map(serializeTile));
    const recommendations = await weightsReport(aggregates, { from: new Date(`${HOUR}:00:00Z`), to: new Date(`2026-03-10T10:00:00Z`) });
    const members = Object.fromEntries(recommendations.map((r) => [r.deployment, r.weights.map((w) => w.backendId)]));
    expect(members).toEqual({ 'gpt-4o': ['chat-eastus', 'chat-sweden'], 'text-embedding': ['embed-eastus', 'embed-sweden'] });
  });

  it('answers every deployment when one’s events name more backends than any pool takes (a value per request)', async () => {
    const aggregates = new MemoryAggregateStore();
    await tiles(aggregates, 2_000, [0]);
    const many = Array.from({ length: 150 }, (_, i) => ({ backendId: `aoai-${String(i).padStart(3, '0')}`, region: 'eastus', ms: 300 + i }));
    await aggregates.upsertLatencyTiles(hourTiles(DAY, 'gpt-4o-mini', many, [0]));
    const recommendations = await weightsReport(aggregates, { from: WINDOW.from, to: new Date(`${DAY}T01:00:00Z`) });
    expect(recommendations.map((r) => [r.deployment, r.weights.length, r.weights.reduce((sum, w) => sum + w.weight, 0)])).toEqual([
      ['gpt-4o', 2, 100],
      ['gpt-4o-mini', 150, 100],
    ]);
  });
});
