/**
 * TokenLedger stores no prompt, completion or credential: not in a dead letter, not in a quarantined batch, though
 * APIM resource logs carry them when body, header or LLM message logging is on (sources in
 * test/support/apim-content-records.ts).
 */
import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../src/contracts/dead-letter.js';
import type { QuarantinedBatch } from '../../src/contracts/quarantine.js';
import { NOT_KEPT, textWithoutContent } from '../../src/domain/content-fields.js';
import { ingestBatch, sortBatch } from '../../src/services/ingest-batch.js';
import { fromQuarantinedBatch, ingestOrQuarantine, toQuarantinedBatch } from '../../src/services/ingest-or-quarantine.js';
import { envelope, gatewayLogsRecord, leaked, llmLogMessageRow, POSITION, PROMPT } from '../support/apim-content-records.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore, MemoryQuarantineStore } from '../support/memory-stores.js';

const ports = () => ({ ledger: new MemoryLedgerStore(), diagnostics: new MemoryDiagnosticsStore(), deadLetters: new MemoryDeadLetterStore(), aggregates: new MemoryAggregateStore() });
const text = (body: Uint8Array) => Buffer.from(body).toString('utf8');
/** A dead letter's payload as stored inline (these are far below the size that goes to Blob storage). */
const rawText = (letter: DeadLetter) => ('data' in letter.raw ? letter.raw.data : '');

/** A record rejected for its time, which names no time zone (Azure Monitor writes UTC with `Z`). */
const withoutZone = (record: Record<string, unknown>): Record<string, unknown> => ({ ...record, time: '2026-11-20T09:41:07.011' });

describe('prompt, completion and credential content of APIM resource logs', () => {
  it('is not kept in the dead letter of a rejected GatewayLogs record, which still says why and keeps the rest', async () => {
    const p = ports();
    const result = await ingestBatch([{ body: envelope(withoutZone(gatewayLogsRecord('0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b'))), position: POSITION }], p);
    expect(result.deadLettered).toBe(1);
    const [letter] = p.deadLetters.snapshot();
    expect(letter!.reason).toMatch(/invalid APIM GatewayLogs record/);
    expect(leaked(letter)).toEqual([]);
    const kept = JSON.parse(rawText(letter!)) as { correlationId: string; properties: Record<string, unknown> };
    expect(kept.correlationId).toBe('0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b');
    expect(kept.properties).toMatchObject({
      url: expect.stringContaining('/deployments/gpt-4o-prod/'),
      requestBody: '{"stream":false}',
      backendResponseBody: '{"model":"gpt-4o-2024-08-06","usage":{"prompt_tokens":31,"completion_tokens":19,"total_tokens":50}}',
      backendRequestBody: NOT_KEPT,
      responseBody: NOT_KEPT,
      // In the field's own JSON type: the record is judged the same without its content.
      backendRequestHeaders: { notKept: NOT_KEPT },
    });
  });

  it('is not kept in the dead letter of a rejected GatewayLlmLogs message row', async () => {
    const p = ports();
    await ingestBatch([{ body: envelope(withoutZone(llmLogMessageRow('7c1d9e3f-2a4b-4d6c-8e0f-1a3b5c7d9e2f'))), position: POSITION }], p);
    const [letter] = p.deadLetters.snapshot();
    expect(letter!.reason).toMatch(/invalid APIM GatewayLlmLogs record/);
    expect(leaked(letter)).toEqual([]);
    expect(JSON.parse(rawText(letter!))).toMatchObject({ properties: { requestMessages: [NOT_KEPT], responseMessages: [NOT_KEPT], sequenceNumber: 1 } });
  });

  it('leaves a record without such content as it was received, byte for byte', () => {
    const record = gatewayLogsRecord('0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b');
    const properties = record['properties'] as Record<string, unknown>;
    for (const field of ['requestBody', 'backendRequestBody', 'backendResponseBody', 'responseBody', 'backendRequestHeaders']) delete properties[field];
    expect(textWithoutContent(JSON.stringify({ records: [record] }))).toBeNull();
    expect(textWithoutContent('{"schema":"tokenledger.gateway/v1","gatewayRequestId":"x"}')).toBeNull();
  });

  it('is read the same without its content: the ledger of a body and of the body without content are equal', () => {
    const body = text(envelope(gatewayLogsRecord('0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b'), llmLogMessageRow('0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b')));
    const without = textWithoutContent(body)!;
    expect(leaked(without)).toEqual([]);
    const of = (b: string) => sortBatch([{ body: b, position: POSITION }]);
    expect(of(without)).toEqual(of(body));
    expect(of(body).entries[0]!.tokens).toMatchObject({ promptTokens: 31, completionTokens: 19 });
  });

  it('is not kept in a quarantined batch, which replays to the same ledger', async () => {
    const quarantine = new MemoryQuarantineStore();
    const body = envelope(gatewayLogsRecord('0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b'), llmLogMessageRow('0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b'));
    // Cosmos DB answering 403 (the app's identity lacks its data-plane role): permanent, so the batch is quarantined.
    const forbidden = Object.assign(Object.create(new MemoryLedgerStore()) as MemoryLedgerStore, {
      readEntries: async () => {
        throw Object.assign(new Error('Request blocked by Auth: principal does not have required RBAC permissions'), { statusCode: 403 });
      },
    });
    const outcome = await ingestOrQuarantine([{ body, position: POSITION }], { ...ports(), ledger: forbidden, quarantine }, { lastDelivery: true, retry: { attempts: 1, backoffInMs: () => 0 } });
    expect(outcome.kind).toBe('quarantined');
    const batch: QuarantinedBatch = [...quarantine.batches.values()][0]!.batch;
    // Bodies kept as bytes are base64 in the blob, which hides nothing: looked for in the bodies as replayed.
    const replayed = fromQuarantinedBatch(batch);
    expect(leaked(replayed.map(({ body: b }) => (typeof b === 'string' ? b : Buffer.from(b as Uint8Array).toString('utf8'))))).toEqual([]);
    expect(sortBatch(replayed)).toEqual(sortBatch([{ body, position: POSITION }]));
  });
});

describe('a body over 1 MiB, delivered as bytes', () => {
  // Too large to be read (Event Hubs' 1 MB cap, which a Dedicated cluster's larger events pass), it is kept whole.
  const body = new Uint8Array(Buffer.from(JSON.stringify({ records: [gatewayLogsRecord('0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b')], padding: 'p'.repeat(1_100_000) }), 'utf8'));
  const payloadText = (payload: { encoding: string; data: string }) => (payload.encoding === 'base64' ? Buffer.from(payload.data, 'base64').toString('utf8') : payload.data);

  it('keeps no content in its dead letter, which still says why', () => {
    const [letter, ...more] = sortBatch([{ body, position: POSITION }]).deadLetters;
    expect(more).toEqual([]);
    expect(letter!.reason).toMatch(/^body of \d+ bytes exceeds 1048576$/);
    expect('data' in letter!.raw && leaked(payloadText(letter!.raw))).toEqual([]);
  });

  it('keeps no content in a quarantined batch', () => {
    const batch = toQuarantinedBatch([{ body, position: POSITION }], 'transient', 'Cosmos DB unavailable', 5, new Date('2026-11-20T10:00:00Z'));
    expect(leaked(batch.events.map((e) => payloadText(e.body)))).toEqual([]);
  });
});

describe('a body kept without content', () => {
  it('keeps its other items as written, so a rejected one has the same dead letter delivered directly or replayed', () => {
    // A record without content fields, refused for its time; beside it a record with content. The body is indented
    // with CRLF line ends, as Newtonsoft.Json writes some producers' bodies.
    const bare = withoutZone(gatewayLogsRecord('5a0c7e1b-3d2f-4e6a-9b8c-7d6e5f4a3b2c'));
    const properties = bare['properties'] as Record<string, unknown>;
    for (const field of ['requestBody', 'backendRequestBody', 'backendResponseBody', 'responseBody', 'backendRequestHeaders']) delete properties[field];
    const body = JSON.stringify({ records: [gatewayLogsRecord('0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b'), bare] }, null, 2).replace(/\n/g, '\r\n');
    const direct = sortBatch([{ body, position: POSITION }]).deadLetters;
    const batch = toQuarantinedBatch([{ body, position: POSITION }], 'transient', 'ledger unavailable', 5, new Date('2026-11-20T10:00:00Z'));
    const replayed = sortBatch(fromQuarantinedBatch(batch)).deadLetters;
    expect(direct).toHaveLength(1);
    expect(replayed.map((l) => l.id)).toEqual(direct.map((l) => l.id));
    expect(rawText(direct[0]!)).toContain('\r\n      "correlationId": "5a0c7e1b-3d2f-4e6a-9b8c-7d6e5f4a3b2c"');
  });

  it('keeps no content of a record whose properties is a JSON string, as some exports write it', async () => {
    const record = gatewayLogsRecord('0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b');
    record['properties'] = JSON.stringify(record['properties']);
    const p = ports();
    await ingestBatch([{ body: JSON.stringify({ records: [record] }), position: POSITION }], p);
    expect(p.deadLetters.snapshot()).toHaveLength(1);
    expect(leaked(p.deadLetters.snapshot())).toEqual([]);
  });

  it('is judged the same when a content field has a type the schema refuses', () => {
    const record = gatewayLogsRecord('0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b');
    (record['properties'] as Record<string, unknown>)['backendResponseBody'] = { model: 'gpt-4o', usage: { prompt_tokens: 1 }, note: PROMPT };
    const body = JSON.stringify({ records: [record] });
    const of = (b: string) => sortBatch([{ body: b, position: POSITION }]);
    expect(of(body).deadLetters).toHaveLength(1);
    expect(of(textWithoutContent(body)!).deadLetters.map((l) => l.reason)).toEqual(of(body).deadLetters.map((l) => l.reason));
  });
});

describe('content written where a reader might not look for it', () => {
  const quarantined = (body: string) => JSON.stringify(toQuarantinedBatch([{ body, position: POSITION }], 'transient', 'x', 5, new Date('2026-11-20T10:00:00Z')));
  const withContent = (id: string) => JSON.stringify(gatewayLogsRecord(id));
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);

  it('is not kept from a records key written twice (JSON.parse keeps the last) or a properties key written twice', () => {
    expect(leaked(quarantined(`{"records":[${withContent('11111111-1111-4111-8111-111111111111')}],"records":[]}`))).toEqual([]);
    const hidden = `{"category":"GatewayLogs","properties":{"requestBody":${JSON.stringify(JSON.stringify({ messages: [{ content: PROMPT }] }))}},"properties":{"url":"x"}}`;
    expect(leaked(quarantined(`{"records":[${withContent('11111111-1111-4111-8111-111111111111')},${hidden}]}`))).toEqual([]);
  });

  it('is not kept from a record written as a JSON string, nor from a body that is not JSON', () => {
    const doubleEncoded = sortBatch([{ body: JSON.stringify({ records: [withContent('11111111-1111-4111-8111-111111111111')] }), position: POSITION }]);
    expect(doubleEncoded.deadLetters).toHaveLength(1);
    expect(leaked(doubleEncoded.deadLetters)).toEqual([]);
    const notJson = sortBatch([{ body: `${JSON.stringify({ records: [gatewayLogsRecord('11111111-1111-4111-8111-111111111111')] })}}`, position: POSITION }]);
    expect(notJson.deadLetters.map((l) => l.reason)).toEqual([expect.stringMatching(/not JSON/)]);
    expect(leaked(notJson.deadLetters)).toEqual([]);
    expect(JSON.parse(rawText(notJson.deadLetters[0]!))).toMatchObject({ notKept: NOT_KEPT, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('is not kept from a subscription key in the query of a URL', () => {
    const record = withoutZone(gatewayLogsRecord('11111111-1111-4111-8111-111111111111'));
    const properties = record['properties'] as Record<string, unknown>;
    properties['url'] = `${properties['url']}&subscription-key=0123456789abcdef0123456789abcdef`;
    const [letter] = sortBatch([{ body: envelope(record), position: POSITION }]).deadLetters;
    expect(rawText(letter!)).not.toContain('0123456789abcdef0123456789abcdef');
    expect(rawText(letter!)).toContain('/deployments/gpt-4o-prod/chat/completions"');
  });

  it('is not kept from a record nested deeper than the stack writes, which is dead-lettered rather than failing its batch', () => {
    const body = JSON.stringify(withoutZone(gatewayLogsRecord('11111111-1111-4111-8111-111111111111'))).replace('"method":"POST"', `"method":"POST","extra":${deep}`);
    const { deadLetters } = sortBatch([{ body, position: POSITION }]);
    expect(deadLetters).toHaveLength(1);
    expect(leaked(deadLetters)).toEqual([]);
  });

  it('is judged the same once quarantined when a headers text is longer than the record schema reads', () => {
    const record = gatewayLogsRecord('11111111-1111-4111-8111-111111111111');
    (record['properties'] as Record<string, unknown>)['backendResponseHeaders'] = JSON.stringify({ 'apim-request-id': 'b7e1c3a2-9d4f-4e6a-8b2c-1d3e5f7a9c0b', 'x-pad': 'p'.repeat(70_000) });
    const body = envelope(record);
    const direct = sortBatch([{ body, position: POSITION }]);
    const replayed = sortBatch(fromQuarantinedBatch(toQuarantinedBatch([{ body, position: POSITION }], 'transient', 'x', 5, new Date('2026-11-20T10:00:00Z'))));
    expect([replayed.entries.length, replayed.deadLetters.length]).toEqual([direct.entries.length, direct.deadLetters.length]);
  });
});

describe('a client URL whose deployment segment is a percent-escape that is not UTF-8', () => {
  it('is ingested with the segment as written, and the rest of its batch with it', async () => {
    const p = ports();
    const body = envelope(gatewayLogsRecord('0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b'), gatewayLogsRecord('5a0c7e1b-3d2f-4e6a-9b8c-7d6e5f4a3b2c', 'gpt-4o%FF'));
    const result = await ingestBatch([{ body, position: POSITION }], p);
    expect(result.deadLettered).toBe(0);
    expect(sortBatch([{ body, position: POSITION }]).entries.map((e) => e.deployment).sort()).toEqual(['gpt-4o%FF', 'gpt-4o-prod']);
  });
});
