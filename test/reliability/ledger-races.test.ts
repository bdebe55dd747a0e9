import type { Database } from '@azure/cosmos';
import { afterAll, describe, expect, it } from 'vitest';
import { CosmosDeadLetterStore } from '../../src/adapters/cosmos/cosmos-dead-letter-store.js';
import { CosmosDiagnosticsStore } from '../../src/adapters/cosmos/cosmos-diagnostics-store.js';
import { CosmosLedgerStore } from '../../src/adapters/cosmos/cosmos-ledger-store.js';
import { CONTAINERS, ensureContainers } from '../../src/config/composition-root.js';
import type { DeadLetter } from '../../src/contracts/dead-letter.js';
import type { DiagnosticRecord } from '../../src/contracts/diagnostic-record.js';
import type { GatewayEventV1Input } from '../../src/contracts/gateway-event.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { duplicateWinner, hourBucket, ledgerPartition, partOf } from '../../src/domain/ledger.js';
import type { LedgerStore } from '../../src/ports/ledger-store.js';
import { CONFLICTING_DUPLICATE, ingestBatch, sortBatch, type IngestPorts, type ReceivedEvent } from '../../src/services/ingest-batch.js';
import { applyRecords, joinCounts, joinDiagnostics, type JoinPorts } from '../../src/services/join-diagnostics.js';
import { diagnosticRecord } from '../support/diagnostic-records.js';
import { expectConditionalRecordWrites } from '../support/diagnostics-store-contract.js';
import { MemoryAggregateStore, MemoryWatermarkStore } from '../support/memory-stores.js';
import { useLocalCosmos } from '../support/local-cosmos.js';
import { FileCounters } from './support/counters.js';

const counters = new FileCounters('ledger-races.test.ts');
const REQUESTS = 40;
const APIM = '/SUBSCRIPTIONS/00000000-0000-4000-8000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/CONTOSO-APIM';
const requests = Array.from({ length: REQUESTS }, (_, n) => n);
const gatewayRequestId = (n: number) => `0f6e2a4c-8d1b-4c3e-9a7f-${String(n).padStart(12, '0')}`;
const apimRequestId = (n: number) => `b7e1c3a2-9d4f-4e6a-8b2c-${String(n).padStart(12, '0')}`;
const received = (bodies: readonly unknown[]): ReceivedEvent[] => bodies.map((body, i) => ({ body, position: { partitionId: '0', sequenceNumber: i, offset: String(i), enqueuedTimeUtc: null } }));

/** APIM's GatewayLogs record of request n: its subscription and the backend's apim-request-id, no tokens (a stream). */
function gatewayLog(n: number, time: string): object {
  return {
    category: 'GatewayLogs',
    time,
    resourceId: APIM,
    correlationId: gatewayRequestId(n),
    durationMs: 900,
    location: 'West Europe',
    properties: {
      operationId: 'ChatCompletions_Create',
      apimSubscriptionId: `sub-${n}`,
      backendId: 'aoai-eastus',
      backendUrl: 'https://aoai-eastus.openai.azure.com/openai/deployments/gpt-4o/chat/completions',
      requestBody: '{"stream":true}',
      responseCode: 200,
      backendTime: 850,
      backendResponseHeaders: { 'apim-request-id': apimRequestId(n), 'x-ms-region': 'East US' },
    },
  };
}

/** APIM's GatewayLlmLogs row of request n: its tokens, and no subscription. */
function llmLog(n: number, time: string): object {
  return {
    category: 'GatewayLlmLogs',
    time,
    resourceId: APIM,
    correlationId: gatewayRequestId(n),
    location: 'West Europe',
    properties: { DeploymentName: 'gpt-4o', ModelName: 'gpt-4o', PromptTokens: 100 + n, CompletionTokens: 10 + n, TotalTokens: 110 + 2 * n, IsStreamCompletion: true },
  };
}

/** The gateway policy's v1 event of request n (it knows the subscription and the apim-request-id). */
function v1Event(n: number, time: string, overrides: Partial<GatewayEventV1Input> = {}): GatewayEventV1Input {
  return {
    schema: 'tokenledger.gateway/v1',
    gatewayRequestId: gatewayRequestId(n),
    apimRequestId: apimRequestId(n),
    time,
    gateway: { service: 'contoso-apim', region: 'West Europe', backendId: 'aoai-eastus' },
    backendRegion: 'East US',
    subscriptionId: `sub-${n}`,
    caller: { oid: '11111111-2222-4333-8444-555555555555', idtyp: 'user' },
    deployment: 'gpt-4o',
    model: 'gpt-4o-2024-08-06',
    stream: false,
    status: 200,
    usage: { promptTokens: 100 + n, completionTokens: 10 + n },
    timings: { totalMs: 900, backendMs: 850 },
    ...overrides,
  } as GatewayEventV1Input;
}

function diagnosticRecordOf(n: number, time: string): DiagnosticRecord {
  return diagnosticRecord({ correlationId: apimRequestId(n), time });
}

/**
 * A worker's view of the ledger that holds it between its first read (by key, or by apim-request-id) and its
 * write: before it hands the worker what it read, `meanwhile` runs to the end (the other worker reads and writes).
 * Lost races are counted, so a test can prove that the interleaving it forced really happened.
 */
function pausedAfterFirstRead(store: LedgerStore, meanwhile: () => Promise<void>): { ledger: LedgerStore; conflicts: () => number } {
  let paused = false;
  let conflicts = 0;
  const pause = async <T>(read: Promise<T>): Promise<T> => {
    const found = await read;
    if (!paused) {
      paused = true;
      await meanwhile();
    }
    return found;
  };
  const ledger: LedgerStore = {
    createEntries: (entries, options) => store.createEntries(entries, options),
    readEntries: (keys, options) => pause(store.readEntries(keys, options)),
    getEntriesByApimRequestIds: (ids, options) => pause(store.getEntriesByApimRequestIds(ids, options)),
    getEntriesByGatewayRequestIds: (ids, options) => store.getEntriesByGatewayRequestIds(ids, options),
    listUnjoined: (cutoff, options) => store.listUnjoined(cutoff, options),
    listUncountedStreams: (range, options) => store.listUncountedStreams(range, options),
    listEntries: (range, options) => store.listEntries(range, options),
    listEntryPage: (range, after, limit, options) => store.listEntryPage(range, after, limit, options),
    writeEntries: async (writes, options) => {
      const outcome = await store.writeEntries(writes, options);
      conflicts += outcome.conflicts.length;
      return outcome;
    },
  };
  return { ledger, conflicts: () => conflicts };
}

interface Expected {
  readonly subscriptionId: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly time: string;
  readonly matched?: boolean;
}

/** The ledger against what each request must be: one document per request, with its subscription, tokens and time. */
function checkLedger(kind: string, documents: readonly LedgerEntry[], expected: ReadonlyMap<string, Expected>): { lost: number; doubled: number } {
  const byId = new Map<string, LedgerEntry[]>();
  for (const d of documents) byId.set(d.gatewayRequestId, [...(byId.get(d.gatewayRequestId) ?? []), d]);
  let lost = 0;
  let doubled = 0;
  for (const [id, want] of expected) {
    const found = byId.get(id) ?? [];
    if (found.length > 1) doubled += found.length - 1;
    const [doc] = found;
    if (!doc) lost++;
    else {
      // A field the request had and the document lacks is lost too (a subscription, tokens, the join's verdict).
      if (doc.subscriptionId !== want.subscriptionId) lost++;
      if (doc.tokens.promptTokens !== want.promptTokens || doc.tokens.completionTokens !== want.completionTokens) lost++;
      if (doc.time !== want.time) lost++;
      if (want.matched && doc.diagnostics?.status !== 'matched') lost++;
    }
  }
  doubled += [...byId.keys()].filter((id) => !expected.has(id)).length;
  counters.add('lost', lost);
  counters.add('doubled', doubled);
  counters.add('races', 1, kind);
  return { lost, doubled };
}

/** Tokens by UTC hour, from the documents and from the expectation. */
function totalsByHour(entries: Iterable<{ time: string; promptTokens: number; completionTokens: number }>): Record<string, { requests: number; tokens: number }> {
  const out: Record<string, { requests: number; tokens: number }> = {};
  for (const e of entries) {
    const hour = (out[hourBucket(e.time)] ??= { requests: 0, tokens: 0 });
    hour.requests++;
    hour.tokens += e.promptTokens + e.completionTokens;
  }
  return out;
}

describe('ledger races forced on the local Cosmos DB server: one document per request, exact under concurrency', () => {
  const client = useLocalCosmos();
  let databases = 0;

  /** A fresh database for one forced race: the ledger, dead letters and diagnostics on the server, markers in memory. */
  async function freshPorts(): Promise<IngestPorts & { ledger: CosmosLedgerStore; aggregates: MemoryAggregateStore; deadLetters: CosmosDeadLetterStore; database: Database }> {
    const { database } = await client().databases.createIfNotExists({ id: `races-${++databases}` });
    await ensureContainers(database);
    return {
      database,
      ledger: new CosmosLedgerStore(database.container(CONTAINERS.ledger.id)),
      deadLetters: new CosmosDeadLetterStore(database.container(CONTAINERS.deadLetters.id)),
      diagnostics: new CosmosDiagnosticsStore(database.container(CONTAINERS.diagnostics.id)),
      aggregates: new MemoryAggregateStore(),
    };
  }

  async function allEntries(ledger: LedgerStore): Promise<LedgerEntry[]> {
    const out: LedgerEntry[] = [];
    for await (const page of ledger.listEntries({ from: new Date('2026-11-19T00:00:00Z'), to: new Date('2026-11-22T00:00:00Z') })) out.push(...page);
    return out;
  }

  async function allLetters(store: CosmosDeadLetterStore): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    for await (const page of store.listDeadLetters()) out.push(...page);
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Runs a forced race, counting an exception as a crash before it fails the test. */
  async function race(run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      counters.add('crashes', 1);
      throw error;
    }
  }

  afterAll(async () => {
    counters.save();
  });

  it('the local server refuses a replace at a stale version and a create of an existing document, inside a bulk too', async () => {
    const ports = await freshPorts();
    await ingestBatch(received([JSON.stringify(v1Event(1, '2026-11-20T10:15:00.000Z'))]), ports);
    const [stored] = await ports.ledger.readEntries([{ id: gatewayRequestId(1) }]);
    expect(stored).toBeDefined();
    // The document lies in the partition its id gives; the entry read back is the entry alone.
    const { resources: documents } = await ports.database.container(CONTAINERS.ledger.id).items.readAll<{ id: string; pk: string }>().fetchAll();
    expect(documents.map((d) => [d.id, d.pk])).toEqual([[stored!.entry.id, ledgerPartition(stored!.entry.id)]]);
    expect(stored!.entry).not.toHaveProperty('pk');
    const changed = { ...stored!.entry, status: 201 };
    expect((await ports.ledger.writeEntries([{ entry: changed, etag: stored!.etag }])).conflicts).toEqual([]);
    const stale = await ports.ledger.writeEntries([{ entry: { ...stored!.entry, status: 202 }, etag: stored!.etag }, { entry: stored!.entry, etag: null }]);
    expect(stale.conflicts).toHaveLength(2);
    expect((await allEntries(ports.ledger)).map((e) => e.status)).toEqual([201]);
  });

  for (const [kind, gatewayTime, llmTime] of [
    ['apim-halves', '2026-11-20T10:15:00.000Z', '2026-11-20T10:15:02.000Z'],
    ['apim-halves-across-hours', '2026-11-20T10:59:59.900Z', '2026-11-20T11:00:00.100Z'],
  ] as const) {
    for (const first of ['gateway-logs', 'llm-logs'] as const) {
      it(`${kind}: two workers merge the GatewayLogs and GatewayLlmLogs halves of ${REQUESTS} requests at once (${first} read first)`, async () => {
        await race(async () => {
          const ports = await freshPorts();
          const gatewayBatch = received([JSON.stringify({ records: requests.map((n) => gatewayLog(n, gatewayTime)) })]);
          const llmBatch = received([JSON.stringify({ records: requests.map((n) => llmLog(n, llmTime)) })]);
          const [held, other] = first === 'gateway-logs' ? [gatewayBatch, llmBatch] : [llmBatch, gatewayBatch];
          const paused = pausedAfterFirstRead(ports.ledger, async () => {
            await ingestBatch(other, ports);
          });
          await ingestBatch(held, { ...ports, ledger: paused.ledger });
          // Every write of the held worker lost its race once, and was merged again on what the other wrote.
          expect(paused.conflicts()).toBe(REQUESTS);

          const documents = await allEntries(ports.ledger);
          const expected = new Map(requests.map((n) => [gatewayRequestId(n), { subscriptionId: `sub-${n}`, promptTokens: 100 + n, completionTokens: 10 + n, time: gatewayTime }]));
          expect(checkLedger(kind, documents, expected)).toEqual({ lost: 0, doubled: 0 });
          expect(totalsByHour(documents.map((d) => ({ time: d.time, ...d.tokens })))).toEqual(totalsByHour([...expected.values()]));
          // Every hour a request was ever stored in is for the rollup to redo: the LLM-log hour only when that half was stored first.
          const storedIn = first === 'gateway-logs' ? [gatewayTime, llmTime] : [gatewayTime];
          expect([...ports.aggregates.dirty.keys()].sort()).toEqual([...new Set(storedIn.map(hourBucket))].sort());
          expect(await allLetters(ports.deadLetters)).toEqual([]);
        });
      });
    }
  }

  for (const first of ['join', 'ingest'] as const) {
    it(`join-vs-apim-merge: the join enriches ${REQUESTS} requests while GatewayLogs move them to the hour before (${first} read first)`, async () => {
      await race(async () => {
        const ports = await freshPorts();
        const v1Time = '2026-11-20T11:00:00.200Z';
        const gatewayTime = '2026-11-20T10:59:59.800Z';
        await ingestBatch(received(requests.map((n) => JSON.stringify(v1Event(n, v1Time)))), ports);
        const records = requests.map((n) => diagnosticRecordOf(n, '2026-11-20T11:00:00.100Z'));
        const gatewayBatch = received([JSON.stringify({ records: requests.map((n) => gatewayLog(n, gatewayTime)) })]);
        const join = (ledger: LedgerStore) => applyRecords(records, { ...ports, ledger }, {}).then(() => {});
        const ingest = (ledger: LedgerStore) => ingestBatch(gatewayBatch, { ...ports, ledger });
        const paused = first === 'join' ? pausedAfterFirstRead(ports.ledger, () => ingest(ports.ledger).then(() => {})) : pausedAfterFirstRead(ports.ledger, () => join(ports.ledger));
        if (first === 'join') await join(paused.ledger);
        else await ingest(paused.ledger);
        expect(paused.conflicts()).toBe(REQUESTS);

        const documents = await allEntries(ports.ledger);
        const expected = new Map(requests.map((n) => [gatewayRequestId(n), { subscriptionId: `sub-${n}`, promptTokens: 100 + n, completionTokens: 10 + n, time: gatewayTime, matched: true }]));
        expect(checkLedger('join-vs-apim-merge', documents, expected)).toEqual({ lost: 0, doubled: 0 });
        expect(totalsByHour(documents.map((d) => ({ time: d.time, ...d.tokens })))).toEqual({ '2026-11-20T10': { requests: REQUESTS, tokens: totalsByHour([...expected.values()])['2026-11-20T10']!.tokens } });
        expect([...ports.aggregates.dirty.keys()].sort()).toEqual(['2026-11-20T10', '2026-11-20T11']);
        const diagnostics = await ports.diagnostics.getRecords(records.map((r) => r.correlationId));
        expect(diagnostics.map((r) => r.gateway)).toEqual(records.map(() => 'matched'));
      });
    });
  }

  describe('join verdicts forced against the ingest: a record matched once stays matched', () => {
    const time = '2026-11-20T10:15:00.000Z';
    const records = requests.map((n) => diagnosticRecordOf(n, time));
    const events = received(requests.map((n) => JSON.stringify(v1Event(n, time))));
    const noNewRecords: JoinPorts['source'] = { readSince: async () => ({ records: [], rejected: [], nextWatermark: null, more: false }) };
    // A day after the requests: past the grace period, so the join judges every record and entry it finds.
    const judgeAll = (ports: Awaited<ReturnType<typeof freshPorts>>, ledger: LedgerStore = ports.ledger) =>
      joinDiagnostics({ ...ports, ledger, source: noNewRecords, watermarks: new MemoryWatermarkStore() }, { now: new Date('2026-11-21T12:00:00Z'), graceInMs: 3_600_000, watermarkName: 'diagnostics' });
    it('the local server refuses a diagnostic record written at a stale version or created twice', async () => {
      await expectConditionalRecordWrites((await freshPorts()).diagnostics);
    });

    const statuses = async (ports: Awaited<ReturnType<typeof freshPorts>>) => (await ports.diagnostics.getRecords(records.map((r) => r.correlationId))).map((r) => r.gateway);

    /** Every record must end matched, and the traffic counts must show no bypass: a status set back is a verdict lost. */
    async function checkVerdicts(kind: string, ports: Awaited<ReturnType<typeof freshPorts>>): Promise<void> {
      const final = await statuses(ports);
      const lost = final.filter((status) => status !== 'matched').length;
      counters.add('lost', lost);
      counters.add('races', 1, kind);
      expect(final).toEqual(records.map(() => 'matched'));
      const day = { from: new Date('2026-11-20T00:00:00Z'), to: new Date('2026-11-21T00:00:00Z') };
      expect(await joinCounts(ports.ledger, ports.diagnostics, day)).toEqual({ matched: REQUESTS, noDiagnostics: 0, bypass: 0 });
      // Nothing left for a later run to judge, and nothing it would change.
      expect(await judgeAll(ports)).toMatchObject({ entriesJudged: 0, recordsJudged: 0 });
      expect(await statuses(ports)).toEqual(final);
    }

    it(`the ingest stores ${REQUESTS} records judged bypass again while the late gateway requests are ingested and joined`, async () => {
      await race(async () => {
        const ports = await freshPorts();
        await applyRecords(records, ports, {});
        await judgeAll(ports);
        expect(await statuses(ports)).toEqual(records.map(() => 'bypass'));
        let duringPause: string[] = [];
        // The ingest has read the stored records; before it writes them, the gateway requests arrive and the join matches them.
        const paused = pausedAfterFirstRead(ports.ledger, async () => {
          await ingestBatch(events, ports);
          await judgeAll(ports);
          duringPause = await statuses(ports);
        });
        await applyRecords(records, { ...ports, ledger: paused.ledger }, {});
        expect(duringPause).toEqual(records.map(() => 'matched'));
        await checkVerdicts('verdict-ingest-after-join', ports);
      });
    });

    it(`the join judges ${REQUESTS} pending records bypass while their gateway requests and records are ingested`, async () => {
      await race(async () => {
        const ports = await freshPorts();
        await applyRecords(records, ports, {});
        expect(await statuses(ports)).toEqual(records.map(() => 'pending'));
        let duringPause: string[] = [];
        // The join has read the pending records and found no request for them; before it writes its verdict, the
        // requests arrive and the records, delivered again through Event Hubs, match them.
        const paused = pausedAfterFirstRead(ports.ledger, async () => {
          await ingestBatch(events, ports);
          await applyRecords(records, ports, {});
          duringPause = await statuses(ports);
        });
        expect(await judgeAll(ports, paused.ledger)).toMatchObject({ recordsJudged: REQUESTS });
        expect(duringPause).toEqual(records.map(() => 'matched'));
        await checkVerdicts('verdict-join-after-ingest', ports);
      });
    });
  });

  describe('conflicting duplicates: the same request told twice differently by the gateway', () => {
    const time = '2026-11-20T12:30:00.000Z';
    const variantA = (n: number) => JSON.stringify(v1Event(n, time));
    const variantB = (n: number) => JSON.stringify(v1Event(n, time, { status: 429, usage: { promptTokens: 5 + n, completionTokens: 0 } }));
    const entryOf = (line: string) => sortBatch(received([line])).entries[0]!;
    const winners = requests.map((n) => duplicateWinner(partOf(entryOf(variantA(n))), partOf(entryOf(variantB(n)))).winner);
    const outcomes: { ledger: LedgerEntry[]; letters: DeadLetter[] }[] = [];

    async function check(kind: string, ports: Awaited<ReturnType<typeof freshPorts>>): Promise<void> {
      const documents = await allEntries(ports.ledger);
      const expected = new Map(winners.map((w) => [w.gatewayRequestId, { subscriptionId: w.subscriptionId!, promptTokens: w.tokens.promptTokens, completionTokens: w.tokens.completionTokens, time }]));
      expect(checkLedger(kind, documents, expected)).toEqual({ lost: 0, doubled: 0 });
      expect(documents.map((d) => d.status).sort()).toEqual(winners.map((w) => w.status).sort());
      const letters = await allLetters(ports.deadLetters);
      const keys = new Set(documents.map((d) => `${ledgerPartition(d.id)}|${d.id}`));
      const linked = letters.filter((l) => l.reason === CONFLICTING_DUPLICATE && l.duplicateOf && keys.has(`${l.duplicateOf.pk}|${l.duplicateOf.id}`));
      // Each loser is kept once, linked to its winner's document.
      counters.add('lost', Math.max(0, REQUESTS - linked.length));
      counters.add('doubled', Math.max(0, letters.length - REQUESTS));
      expect(linked).toHaveLength(REQUESTS);
      expect(letters).toHaveLength(REQUESTS);
      outcomes.push({ ledger: documents.sort((a, b) => (a.id < b.id ? -1 : 1)), letters });
    }

    for (const [kind, batches] of [
      ['duplicates-a-then-b', [requests.map(variantA), requests.map(variantB)]],
      ['duplicates-b-then-a', [requests.map(variantB), requests.map(variantA)]],
      ['duplicates-one-batch', [requests.flatMap((n) => (n % 2 === 0 ? [variantA(n), variantB(n)] : [variantB(n), variantA(n)]))]],
    ] as const) {
      it(`keeps the same winner and dead-letters the loser with a link: ${kind}`, async () => {
        await race(async () => {
          const ports = await freshPorts();
          for (const batch of batches) await ingestBatch(received(batch), ports);
          await check(kind, ports);
        });
      });
    }

    for (const first of ['a', 'b'] as const) {
      it(`keeps the same winner when two workers deliver the two versions at once (${first} read first)`, async () => {
        await race(async () => {
          const ports = await freshPorts();
          const [held, other] = first === 'a' ? [requests.map(variantA), requests.map(variantB)] : [requests.map(variantB), requests.map(variantA)];
          const paused = pausedAfterFirstRead(ports.ledger, async () => {
            await ingestBatch(received(other), ports);
          });
          await ingestBatch(received(held), { ...ports, ledger: paused.ledger });
          expect(paused.conflicts()).toBe(REQUESTS);
          await check(`duplicates-concurrent-${first}-first`, ports);
        });
      });
    }

    it('gives one ledger and one set of dead letters over every order, batching and interleaving', () => {
      expect(outcomes).toHaveLength(5);
      for (const outcome of outcomes) expect(outcome).toEqual(outcomes[0]);
    });
  });
});
