import { describe, expect, it } from 'vitest';
import type { LatencyTileDocument } from '../../src/contracts/latency-tile-document.js';
import { DEFAULT_OPERATIONS_HOURS } from '../../src/contracts/report-query.js';
import type { StoredWeights } from '../../src/contracts/stored-weights.js';
import { latencyReport, storeWeightsUpTo } from '../../src/services/latency-report.js';
import { hourTiles } from '../support/latency-tiles.js';
import { MemoryAggregateStore } from '../support/memory-stores.js';

/** Counts what the latency services read from the store: tiles listed and stored recommendations asked for. */
class CountingAggregateStore extends MemoryAggregateStore {
  tilesRead = 0;
  latestWeightsCalls = 0;
  override async listLatencyTiles(...args: Parameters<MemoryAggregateStore['listLatencyTiles']>): Promise<LatencyTileDocument[]> {
    const tiles = await super.listLatencyTiles(...args);
    this.tilesRead += tiles.length;
    return tiles;
  }
  override async latestWeights(...args: Parameters<MemoryAggregateStore['latestWeights']>): Promise<StoredWeights | null> {
    this.latestWeightsCalls++;
    return super.latestWeights(...args);
  }
}

const pool = (deployment: string) => [
  { backendId: `${deployment}-eastus`, region: 'eastus', ms: 100 },
  { backendId: `${deployment}-swedencentral`, region: 'swedencentral', ms: 140 },
];
const deploymentsNamed = (count: number) => Array.from({ length: count }, (_, i) => `dep-${String(i).padStart(3, '0')}`);
const ALL_HOURS = Array.from({ length: 24 }, (_, h) => h);

describe('reads of the latency services at many deployments', () => {
  it("reads one deployment's tiles for its latency report, not every deployment's", async () => {
    const store = new CountingAggregateStore();
    for (const deployment of deploymentsNamed(100)) await store.upsertLatencyTiles(hourTiles('2026-11-20', deployment, pool(deployment), ALL_HOURS));
    const report = await latencyReport(store, { from: new Date('2026-11-20T00:00:00Z'), to: new Date('2026-11-21T00:00:00Z'), deployment: 'dep-007' });
    expect(report.rows.map((r) => r.region)).toEqual(['eastus', 'swedencentral']);
    expect(store.tilesRead).toBe(24 * 2);
  });

  it("reads each deployment's stored recommendation once a run when the weights timer stores a day of missed windows", async () => {
    const store = new CountingAggregateStore();
    const to = new Date('2026-12-01T00:00:00.000Z');
    const deployments = deploymentsNamed(40);
    for (const deployment of deployments) {
      for (const day of ['2026-11-29', '2026-11-30']) await store.upsertLatencyTiles(hourTiles(day, deployment, pool(deployment), ALL_HOURS));
      // The last run before the app went down: a day ago.
      const [a, b] = pool(deployment);
      await store.createWeights({ deployment, windowEnd: new Date(to.getTime() - 24 * 3_600_000).toISOString(), weights: { [a!.backendId]: 50, [b!.backendId]: 50 }, basedOn: null });
    }
    store.latestWeightsCalls = 0;
    const { windows, stored } = await storeWeightsUpTo(store, to, DEFAULT_OPERATIONS_HOURS);
    expect({ windows, stored }).toEqual({ windows: 24, stored: deployments.length * 24 });
    expect(store.latestWeightsCalls).toBe(deployments.length);
    // Each window stepped from the one stored just before it.
    const last = await store.latestWeights('dep-000', to.toISOString());
    expect(last?.windowEnd).toBe(to.toISOString());
    expect(last?.basedOn).toEqual((await store.latestWeights('dep-000', new Date(to.getTime() - 3_600_000).toISOString()))?.weights);
  });
});
