import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestHandler } from '../../functions/handlers/ingest-gateway-events.js';
import { createCosmosClient, createStores } from '../../src/config/composition-root.js';
import { TableCheckpointStore } from '../../src/local/checkpoint-store.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { Random } from '../../src/simulator/random.js';
import { ingestBatch, type ReceivedEvent } from '../../src/services/ingest-batch.js';
import { hourBucket } from '../../src/domain/ledger.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore } from '../support/memory-stores.js';
import { FileCounters } from './support/counters.js';
import { deliver } from './support/delivery.js';
import { checkGroundTruth } from './support/ground-truth.js';
import { consume, crashingPorts, emptyStats, type WorkerInstance } from './support/partition-consumer.js';

const counters = new FileCounters('exactly-once.test.ts');

function received(bodies: readonly unknown[]): ReceivedEvent[] {
  return bodies.map((body, i) => ({ body, position: { partitionId: '0', sequenceNumber: i, offset: String(i), enqueuedTimeUtc: null } }));
}

const APIM = '/SUBSCRIPTIONS/00000000-0000-4000-8000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/CONTOSO-APIM';
/** The two halves APIM's diagnostic setting streams for one streamed completion: the HTTP exchange, and its tokens. */
function apimHalves(correlationId: string, gatewayTime: string, llmTime: string) {
  const gatewayLogs = {
    category: 'GatewayLogs',
    time: gatewayTime,
    resourceId: APIM,
    correlationId,
    durationMs: 900,
    location: 'West Europe',
    properties: {
      operationId: 'ChatCompletions_Create',
      apimSubscriptionId: 'sub-1',
      backendId: 'aoai-eastus',
      backendUrl: 'https://aoai-eastus.openai.azure.com/openai/deployments/gpt-4o/chat/completions',
      requestBody: '{"stream":true}',
      responseCode: 200,
      backendTime: 850,
    },
  };
  const llmLogs = {
    category: 'GatewayLlmLogs',
    time: llmTime,
    resourceId: APIM,
    correlationId,
    location: 'West Europe',
    properties: { DeploymentName: 'gpt-4o', ModelName: 'gpt-4o', PromptTokens: 100, CompletionTokens: 50, TotalTokens: 150, IsStreamCompletion: true },
  };
  return { gatewayLogs: JSON.stringify({ records: [gatewayLogs] }), llmLogs: JSON.stringify({ records: [llmLogs] }) };
}
const DAY = '2026-11-21';
const REQUESTS = 100_000;

describe('exactly once under at-least-once delivery (DESIGN §5.1, §5.2)', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack();
  });
  afterAll(async () => {
    counters.save();
    await stack?.stop();
  });

  it('the ground-truth check sees a lost entry, a copy in another partition and a lost dead letter (self-check)', async () => {
    const small = simulateDay({ requests: 300, seed: 5, day: DAY });
    const ports = { ledger: new MemoryLedgerStore(), deadLetters: new MemoryDeadLetterStore(), aggregates: new MemoryAggregateStore(), diagnostics: new MemoryDiagnosticsStore() };
    await ingestBatch(received(small.eventLines), ports);
    expect(await checkGroundTruth(small, ports.ledger, ports.deadLetters)).toMatchObject({ lost: 0, doubled: 0, identityDifferences: [] });
    const [first, second] = [...ports.ledger.entries.entries()];
    ports.ledger.entries.delete(first![0]);
    ports.ledger.entries.set(`elsewhere|${second![1].id}`, { ...second![1] });
    ports.deadLetters.letters.delete([...ports.deadLetters.letters.keys()][0]!);
    const check = await checkGroundTruth(small, ports.ledger, ports.deadLetters);
    // One lost entry, one lost dead letter, the identity short of a request; one copy, its identity over by one.
    expect(check.lost).toBeGreaterThanOrEqual(2);
    expect(check.doubled).toBeGreaterThanOrEqual(1);
    expect(check.identityDifferences.length).toBeGreaterThan(0);
  });



  it('merges the two halves of an APIM request delivered one after the other, in either order (control)', async () => {
    for (const order of ['gateway-first', 'llm-first'] as const) {
      const ports = { ledger: new MemoryLedgerStore(), deadLetters: new MemoryDeadLetterStore(), aggregates: new MemoryAggregateStore(), diagnostics: new MemoryDiagnosticsStore() };
      const { gatewayLogs, llmLogs } = apimHalves('req-two-hours', '2026-11-20T11:00:00.100Z', '2026-11-20T10:59:59.900Z');
      for (const body of order === 'gateway-first' ? [gatewayLogs, llmLogs, gatewayLogs] : [llmLogs, gatewayLogs, llmLogs]) await ingestBatch(received([body]), ports);
      expect(ports.ledger.snapshot().map((e) => [hourBucket(e.time), e.status, e.operation, e.tokens.source, e.tokens.promptTokens]), order).toEqual([['2026-11-20T10', 200, 'ChatCompletions_Create', 'llm-log', 100]]);
    }
  });

  it(`ingests a ${REQUESTS.toLocaleString('en-US')}-request day sent 1–3 times, reordered, in random batches, by 4 concurrent workers that crash mid-batch and restart from their checkpoints`, async () => {
    const day = simulateDay({ requests: REQUESTS, seed: 20_261_121, day: DAY });
    const delivery = deliver(day.eventLines, {
      seed: 7,
      partitions: 4,
      copies: [1, 3],
      reorderWindow: 2_000,
      farShare: 0.02,
      enqueuedFrom: new Date(`${DAY}T00:00:00Z`),
    });
    const group = `exactly-once-${Date.now()}`;

    // Every (re)start is a new process: a new Cosmos client, a new checkpoint reader, and stores that crash
    // after writing part of a bulk in 3 % of the writes.
    const start = async (partitionId: string, instance: number): Promise<WorkerInstance> => {
      const client = createCosmosClient(stack.settings);
      const ports = crashingPorts(createStores(client, stack.settings, stack.blobs), new Random(1_000 * Number(partitionId) + instance), 0.03);
      return {
        handler: createIngestHandler(() => ports),
        checkpoints: await TableCheckpointStore.create(stack.azurite.connectionString, group),
        dispose: () => client.dispose(),
      };
    };

    // Phase 1: the whole consumer group goes down between a write and its checkpoint once 40 % of the copies were handed over.
    const stats = emptyStats();
    await consume(delivery.hub, { seed: 1, maxBatchSize: 500, start, crashBeforeCheckpoint: 0.03, stopAll: () => stats.eventsDelivered >= 0.4 * delivery.sent }, stats);
    expect(stats.stopped).toBe(true);
    // Phase 2: a new run of the group resumes every partition from the checkpoints in Table storage (Azurite).
    await consume(delivery.hub, { seed: 2, maxBatchSize: 500, start, crashBeforeCheckpoint: 0.03 }, stats);

    // A v1 event and APIM's LLM-log rows of one request ingested at the same moment on two partitions are one
    // document with no settling pass: the second writer's conditional write fails, and it merges again.
    const check = await checkGroundTruth(day, stack.stores.ledger, stack.stores.deadLetters);
    const failures = Object.values(stats.failures).reduce((sum, n) => sum + n, 0);
    counters.add('lost', check.lost);
    counters.add('doubled', check.doubled);
    // Without injected store faults, any failed delivery is unexpected.
    counters.add('crashes', failures + stats.unexpected.length);
    counters.add('events', check.distinctEvents, 'exactly-once');
    counters.add('faults', stats.crashes.midBatch, 'crash-mid-bulk');
    counters.add('faults', stats.crashes.beforeCheckpoint, 'crash-before-checkpoint');
    counters.add('faults', 1, 'group-outage');

    expect(stats.unexpected).toEqual([]);
    expect(stats.failures).toEqual({});
    expect(stats.crashes.midBatch).toBeGreaterThan(0);
    expect(stats.crashes.beforeCheckpoint).toBeGreaterThan(0);
    expect(stats.eventsDelivered).toBeGreaterThan(delivery.sent);
    expect(delivery.sent).toBeGreaterThan(1.8 * day.eventLines.length);
    expect(check.identityDifferences).toEqual([]);
    expect({ lost: check.lost, doubled: check.doubled }).toEqual({ lost: 0, doubled: 0 });
    expect(check.ledgerEntries).toBe(day.groundTruth.ledgerEntries);
    expect(check.deadLetters).toBe(day.groundTruth.deadLetters);
    expect(check.ledgerEntries + check.deadLetters + day.groundTruth.events.llmLogLines + day.groundTruth.events.diagnosticLines).toBe(day.groundTruth.events.distinct);
  });
});
