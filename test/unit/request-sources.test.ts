import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiagnosticRecord } from '../../src/contracts/diagnostic-record.js';
import type { GatewayEventV1Input } from '../../src/contracts/gateway-event.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { joinOne } from '../../src/domain/join.js';
import { ledgerId, mergeByRequest } from '../../src/domain/ledger.js';
import { forEachDistinctRequest } from '../../src/services/distinct-requests.js';
import { ingestBatch, sortBatch, type ReceivedEvent } from '../../src/services/ingest-batch.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore } from '../support/memory-stores.js';

/** Built from Microsoft's table reference and the real GatewayLogs sample; provenance in the folder's README. */
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/apim-llm-logs/${name}`, import.meta.url), 'utf8')) as { records: Record<string, unknown>[] };
const llmRows = fixture('llm-log.records.json').records;
const gatewayLog = fixture('gatewaylogs-with-headers.records.json').records[0]!;

const GATEWAY_REQUEST_ID = '0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b';
const APIM_REQUEST_ID = 'b7e1c3a2-9d4f-4e6a-8b2c-1d3e5f7a9c0b';
const EMBEDDING_REQUEST_ID = '7c1d9e3f-2a4b-4d6c-8e0f-1a3b5c7d9e2f';

/** The v1 event the gateway policy sends for the same streamed request (caller known, usage lost to the stream). */
function v1Event(overrides: Partial<GatewayEventV1Input> = {}): GatewayEventV1Input {
  return {
    schema: 'tokenledger.gateway/v1',
    gatewayRequestId: GATEWAY_REQUEST_ID,
    apimRequestId: APIM_REQUEST_ID.toUpperCase(),
    time: '2026-11-20T09:41:07.010Z',
    gateway: { service: 'apim-contoso-ai', region: 'East US', backendId: 'aoai-eastus' },
    backendRegion: 'East US',
    subscriptionId: 'hr-chatbot',
    caller: { oid: 'aaaaaaaa-1111-4222-8333-444444444444', tid: '72f988bf-86f1-41af-91ab-2d7cd011db47', idtyp: 'user' },
    deployment: 'gpt-4o-prod',
    model: null,
    operation: 'ChatCompletions_Create',
    stream: true,
    status: 200,
    usage: null,
    timings: { totalMs: 2140, backendMs: 2090, ttftMs: 310 },
    ...overrides,
  };
}

const POSITION = { partitionId: '0', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } as const;
const received = (body: unknown): ReceivedEvent => ({ body: typeof body === 'string' ? body : JSON.stringify(body), position: POSITION });
const entriesOf = (...bodies: unknown[]) => sortBatch(bodies.map(received)).entries;
const only = (entries: Iterable<LedgerEntry>) => {
  const list = [...entries];
  expect(list).toHaveLength(1);
  return list[0]!;
};

/** Every source of the streamed request, one body each: the three LLM-log rows, the GatewayLogs record and the v1 event. */
const streamedBodies: readonly unknown[] = [
  ...llmRows.filter((r) => r['correlationId'] === GATEWAY_REQUEST_ID).map((record) => ({ records: [record] })),
  { records: [gatewayLog] },
  v1Event(),
];

describe('APIM GatewayLlmLogs split over several rows', () => {
  it('reads message rows (null or 0 tokens, empty deployment) as carrying no usage and no deployment', () => {
    const [tokens, nullRow, zeroRow] = entriesOf(...llmRows.slice(0, 3).map((record) => ({ records: [record] })));
    expect(tokens!.tokens).toEqual({ source: 'llm-log', promptTokens: 1834, cachedTokens: 0, completionTokens: 412, reasoningTokens: 0 });
    for (const row of [nullRow!, zeroRow!]) {
      expect(row.tokens.source).toBe('none');
      expect(row.deployment).toBeNull();
      expect(row.model).toBeNull();
      expect(row.missing).toEqual(expect.arrayContaining(['usage', 'deployment']));
    }
  });

  it('takes the tokens from the row that has them, in whatever order the rows come, never summing them', () => {
    const rows = llmRows.map((record) => ({ records: [record] }));
    fc.assert(
      fc.property(fc.shuffledSubarray(rows, { minLength: rows.length, maxLength: rows.length }), (order) => {
        const byRequest = mergeByRequest(entriesOf(...order));
        expect(byRequest.size).toBe(2);
        const chat = [...byRequest.values()].find((e) => e.gatewayRequestId === GATEWAY_REQUEST_ID)!;
        const embedding = [...byRequest.values()].find((e) => e.gatewayRequestId === EMBEDDING_REQUEST_ID)!;
        expect(chat.tokens).toMatchObject({ source: 'llm-log', promptTokens: 1834, completionTokens: 412 });
        expect(chat.deployment).toBe('gpt-4o-prod');
        expect(embedding.tokens).toMatchObject({ source: 'llm-log', promptTokens: 96, completionTokens: 0 });
        expect(embedding.deployment).toBe('text-embedding-3-small');
      }),
    );
  });
});

describe('GatewayLogs backendResponseHeaders', () => {
  it('gives the backend apim-request-id (the ledger id, so the request joins its diagnostics) and x-ms-region', () => {
    const entry = only(entriesOf({ records: [gatewayLog] }));
    expect(entry.apimRequestId).toBe(APIM_REQUEST_ID);
    expect(entry.id).toBe(GATEWAY_REQUEST_ID);
    expect(entry.backendRegion).toBe('eastus');
    expect(entry.missing).not.toContain('apimRequestId');
    const record = { correlationId: APIM_REQUEST_ID, durationMs: 2050, regionCode: 'eastus', account: 'contoso-aoai-eastus' } as DiagnosticRecord;
    expect(joinOne(entry, new Map([[APIM_REQUEST_ID, record]])).matchedKey).toBe(APIM_REQUEST_ID);
  });

  it('reads the headers from a JSON string too, by any letter case, a list giving its first value', () => {
    const properties = { ...(gatewayLog['properties'] as object), backendResponseHeaders: JSON.stringify({ 'APIM-Request-Id': [APIM_REQUEST_ID], 'X-MS-Region': 'Sweden Central' }) };
    const entry = only(entriesOf({ records: [{ ...gatewayLog, properties }] }));
    expect(entry.apimRequestId).toBe(APIM_REQUEST_ID);
    expect(entry.backendRegion).toBe('swedencentral');
  });
});

/**
 * GatewayLogs `url` and `backendUrl` are what the client sent, query included, with no length Azure caps (Learn,
 * "Azure API Management gateway log schema reference"); the v1 API (`/openai/v1/chat/completions`, Learn "Azure
 * OpenAI API version lifecycle") names the deployment in the request body's `model`. The policy's rules apply.
 */
describe('GatewayLogs URLs', () => {
  const withUrl = (path: string, extra: Record<string, unknown> = {}) => {
    const properties = gatewayLog['properties'] as Record<string, unknown>;
    const url = (base: unknown) => `${new URL(String(base)).origin}${path}`;
    return { records: [{ ...gatewayLog, properties: { ...properties, url: url(properties['url']), backendUrl: url(properties['backendUrl']), ...extra } }] };
  };

  it('takes the deployment of a v1 API call from the request body\'s model', () => {
    const requestBody = JSON.stringify({ model: 'gpt-4o-prod', messages: [], stream: false });
    expect(only(entriesOf(withUrl('/openai/v1/chat/completions', { requestBody }))).deployment).toBe('gpt-4o-prod');
    expect(only(entriesOf(withUrl('/openai/v1/responses', { requestBody: '{"model":"gpt-4.1-mini-eu"}' }))).deployment).toBe('gpt-4.1-mini-eu');
    // A `/deployments/` text in the query is not the path's (the policy reads the path only).
    expect(only(entriesOf(withUrl('/openai/v1/chat/completions?next=/deployments/other/x', { requestBody }))).deployment).toBe('gpt-4o-prod');
  });

  it('keeps the request of a long URL, with its deployment cut to 512 characters as the policy cuts it', () => {
    const query = `?api-version=2024-10-21&trace=${'a1b2c3d4'.repeat(300)}`;
    const long = only(entriesOf(withUrl(`/openai/deployments/gpt-4o-prod/chat/completions${query}`)));
    expect(long.deployment).toBe('gpt-4o-prod');
    const deployment = `gpt-4o-${'x'.repeat(600)}`;
    const notFound = only(entriesOf(withUrl(`/openai/deployments/${deployment}/chat/completions${query}`, { backendResponseCode: 404, responseCode: 404 })));
    expect([notFound.deployment, notFound.status]).toEqual([deployment.slice(0, 512), 404]);
  });
});

/** The merged request: the caller, timings and ids of the v1 event, tokens and model of the LLM log. */
function expectOneRequest(entry: LedgerEntry): void {
  expect(entry.id).toBe(ledgerId('gateway-v1', GATEWAY_REQUEST_ID));
  expect(entry.apimRequestId?.toLowerCase()).toBe(APIM_REQUEST_ID);
  expect(entry.caller.oid).toBe('aaaaaaaa-1111-4222-8333-444444444444');
  expect(entry.tokens).toEqual({ source: 'llm-log', promptTokens: 1834, cachedTokens: 0, completionTokens: 412, reasoningTokens: 0 });
  expect(entry.model).toBe('gpt-4o-2024-08-06');
  expect(entry.timings.ttftMs).toBe(310);
  expect(entry.time).toBe('2026-11-20T09:41:07.010Z');
}

describe('one request told by a v1 event and by APIM records', () => {
  it('merges in memory into one entry with the caller of the v1 event and the tokens of the LLM log', () => {
    expectOneRequest(only(mergeByRequest(entriesOf(...streamedBodies)).values()));
  });

  it('keeps the v1 event tokens when it has them: the LLM log never adds to them', () => {
    const usage = { promptTokens: 1834, cachedTokens: 1024, completionTokens: 412, reasoningTokens: 0, totalTokens: 2246 };
    const entry = only(mergeByRequest(entriesOf(...streamedBodies.slice(0, 4), v1Event({ usage }))).values());
    expect(entry.tokens).toEqual({ source: 'gateway', promptTokens: 1834, cachedTokens: 1024, completionTokens: 412, reasoningTokens: 0 });
  });

  it('is one ledger document whatever the order and batch split of its sources', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.shuffledSubarray([...streamedBodies], { minLength: streamedBodies.length, maxLength: streamedBodies.length }),
        fc.array(fc.boolean(), { minLength: streamedBodies.length, maxLength: streamedBodies.length }),
        async (order, cuts) => {
          const ports = { ledger: new MemoryLedgerStore(), deadLetters: new MemoryDeadLetterStore(), aggregates: new MemoryAggregateStore(), diagnostics: new MemoryDiagnosticsStore() };
          let batch: ReceivedEvent[] = [];
          for (const [i, body] of order.entries()) {
            batch.push(received(body));
            if (cuts[i] || i === order.length - 1) {
              await ingestBatch(batch, ports);
              batch = [];
            }
          }
          // Redelivery of everything changes nothing.
          await ingestBatch(order.map(received), ports);
          expectOneRequest(only(ports.ledger.snapshot()));
          expect(ports.deadLetters.snapshot()).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('analyze: one request told by several sources is handed over once', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'request-sources-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('whatever the order of the lines', async () => {
    const file = join(dir, 'events.jsonl');
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray([...streamedBodies], { minLength: streamedBodies.length, maxLength: streamedBodies.length }), async (order) => {
        await writeFile(file, order.map((body) => JSON.stringify(body)).join('\n') + '\n');
        let handed: LedgerEntry[] = [];
        const result = await forEachDistinctRequest(file, { onRequest: (entry) => handed.push(entry), restart: () => (handed = []) });
        expect(result.requests).toBe(1);
        expectOneRequest(only(handed));
      }),
      { numRuns: 40 },
    );
  });
});

describe('halves of one request ingested by two workers at the same moment', () => {
  it('are one document: the worker that read before the other wrote loses its write, reads again and merges', async () => {
    const ledger = new MemoryLedgerStore();
    const aggregates = new MemoryAggregateStore();
    const ports = { ledger, deadLetters: new MemoryDeadLetterStore(), aggregates, diagnostics: new MemoryDiagnosticsStore() };
    const read = ledger.readEntries.bind(ledger);
    let reads = 0;
    // The first worker reads nothing; before it writes, the second worker ingests the other half whole.
    const first = {
      ...ports,
      ledger: Object.assign(Object.create(ledger) as MemoryLedgerStore, {
        readEntries: async (...args: Parameters<MemoryLedgerStore['readEntries']>) => {
          const found = await read(...args);
          if (reads++ === 0) await ingestBatch([received(v1Event())], ports);
          return found;
        },
      }),
    };
    await ingestBatch(streamedBodies.slice(0, 3).map(received), first);
    expect(reads).toBe(2);
    const [entry] = ledger.snapshot();
    expect(ledger.snapshot()).toHaveLength(1);
    expect(entry!.id).toBe(GATEWAY_REQUEST_ID);
    expect(entry!.subscriptionId).toBe('hr-chatbot');
    expect(entry!.tokens).toMatchObject({ source: 'llm-log', promptTokens: 1834, completionTokens: 412 });
  });
});
