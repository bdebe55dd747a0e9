import { readFileSync } from 'node:fs';
import functions from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestHandler, INGEST_TRIGGER } from '../../functions/handlers/ingest-gateway-events.js';
import type { DeadLetter } from '../../src/contracts/dead-letter.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { TableCheckpointStore } from '../../src/local/checkpoint-store.js';
import { LocalEventHub, runEventHubTrigger } from '../../src/local/event-hub-runner.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { TransientStoreError } from '../../src/ports/ledger-store.js';
import { v1Event } from '../support/gateway-events.js';

const gatewayLogs = readFileSync(new URL('../fixtures/apim-gatewaylogs.records.json', import.meta.url), 'utf8');
const quiet = () => {};

async function allEntries(stack: LocalStack): Promise<LedgerEntry[]> {
  const entries: LedgerEntry[] = [];
  for await (const page of stack.stores.ledger.listEntries({ from: new Date('2024-01-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z') })) entries.push(...page);
  return entries.sort((a, b) => (a.id < b.id ? -1 : 1));
}

async function allDeadLetters(stack: LocalStack): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  for await (const page of stack.stores.deadLetters.listDeadLetters()) letters.push(...page);
  return letters.sort((a, b) => (a.id < b.id ? -1 : 1));
}

describe('ingest function on the local stack (Cosmos DB server, Azurite)', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('turns the real APIM GatewayLogs export into ledger entries and records a malformed event as a dead letter with its position', async () => {
    const handler = createIngestHandler(() => stack.stores);
    const context = new functions.InvocationContext({
      logHandler: quiet,
      triggerMetadata: {
        partitionContext: { partitionId: '3' },
        sequenceNumberArray: [41, 42],
        offsetArray: ['4096', '8192'],
        enqueuedTimeUtcArray: ['2024-07-02T06:31:40Z', '2024-07-02T06:31:41Z'],
      },
    });
    await handler([Buffer.from(gatewayLogs), '{"schema":"tokenledger.gateway/v1", broken'], context);

    const entries = (await allEntries(stack)).filter((e) => e.source === 'apim-gateway-logs');
    expect(entries.map((e) => [e.status, e.tokens.promptTokens, e.tokens.completionTokens, e.tokens.source]).sort()).toEqual([
      [200, 14, 8, 'gateway'],
      [400, 0, 0, 'none'],
    ]);
    const letters = await allDeadLetters(stack);
    const broken = letters.find((l) => 'data' in l.raw && l.raw.data.includes('broken'));
    expect(broken?.reason).toMatch(/not JSON/);
    expect(broken?.position).toEqual({ partitionId: '3', sequenceNumber: 42, offset: '8192', enqueuedTimeUtc: '2024-07-02T06:31:41Z', itemIndex: null });
  });

  it('writes a batch of 400 events with bulk requests, not one request per event', async () => {
    const handler = createIngestHandler(() => stack.stores);
    const before = { ...stack.cosmos.requests };
    await handler(Array.from({ length: 400 }, (_, n) => JSON.stringify(v1Event(1000 + n))), new functions.InvocationContext({ logHandler: quiet }));
    const posts = (stack.cosmos.requests['POST'] ?? 0) - (before['POST'] ?? 0);
    // One bulk read and one bulk write per 100 documents, and the rollup's dirty marker.
    expect(posts).toBeGreaterThanOrEqual(8);
    expect(posts).toBeLessThanOrEqual(10);
  });

  it('redelivering batches (at-least-once) leaves the ledger and dead letters unchanged', async () => {
    const bodies = [...Array.from({ length: 50 }, (_, n) => JSON.stringify(v1Event(2000 + n))), 'not json at all'];
    const hub = new LocalEventHub(2);
    bodies.forEach((body, i) => hub.send(body, String(i), new Date('2026-11-20T11:00:00Z')));
    const runOnce = async (group: string) =>
      runEventHubTrigger(hub, createIngestHandler(() => stack.stores), {
        functionName: 'ingest',
        dataType: INGEST_TRIGGER.dataType,
        maxRetries: INGEST_TRIGGER.retry.maxRetryCount,
        checkpoints: await TableCheckpointStore.create(stack.azurite.connectionString, group),
        maxBatchSize: 7,
        redeliveryRate: 0.5,
        random: (() => {
          let i = 0;
          return () => (i++ % 2 === 0 ? 0.9 : 0.1);
        })(),
      });
    const first = await runOnce('first');
    const entriesAfterFirst = await allEntries(stack);
    const lettersAfterFirst = await allDeadLetters(stack);
    const second = await runOnce('second');
    expect(first.redeliveries).toBeGreaterThan(0);
    expect(second.redeliveries).toBeGreaterThan(0);
    expect(await allEntries(stack)).toEqual(entriesAfterFirst);
    expect((await allDeadLetters(stack)).map((l) => l.id)).toEqual(lettersAfterFirst.map((l) => l.id));
  });

  it('retries a transient store error within the invocation, then fails the batch, and loses nothing when the runner retries it', async () => {
    // Three attempts per invocation (DEFAULT_RETRY): the first invocation fails, the second succeeds on its second attempt.
    let failuresLeft = 4;
    const ledger = stack.stores.ledger;
    const flaky = {
      ...stack.stores,
      ledger: {
        readEntries: ledger.readEntries.bind(ledger),
        getEntriesByApimRequestIds: ledger.getEntriesByApimRequestIds.bind(ledger),
        getEntriesByGatewayRequestIds: ledger.getEntriesByGatewayRequestIds.bind(ledger),
        listEntries: ledger.listEntries.bind(ledger),
        listEntryPage: ledger.listEntryPage.bind(ledger),
        listUnjoined: ledger.listUnjoined.bind(ledger),
        listUncountedStreams: ledger.listUncountedStreams.bind(ledger),
        createEntries: ledger.createEntries.bind(ledger),
        writeEntries: async (...args: Parameters<typeof ledger.writeEntries>) => {
          if (failuresLeft-- > 0) throw new TransientStoreError('429 from the store');
          return ledger.writeEntries(...args);
        },
      },
    };
    const hub = new LocalEventHub(1);
    for (let n = 0; n < 20; n++) hub.send(JSON.stringify(v1Event(3000 + n)), 'k', new Date('2026-11-20T12:00:00Z'));
    const stats = await runEventHubTrigger(hub, createIngestHandler(() => flaky), {
      functionName: 'ingest',
      dataType: INGEST_TRIGGER.dataType,
      maxRetries: INGEST_TRIGGER.retry.maxRetryCount,
      checkpoints: await TableCheckpointStore.create(stack.azurite.connectionString, 'flaky'),
      maxBatchSize: 20,
    });
    expect(stats.failures).toBe(1);
    expect(failuresLeft).toBe(-1);
    const ids = new Set((await allEntries(stack)).map((e) => e.apimRequestId));
    for (let n = 0; n < 20; n++) expect(ids.has(`0000${3000 + n}-aaaa-4bbb-8ccc-000000000000`)).toBe(true);
  });

  it('keeps Event Hubs checkpoints per consumer group and partition in Azure Table storage', async () => {
    const store = await TableCheckpointStore.create(stack.azurite.connectionString, 'checkpoint-test');
    expect(await store.get('0')).toBe(0);
    await store.set('0', 17);
    await store.set('1', 3);
    const reopened = await TableCheckpointStore.create(stack.azurite.connectionString, 'checkpoint-test');
    expect([await reopened.get('0'), await reopened.get('1')]).toEqual([17, 3]);
  });
});
