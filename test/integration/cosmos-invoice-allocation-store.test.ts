import type { Container } from '@azure/cosmos';
import { beforeAll, describe, expect, it } from 'vitest';
import { CosmosInvoiceAllocationStore } from '../../src/adapters/cosmos/cosmos-invoice-allocation-store.js';
import type { AllocatedExport } from '../../src/contracts/invoice-allocation-document.js';
import type { RowAllocation } from '../../src/domain/invoice-allocation.js';
import { allocatedExportKey, assembleInvoice, invoiceDocuments, type ExportAllocation } from '../../src/domain/invoice-documents.js';
import { useLocalCosmos } from '../support/local-cosmos.js';

const EXPORT = 'focus/tokenledger/20261101-20261231/run-1/part_0_0001.csv';
const ACCOUNT = '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/aoai-eastus';

function rows(days: readonly string[], identities: number, billed = '100.00'): RowAllocation[] {
  return days.map((day) => ({
    row: {
      billingAccountId: '12345678',
      invoiceId: null,
      chargePeriodStart: `${day}T00:00:00Z`,
      chargePeriodEnd: `${day}T23:59:59Z`,
      resourceId: ACCOUNT,
      meterName: 'gpt 4.1 Inp glbl Tokens',
      meter: { type: 'tokens', model: 'gpt-4.1', kind: 'input' },
      billedCost: billed,
      effectiveCost: billed,
      currency: 'USD',
      billedTokens: null,
    },
    parts: Array.from({ length: identities }, (_, i) => ({ identity: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, billedCost: '0.01', effectiveCost: '0.01', tokens: BigInt(i + 1), reason: null })),
  }));
}

async function replace(store: CosmosInvoiceAllocationStore, allocations: RowAllocation[], etag: string): Promise<void> {
  const allocation: ExportAllocation = { exportName: EXPORT, contentHash: etag, exportedAt: '2026-12-01T06:00:00Z', allocatedAt: '2026-12-01T07:00:00Z', counts: { skippedRows: 0, unplacedRequests: 0, bypassCalls: 0 }, allocations };
  const { heads, parts } = invoiceDocuments(allocation);
  const marker: AllocatedExport = { ...allocatedExportKey(EXPORT), kind: 'invoice-export', exportName: EXPORT, etag, contentHash: etag, months: heads.map((h) => h.month), allocatedAt: allocation.allocatedAt, settlesAt: allocation.allocatedAt };
  await store.replaceAllocation(marker, heads, parts);
}

async function read(store: CosmosInvoiceAllocationStore, month: string) {
  const { heads, parts } = await store.listAllocations(month);
  return { heads, parts, ...assembleInvoice(heads, parts) };
}

describe('the Cosmos DB invoice allocation store on the local Cosmos DB server', () => {
  const client = useLocalCosmos();
  let container: Container;
  let store: CosmosInvoiceAllocationStore;
  beforeAll(async () => {
    const { database } = await client().databases.createIfNotExists({ id: 'invoice' });
    ({ container } = await database.containers.createIfNotExists({ id: 'aggregates', partitionKey: { paths: ['/pk'] } }));
    store = new CosmosInvoiceAllocationStore(container);
  });

  it('stores a month of rows split over more identities than one 2 MB document holds in documents the server accepts, and reads it back whole', async () => {
    const allocations = rows(['2026-11-29', '2026-11-30', '2026-12-01'], 10_000);
    await replace(store, allocations, '"1"');
    const november = await read(store, '2026-11');
    expect(november.parts.length).toBeGreaterThan(1);
    expect(november.incomplete).toEqual([]);
    expect(november.exports.flatMap((e) => e.allocations)).toEqual(allocations.slice(0, 2));
    expect((await read(store, '2026-12')).exports.flatMap((e) => e.allocations)).toEqual(allocations.slice(2));
    expect((await store.listAllocatedExports()).map((m) => [m.exportName, m.etag, m.months])).toEqual([[EXPORT, '"1"', ['2026-11', '2026-12']]]);
  });

  it("replaces an export's allocation completely: no part of the previous generation and no month it no longer covers stays", async () => {
    const restated = rows(['2026-11-30'], 10, '7.00');
    await replace(store, restated, '"2"');
    const november = await read(store, '2026-11');
    expect(november.heads).toHaveLength(1);
    expect(november.parts.every((p) => p.generation === november.heads[0]!.generation)).toBe(true);
    expect(november.exports.flatMap((e) => e.allocations)).toEqual(restated);
    expect(await store.listAllocations('2026-12')).toEqual({ heads: [], parts: [] });
    expect((await store.listAllocatedExports()).map((m) => [m.etag, m.months])).toEqual([['"2"', ['2026-11']]]);
  });
});
