import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import type { DeadLetter } from '../../src/contracts/dead-letter.js';
import type { GatewayEventV1Input } from '../../src/contracts/gateway-event.js';
import { decodeBody, MAX_BODY_BYTES } from '../../src/domain/event-decoding.js';
import { normalizeEvent, normalizeV1Text } from '../../src/domain/event-normalization.js';
import { ledgerPartition, toLedgerEntry } from '../../src/domain/ledger.js';
import { usageTilesOf } from '../../src/services/chargeback-report.js';
import { rollupChargeback } from '../../src/services/rollup-chargeback.js';
import { MAX_UPDATE_ROUNDS } from '../../src/services/update-ledger.js';
import { TransientStoreError } from '../../src/ports/ledger-store.js';
import { ingestBatch, sortBatch, type ReceivedEvent } from '../../src/services/ingest-batch.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { archiveRecords } from '../support/diagnostic-records.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore } from '../support/memory-stores.js';

/** The payload a dead letter keeps in its document (the ingest service builds every letter that way). */
function inlineData(letter: DeadLetter): string {
  if (!('data' in letter.raw)) throw new Error(`dead letter ${letter.id} has no inline payload`);
  return letter.raw.data;
}

const fixtureText = readFileSync(new URL('../fixtures/apim-gatewaylogs.records.json', import.meta.url), 'utf8');

function v1Event(n: number, overrides: Partial<GatewayEventV1Input> = {}): GatewayEventV1Input {
  return {
    schema: 'tokenledger.gateway/v1',
    gatewayRequestId: `gw-${n}`,
    apimRequestId: `0000000${n}-aaaa-4bbb-8ccc-dddddddddddd`,
    time: '2026-11-20T10:15:00.000Z',
    gateway: { service: 'contoso-ai-gateway', region: 'West Europe', backendId: 'aoai-eastus' },
    backendRegion: 'East US',
    subscriptionId: 'sub-search-0',
    caller: { oid: '11111111-2222-4333-8444-555555555555', idtyp: 'user', upn: 'ana@contoso.example' },
    deployment: 'gpt-4o-prod',
    model: 'gpt-4o-2024-08-06',
    stream: false,
    status: 200,
    usage: { promptTokens: 100 + n, completionTokens: 10, totalTokens: 110 + n },
    ...overrides,
  };
}

function position(sequenceNumber: number): ReceivedEvent['position'] {
  return { partitionId: '3', sequenceNumber, offset: String(sequenceNumber * 1024), enqueuedTimeUtc: '2026-11-20T10:16:00.000Z' };
}

const APIM_RESOURCE_ID = '/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/APIM1';
const CORRELATION_ID = '8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';

const gatewayLogsRecord = {
  category: 'GatewayLogs',
  time: '2026-11-20T10:15:00.000Z',
  resourceId: APIM_RESOURCE_ID,
  correlationId: CORRELATION_ID,
  durationMs: 1800,
  location: 'East US',
  properties: {
    apimSubscriptionId: 'sub-search-0',
    backendUrl: 'https://contoso.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions',
    requestBody: '{"stream":true}',
    responseCode: 200,
    backendTime: 1750,
  },
};

const llmLogsRecord = {
  category: 'GatewayLlmLogs',
  time: '2026-11-20T10:15:00.000Z',
  resourceId: APIM_RESOURCE_ID,
  correlationId: CORRELATION_ID,
  location: 'East US',
  properties: { deploymentName: 'gpt-4o-prod', modelName: 'gpt-4o', promptTokens: 250, completionTokens: 60, totalTokens: 310, isStreamCompletion: true },
};

const malformedText = '{"schema":"tokenledger.gateway/v1","gatewayRequestId":"gw-9",';
const unknownShape = { note: 'an object of no known shape' };

/** 8 items: a v1 event and its duplicate, malformed JSON, bytes, an array with a good and a bad item, and the APIM records export. */
function mixedBatch(): ReceivedEvent[] {
  return [
    { body: v1Event(1), position: position(10) },
    { body: JSON.stringify(v1Event(1)), position: position(11) },
    { body: malformedText, position: position(12) },
    { body: Buffer.from(JSON.stringify(v1Event(2)), 'utf8'), position: position(13) },
    { body: JSON.stringify([v1Event(3), unknownShape]), position: position(14) },
    { body: fixtureText, position: position(15) },
  ];
}
const MIXED_ITEMS = 8;

function stores() {
  return { ledger: new MemoryLedgerStore(), deadLetters: new MemoryDeadLetterStore(), aggregates: new MemoryAggregateStore(), diagnostics: new MemoryDiagnosticsStore() };
}

describe('sortBatch', () => {
  it('turns every item into exactly one entry or one dead letter', () => {
    const sorted = sortBatch(mixedBatch());
    expect(sorted.entries.length + sorted.deadLetters.length).toBe(MIXED_ITEMS);
    expect(sorted.entries).toHaveLength(6);
    expect(sorted.deadLetters).toHaveLength(2);
    expect(new Set(sorted.entries.map((e) => e.id)).size).toBe(5);
  });

  it('gives a delivered duplicate the same ledger entry', () => {
    const [first, second] = sortBatch(mixedBatch()).entries;
    expect(second).toEqual(first);
  });

  it('is deterministic and leaves the input untouched', () => {
    const batch = mixedBatch();
    const before = JSON.stringify(batch);
    expect(sortBatch(batch)).toEqual(sortBatch(mixedBatch()));
    expect(JSON.stringify(batch)).toBe(before);
  });

  it('gives the same bad payload one dead-letter id whether delivered as text or as bytes', () => {
    const { deadLetters } = sortBatch([
      { body: malformedText, position: position(1) },
      { body: Buffer.from(malformedText, 'utf8'), position: position(2) },
    ]);
    expect(deadLetters).toHaveLength(2);
    expect(deadLetters[1]!.id).toBe(deadLetters[0]!.id);
    expect(deadLetters[1]!.raw).toEqual(deadLetters[0]!.raw);
    expect(deadLetters[0]!.pk).toBe(deadLetters[0]!.id.slice(0, 2));
  });


  it('dead-letters a whole unreadable body with itemIndex null and an item of a multi-item body with its index', () => {
    const { deadLetters } = sortBatch(mixedBatch());
    const [unreadable, badItem] = deadLetters;
    expect(unreadable!.position).toEqual({ ...position(12), itemIndex: null });
    expect(badItem!.position).toEqual({ ...position(14), itemIndex: 1 });
  });
});

describe('ingestBatch (with in-memory fake ledger and dead-letter stores)', () => {
  it('accounts for every item of a mixed batch as exactly one entry or dead letter', async () => {
    const ports = stores();
    const result = await ingestBatch(mixedBatch(), ports);
    expect(result.accepted + result.deadLettered).toBe(MIXED_ITEMS);
    expect(result).toEqual({ accepted: 6, deadLettered: 2, entriesWritten: 5, deadLettersWritten: 2, diagnosticRecords: 0 });
    expect(ports.ledger.entries.size).toBe(5);
    expect(ports.deadLetters.letters.size).toBe(2);
  });

  it('stores the ledger entries of every good item, the APIM records export included', async () => {
    const ports = stores();
    await ingestBatch(mixedBatch(), ports);
    const entries = ports.ledger.snapshot();
    for (const n of [1, 2, 3]) expect(entries.some((e) => e.id === `gw-${n}` && e.apimRequestId === `0000000${n}-aaaa-4bbb-8ccc-dddddddddddd`)).toBe(true);
    const fromApim = entries.filter((e) => e.source === 'apim-gateway-logs');
    expect(fromApim.map((e) => e.status).sort()).toEqual([200, 400]);
    expect(fromApim.find((e) => e.status === 200)!.tokens).toMatchObject({ source: 'gateway', promptTokens: 14, completionTokens: 8 });
  });

  it('gives dead letters their source position, a reason and the raw payload text', async () => {
    const ports = stores();
    await ingestBatch(mixedBatch(), ports);
    const letters = ports.deadLetters.snapshot();
    const malformed = letters.find((l) => l.position.sequenceNumber === 12);
    const badItem = letters.find((l) => l.position.sequenceNumber === 14);
    expect(malformed).toBeDefined();
    expect(badItem).toBeDefined();
    expect(malformed!.position).toEqual({ partitionId: '3', sequenceNumber: 12, offset: '12288', enqueuedTimeUtc: '2026-11-20T10:16:00.000Z', itemIndex: null });
    expect(malformed!.reason).toMatch(/^body is not JSON/);
    expect(malformed!.raw).toEqual({ encoding: 'utf8', data: malformedText, bytes: Buffer.byteLength(malformedText) });
    expect(badItem!.position).toEqual({ partitionId: '3', sequenceNumber: 14, offset: '14336', enqueuedTimeUtc: '2026-11-20T10:16:00.000Z', itemIndex: 1 });
    expect(badItem!.reason).toMatch(/^unrecognised event/);
    expect(badItem!.raw.encoding).toBe('utf8');
    expect(JSON.parse(inlineData(badItem!))).toEqual(unknownShape);
  });

  it('leaves identical store contents after replaying a batch three times and in reverse order', async () => {
    const once = stores();
    await ingestBatch(mixedBatch(), once);

    const thrice = stores();
    for (let i = 0; i < 3; i++) await ingestBatch(mixedBatch(), thrice);

    const reversed = stores();
    await ingestBatch([...mixedBatch()].reverse(), reversed);
    await ingestBatch(mixedBatch(), reversed);
    await ingestBatch([...mixedBatch()].reverse(), reversed);

    expect(thrice.ledger.snapshot()).toEqual(once.ledger.snapshot());
    expect(thrice.deadLetters.snapshot()).toEqual(once.deadLetters.snapshot());
    expect(reversed.ledger.snapshot()).toEqual(once.ledger.snapshot());
    expect(reversed.deadLetters.snapshot()).toEqual(once.deadLetters.snapshot());
    expect(once.ledger.snapshot()).toHaveLength(5);
  });

  it('merges GatewayLogs and GatewayLlmLogs records of one request delivered in separate batches, in either order', async () => {
    const gatewayFirst = stores();
    await ingestBatch([{ body: { records: [gatewayLogsRecord] }, position: position(1) }], gatewayFirst);
    await ingestBatch([{ body: { records: [llmLogsRecord] }, position: position(2) }], gatewayFirst);

    const llmFirst = stores();
    await ingestBatch([{ body: { records: [llmLogsRecord] }, position: position(2) }], llmFirst);
    await ingestBatch([{ body: { records: [gatewayLogsRecord] }, position: position(1) }], llmFirst);

    for (const ports of [gatewayFirst, llmFirst]) {
      const entries = ports.ledger.snapshot();
      expect(entries).toHaveLength(1);
      expect(entries[0]!.status).toBe(200);
      expect(entries[0]!.tokens).toEqual({ source: 'llm-log', promptTokens: 250, cachedTokens: 0, completionTokens: 60, reasoningTokens: 0 });
      expect(entries[0]!.subscriptionId).toBe('sub-search-0');
      expect(ports.deadLetters.letters.size).toBe(0);
    }
    expect(llmFirst.ledger.snapshot()).toEqual(gatewayFirst.ledger.snapshot());
  });

  it('keeps the LLM-log tokens when the GatewayLogs record is redelivered after the merge', async () => {
    const ports = stores();
    for (const record of [gatewayLogsRecord, llmLogsRecord, gatewayLogsRecord, llmLogsRecord, gatewayLogsRecord]) {
      await ingestBatch([{ body: { records: [record] }, position: position(1) }], ports);
    }
    const entries = ports.ledger.snapshot();
    expect(entries).toHaveLength(1);
    expect(entries[0]!.tokens.source).toBe('llm-log');
    expect(entries[0]!.stream).toBe(true);
  });

  it('keeps one document when the two halves of a request fall in different UTC hours', async () => {
    const ports = stores();
    const late = { ...llmLogsRecord, time: '2026-11-20T11:00:00.100Z' };
    const early = { ...gatewayLogsRecord, time: '2026-11-20T10:59:59.900Z' };
    await ingestBatch([{ body: { records: [late] }, position: position(1) }], ports);
    await ingestBatch([{ body: { records: [early] }, position: position(2) }], ports);
    const entries = ports.ledger.snapshot();
    expect(entries.map((e) => e.time)).toEqual(['2026-11-20T10:59:59.900Z']);
    // The request moved to the earlier hour: both hours are for the rollup to redo.
    expect([...ports.aggregates.dirty.keys()].sort()).toEqual(['2026-11-20T10', '2026-11-20T11']);
  });

  it('counts a request once, in the hour a merge moved it to, when its batch is redelivered after marking the hours failed', async () => {
    const ports = stores();
    await ingestBatch([{ body: { records: [{ ...llmLogsRecord, time: '2026-11-20T11:00:00.100Z' }] }, position: position(1) }], ports);
    await rollupChargeback(ports);
    // The ledger write of the GatewayLogs half lands; marking the hours after it fails once, transiently.
    const markDirty = ports.aggregates.markDirty.bind(ports.aggregates);
    let failed = false;
    ports.aggregates.markDirty = async (hours: readonly string[]) => {
      const landed = ports.ledger.snapshot()[0]!.time.startsWith('2026-11-20T10');
      if (landed && !failed) {
        failed = true;
        throw new TransientStoreError('dirty markers: 503');
      }
      return markDirty(hours);
    };
    const batch = [{ body: { records: [{ ...gatewayLogsRecord, time: '2026-11-20T10:59:59.900Z' }] }, position: position(2) }];
    await expect(ingestBatch(batch, ports)).rejects.toBeInstanceOf(TransientStoreError);
    expect(ports.ledger.snapshot().map((e) => e.time)).toEqual(['2026-11-20T10:59:59.900Z']);
    await ingestBatch(batch, ports);
    await rollupChargeback(ports);

    const tiles = await usageTilesOf(ports.aggregates, { from: new Date('2026-11-20T10:00:00Z'), to: new Date('2026-11-20T12:00:00Z') });
    expect(tiles.filter((t) => t.entries > 0).map((t) => [t.window, t.entries])).toEqual([['2026-11-20T10', 1]]);
  });

  it('merges the two records of one request delivered in the same batch like records delivered apart', async () => {
    const together = stores();
    await ingestBatch([{ body: { records: [llmLogsRecord, gatewayLogsRecord] }, position: position(1) }], together);
    const apart = stores();
    await ingestBatch([{ body: JSON.stringify(gatewayLogsRecord), position: position(1) }], apart);
    await ingestBatch([{ body: JSON.stringify(llmLogsRecord), position: position(2) }], apart);
    expect(together.ledger.snapshot()).toEqual(apart.ledger.snapshot());
    expect(together.ledger.snapshot()[0]!.tokens.source).toBe('llm-log');
  });

  it('rejects with the TransientStoreError the ledger store throws, so the trigger retries the batch', async () => {
    const ports = stores();
    const failure = new TransientStoreError('429 Too Many Requests');
    ports.ledger.beforeUpsert = () => {
      throw failure;
    };
    await expect(ingestBatch(mixedBatch(), ports)).rejects.toBe(failure);
    expect(ports.ledger.entries.size).toBe(0);
  });

  it('dead-letters alone an event whose schema is an array nested 100,000 deep, and writes the good events of its batch', async () => {
    // 200 KB, well under Event Hubs' 1 MB: serialising the value whole for the reason would overflow the stack.
    const deep = `{"schema":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const ports = stores();
    const result = await ingestBatch([{ body: v1Event(1), position: position(1) }, { body: Buffer.from(deep), position: position(2) }, { body: v1Event(2), position: position(3) }], ports);
    expect(result).toMatchObject({ accepted: 2, deadLettered: 1, entriesWritten: 2 });
    const [letter] = [...ports.deadLetters.letters.values()];
    expect(letter).toMatchObject({ reason: 'unsupported schema an array', position: { sequenceNumber: 2 } });
  });

  it('tells the dead letters it wrote apart from the items it dead-lettered: one payload delivered three times is one', async () => {
    const ports = stores();
    const result = await ingestBatch([{ body: malformedText, position: position(1) }, { body: malformedText, position: position(2) }, { body: Buffer.from(malformedText), position: position(3) }], ports);
    expect(result).toMatchObject({ deadLettered: 3, deadLettersWritten: 1 });
    expect(ports.deadLetters.letters.size).toBe(1);
  });

  it('turns entries the ledger store refuses for good into dead letters', async () => {
    const ports = stores();
    const refusedId = 'gw-2';
    ports.ledger.refuse = (entry) => (entry.id === refusedId ? 'ledger store refused the entry (status 413)' : null);
    const result = await ingestBatch(mixedBatch(), ports);

    expect(ports.ledger.snapshot().some((e) => e.id === refusedId)).toBe(false);
    expect(ports.ledger.entries.size).toBe(4);
    expect(result).toEqual({ accepted: 5, deadLettered: 3, entriesWritten: 4, deadLettersWritten: 3, diagnosticRecords: 0 });
    expect(result.accepted + result.deadLettered).toBe(MIXED_ITEMS);

    const letter = ports.deadLetters.snapshot().find((l) => l.reason === 'ledger store refused the entry (status 413)');
    expect(letter).toBeDefined();
    expect(letter!.position).toEqual({ partitionId: 'ledger', sequenceNumber: null, offset: null, enqueuedTimeUtc: null, itemIndex: null });
    expect(letter!.raw.encoding).toBe('utf8');
    expect(JSON.parse(inlineData(letter!))).toMatchObject({ id: refusedId, tokens: { promptTokens: 102 } });
    expect(letter!.raw.bytes).toBe(Buffer.byteLength(inlineData(letter!)));
  });

  it('writes nothing but a dead letter for a batch of only unreadable bodies', async () => {
    const ports = stores();
    const result = await ingestBatch([{ body: Buffer.from([0xff, 0xfe, 0xfd]), position: position(7) }], ports);
    expect(result).toEqual({ accepted: 0, deadLettered: 1, entriesWritten: 0, deadLettersWritten: 1, diagnosticRecords: 0 });
    expect(ports.ledger.entries.size).toBe(0);
    const [letter] = ports.deadLetters.snapshot();
    expect(letter!.reason).toMatch(/UTF-8/);
    expect(letter!.raw).toEqual({ encoding: 'base64', data: '//79', bytes: 3 });
  });

  it('lists stored entries by request time range from the in-memory fake', async () => {
    const ports = stores();
    await ingestBatch(mixedBatch(), ports);
    const pages: string[] = [];
    for await (const page of ports.ledger.listEntries({ from: new Date('2026-11-20T10:00:00Z'), to: new Date('2026-11-20T11:00:00Z') })) {
      pages.push(...page.map((e) => e.id));
    }
    expect(pages.sort()).toEqual(['gw-1', 'gw-2', 'gw-3']);
  });
});

describe('ingestBatch: conflicting duplicates', () => {
  const variants = [v1Event(7, { status: 200 }), v1Event(7, { status: 429 }), v1Event(7, { deployment: 'gpt-4o-test' })];
  const body = (event: GatewayEventV1Input, n: number) => ({ body: JSON.stringify(event), position: position(n) });

  it('keeps one winner whatever the order and batching, the others as dead letters linked to it', async () => {
    const results: unknown[] = [];
    for (const order of [[0, 1, 2], [2, 1, 0], [1, 2, 0]]) {
      for (const together of [true, false]) {
        const ports = stores();
        const events = order.map((i, n) => body(variants[i]!, n));
        if (together) await ingestBatch(events, ports);
        else for (const event of events) await ingestBatch([event], ports);
        const [entry] = ports.ledger.snapshot();
        expect(ports.ledger.snapshot()).toHaveLength(1);
        const letters = ports.deadLetters.snapshot();
        expect(letters.map((l) => l.reason)).toEqual(['conflicting duplicate', 'conflicting duplicate']);
        for (const letter of letters) expect(letter.duplicateOf).toEqual({ id: entry!.id, pk: ledgerPartition(entry!.id) });
        results.push({ ledger: ports.ledger.snapshot(), letters });
      }
    }
    for (const result of results) expect(result).toEqual(results[0]);
  });

  it('treats a redelivery of the same event as no conflict', async () => {
    const ports = stores();
    await ingestBatch([body(variants[0]!, 1), body(variants[0]!, 2)], ports);
    await ingestBatch([body(variants[0]!, 3)], ports);
    expect(ports.deadLetters.snapshot()).toEqual([]);
  });
});

describe('ingestBatch: conditional writes', () => {
  it('merges again on what another writer stored when its write loses the race', async () => {
    const ports = stores();
    const read = ports.ledger.readEntries.bind(ports.ledger);
    let reads = 0;
    // Between this worker's first read and its write, another writer stores the same request with another subscription.
    ports.ledger.readEntries = async (...args) => {
      const found = await read(...args);
      if (reads++ === 0) {
        const [other] = sortBatch([{ body: JSON.stringify(v1Event(1)), position: position(0) }]).entries;
        await ports.ledger.createEntries([{ ...other!, subscriptionId: 'sub-other', source: 'apim-gateway-logs' }]);
      }
      return found;
    };
    await ingestBatch([{ body: JSON.stringify(v1Event(1)), position: position(1) }], ports);
    expect(reads).toBe(2);
    const [entry] = ports.ledger.snapshot();
    expect(ports.ledger.snapshot()).toHaveLength(1);
    expect(entry!.parts?.map((p) => [p.source, p.subscriptionId])).toEqual([['gateway-v1', 'sub-search-0'], ['apim-gateway-logs', 'sub-other']]);
  });

  it('gives up with a TransientStoreError after five lost races, so the trigger redelivers the batch', async () => {
    const ports = stores();
    let writes = 0;
    ports.ledger.writeEntries = async (entries) => {
      writes++;
      return { conflicts: entries.map(({ entry }) => ({ id: entry.id })), refused: [] };
    };
    await expect(ingestBatch([{ body: JSON.stringify(v1Event(1)), position: position(1) }], ports)).rejects.toBeInstanceOf(TransientStoreError);
    expect(writes).toBe(MAX_UPDATE_ROUNDS);
    expect(MAX_UPDATE_ROUNDS).toBe(5);
  });
});

describe('sortBody: the v1 text fast lane', () => {
  it('sorts every line of a simulated day exactly as decoding, normalising and building the entry from the parsed body do', () => {
    const position = { partitionId: '0', sequenceNumber: 1, offset: '1', enqueuedTimeUtc: null };
    const day = simulateDay({ requests: 400, seed: 5, day: '2026-09-01' });
    let fastLane = 0;
    for (const line of day.eventLines) {
      if (normalizeV1Text(line)) fastLane++;
      const viaParse: unknown[] = [];
      const decoded = decodeBody(line);
      if (decoded.ok) for (const item of decoded.items) {
        const normalized = normalizeEvent(item.value);
        if (normalized.ok) viaParse.push(toLedgerEntry(normalized.value));
      }
      expect(sortBatch([{ body: line, position }]).entries).toStrictEqual(viaParse);
    }
    // The others: APIM LLM-log and RequestResponse records, AI Hub Gateway payloads and malformed lines.
    expect(fastLane).toBeGreaterThan(day.eventLines.length * 0.85);
  });

  it('sorts a body delivered as bytes (the trigger\'s dataType binary) exactly as its text: entries, dead letters and their ids', () => {
    const position = { partitionId: '0', sequenceNumber: 1, offset: '1', enqueuedTimeUtc: null };
    const sort = (body: unknown) => sortBatch([{ body, position }]);
    const day = simulateDay({ requests: 300, seed: 9, day: '2026-09-02' });
    for (const line of day.eventLines) expect(sort(Buffer.from(line, 'utf8'))).toStrictEqual(sort(line));
    // A byte-order mark is dropped; bytes that are not UTF-8, or too many, are kept as bytes (base64) with the reason.
    expect(sort(Buffer.from(`\ufeff${day.eventLines[0]!}`, 'utf8'))).toStrictEqual(sort(day.eventLines[0]!));
    expect(sort(Buffer.from([0x7b, 0xff, 0x7d])).deadLetters).toEqual([expect.objectContaining({ reason: 'body is not valid UTF-8', raw: expect.objectContaining({ encoding: 'base64' }) })]);
    expect(sort(Buffer.alloc(MAX_BODY_BYTES + 1, 0x20)).deadLetters).toEqual([expect.objectContaining({ reason: expect.stringMatching(/exceeds/), raw: expect.objectContaining({ encoding: 'base64' }) })]);
  });
});

describe('ingestBatch: Azure OpenAI RequestResponse records streamed to Event Hubs', () => {
  /** The real archive sample (one record per line), as a diagnostic setting streams it: `{"records":[…]}`. */
  const archive = archiveRecords();
  const streamed = JSON.stringify({ records: archive });
  const CHAT = 'd427a391-2bc7-4f38-9cbc-6560600e0981';

  it('stores them for the join like archive records, dead-letters none, and joins the request they belong to', async () => {
    const ports = stores();
    const request = v1Event(1, { apimRequestId: CHAT.toUpperCase(), time: '2024-05-03T10:00:00.000Z' });
    const result = await ingestBatch([{ body: JSON.stringify(request), position: position(1) }, { body: streamed, position: position(2) }], ports);
    expect(result).toEqual({ accepted: 1, deadLettered: 0, entriesWritten: 1, deadLettersWritten: 0, diagnosticRecords: 3 });
    expect(ports.deadLetters.snapshot()).toEqual([]);
    const stored = [...ports.diagnostics.records.values()].sort((a, b) => (a.correlationId < b.correlationId ? -1 : 1));
    expect(stored.map((r) => [r.correlationId, r.operationName, r.durationMs, r.gateway])).toEqual([
      ['9d3a6e98-fc11-48d0-82cf-4de065c1a1f8', 'Create_Thread', 102, 'pending'],
      // Two records share this id; the complete one joins, not the one whose negative duration became null.
      [CHAT, 'ChatCompletions_Create', 1021, 'matched'],
    ]);
    const [entry] = ports.ledger.snapshot();
    expect(entry!.diagnostics).toMatchObject({ status: 'matched', durationMs: 1021, modelName: 'gpt-35-turbo', regionCode: 'eastus' });
  });

  it('keeps a record with one bad field, that field null and the reason noted', async () => {
    const ports = stores();
    const record = archive[1]!;
    await ingestBatch([{ body: JSON.stringify({ records: [{ ...record, correlationId: 'f00d0000-0000-4000-8000-000000000001', durationMs: -5 }] }), position: position(1) }], ports);
    const [stored] = [...ports.diagnostics.records.values()];
    expect(stored).toMatchObject({ durationMs: null, modelName: 'gpt-35-turbo', notes: ['durationMs -5 is negative or not a number; kept as null'] });
  });

  it('dead-letters a record that cannot be placed (no correlation id), with its position in the body', async () => {
    const ports = stores();
    const { correlationId: _dropped, ...record } = archive[0]!;
    const result = await ingestBatch([{ body: JSON.stringify({ records: [record, archive[1]] }), position: position(7) }], ports);
    expect(result.deadLettered).toBe(1);
    expect(result.diagnosticRecords).toBe(1);
    const [letter] = ports.deadLetters.snapshot();
    expect(letter!.reason).toMatch(/^diagnostic record rejected: invalid RequestResponse record: correlationId/);
    expect(letter!.position.itemIndex).toBe(0);
  });

  it('dead-letters records dated before 2020 or in years ISO-8601 writes with a sign, so the rollup meets only hours it can tile', async () => {
    const ports = stores();
    const [first, second] = archive;
    const outside = ['+010000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z', '2019-12-31T23:59:59Z'].map((time, n) => ({ ...first, correlationId: `f00d0000-0000-4000-8000-00000000000${n}`, time }));
    const result = await ingestBatch([{ body: JSON.stringify({ records: [...outside, second] }), position: position(7) }], ports);
    expect(result).toMatchObject({ deadLettered: 3, diagnosticRecords: 1 });
    for (const letter of ports.deadLetters.snapshot()) expect(letter.reason).toMatch(/^diagnostic record rejected: invalid RequestResponse record: time: /);
    expect((await ports.aggregates.listDirty()).map((marker) => marker.value.hour)).toEqual([String(second!['time']).slice(0, 13)]);
    await expect(rollupChargeback(ports)).resolves.toMatchObject({ hours: 1, remaining: 0 });
  });

  it.each(['/', '\\', '?', '#'])("dead-letters a record whose correlation id holds %s, which no document id can, and stores the body's other records", async (character) => {
    const ports = stores();
    const record = { ...archive[0], correlationId: `f00d0000-0000-4000-8000${character}000000000001` };
    const result = await ingestBatch([{ body: JSON.stringify({ records: [record, archive[1]] }), position: position(7) }], ports);
    expect(result).toMatchObject({ deadLettered: 1, diagnosticRecords: 1 });
    const [letter] = ports.deadLetters.snapshot();
    expect(letter).toMatchObject({ reason: "diagnostic record rejected: invalid RequestResponse record: correlationId: must not contain '/', '\\', '?' or '#'", position: { itemIndex: 0 } });
    expect([...ports.diagnostics.records.keys()]).toEqual([CHAT]);
  });
});
