import type { Container } from '@azure/cosmos';
import { beforeAll, describe, expect, it } from 'vitest';
import { CosmosInvoiceAllocationStore } from '../../src/adapters/cosmos/cosmos-invoice-allocation-store.js';
import type { RowAllocation } from '../../src/domain/invoice-allocation.js';
import { assembleInvoice } from '../../src/domain/invoice-documents.js';
import type { InvoiceAllocationStore } from '../../src/ports/invoice-allocation-store.js';
import { commitInvoiceAllocation, type AllocationDocuments } from '../../src/services/commit-invoice-allocation.js';
import { allocationDocuments, storeAllocation, type AllocationFields } from '../support/invoice-allocations.js';
import { pausedAt } from '../support/paused-calls.js';
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

/** One run's allocation of the export, started at `startedAt`. */
function run(allocations: RowAllocation[], etag: string, startedAt: string): AllocationFields {
  return { exportName: EXPORT, contentHash: etag, exportedAt: '2026-12-01T06:00:00Z', allocatedAt: startedAt, counts: { skippedRows: 0, unplacedRequests: 0, bypassCalls: 0 }, allocations };
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
    expect(await storeAllocation(store, run(allocations, '"1"', '2026-12-01T07:00:00Z'), '"1"')).toBe(true);
    const november = await read(store, '2026-11');
    expect(november.parts.length).toBeGreaterThan(1);
    expect(november.incomplete).toEqual([]);
    expect(november.exports.flatMap((e) => e.allocations)).toEqual(allocations.slice(0, 2));
    expect((await read(store, '2026-12')).exports.flatMap((e) => e.allocations)).toEqual(allocations.slice(2));
    expect((await store.listAllocatedExports()).map((m) => [m.exportName, m.etag, m.months])).toEqual([[EXPORT, '"1"', ['2026-11', '2026-12']]]);
  });

  it('lists the heads of a month alone, and the heads and parts of the exports named', async () => {
    const { database } = await client().databases.createIfNotExists({ id: 'invoice' });
    const { container: runs } = await database.containers.createIfNotExists({ id: 'aggregates-runs', partitionKey: { paths: ['/pk'] } });
    const store = new CosmosInvoiceAllocationStore(runs);
    const first = 'focus/daily/20260901-20260930/run-01/part_0.csv';
    const second = 'focus/daily/20260901-20260930/run-02/part_0.csv';
    for (const [exportName, days] of [[first, ['2026-09-01']], [second, ['2026-09-01', '2026-09-02']]] as const) {
      expect(await storeAllocation(store, { ...run(rows(days, 3), exportName, '2026-09-03T07:00:00Z'), exportName }, exportName)).toBe(true);
    }
    expect((await store.listHeads('2026-09')).map((h) => h.exportName).sort()).toEqual([first, second]);
    const named = await store.listAllocations('2026-09', [second]);
    expect(new Set([...named.heads, ...named.parts].map((d) => d.exportName))).toEqual(new Set([second]));
    expect(assembleInvoice(named.heads, named.parts).exports.flatMap((e) => e.allocations)).toEqual(rows(['2026-09-01', '2026-09-02'], 3));
  });

  it("replaces an export's allocation completely: no part of the previous generation and no month it no longer covers stays", async () => {
    const restated = rows(['2026-11-30'], 10, '7.00');
    expect(await storeAllocation(store, run(restated, '"2"', '2026-12-01T08:00:00Z'), '"2"')).toBe(true);
    const november = await read(store, '2026-11');
    expect(november.heads).toHaveLength(1);
    expect(november.parts.every((p) => p.generation === november.heads[0]!.generation)).toBe(true);
    expect(november.exports.flatMap((e) => e.allocations)).toEqual(restated);
    const december = await read(store, '2026-12');
    expect(december.parts).toEqual([]);
    expect(december.heads.map((h) => [h.rows, h.parts])).toEqual([[0, 0]]);
    expect(december.exports).toEqual([]);
    expect((await store.listAllocatedExports()).map((m) => [m.etag, m.months, m.pending])).toEqual([['"2"', ['2026-11'], undefined]]);
  });

  /** What each of two runs returns when the older one is held at `step` while the newer one stores everything. */
  async function overlapping(older: AllocationDocuments, newer: AllocationDocuments, step: keyof InvoiceAllocationStore) {
    const paused = pausedAt(store, step);
    const olderRun = commitInvoiceAllocation(paused.store, older);
    await paused.reached;
    const newerStored = await commitInvoiceAllocation(store, newer);
    paused.release();
    return { older: await olderRun, newer: newerStored };
  }

  it('keeps the newer of two runs of one export whole when the older one writes its heads last', async () => {
    const older = allocationDocuments(run(rows(['2026-11-29', '2026-12-01'], 3, '1.00'), '"3"', '2026-12-01T09:00:00Z'), '"3"');
    const newer = allocationDocuments(run(rows(['2026-11-29'], 3, '2.00'), '"4"', '2026-12-01T09:05:00Z'), '"4"');
    // The older run claims the export, then waits before its heads. Every month it covers then has the newer run's
    // head: nothing of the older run stays.
    expect(await overlapping(older, newer, 'getHeads')).toEqual({ older: false, newer: true });

    const november = await read(store, '2026-11');
    expect(november.incomplete).toEqual([]);
    expect(november.exports.flatMap((e) => e.allocations)).toEqual(rows(['2026-11-29'], 3, '2.00'));
    expect(november.parts.every((p) => p.run === newer.marker.run)).toBe(true);
    // December: the newer run no longer covers it, and the older run's head may not bring it back.
    const december = await read(store, '2026-12');
    expect(december.exports).toEqual([]);
    expect(december.parts).toEqual([]);
    expect((await store.listAllocatedExports()).map((m) => [m.etag, m.months, m.pending])).toEqual([['"4"', ['2026-11'], undefined]]);
  });

  it('discards the older of two runs of one export when it claims the export after the newer one', async () => {
    const older = allocationDocuments(run(rows(['2026-11-28'], 3, '3.00'), '"5"', '2026-12-01T10:00:00Z'), '"5"');
    const newer = allocationDocuments(run(rows(['2026-11-28'], 3, '4.00'), '"6"', '2026-12-01T10:05:00Z'), '"6"');
    expect(await overlapping(older, newer, 'getAllocatedExport')).toEqual({ older: false, newer: true });
    const november = await read(store, '2026-11');
    expect(november.exports.flatMap((e) => e.allocations)).toEqual(rows(['2026-11-28'], 3, '4.00'));
    expect(november.parts.some((p) => p.run === older.marker.run)).toBe(false);
    expect((await store.listAllocatedExports()).map((m) => m.etag)).toEqual(['"6"']);
  });
});
