/**
 * Figure 3a: Cosmos DB write operations per event for ingest plus rollup, on the local stack. The events of one
 * simulated day go through the real Event Hubs trigger handler (LocalEventHub + runEventHubTrigger +
 * createIngestHandler, 4 partitions, batches of 500, 5 % redelivery: the demo's settings), then the chargeback
 * and latency rollup runs once (rollupChargeback with rollupOptionsFrom(stack.settings)). The stores talk to
 * the local Cosmos DB server through a counting proxy, which sees every request and every bulk operation.
 */
import { createIngestHandler, INGEST_TRIGGER } from '../functions/handlers/ingest-gateway-events.js';
import { createCosmosClient, createStores } from '../src/config/composition-root.js';
import { rollupOptionsFrom } from '../src/config/core-options.js';
import { TableCheckpointStore } from '../src/local/checkpoint-store.js';
import { asDelivered } from '../src/local/demo.js';
import { LocalEventHub, runEventHubTrigger } from '../src/local/event-hub-runner.js';
import { startLocalStack } from '../src/local/local-stack.js';
import { rollupChargeback } from '../src/services/rollup-chargeback.js';
import { Random } from '../src/simulator/random.js';
import { simulateDay } from '../src/simulator/traffic.js';
import { difference, nonGetRequestsPlusBulkOperations, snapshot, startCountingProxy, writeOperations, type CosmosCounts } from './cosmos-proxy.js';

export interface StoreWritesOptions {
  readonly events: number;
  readonly seed: number;
  readonly day: string;
  readonly partitions?: number;
  readonly maxBatchSize?: number;
  readonly redeliveryRate?: number;
}

export interface PhaseCounts {
  readonly seconds: number;
  readonly writes: number;
  readonly counts: CosmosCounts;
}

export interface StoreWritesRun {
  readonly events: number;
  readonly distinctRequests: number;
  readonly deliveries: number;
  readonly redeliveries: number;
  readonly redeliveredEvents: number;
  readonly ingest: PhaseCounts;
  readonly rollup: PhaseCounts & { readonly hours: number; readonly days: number; readonly remaining: number; readonly entries: number };
  readonly writes: number;
  readonly storeWritesPerEvent: number;
  /** Every non-bulk POST/PUT/PATCH/DELETE (queries included) plus every bulk operation (reads included), per event. */
  readonly nonGetRequestsPlusBulkOperationsPerEvent: number;
  /** What the local server's own per-method counter saw during ingest and rollup (cross-check of the proxy). */
  readonly serverRequestsByMethod: Record<string, number>;
}

/** simulateDay writes ~1.03 event lines per request. */
const LINES_PER_REQUEST = 1.0306;

export async function measureStoreWrites(options: StoreWritesOptions): Promise<StoreWritesRun> {
  const day = simulateDay({ requests: Math.max(1, Math.round(options.events / LINES_PER_REQUEST)), seed: options.seed, day: options.day });
  const stack = await startLocalStack();
  const proxy = await startCountingProxy(stack.cosmos.endpoint);
  const client = createCosmosClient({ ...stack.settings, CosmosDB__accountEndpoint: proxy.endpoint });
  try {
    const stores = createStores(client, { ...stack.settings, CosmosDB__accountEndpoint: proxy.endpoint }, stack.blobs);
    const hub = new LocalEventHub(options.partitions ?? 4);
    const dayStart = Date.parse(`${options.day}T00:00:00Z`);
    day.eventLines.forEach((line, index) => hub.send(asDelivered(line, index), line, new Date(dayStart + index)));
    const checkpoints = await TableCheckpointStore.create(stack.azurite.connectionString, `bench-${options.seed}-${Date.now()}`);
    const random = new Random(options.seed + 1);
    let redeliveredEvents = 0;
    const serverBefore = { ...stack.cosmos.requests };

    const ingestStart = snapshot(proxy.counts);
    let started = performance.now();
    const delivery = await runEventHubTrigger(hub, createIngestHandler(() => stores), {
      functionName: 'ingest',
      dataType: INGEST_TRIGGER.dataType,
      maxRetries: INGEST_TRIGGER.retry.maxRetryCount,
      checkpoints,
      maxBatchSize: options.maxBatchSize ?? 500,
      redeliveryRate: options.redeliveryRate ?? 0.05,
      random: () => random.next(),
      onBatch: ({ size, redelivered }) => {
        if (redelivered) redeliveredEvents += size;
      },
    });
    const ingestSeconds = (performance.now() - started) / 1000;
    const afterIngest = snapshot(proxy.counts);

    started = performance.now();
    const rolled = await rollupChargeback(stores, rollupOptionsFrom(stack.settings));
    const rollupSeconds = (performance.now() - started) / 1000;
    const afterRollup = snapshot(proxy.counts);

    const ingest = difference(afterIngest, ingestStart);
    const rollup = difference(afterRollup, afterIngest);
    const total = difference(afterRollup, ingestStart);
    const events = hub.eventCount;
    const writes = writeOperations(total);
    const serverRequestsByMethod = Object.fromEntries(Object.entries(stack.cosmos.requests).map(([m, n]) => [m, n - (serverBefore[m] ?? 0)]));
    return {
      events,
      distinctRequests: day.groundTruth.ledgerEntries,
      deliveries: delivery.deliveries,
      redeliveries: delivery.redeliveries,
      redeliveredEvents,
      ingest: { seconds: ingestSeconds, writes: writeOperations(ingest), counts: ingest },
      rollup: { seconds: rollupSeconds, writes: writeOperations(rollup), counts: rollup, ...rolled },
      writes,
      storeWritesPerEvent: writes / events,
      nonGetRequestsPlusBulkOperationsPerEvent: nonGetRequestsPlusBulkOperations(total) / events,
      serverRequestsByMethod,
    };
  } finally {
    client.dispose();
    await proxy.stop();
    await stack.stop();
  }
}
