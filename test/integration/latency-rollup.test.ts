import { describe, expect, it } from 'vitest';
import { CosmosAggregateStore } from '../../src/adapters/cosmos/cosmos-aggregate-store.js';
import { CosmosDiagnosticsStore } from '../../src/adapters/cosmos/cosmos-diagnostics-store.js';
import { CosmosLedgerStore } from '../../src/adapters/cosmos/cosmos-ledger-store.js';
import { CONTAINERS, ensureContainers } from '../../src/config/composition-root.js';
import { matchedOutcome } from '../../src/domain/join.js';
import { applyRecords } from '../../src/services/join-diagnostics.js';
import { latencyReport } from '../../src/services/latency-report.js';
import { rollupChargeback } from '../../src/services/rollup-chargeback.js';
import { diagnosticRecord } from '../support/diagnostic-records.js';
import { hourTiles } from '../support/latency-tiles.js';
import { ledgerEntry } from '../support/ledger-entries.js';
import { useLocalCosmos } from '../support/local-cosmos.js';

const HOUR = { from: new Date('2026-03-10T09:00:00Z'), to: new Date('2026-03-10T10:00:00Z') };
const DAY = { from: new Date('2026-03-10T00:00:00Z'), to: new Date('2026-03-11T00:00:00Z') };

describe('latency tiles rolled up again on the local Cosmos DB server', () => {
  const client = useLocalCosmos();

  it('count a record once when it was rolled up before its gateway entry was joined, in the hour and in the day', async () => {
    const { database } = await client().databases.createIfNotExists({ id: 'latency-rerolled' });
    await ensureContainers(database);
    const ledger = new CosmosLedgerStore(database.container(CONTAINERS.ledger.id));
    const diagnostics = new CosmosDiagnosticsStore(database.container(CONTAINERS.diagnostics.id));
    const aggregates = new CosmosAggregateStore(database.container(CONTAINERS.aggregates.id));
    const record = diagnosticRecord({ correlationId: 'req-1', time: '2026-03-10T09:15:00.000Z', account: 'aoai-eastus', regionCode: 'eastus', modelDeploymentName: 'gpt-4o' });

    // The record streams in first: rolled up without a joined entry, its tile's backend is `(unknown)`.
    await applyRecords([record], { ledger, diagnostics, aggregates }, {});
    await rollupChargeback({ ledger, diagnostics, aggregates });
    const before = await latencyReport(aggregates, HOUR);
    expect(before.rows.map((r) => [r.region, r.requests])).toEqual([['eastus', 1]]);

    // The gateway's entry is joined later and the hour rolled up again: the record's tile now names the backend.
    const entry = ledgerEntry({ id: 'req-1', apimRequestId: 'req-1', time: '2026-03-10T09:14:59.500Z', deployment: 'gpt-4o', gateway: { service: 'apim', regionCode: 'eastus', backendId: 'aoai-eastus' }, diagnostics: matchedOutcome(record) });
    await ledger.createEntries([entry]);
    await aggregates.markDirty(['2026-03-10T09']);
    await rollupChargeback({ ledger, diagnostics, aggregates });

    for (const window of [HOUR, DAY]) {
      const report = await latencyReport(aggregates, window);
      expect(report.rows.map((r) => [r.region, r.requests])).toEqual([['eastus', 1]]);
    }
    const tiles = [...(await aggregates.listLatencyTiles('2026-03-10', 'hour')), ...(await aggregates.listLatencyTiles('2026-03-10', 'day'))];
    expect(tiles.map((t) => [t.grain, t.backendId, t.requests])).toEqual([
      ['hour', 'aoai-eastus', 1],
      ['day', 'aoai-eastus', 1],
    ]);
  });

  it("reads one deployment's tiles of a day in the query, not every deployment's", async () => {
    const { database } = await client().databases.createIfNotExists({ id: 'latency-one-deployment' });
    await ensureContainers(database);
    const aggregates = new CosmosAggregateStore(database.container(CONTAINERS.aggregates.id));
    for (const deployment of ['gpt-4o', 'gpt-4o-mini', 'o3']) {
      await aggregates.upsertLatencyTiles(hourTiles('2026-03-10', deployment, [{ backendId: `aoai-${deployment}`, region: 'eastus', ms: 100 }], [9, 10]));
    }
    const read = await aggregates.listLatencyTiles('2026-03-10', 'hour', { deployment: 'gpt-4o-mini' });
    expect(read.map((t) => [t.deployment, t.windowStart]).sort()).toEqual([
      ['gpt-4o-mini', '2026-03-10T09:00:00.000Z'],
      ['gpt-4o-mini', '2026-03-10T10:00:00.000Z'],
    ]);
    expect(await aggregates.listLatencyTiles('2026-03-10', 'hour')).toHaveLength(6);
  });
});
