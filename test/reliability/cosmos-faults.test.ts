import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CosmosClient } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestHandler } from '../../functions/handlers/ingest-gateway-events.js';
import { createStores } from '../../src/config/composition-root.js';
import { TableCheckpointStore } from '../../src/local/checkpoint-store.js';
import { FAULT_KINDS, startFaultProxy, type FaultKind, type FaultProxy, type FaultProxyOptions } from '../../src/local/fault-proxy.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { TransientStoreError } from '../../src/ports/ledger-store.js';
import { ingestBatch, type ReceivedEvent } from '../../src/services/ingest-batch.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { FileCounters } from './support/counters.js';
import { deliver } from './support/delivery.js';
import { checkGroundTruth } from './support/ground-truth.js';
import { consume } from './support/partition-consumer.js';

const counters = new FileCounters('cosmos-faults.test.ts');
const DAY = '2026-11-20';

/**
 * The SDK surfaces a failed bulk request (429, 503, a reset connection) as a plain `Error("Bulk request errored
 * with: …")` without its status: the adapter cannot tell it is transient (so the adapter treats it as transient). Such errors
 * come only from injected transient faults here, so they count as transient failures, not crashes.
 */
const UNTYPED_BULK_ERROR = /^Error: Bulk request errored with: /;

/** Metadata reads (partition key ranges, container) are GETs; the data path is POST (bulk, queries). */
const isMetadataRead = (request: { method: string }) => request.method === 'GET';

function proxyFor(stack: LocalStack, options: Omit<FaultProxyOptions, 'target'>): Promise<FaultProxy> {
  return startFaultProxy({ target: stack.cosmos.endpoint, ...options });
}

/**
 * A Cosmos DB client as the composition root builds it for a local key, pointed at the proxy; with a request
 * timeout, slow answers beyond it become client-side timeouts (the write may still land after the client gave up).
 */
function clientThrough(proxy: FaultProxy, stack: LocalStack, requestTimeout?: number): CosmosClient {
  return new CosmosClient({ endpoint: proxy.url, key: stack.cosmos.key, connectionPolicy: { enableEndpointDiscovery: false, ...(requestTimeout ? { requestTimeout } : {}) } });
}

function countFaults(proxy: FaultProxy): void {
  for (const kind of FAULT_KINDS) counters.add('faults', proxy.faults[kind], kind);
}

function events(lines: readonly string[]): ReceivedEvent[] {
  return lines.map((body, i) => ({ body, position: { partitionId: '0', sequenceNumber: i, offset: String(i), enqueuedTimeUtc: null } }));
}

describe('Cosmos DB faults from a fault-injecting proxy (429 with x-ms-retry-after-ms, 503, resets, slow answers)', () => {
  let stack: LocalStack;
  const proxies: FaultProxy[] = [];
  const clients: CosmosClient[] = [];
  beforeAll(async () => {
    stack = await startLocalStack();
  });
  afterAll(async () => {
    counters.save();
    for (const client of clients) client.dispose();
    await Promise.all(proxies.map((p) => p.stop()));
    await stack?.stop();
  });

  it('ingests a simulated day through the handler with retries: nothing lost, nothing doubled', async () => {
    const day = simulateDay({ requests: 12_000, seed: 4_242, day: DAY });
    const delivery = deliver(day.eventLines, { seed: 9, partitions: 4, copies: [1, 2], reorderWindow: 500, farShare: 0.01, enqueuedFrom: new Date(`${DAY}T00:00:00Z`) });
    const rates: Record<FaultKind, number> = { throttle: 0.15, unavailable: 0.08, reset: 0.06, 'reset-after-forward': 0.06, slow: 0.1 };
    const proxy = await proxyFor(stack, {
      seed: 99,
      rates,
      retryAfterMs: [1, 25],
      slowMs: [10, 400],
      // A 503 on a metadata read poisons the client for good (the SDK caches the failed lookup; see README, known limitations): the data path only.
      exempt: (request, kind) => kind === 'unavailable' && isMetadataRead(request),
    });
    proxies.push(proxy);
    const client = clientThrough(proxy, stack, 300);
    clients.push(client);
    const stores = createStores(client, stack.settings, stack.blobs);
    const checkpoints = await TableCheckpointStore.create(stack.azurite.connectionString, `faults-${Date.now()}`);
    // Retries within the invocation wait as briefly as the consumer's own backoff: this run is about what faults do
    // to the ledger, not about how long production waits between attempts.
    const handler = createIngestHandler(() => stores, { retry: { attempts: 3, backoffInMs: (attempt) => Math.min(200, 2 ** attempt) } });

    const stats = await consume(delivery.hub, {
      seed: 3,
      maxBatchSize: 40,
      maxRetries: 200,
      start: async () => ({ handler, checkpoints, dispose: () => {} }),
    });
    proxy.enabled = false;

    // Read back through a client that bypasses the proxy.
    const check = await checkGroundTruth(day, stack.stores.ledger, stack.stores.deadLetters);
    const failures = Object.entries(stats.failures);
    const unexpected = failures.filter(([kind]) => !kind.startsWith('TransientStoreError: ') && !UNTYPED_BULK_ERROR.test(kind));
    counters.add('lost', check.lost);
    counters.add('doubled', check.doubled);
    counters.add('crashes', unexpected.reduce((sum, [, n]) => sum + n, 0) + stats.unexpected.length);
    counters.add('events', check.distinctEvents, 'cosmos-faults');
    countFaults(proxy);
    for (const [kind, n] of failures) counters.note(`failed-deliveries.${kind.replace(UNTYPED_BULK_ERROR, 'untyped bulk error: ').slice(0, 50)}`, n);
    counters.note('deliveries.cosmos-faults', stats.deliveries);

    expect(stats.unexpected).toEqual([]);
    expect(unexpected).toEqual([]);
    for (const kind of FAULT_KINDS) expect(proxy.faults[kind], kind).toBeGreaterThan(0);
    expect(proxy.faultCount).toBeGreaterThanOrEqual(900);
    expect(check.identityDifferences).toEqual([]);
    expect({ lost: check.lost, doubled: check.doubled }).toEqual({ lost: 0, doubled: 0 });
    expect(check.ledgerEntries + check.deadLetters + day.groundTruth.events.llmLogLines + day.groundTruth.events.diagnosticLines).toBe(day.groundTruth.events.distinct);
  });

  it('gives a request the same fault for the same seed, whatever the interleaving of other requests', async () => {
    const upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const target = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const bodies = Array.from({ length: 12 }, (_, i) => `{"request":${i}}`);
    // Each body is sent 4 times in a row; across bodies, the order differs between the two runs.
    const run = async (concurrent: boolean) => {
      const proxy = await startFaultProxy({ target, seed: 5, rates: { throttle: 0.2, unavailable: 0.1, reset: 0.1, 'reset-after-forward': 0.1, slow: 0.1 }, slowMs: [1, 5] });
      const send = async (body: string) => {
        const outcomes: string[] = [];
        for (let i = 0; i < 4; i++) {
          outcomes.push(await fetch(`${proxy.url}/dbs/x/colls/y/docs`, { method: 'POST', body }).then((r) => String(r.status), () => 'reset'));
        }
        return [body, outcomes] as const;
      };
      const results = concurrent ? await Promise.all([...bodies].reverse().map(send)) : await bodies.reduce(async (acc, body) => [...(await acc), await send(body)], Promise.resolve([] as (readonly [string, string[]])[]));
      const faults = proxy.faultCount;
      await proxy.stop();
      return { outcomes: Object.fromEntries(results), faults };
    };
    try {
      const sequential = await run(false);
      const interleaved = await run(true);
      counters.add('faults', sequential.faults + interleaved.faults, 'determinism-probe');
      expect(interleaved.outcomes).toEqual(sequential.outcomes);
      expect(new Set(Object.values(sequential.outcomes).flat())).toEqual(new Set(['200', '429', '503', 'reset']));
    } finally {
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  // @azure/cosmos 4.9.3 items.bulk rethrows a failed bulk request as `new Error("Bulk request errored with: …")`,
  // dropping its status: the adapter takes that failure as transient, so the trigger redelivers the batch.
  it('a throttled bulk write surfaces as a TransientStoreError', async () => {
    const proxy = await proxyFor(stack, { seed: 1, rates: { throttle: 1 }, exempt: (request) => isMetadataRead(request) });
    proxies.push(proxy);
    const client = clientThrough(proxy, stack);
    clients.push(client);
    const day = simulateDay({ requests: 20, seed: 77, day: '2026-11-18' });
    const error = await ingestBatch(events(day.eventLines), createStores(client, stack.settings, stack.blobs)).catch((e: unknown) => e);
    countFaults(proxy);
    expect(error).toBeInstanceOf(TransientStoreError);
  });


});
