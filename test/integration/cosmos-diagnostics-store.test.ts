import type { Container } from '@azure/cosmos';
import { describe, expect, it } from 'vitest';
import { CosmosDiagnosticsStore, recordPartition } from '../../src/adapters/cosmos/cosmos-diagnostics-store.js';
import type { StoredDiagnostic } from '../../src/contracts/diagnostic-record.js';
import { CONTAINERS, ensureContainers } from '../../src/config/composition-root.js';
import { ingestBatch } from '../../src/services/ingest-batch.js';
import { updateDiagnostics } from '../../src/services/update-diagnostics.js';
import { archiveRecords, diagnosticRecord } from '../support/diagnostic-records.js';
import { useLocalCosmos } from '../support/local-cosmos.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryLedgerStore } from '../support/memory-stores.js';

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

  it("dead-letters a streamed record whose correlation id no document id can hold, and stores the body's other records", async () => {
    const container = await freshContainer();
    const ports = { ledger: new MemoryLedgerStore(), deadLetters: new MemoryDeadLetterStore(), aggregates: new MemoryAggregateStore(), diagnostics: new CosmosDiagnosticsStore(container) };
    const [first, second] = archiveRecords();
    const body = JSON.stringify({ records: [{ ...first, correlationId: 'f00d0000/0000-4000-8000-000000000001' }, second] });

    const result = await ingestBatch([{ body, position: { partitionId: '0', sequenceNumber: 1, offset: '1', enqueuedTimeUtc: null } }], ports);

    expect(result).toMatchObject({ deadLettered: 1, diagnosticRecords: 1 });
    expect(ports.deadLetters.snapshot()[0]!.reason).toMatch(/^diagnostic record rejected: invalid RequestResponse record: correlationId: must not contain/);
    expect([...(await partitionsOf(container)).keys()]).toEqual([String(second!['correlationId']).toLowerCase()]);
  });
});
