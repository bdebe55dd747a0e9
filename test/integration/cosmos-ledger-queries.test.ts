import { describe, expect, it } from 'vitest';
import { CosmosLedgerStore } from '../../src/adapters/cosmos/cosmos-ledger-store.js';
import { CONTAINERS, ensureContainers } from '../../src/config/composition-root.js';
import { ledgerEntry } from '../support/ledger-entries.js';
import { useLocalCosmos } from '../support/local-cosmos.js';

const NONE = { source: 'none' as const, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 };

describe('ledger queries on the local Cosmos DB server', () => {
  const client = useLocalCosmos();


  it('lists the streams of a time range whose tokens nobody counted, joined or not, and nothing else', async () => {
    const { database } = await client().databases.createIfNotExists({ id: 'uncounted-streams' });
    await ensureContainers(database);
    const ledger = new CosmosLedgerStore(database.container(CONTAINERS.ledger.id));
    const entry = (id: string, time: string, overrides: Parameters<typeof ledgerEntry>[0]) => ledgerEntry({ id, gatewayRequestId: `gw-${id}`, apimRequestId: id, time, ...overrides });
    const matched = { status: 'matched', durationMs: 900, regionCode: 'eastus', account: 'aoai-eastus', modelName: 'gpt-4o', modelVersion: '2024-08-06', streamType: 'Streaming', objectId: null, httpStatus: 200 } as const;
    await ledger.createEntries([
      entry('stream-matched', '2026-11-20T10:10:00.000Z', { stream: true, tokens: NONE, diagnostics: matched }),
      entry('stream-unjoined', '2026-11-20T10:20:00.000Z', { stream: true, tokens: NONE }),
      entry('stream-counted', '2026-11-20T10:30:00.000Z', { stream: true }),
      entry('not-a-stream', '2026-11-20T10:40:00.000Z', { tokens: NONE }),
      entry('stream-before', '2026-11-20T09:59:59.999Z', { stream: true, tokens: NONE }),
      entry('stream-at-end', '2026-11-20T11:00:00.000Z', { stream: true, tokens: NONE }),
    ]);

    const listed: string[] = [];
    for await (const page of ledger.listUncountedStreams({ from: new Date('2026-11-20T10:00:00.000Z'), to: new Date('2026-11-20T11:00:00.000Z') })) listed.push(...page.map((e) => e.id));

    expect(listed.sort()).toEqual(['stream-matched', 'stream-unjoined']);
  });
});
