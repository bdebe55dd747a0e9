import type { Container } from '@azure/cosmos';
import { describe, expect, it } from 'vitest';
import { CosmosDiagnosticsStore, recordPartition } from '../../src/adapters/cosmos/cosmos-diagnostics-store.js';
import type { StoredDiagnostic } from '../../src/contracts/diagnostic-record.js';
import { CONTAINERS, ensureContainers } from '../../src/config/composition-root.js';
import { updateDiagnostics } from '../../src/services/update-diagnostics.js';
import { diagnosticRecord } from '../support/diagnostic-records.js';
import { useLocalCosmos } from '../support/local-cosmos.js';

const pending = (n: number, time: string): StoredDiagnostic => ({
  ...diagnosticRecord({ correlationId: `c4a1e7d2-5b3f-4e8a-9c6d-${String(n).padStart(12, '0')}`, time }),
  gateway: 'pending',
});

async function partitionsOf(container: Container): Promise<Map<string, string>> {
  const { resources } = await container.items.query<{ id: string; pk: string }>('SELECT c.id, c.pk FROM c').fetchAll();
  return new Map(resources.map((d) => [d.id, d.pk]));
}

describe('diagnostic records on the local Cosmos DB server', () => {
  const client = useLocalCosmos();
  let databases = 0;

  async function freshContainer(): Promise<Container> {
    const { database } = await client().databases.createIfNotExists({ id: `diagnostics-${++databases}` });
    await ensureContainers(database);
    return database.container(CONTAINERS.diagnostics.id);
  }


  it("spreads one hour's records over hash buckets of their correlation ids, not one partition per hour", async () => {
    const container = await freshContainer();
    const store = new CosmosDiagnosticsStore(container);
    const records = Array.from({ length: 1_000 }, (_, n) => pending(n, `2026-11-20T10:${String(n % 60).padStart(2, '0')}:00.000Z`));

    expect(await store.writeRecords(records.map((record) => ({ record, etag: null })))).toEqual({ conflicts: [], refused: [] });

    const partitions = await partitionsOf(container);
    expect(partitions.size).toBe(records.length);
    for (const [id, pk] of partitions) expect(pk).toBe(recordPartition(id));
    const perPartition = new Map<string, number>();
    for (const pk of partitions.values()) perPartition.set(pk, (perPartition.get(pk) ?? 0) + 1);
    expect(perPartition.size).toBeGreaterThan(200);
    expect(Math.max(...perPartition.values()) / records.length).toBeLessThanOrEqual(0.05);
  });

  it('updates a record that an earlier version stored in its UTC hour partition where it is, never a second copy', async () => {
    const container = await freshContainer();
    const store = new CosmosDiagnosticsStore(container);
    const earlier = pending(1, '2026-11-20T10:15:00.000Z');
    await container.items.create({ ...earlier, id: earlier.correlationId, pk: '2026-11-20T10' });
    const [read] = await store.readRecords([earlier.correlationId]);

    await updateDiagnostics(store, [earlier.correlationId], (_id, current) => current && { ...current, gateway: 'matched' });

    expect(await store.getRecords([earlier.correlationId])).toEqual([{ ...earlier, gateway: 'matched' }]);
    expect(await partitionsOf(container)).toEqual(new Map([[earlier.correlationId, '2026-11-20T10']]));
    // The version read before the update is stale there, as in any partition.
    expect((await store.writeRecords([{ record: { ...earlier, gateway: 'bypass' }, etag: read!.etag }])).conflicts).toEqual([earlier.correlationId]);
  });
});
