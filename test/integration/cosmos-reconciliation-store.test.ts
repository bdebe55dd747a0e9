import type { Container } from '@azure/cosmos';
import { beforeAll, describe, expect, it } from 'vitest';
import { CosmosReconciliationStore } from '../../src/adapters/cosmos/cosmos-reconciliation-store.js';
import type { CheckName } from '../../src/contracts/reconciliation-result.js';
import { runKey } from '../../src/domain/run-order.js';
import { stableId } from '../../src/domain/stable-id.js';
import { TransientStoreError } from '../../src/ports/ledger-store.js';
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

  it('answers a window a day at a time, each day ordered by hour, check and deployment, only the hours of the window', async () => {
    const result = (window: string, check: CheckName, deployment: string) => ({ ...requestsResult(window, deployment, 10), check });
    const hours = {
      '2026-11-01T11': [result('2026-11-01T11', 'requests', 'gpt-4o')],
      '2026-11-01T23': [result('2026-11-01T23', 'requests', 'o3'), result('2026-11-01T23', 'llm-tokens', 'gpt-4o'), result('2026-11-01T23', 'requests', 'gpt-35')],
      '2026-11-02T05': [result('2026-11-02T05', 'metrics-tokens', 'gpt-4o'), result('2026-11-02T05', 'bypass', 'gpt-4o')],
      '2026-11-02T00': [result('2026-11-02T00', 'requests', 'gpt-4o')],
      '2026-11-03T00': [result('2026-11-03T00', 'requests', 'gpt-4o')],
    };
    for (const [hour, results] of Object.entries(hours)) expect(await storeHourResults(store, hour, runKey(new Date('2026-11-03T06:00:00Z'), hour), results)).toBe(true);
    const days: string[][] = [];
    for await (const day of store.resultsByDay({ from: new Date('2026-11-01T12:00:00Z'), to: new Date('2026-11-03T00:00:00Z') })) days.push(day.map((r) => `${r.window} ${r.check} ${r.deployment}`));
    expect(days).toEqual([
      ['2026-11-01T23 llm-tokens gpt-4o', '2026-11-01T23 requests gpt-35', '2026-11-01T23 requests o3'],
      ['2026-11-02T00 requests gpt-4o', '2026-11-02T05 bypass gpt-4o', '2026-11-02T05 metrics-tokens gpt-4o'],
    ]);
  });

  it("reads a day again when a run's results of one of its hours come in while it is read, and answers the day whole", async () => {
    const hour = '2026-11-05T07';
    const results = [requestsResult(hour, 'gpt-4o', 3), requestsResult(hour, 'gpt-35', 4)];
    expect(await storeHourResults(store, hour, runKey(new Date('2026-11-05T09:00:00Z'), 'a'), results)).toBe(true);
    const { resources } = await container.items.query({ query: "SELECT * FROM c WHERE c.kind = 'reconciliation' AND c.window = '2026-11-05T07' AND c.deployment = 'gpt-35'" }).fetchAll();
    const late = Object.fromEntries(Object.entries(resources[0] as Record<string, unknown>).filter(([name]) => !name.startsWith('_'))) as { id: string; pk: string };
    await container.item(late.id, late.pk).delete();
    let queries = 0;
    // The first read of the day sees the hour's head but not all its results; the missing one lands right after it.
    const arriving = {
      id: container.id,
      items: {
        query: (...args: Parameters<Container['items']['query']>) => {
          const iterator = container.items.query(...args);
          const first = ++queries === 1;
          return {
            hasMoreResults: () => iterator.hasMoreResults(),
            fetchNext: async () => {
              const page = await iterator.fetchNext();
              if (first && !iterator.hasMoreResults()) await container.items.create(late);
              return page;
            },
          };
        },
      },
    } as unknown as Container;
    const days = [];
    for await (const day of new CosmosReconciliationStore(arriving).resultsByDay({ from: new Date('2026-11-05T00:00:00Z'), to: new Date('2026-11-06T00:00:00Z') })) days.push(day);
    expect(queries).toBe(2);
    expect(days).toEqual([[requestsResult(hour, 'gpt-35', 4), requestsResult(hour, 'gpt-4o', 3)]]);
  });

  it('answers the days before a day whose hour stays incomplete, then refuses that day', async () => {
    const [before, broken] = ['2026-11-07T10', '2026-11-08T02'];
    expect(await storeHourResults(store, before, runKey(new Date('2026-11-08T06:00:00Z'), 'a'), [requestsResult(before, 'gpt-4o', 1)])).toBe(true);
    expect(await storeHourResults(store, broken, runKey(new Date('2026-11-08T06:00:00Z'), 'a'), [requestsResult(broken, 'gpt-4o', 1), requestsResult(broken, 'gpt-35', 2)])).toBe(true);
    const { resources } = await container.items.query<{ id: string; pk: string }>({ query: "SELECT c.id, c.pk FROM c WHERE c.kind = 'reconciliation' AND c.window = '2026-11-08T02' AND c.deployment = 'gpt-35'" }).fetchAll();
    await container.item(resources[0]!.id, resources[0]!.pk).delete();
    const days = store.resultsByDay({ from: new Date('2026-11-07T00:00:00Z'), to: new Date('2026-11-09T00:00:00Z') })[Symbol.asyncIterator]();
    expect(await days.next()).toEqual({ done: false, value: [requestsResult(before, 'gpt-4o', 1)] });
    await expect(days.next()).rejects.toThrow(new TransientStoreError('the reconciliation results of 2026-11-08T02 changed while being read 3 times'));
  });
});
