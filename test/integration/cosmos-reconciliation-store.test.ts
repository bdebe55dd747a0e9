import type { Container } from '@azure/cosmos';
import { beforeAll, describe, expect, it } from 'vitest';
import { CosmosReconciliationStore } from '../../src/adapters/cosmos/cosmos-reconciliation-store.js';
import { runKey } from '../../src/domain/run-order.js';
import { stableId } from '../../src/domain/stable-id.js';
import { storeHourResults } from '../../src/services/reconcile-windows.js';
import { requestsResult } from '../support/check-results.js';
import { useLocalCosmos } from '../support/local-cosmos.js';
import { pausedAt } from '../support/paused-calls.js';

const DAY = { from: new Date('2026-10-15T00:00:00Z'), to: new Date('2026-10-16T00:00:00Z') };

describe('the Cosmos DB reconciliation store on the local Cosmos DB server', () => {
  const client = useLocalCosmos();
  let container: Container;
  let store: CosmosReconciliationStore;
  beforeAll(async () => {
    const { database } = await client().databases.createIfNotExists({ id: 'reconciliation' });
    ({ container } = await database.containers.createIfNotExists({ id: 'aggregates', partitionKey: { paths: ['/pk'] } }));
    store = new CosmosReconciliationStore(container);
  });

  it('reads results stored before runs had keys as they were, until a run stores their hour and removes them', async () => {
    const legacy = requestsResult('2026-10-15T01', 'gpt-4o', 7);
    await container.items.create({ ...legacy, id: `recon-${stableId(legacy.check, legacy.window, legacy.deployment)}`, pk: 'recon:2026-10-15', kind: 'reconciliation' });
    expect(await store.listResults(DAY)).toEqual([legacy]);

    expect(await storeHourResults(store, '2026-10-15T01', runKey(new Date('2026-10-15T04:00:00Z'), 'a'), [requestsResult('2026-10-15T01', 'gpt-4o', 8)])).toBe(true);
    expect(await store.listResults(DAY)).toEqual([requestsResult('2026-10-15T01', 'gpt-4o', 8)]);
    const { resources } = await container.items.query({ query: "SELECT VALUE COUNT(1) FROM c WHERE c.kind = 'reconciliation'" }).fetchAll();
    expect(resources).toEqual([1]);
  });

  it('refuses to answer an hour whose named run has lost results, rather than answer part of it', async () => {
    const hour = '2026-10-16T03';
    expect(await storeHourResults(store, hour, runKey(new Date('2026-10-16T06:00:00Z'), 'a'), [requestsResult(hour, 'gpt-4o', 1), requestsResult(hour, 'gpt-35', 2)])).toBe(true);
    const nextDay = { from: new Date('2026-10-16T00:00:00Z'), to: new Date('2026-10-17T00:00:00Z') };
    expect(await store.listResults(nextDay)).toHaveLength(2);
    const { resources } = await container.items.query<{ id: string; pk: string }>({ query: "SELECT c.id, c.pk FROM c WHERE c.kind = 'reconciliation' AND c.window = '2026-10-16T03' AND c.deployment = 'gpt-35'" }).fetchAll();
    await container.item(resources[0]!.id, resources[0]!.pk).delete();
    await expect(store.listResults(nextDay)).rejects.toThrow(/2026-10-16T03 changed while being read 3 times/);
  });

  it("keeps the newer of two runs' results of an hour when the older run names the hour last", async () => {
    const hour = '2026-10-15T02';
    const paused = pausedAt(store, 'getHourRun');
    const olderRun = storeHourResults(paused.store, hour, runKey(new Date('2026-10-15T05:00:00Z'), 'a'), [requestsResult(hour, 'gpt-4o', 9), requestsResult(hour, 'gpt-35', 5)]);
    await paused.reached;
    // Before any run names the hour, the older run's results are not read.
    expect((await store.listResults(DAY)).filter((r) => r.window === hour)).toEqual([]);
    expect(await storeHourResults(store, hour, runKey(new Date('2026-10-15T05:05:00Z'), 'b'), [requestsResult(hour, 'gpt-4o', 10)])).toBe(true);
    paused.release();
    expect(await olderRun).toBe(false);
    expect((await store.listResults(DAY)).filter((r) => r.window === hour)).toEqual([requestsResult(hour, 'gpt-4o', 10)]);
    const { resources } = await container.items.query({ query: "SELECT VALUE COUNT(1) FROM c WHERE c.kind = 'reconciliation' AND c.window = '2026-10-15T02'" }).fetchAll();
    expect(resources).toEqual([1]);
  });
});
