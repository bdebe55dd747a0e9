import { createHash } from 'node:crypto';
import { afterEach, afterAll, describe, expect, it } from 'vitest';
import { createIngestHandler, INGEST_TRIGGER } from '../../functions/handlers/ingest-gateway-events.js';
import { CosmosDeadLetterStore } from '../../src/adapters/cosmos/cosmos-dead-letter-store.js';
import { CONTAINERS } from '../../src/config/composition-root.js';
import type { DeadLetter } from '../../src/contracts/dead-letter.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { TableCheckpointStore } from '../../src/local/checkpoint-store.js';
import { HostBindingError, hostBodies, LocalEventHub, runEventHubTrigger, type HubEvent } from '../../src/local/event-hub-runner.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { TransientStoreError } from '../../src/ports/ledger-store.js';
import { ingestBatch, type IngestPorts } from '../../src/services/ingest-batch.js';
import { joinDiagnostics } from '../../src/services/join-diagnostics.js';
import { deadLetterPayload, documentBytes, INLINE_DEAD_LETTER_BYTES, OffloadingDeadLetterStore } from '../../src/services/offloading-dead-letter-store.js';
import { replayAllQuarantined, replayQuarantinedBatch } from '../../src/services/replay-quarantine.js';
import { restoredBody } from '../../src/services/ingest-or-quarantine.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore, MemoryPayloadStore, MemoryWatermarkStore } from '../support/memory-stores.js';
import { FileCounters } from './support/counters.js';

const counters = new FileCounters('poison-and-oversize.test.ts');
const DAY = '2026-11-21';
const MIB = 1024 * 1024;

/**
 * A 1 MB body (the Event Hubs maximum) of control characters: not JSON, so it is dead-lettered as text, and JSON
 * escapes each of its bytes as `\u0001` (six bytes), so its dead letter would be a 6 MB document.
 */
function controlCharacterBody(): Buffer {
  return Buffer.alloc(MIB, 0x01);
}

/** A 6 MB body: over the Event Hubs limit, dead-lettered as bytes (base64, 8 MB in a document). */
function sixMegabyteBody(): Buffer {
  return Buffer.from(`{"pad":"${'x'.repeat(6 * MIB)}"}`, 'utf8');
}

async function collect<T>(pages: AsyncIterable<readonly T[]>): Promise<T[]> {
  const items: T[] = [];
  for await (const page of pages) items.push(...page);
  return items;
}

const byId = <T extends { id: string }>(a: T, b: T) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

async function ledgerOf(stack: LocalStack): Promise<LedgerEntry[]> {
  return (await collect(stack.stores.ledger.listEntries({ from: new Date('2020-01-01T00:00:00Z'), to: new Date('2030-01-01T00:00:00Z') }))).sort(byId);
}

async function deadLettersOf(stack: LocalStack): Promise<DeadLetter[]> {
  return (await collect(stack.stores.deadLetters.listDeadLetters())).sort(byId);
}

/**
 * The join timer's pass after the grace period, with nothing new to read: a diagnostic record streamed before its
 * request (a replayed batch arrives late) is matched here, as it would be in Azure, so outcomes compare whatever
 * the order the batches were ingested in.
 */
async function settle(ports: IngestPorts): Promise<void> {
  const noNewRecords = { readSince: async () => ({ records: [], rejected: [], nextWatermark: null, more: false }) };
  const { ledger, diagnostics, deadLetters, aggregates } = ports;
  await joinDiagnostics({ source: noNewRecords, watermarks: new MemoryWatermarkStore(), ledger, diagnostics, deadLetters, aggregates }, { now: new Date(Date.parse(`${DAY}T00:00:00Z`) + 2 * 86_400_000), graceInMs: 0, watermarkName: 'settle' });
}

/** What a healthy ingest of the same batches, in the same order, leaves in the ledger and the dead letters (in memory). */
async function reference(batches: readonly (readonly HubEvent[])[]): Promise<{ ledger: LedgerEntry[]; deadLetters: DeadLetter[] }> {
  const ledger = new MemoryLedgerStore();
  const letters = new MemoryDeadLetterStore();
  const ports = { ledger, deadLetters: new OffloadingDeadLetterStore(letters, new MemoryPayloadStore()), aggregates: new MemoryAggregateStore(), diagnostics: new MemoryDiagnosticsStore() };
  for (const batch of batches) {
    const bodies = hostBodies(batch, INGEST_TRIGGER.dataType);
    await ingestBatch(batch.map((e, i) => ({ body: bodies[i], position: { partitionId: '0', sequenceNumber: e.sequenceNumber, offset: e.offset, enqueuedTimeUtc: e.enqueuedTimeUtc } })), ports);
  }
  await settle(ports);
  return { ledger: ledger.snapshot().sort(byId), deadLetters: letters.snapshot().sort(byId) };
}

function slices<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Compares stored outcomes with the reference by id: missing ones are lost, extra ones doubled, different ones crashes. */
function compare<T extends { id: string }>(what: string, stored: readonly T[], expected: readonly T[]): { lost: number; doubled: number; different: number } {
  const storedIds = new Map(stored.map((s) => [s.id, s]));
  const expectedIds = new Map(expected.map((e) => [e.id, e]));
  const lost = expected.filter((e) => !storedIds.has(e.id)).length;
  const doubled = stored.length - new Set(stored.map((s) => s.id)).size + stored.filter((s) => !expectedIds.has(s.id)).length;
  const differing = expected.filter((e) => storedIds.has(e.id) && JSON.stringify(storedIds.get(e.id)) !== JSON.stringify(e));
  const different = differing.length;
  counters.add('lost', lost, what);
  counters.add('doubled', doubled, what);
  counters.add('crashes', different, `${what}.different`);
  return { lost, doubled, different };
}

/** Counts what the stores hold: dead letters whose payload is in Blob storage, and quarantined batches. */
async function countStored(stack: LocalStack): Promise<void> {
  counters.add('oversize', (await deadLettersOf(stack)).filter((l) => !('data' in l.raw)).length);
  counters.add('poison', (await stack.stores.quarantine.listBatches()).length);
}

describe('oversized and poison batches, and bodies that are not JSON, on the local stack (Cosmos DB server, Azurite)', () => {
  let stack: LocalStack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });
  afterAll(() => counters.save());

  it('dead-letters a 1 MB and a 6 MB body with their payload in Blob storage, ingests the rest of the batch, and never retries', async () => {
    stack = await startLocalStack();
    const day = simulateDay({ requests: 150, seed: 61, day: DAY });
    const hub = new LocalEventHub(1);
    const big = [controlCharacterBody(), sixMegabyteBody()];
    const lines = [...day.eventLines];
    const bodies: (string | Buffer)[] = [...lines.slice(0, 40), big[0]!, ...lines.slice(40, 90), big[1]!, ...lines.slice(90)];
    bodies.forEach((body, i) => hub.send(body, 'one-partition', new Date(Date.parse(`${DAY}T12:00:00Z`) + i)));
    const checkpoints = await TableCheckpointStore.create(stack.azurite.connectionString, 'oversize');

    const stats = await runEventHubTrigger(hub, createIngestHandler(() => stack!.stores), {
      functionName: 'ingest',
      dataType: INGEST_TRIGGER.dataType,
      checkpoints,
      maxBatchSize: bodies.length,
      maxRetries: INGEST_TRIGGER.retry.maxRetryCount,
    });
    expect({ deliveries: stats.deliveries, failures: stats.failures }).toEqual({ deliveries: 1, failures: 0 });
    expect(await stack.stores.quarantine.listBatches()).toEqual([]);

    const letters = await deadLettersOf(stack);
    for (const letter of letters) expect(documentBytes(letter), letter.id).toBeLessThanOrEqual(INLINE_DEAD_LETTER_BYTES);
    const offloaded = letters.filter((l) => !('data' in l.raw));
    expect(offloaded.map((l) => l.position.sequenceNumber).sort((a, b) => a! - b!)).toEqual([40, 91]);
    for (const letter of offloaded) {
      const original = big[letter.position.sequenceNumber === 40 ? 0 : 1]!;
      const payload = await deadLetterPayload(letter, stack.stores.deadLetterPayloads);
      expect(payload.equals(original)).toBe(true);
      expect(letter.raw).toMatchObject({ bytes: original.byteLength, blob: { container: 'dead-letters', sha256: createHash('sha256').update(original).digest('hex') } });
      expect(letter.position).toMatchObject({ partitionId: '0', itemIndex: null });
    }
    expect(offloaded.find((l) => l.position.sequenceNumber === 40)?.reason).toMatch(/not JSON/);
    expect(offloaded.find((l) => l.position.sequenceNumber === 91)?.reason).toMatch(/exceeds/);

    await settle(stack.stores);
    const expected = await reference([hub.partitions[0]!]);
    const ledger = await ledgerOf(stack);
    expect(compare('oversize.ledger', ledger, expected.ledger)).toEqual({ lost: 0, doubled: 0, different: 0 });
    expect(compare('oversize.dead-letters', letters, expected.deadLetters)).toEqual({ lost: 0, doubled: 0, different: 0 });
    counters.add('events', ledger.length, 'oversize');
    counters.add('inputs', big.length, 'oversize');
    await countStored(stack);
  });

  it('quarantines a batch that fails for good (Cosmos DB answers 413) with its partition and offsets; the partition moves on, and replay restores it exactly', async () => {
    stack = await startLocalStack();
    const day = simulateDay({ requests: 200, seed: 62, day: DAY });
    const hub = new LocalEventHub(1);
    const bodies: (string | Buffer)[] = [...day.eventLines.slice(0, 60), controlCharacterBody(), ...day.eventLines.slice(60)];
    bodies.forEach((body, i) => hub.send(body, 'one-partition', new Date(Date.parse(`${DAY}T13:00:00Z`) + i)));
    const events = hub.partitions[0]!;
    const BATCH = 50;

    // Dead letters written straight to Cosmos DB, without the Blob storage offload: the 6 MB document is refused
    // with 413 on every delivery, a permanent failure.
    const poisoned = { ...stack.stores, deadLetters: new CosmosDeadLetterStore(stack.stores.database.container(CONTAINERS.deadLetters.id)) };
    const checkpoints = await TableCheckpointStore.create(stack.azurite.connectionString, 'poison');
    const stats = await runEventHubTrigger(hub, createIngestHandler(() => poisoned), {
      functionName: 'ingest',
      dataType: INGEST_TRIGGER.dataType,
      checkpoints,
      maxBatchSize: BATCH,
      maxRetries: INGEST_TRIGGER.retry.maxRetryCount,
    });
    // Not retried: the host would deliver it again only to fail the same way. The partition moved to its end.
    expect(stats.failures).toBe(0);
    expect(stats.deliveries).toBe(Math.ceil(events.length / BATCH));
    expect(await checkpoints.get('0')).toBe(events.length);

    const listings = await stack.stores.quarantine.listBatches();
    expect(listings).toHaveLength(1);
    expect(listings[0]).toMatchObject({ partitionId: '0', replayedAt: null });
    const quarantined = (await stack.stores.quarantine.getBatch(listings[0]!.name))!;
    const poisonBatch = events.slice(BATCH, 2 * BATCH);
    expect(quarantined).toMatchObject({ partitionId: '0', failure: 'permanent', attempts: 1 });
    expect(quarantined.reason).toMatch(/413/);
    expect(quarantined.events.map((e) => [e.sequenceNumber, e.offset, e.enqueuedTimeUtc])).toEqual(poisonBatch.map((e) => [e.sequenceNumber, e.offset, e.enqueuedTimeUtc]));
    const delivered = hostBodies(poisonBatch, INGEST_TRIGGER.dataType) as Buffer[];
    quarantined.events.forEach((e, i) => expect((restoredBody(e.body) as Buffer).equals(delivered[i]!)).toBe(true));

    // Fixed (dead letters go through the offloading store again): replay restores what a healthy run leaves.
    const replayed = await replayAllQuarantined(stack.stores);
    expect(replayed.map((r) => [r.name, r.events])).toEqual([[listings[0]!.name, poisonBatch.length]]);
    await settle(stack.stores);
    const expected = await reference(slices(events, BATCH));
    const ledger = await ledgerOf(stack);
    const letters = await deadLettersOf(stack);
    expect(compare('poison.ledger', ledger, expected.ledger)).toEqual({ lost: 0, doubled: 0, different: 0 });
    expect(compare('poison.dead-letters', letters, expected.deadLetters)).toEqual({ lost: 0, doubled: 0, different: 0 });
    expect((await stack.stores.quarantine.listBatches())[0]!.replayedAt).toBeInstanceOf(Date);

    // Replaying again changes nothing: `--all` finds nothing waiting, `--batch` re-ingests the same documents.
    expect(await replayAllQuarantined(stack.stores)).toEqual([]);
    await replayQuarantinedBatch(listings[0]!.name, stack.stores);
    expect(await ledgerOf(stack)).toEqual(ledger);
    expect(await deadLettersOf(stack)).toEqual(letters);
    counters.add('events', ledger.length, 'poison');
    counters.add('inputs', 1, 'poison');
    await countStored(stack);
  });

  it('quarantines a batch whose transient failure outlasts every retry on the host\'s last delivery; replay restores it', async () => {
    stack = await startLocalStack();
    const day = simulateDay({ requests: 120, seed: 64, day: DAY });
    const hub = new LocalEventHub(1);
    day.eventLines.forEach((body, i) => hub.send(body, 'one-partition', new Date(Date.parse(`${DAY}T15:00:00Z`) + i)));
    const events = hub.partitions[0]!;
    const BATCH = 40;
    // The store is unavailable for the whole time the second batch is delivered (first delivery and every retry).
    let batchNumber = 0;
    let attemptsDuringOutage = 0;
    const healthy = stack.stores;
    const ledger = healthy.ledger;
    const unavailable: typeof healthy = {
      ...healthy,
      ledger: {
        readEntries: (keys, options) => ledger.readEntries(keys, options),
        getEntriesByApimRequestIds: (ids, options) => ledger.getEntriesByApimRequestIds(ids, options),
        getEntriesByGatewayRequestIds: (ids, options) => ledger.getEntriesByGatewayRequestIds(ids, options),
        listEntries: (range, options) => ledger.listEntries(range, options),
        listEntryPage: (range, after, limit, options) => ledger.listEntryPage(range, after, limit, options),
        listUnjoined: (cutoff, options) => ledger.listUnjoined(cutoff, options),
        listUncountedStreams: (range, options) => ledger.listUncountedStreams(range, options),
        createEntries: (entries, options) => ledger.createEntries(entries, options),
        writeEntries: async (writes, options) => {
          if (batchNumber === 2) {
            attemptsDuringOutage++;
            throw new TransientStoreError('bulk conditional write in ledger failed (status 503)');
          }
          return ledger.writeEntries(writes, options);
        },
      },
    };
    const checkpoints = await TableCheckpointStore.create(stack.azurite.connectionString, 'transient-poison');
    const stats = await runEventHubTrigger(hub, createIngestHandler(() => unavailable, { retry: { attempts: 3, backoffInMs: () => 5 } }), {
      functionName: 'ingest',
      dataType: INGEST_TRIGGER.dataType,
      checkpoints,
      maxBatchSize: BATCH,
      maxRetries: INGEST_TRIGGER.retry.maxRetryCount,
      onBatch: ({ redelivered }) => {
        if (!redelivered) batchNumber++;
      },
    });
    // Delivered once and retried maxRetryCount times by the host, each invocation trying 3 times; then quarantined.
    expect(stats.failures).toBe(INGEST_TRIGGER.retry.maxRetryCount);
    expect(attemptsDuringOutage).toBe(3 * (INGEST_TRIGGER.retry.maxRetryCount + 1));
    expect(await checkpoints.get('0')).toBe(events.length);
    const listings = await stack.stores.quarantine.listBatches();
    expect(listings).toHaveLength(1);
    const quarantined = (await stack.stores.quarantine.getBatch(listings[0]!.name))!;
    expect(quarantined).toMatchObject({ partitionId: '0', failure: 'transient', attempts: 3 });
    expect(quarantined.events.map((e) => e.sequenceNumber)).toEqual(events.slice(BATCH, 2 * BATCH).map((e) => e.sequenceNumber));

    await replayAllQuarantined(stack.stores);
    await settle(stack.stores);
    const expected = await reference(slices(events, BATCH));
    const stored = await ledgerOf(stack);
    expect(compare('transient-poison.ledger', stored, expected.ledger)).toEqual({ lost: 0, doubled: 0, different: 0 });
    expect(compare('transient-poison.dead-letters', await deadLettersOf(stack), expected.deadLetters)).toEqual({ lost: 0, doubled: 0, different: 0 });
    counters.add('events', stored.length, 'transient-poison');
    counters.add('faults', attemptsDuringOutage, 'store-outage');
    await countStored(stack);
  });

  it('with raw binding, dead-letters a body that is not JSON alone and ingests the rest; JSON binding fails the whole batch', async () => {
    stack = await startLocalStack();
    const day = simulateDay({ requests: 100, seed: 63, day: DAY });
    const bad = ['{"schema":"tokenledger.gateway/v1", truncated', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])];
    const hub = new LocalEventHub(1);
    const bodies: (string | Buffer)[] = [...day.eventLines.slice(0, 30), bad[0]!, ...day.eventLines.slice(30, 70), bad[1]!, ...day.eventLines.slice(70)];
    bodies.forEach((body, i) => hub.send(body, 'one-partition', new Date(Date.parse(`${DAY}T14:00:00Z`) + i)));
    const run = async (group: string, dataType: 'default' | typeof INGEST_TRIGGER.dataType) =>
      runEventHubTrigger(hub, createIngestHandler(() => stack!.stores), {
        functionName: 'ingest',
        dataType,
        checkpoints: await TableCheckpointStore.create(stack!.azurite.connectionString, group),
        maxBatchSize: bodies.length,
        maxRetries: 1,
      });

    // Without a data type the host JSON-binds the batch: it fails before the handler runs, on every delivery, and
    // the host passes over it when its retries run out.
    const bound = await run('json-bound', 'default');
    expect(bound.abandoned.map((batch) => [batch.from, batch.to, batch.error instanceof HostBindingError])).toEqual([[0, bodies.length - 1, true]]);
    expect(bound.failures).toBe(2);
    expect(await ledgerOf(stack)).toEqual([]);

    const stats = await run('raw', INGEST_TRIGGER.dataType);
    expect({ deliveries: stats.deliveries, failures: stats.failures }).toEqual({ deliveries: 1, failures: 0 });
    const letters = await deadLettersOf(stack);
    const ofBad = letters.filter((l) => l.position.sequenceNumber === 30 || l.position.sequenceNumber === 71);
    expect(ofBad.map((l) => [l.position.sequenceNumber, l.raw.encoding]).sort()).toEqual([
      [30, 'utf8'],
      [71, 'base64'],
    ]);
    await settle(stack.stores);
    const expected = await reference([hub.partitions[0]!]);
    const ledger = await ledgerOf(stack);
    expect(ledger.length).toBeGreaterThan(50);
    expect(compare('non-json.ledger', ledger, expected.ledger)).toEqual({ lost: 0, doubled: 0, different: 0 });
    expect(compare('non-json.dead-letters', letters, expected.deadLetters)).toEqual({ lost: 0, doubled: 0, different: 0 });
    counters.add('events', ledger.length, 'non-json');
    counters.add('inputs', bad.length, 'non-json');
    await countStored(stack);
  });
});
