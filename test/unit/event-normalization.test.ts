import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import type { GatewayEventV1Input } from '../../src/contracts/gateway-event.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { decodeBody } from '../../src/domain/event-decoding.js';
import { normalizeEvent, type Normalization, type NormalizedEvent } from '../../src/domain/event-normalization.js';
import { hourBucket, ledgerDocument, ledgerId, ledgerPartition, mergeLedgerEntries, toLedgerEntry } from '../../src/domain/ledger.js';

const fixtureText = readFileSync(new URL('../fixtures/apim-gatewaylogs.records.json', import.meta.url), 'utf8');

function accepted(result: Normalization): NormalizedEvent {
  if (!result.ok) throw new Error(`expected the event to be accepted, got: ${result.reason}`);
  return result.value;
}

function rejection(result: Normalization): string {
  if (result.ok) throw new Error('expected the event to be rejected');
  return result.reason;
}

function entryOf(value: unknown): LedgerEntry {
  return toLedgerEntry(accepted(normalizeEvent(value)));
}

/** A complete gateway event v1 as the APIM policy writes it. */
function v1Event(overrides: Partial<GatewayEventV1Input> = {}): GatewayEventV1Input {
  return {
    schema: 'tokenledger.gateway/v1',
    gatewayRequestId: '5d0f7c2a-1b3e-4c5d-8e9f-0a1b2c3d4e5f',
    apimRequestId: 'B7E1C3A2-9D4F-4E6A-8B2C-1D3E5F7A9C0B',
    time: '2026-11-20T09:41:07.123Z',
    gateway: { service: 'contoso-ai-gateway', region: 'West Europe', backendId: 'aoai-eastus', backendUrl: 'https://contoso-aoai-eastus.openai.azure.com/' },
    backendRegion: 'East US',
    subscriptionId: 'sub-search-0',
    productId: 'ai-standard',
    caller: {
      oid: 'AAAAAAAA-1111-4222-8333-444444444444',
      tid: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      appid: null,
      idtyp: 'user',
      upn: 'ana@contoso.example',
      sub: 'aaaaaaaa-1111-4222-8333-444444444444',
    },
    deployment: 'gpt-4o-prod',
    model: 'gpt-4o-2024-08-06',
    operation: 'ChatCompletions_Create',
    stream: false,
    status: 200,
    usage: { promptTokens: 1200, cachedTokens: 1024, completionTokens: 230, reasoningTokens: 0, totalTokens: 1430 },
    timings: { totalMs: 812, backendMs: 790, ttftMs: null },
    rateLimit: { remainingRequests: 120, remainingTokens: 88000 },
    ...overrides,
  };
}

const APIM_RESOURCE_ID = '/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/APIM1';
const CORRELATION_ID = '3f2a9c1e-7b6d-4e5f-9a8b-1c2d3e4f5a6b';

function llmLogRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    category: 'GatewayLlmLogs',
    time: '2026-11-20T09:41:08.000Z',
    resourceId: APIM_RESOURCE_ID,
    correlationId: CORRELATION_ID,
    location: 'East US',
    properties: { deploymentName: 'gpt-4o-prod', modelName: 'gpt-4o', promptTokens: 300, completionTokens: 45, totalTokens: 345, isStreamCompletion: true },
    ...overrides,
  };
}

/** A GatewayLogs record of a streamed request: status and timings, but no usage in the (streamed) response body. */
function gatewayLogRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    category: 'GatewayLogs',
    time: '2026-11-20T09:41:07.000Z',
    resourceId: APIM_RESOURCE_ID,
    correlationId: CORRELATION_ID,
    durationMs: 2300,
    location: 'East US',
    properties: {
      operationId: 'ChatCompletions_Create',
      apimSubscriptionId: 'sub-search-0',
      backendId: 'aoai-eastus',
      backendUrl: 'https://contoso-aoai-eastus.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21',
      requestBody: '{"stream":true,"messages":[{"role":"user","content":"hello"}]}',
      backendResponseCode: 200,
      backendTime: 2250,
      responseCode: 200,
    },
    ...overrides,
  };
}

function aiHubPayload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'ai-6a1f0c9e-2d3b-4c5a-9e8f-7a6b5c4d3e2f',
    timestamp: '11/22/2025 10:15:03',
    appId: 'C0FFEE00-1234-4abc-8def-0123456789ab',
    subscriptionId: 'sub-ai-hub-1',
    productName: 'ai-premium',
    model: 'gpt-4o',
    gatewayName: 'ai-hub-gateway',
    gatewayRegion: 'West Europe',
    backendId: 'openai-swedencentral',
    routeLocation: 'Sweden Central',
    deploymentName: 'chat',
    promptTokens: 120,
    responseTokens: 30,
    totalTokens: 150,
    ...overrides,
  };
}

describe('normalizeEvent: gateway event v1', () => {
  it('accepts a complete v1 event and keeps its values', () => {
    const normalized = accepted(normalizeEvent(v1Event()));
    expect(normalized.source).toBe('gateway-v1');
    expect(normalized.missing).toEqual([]);
    expect(normalized.event.usage).toEqual({ promptTokens: 1200, cachedTokens: 1024, completionTokens: 230, reasoningTokens: 0, totalTokens: 1430 });
    expect(normalized.event.status).toBe(200);
    expect(normalized.event.caller?.upn).toBe('ana@contoso.example');
  });

  it('drops unknown extra fields, at the top level and inside nested objects', () => {
    const event = {
      ...v1Event(),
      promptText: 'secret prompt',
      gateway: { service: 'contoso-ai-gateway', region: 'West Europe', internalIp: '10.0.0.4' },
      caller: { oid: 'aaaaaaaa-1111-4222-8333-444444444444', roles: ['admin'] },
    };
    const normalized = accepted(normalizeEvent(event));
    expect(normalized.event).not.toHaveProperty('promptText');
    expect(normalized.event.gateway).not.toHaveProperty('internalIp');
    expect(normalized.event.caller).not.toHaveProperty('roles');
    const entry = toLedgerEntry(normalized);
    expect(JSON.stringify(entry)).not.toContain('secret prompt');
    expect(JSON.stringify(entry)).not.toContain('10.0.0.4');
  });

  it('normalises the backend region display name "East US" to the code "eastus" on the ledger entry', () => {
    const entry = entryOf(v1Event());
    expect(entry.backendRegion).toBe('eastus');
    expect(entry.gateway.regionCode).toBe('westeurope');
  });

  it('builds a ledger entry with the gateway request id as id, its hash bucket as partition key and gateway tokens', () => {
    const entry = entryOf(v1Event());
    expect(entry.id).toBe('5d0f7c2a-1b3e-4c5d-8e9f-0a1b2c3d4e5f');
    expect(entry.apimRequestId?.toLowerCase()).toBe('b7e1c3a2-9d4f-4e6a-8b2c-1d3e5f7a9c0b');
    expect(entry.source).toBe('gateway-v1');
    expect(entry.time).toBe('2026-11-20T09:41:07.123Z');
    expect(entry.caller.oid).toBe('aaaaaaaa-1111-4222-8333-444444444444');
    expect(entry.tokens).toEqual({ source: 'gateway', promptTokens: 1200, cachedTokens: 1024, completionTokens: 230, reasoningTokens: 0 });
    expect(entry.timings).toEqual({ totalMs: 812, backendMs: 790, ttftMs: null });
    expect(entry.rateLimit).toEqual({ remainingRequests: 120, remainingTokens: 88000 });
  });

  it('defaults missing cached, completion and reasoning counts to 0', () => {
    const entry = entryOf(v1Event({ usage: { promptTokens: 40 } }));
    expect(entry.tokens).toEqual({ source: 'gateway', promptTokens: 40, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 });
  });

  it('records a request without usage (an interrupted stream) with token source none and zero counts', () => {
    const entry = entryOf(v1Event({ stream: true, usage: null }));
    expect(entry.stream).toBe(true);
    expect(entry.status).toBe(200);
    expect(entry.tokens).toEqual({ source: 'none', promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 });
  });

  it('converts a time with an offset to UTC for the entry time', () => {
    const entry = entryOf(v1Event({ time: '2026-11-20T00:30:00+02:00' }));
    expect(entry.time).toBe('2026-11-19T22:30:00.000Z');
    expect(hourBucket(entry.time)).toBe('2026-11-19T22');
  });
});

describe('normalizeEvent: rejections name the problem', () => {
  it('rejects negative token counts', () => {
    const reason = rejection(normalizeEvent(v1Event({ usage: { promptTokens: -12, completionTokens: 3 } })));
    expect(reason).toMatch(/usage\.promptTokens/);
  });

  it('rejects token counts given as strings', () => {
    const event = { ...v1Event(), usage: { promptTokens: '12', completionTokens: 3 } };
    expect(rejection(normalizeEvent(event))).toMatch(/usage\.promptTokens/);
  });

  it('rejects fractional token counts', () => {
    expect(rejection(normalizeEvent(v1Event({ usage: { promptTokens: 1.5 } })))).toMatch(/usage\.promptTokens/);
  });

  it('rejects cachedTokens greater than promptTokens', () => {
    const reason = rejection(normalizeEvent(v1Event({ usage: { promptTokens: 100, cachedTokens: 128, completionTokens: 5 } })));
    expect(reason).toMatch(/cachedTokens exceeds promptTokens/);
  });

  it('rejects reasoningTokens greater than completionTokens', () => {
    const reason = rejection(normalizeEvent(v1Event({ usage: { promptTokens: 100, completionTokens: 5, reasoningTokens: 6 } })));
    expect(reason).toMatch(/reasoningTokens exceeds completionTokens/);
  });

  it('rejects a totalTokens that is not promptTokens + completionTokens', () => {
    const reason = rejection(normalizeEvent(v1Event({ usage: { promptTokens: 100, completionTokens: 5, totalTokens: 106 } })));
    expect(reason).toMatch(/totalTokens is not promptTokens \+ completionTokens/);
  });

  it('rejects an HTTP status outside 100–599', () => {
    expect(rejection(normalizeEvent(v1Event({ status: 999 })))).toMatch(/^invalid tokenledger\.gateway\/v1: status:/);
    expect(rejection(normalizeEvent(v1Event({ status: 99 })))).toMatch(/status/);
  });

  it('rejects an event without gatewayRequestId, or with a blank one', () => {
    const { gatewayRequestId: _omitted, ...withoutId } = v1Event();
    expect(rejection(normalizeEvent(withoutId))).toMatch(/gatewayRequestId/);
    expect(rejection(normalizeEvent(v1Event({ gatewayRequestId: '   ' })))).toMatch(/gatewayRequestId/);
  });

  it('rejects a time that is not an ISO-8601 instant with an offset, for that one reason', () => {
    expect(rejection(normalizeEvent(v1Event({ time: 'yesterday' })))).toBe('invalid tokenledger.gateway/v1: time: Invalid ISO datetime');
    expect(rejection(normalizeEvent(v1Event({ time: '2026-11-20T09:41:07' })))).toBe('invalid tokenledger.gateway/v1: time: Invalid ISO datetime');
  });

  it('rejects a time more than a day in the future, and accepts one just under a day ahead', () => {
    const future = new Date(Date.now() + 2 * 86_400_000).toISOString();
    expect(rejection(normalizeEvent(v1Event({ time: future })))).toMatch(/time is more than a day in the future/);
    const soon = new Date(Date.now() + 86_400_000 - 60_000).toISOString();
    expect(normalizeEvent(v1Event({ time: soon })).ok).toBe(true);
  });

  it('rejects an unsupported schema value, quoting it', () => {
    const reason = rejection(normalizeEvent({ ...v1Event(), schema: 'tokenledger.gateway/v0' }));
    expect(reason).toMatch(/unsupported schema/);
    expect(reason).toContain('tokenledger.gateway/v0');
    expect(rejection(normalizeEvent({ ...v1Event(), schema: null }))).toMatch(/unsupported schema null/);
  });

  it('rejects an unknown diagnostic category, quoting it', () => {
    const reason = rejection(normalizeEvent({ ...gatewayLogRecord(), category: 'WebSocketConnectionLogs' }));
    expect(reason).toMatch(/unsupported diagnostic category/);
    expect(reason).toContain('WebSocketConnectionLogs');
  });

  it('rejects an object of no known shape', () => {
    expect(rejection(normalizeEvent({ note: 'an object of no known shape', n: 8 }))).toMatch(/^unrecognised event/);
  });

  it('rejects items that are not objects, naming what they are', () => {
    expect(rejection(normalizeEvent(null))).toMatch(/event is null, not an object/);
    expect(rejection(normalizeEvent([v1Event()]))).toMatch(/event is an array, not an object/);
    expect(rejection(normalizeEvent('text'))).toMatch(/event is string, not an object/);
    expect(rejection(normalizeEvent(7))).toMatch(/event is number, not an object/);
  });

  it('names at most five issues and says how many more there are', () => {
    const reason = rejection(
      normalizeEvent({ schema: 'tokenledger.gateway/v1', gatewayRequestId: 1, apimRequestId: 2, time: 3, gateway: 4, stream: 'yes', status: 'ok', usage: 'many' }),
    );
    expect(reason.split('; ')).toHaveLength(5);
    expect(reason).toMatch(/\(\+\d+ more\)$/);
  });
});

describe('normalizeEvent: APIM GatewayLogs export (test/fixtures/apim-gatewaylogs.records.json)', () => {
  const decoded = decodeBody(fixtureText);
  if (!decoded.ok) throw new Error(decoded.reason);
  const [ok200, bad400] = decoded.items.map((item) => entryOf(item.value)) as [LedgerEntry, LedgerEntry];

  it('ACCEPTANCE: turns the 200 record into a ledger entry with gateway tokens 14 + 8, status 200, deployment and model', () => {
    expect(ok200.source).toBe('apim-gateway-logs');
    expect(ok200.status).toBe(200);
    expect(ok200.tokens.source).toBe('gateway');
    expect(ok200.tokens.promptTokens).toBe(14);
    expect(ok200.tokens.completionTokens).toBe(8);
    expect(ok200.tokens.cachedTokens).toBe(0);
    expect(ok200.tokens.reasoningTokens).toBe(0);
    expect(ok200.deployment).toBe('gpt-chat-pilot');
    expect(ok200.model).toBe('gpt-35-turbo');
  });

  it('ACCEPTANCE: turns the 400 record into a ledger entry with status 400 and no tokens', () => {
    expect(bad400.source).toBe('apim-gateway-logs');
    expect(bad400.status).toBe(400);
    expect(bad400.tokens).toEqual({ source: 'none', promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 });
    expect(bad400.deployment).toBe('gpt-chat-pilot');
  });

  it("keeps the request, with the backend's status and tokens, when the client's side is logged as response code 0 (no response reached it)", () => {
    const record = structuredClone((JSON.parse(fixtureText) as { records: Record<string, unknown>[] }).records[0]!) as { properties: Record<string, unknown> };
    record.properties['responseCode'] = 0;
    const entry = entryOf(record);
    expect(entry.status).toBe(200);
    expect([entry.tokens.promptTokens, entry.tokens.completionTokens]).toEqual([14, 8]);
    record.properties['backendResponseCode'] = 0;
    expect(entryOf(record)).toMatchObject({ status: null, tokens: { promptTokens: 14, completionTokens: 8 } });
  });

  it("reads the deployment from the client's URL, as the policy reads context.Request.OriginalUrl, not from a rewritten backend URL", () => {
    const record = structuredClone((JSON.parse(fixtureText) as { records: Record<string, unknown>[] }).records[0]!) as { properties: Record<string, unknown> };
    record.properties['url'] = 'https://apim.azure-api.net/openai/deployments/team-a-gpt4o/chat/completions?api-version=2024-10-21';
    record.properties['backendUrl'] = 'https://aoai.openai.azure.com/openai/deployments/gpt-4o-shared/chat/completions?api-version=2024-10-21';
    expect(entryOf(record).deployment).toBe('team-a-gpt4o');
  });

  /** The 200 record, as if the client had called `method path` and Azure OpenAI had answered `body`. */
  function answered(method: string, path: string, body: Record<string, unknown>): LedgerEntry {
    const record = structuredClone((JSON.parse(fixtureText) as { records: Record<string, unknown>[] }).records[0]!) as { properties: Record<string, unknown> };
    Object.assign(record.properties, { method, backendMethod: method, url: `https://apim.azure-api.net${path}`, backendUrl: `https://aoai.openai.azure.com${path}`, backendResponseBody: JSON.stringify(body) });
    return entryOf(record);
  }

  it("reads a transcription's audio input tokens (usage.input_token_details, gpt-4o-transcribe), as the policy does", () => {
    // OpenAI API reference, "Create transcription" (the usage of type "tokens"); Microsoft Learn, @azure/ai-projects
    // TranscriptTextUsageTokensInputTokenDetails: "audio_tokens: The number of audio input tokens processed".
    const usage = { type: 'tokens', input_tokens: 14, input_token_details: { text_tokens: 0, audio_tokens: 14 }, output_tokens: 45, total_tokens: 59 };
    const entry = answered('POST', '/openai/deployments/gpt-4o-transcribe/audio/transcriptions?api-version=2025-03-01-preview', { text: 'Imagine…', usage });
    expect(entry.tokens).toEqual({ source: 'gateway', promptTokens: 14, cachedTokens: 0, completionTokens: 45, reasoningTokens: 0, audioPromptTokens: 14 });
  });

  it('takes no usage from a read of a stored response or chat completion: only the call that created it is billed, as the policy decides', () => {
    // Azure OpenAI Responses how-to ("Retrieve a response" answers the stored response object, usage included);
    // OpenAI API reference, "Get chat completion" (the stored ChatCompletion object).
    const usage = { input_tokens: 328, input_tokens_details: { cached_tokens: 0 }, output_tokens: 52, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 380 };
    const response = { id: 'resp_67cb71b351908190', object: 'response', status: 'completed', background: false, model: 'gpt-4o-2024-08-06', output: [], usage };
    const read = answered('GET', '/openai/v1/responses/resp_67cb71b351908190', response);
    expect(read.tokens.source).toBe('none');
    expect(read.missing).not.toContain('usage');
    expect(answered('POST', '/openai/v1/responses/resp_67cb71b351908190/cancel', response).tokens.source).toBe('none');
    // A background response answered no usage when created: its read is what counts.
    expect(answered('GET', '/openai/v1/responses/resp_67cb71b351908190', { ...response, background: true }).tokens).toMatchObject({ source: 'gateway', promptTokens: 328 });
    expect(answered('POST', '/openai/v1/responses', response).tokens).toMatchObject({ source: 'gateway', promptTokens: 328, completionTokens: 52 });
    const completion = { id: 'chatcmpl-abc123', object: 'chat.completion', model: 'gpt-4o-2024-08-06', choices: [], usage: { prompt_tokens: 21, completion_tokens: 2, total_tokens: 23 } };
    expect(answered('GET', '/openai/v1/chat/completions/chatcmpl-abc123', completion).tokens.source).toBe('none');
    expect(answered('POST', '/openai/v1/chat/completions/chatcmpl-abc123', completion).tokens.source).toBe('none');
    expect(answered('POST', '/openai/v1/chat/completions', completion).tokens).toMatchObject({ source: 'gateway', promptTokens: 21, completionTokens: 2 });
  });

  it('takes no usage from a Batch API job, an Assistants run step, or a run other than the poll that finds it done, as the policy decides', () => {
    // OpenAI OpenAPI spec: `Batch.usage` "Represents token usage details including input tokens, output tokens [...] and
    // the total tokens used" (its requests', billed once at the batch price); `RunStepObject.usage` (a step of a run);
    // `RunObject.usage` "will be null if the run is not in a terminal state"; POST /threads/{t}/runs/{r} modifies a run.
    const usage = { input_tokens: 1500, input_tokens_details: { cached_tokens: 1024 }, output_tokens: 500, output_tokens_details: { reasoning_tokens: 300 }, total_tokens: 2000 };
    const batch = { id: 'batch_abc123', object: 'batch', endpoint: '/v1/chat/completions', status: 'completed', request_counts: { total: 100, completed: 95, failed: 5 }, usage };
    expect(answered('GET', '/openai/v1/batches/batch_abc123', batch).tokens.source).toBe('none');
    expect(answered('POST', '/openai/v1/batches/batch_abc123/cancel', { ...batch, status: 'cancelled' }).tokens.source).toBe('none');
    expect(answered('GET', '/openai/v1/batches/batch_abc123', batch).missing).not.toContain('usage');
    const runUsage = { prompt_tokens: 123, completion_tokens: 456, total_tokens: 579 };
    const run = { id: 'run_abc123', object: 'thread.run', thread_id: 'thread_abc123', status: 'completed', model: 'gpt-4o', usage: runUsage };
    const runs = '/openai/threads/thread_abc123/runs/run_abc123';
    expect(answered('GET', `${runs}?api-version=2025-04-01-preview`, run).tokens).toMatchObject({ source: 'gateway', promptTokens: 123, completionTokens: 456 });
    expect(answered('POST', `${runs}?api-version=2025-04-01-preview`, { ...run, metadata: { user: 'u1' } }).tokens.source).toBe('none');
    const step = { id: 'step_abc123', object: 'thread.run.step', run_id: 'run_abc123', type: 'message_creation', status: 'completed', usage: runUsage };
    expect(answered('GET', `${runs}/steps/step_abc123?api-version=2025-04-01-preview`, step).tokens.source).toBe('none');
  });

  it('takes no usage, backend call or backend latency from a response APIM served from its cache (cache "hit")', () => {
    // Gateway log schema reference: "Cache: Status of API Management cache involvement in request processing (hit,
    // miss, none)". A hit never reached Azure OpenAI: the stored body's usage is the billed call's, not this request's.
    const served = (cache: string): LedgerEntry => {
      const record = structuredClone((JSON.parse(fixtureText) as { records: Record<string, unknown>[] }).records[0]!) as { properties: Record<string, unknown> };
      Object.assign(record.properties, { cache, backendResponseHeaders: { 'apim-request-id': 'b7a3e0c2-4f1d-4e9a-8c5b-2d6f9a1e3c70', 'x-ms-region': 'East US' } });
      return entryOf(record);
    };
    const hit = served('hit');
    expect(hit.tokens.source).toBe('none');
    expect([hit.apimRequestId, hit.backendRegion, hit.timings.backendMs]).toEqual([null, null, null]);
    expect(hit.missing).not.toContain('usage');
    expect(hit.status).toBe(200);
    const miss = served('miss');
    expect(miss.tokens).toMatchObject({ source: 'gateway', promptTokens: 14, completionTokens: 8 });
    expect([miss.apimRequestId, miss.backendRegion, miss.timings.backendMs]).toEqual(['b7a3e0c2-4f1d-4e9a-8c5b-2d6f9a1e3c70', 'eastus', 176]);
  });

  it('ACCEPTANCE: lists apimRequestId and caller as missing on both entries', () => {
    for (const entry of [ok200, bad400]) {
      expect(entry.missing).toContain('apimRequestId');
      expect(entry.missing).toContain('caller');
    }
    expect(bad400.missing).toContain('usage');
    expect(ok200.missing).not.toContain('usage');
  });

  it('ACCEPTANCE: keeps no prompt or completion text on the ledger entries', () => {
    for (const entry of [ok200, bad400]) {
      const json = JSON.stringify(entry);
      expect(json).not.toContain('capital of tamilnadu');
      expect(json).not.toContain('Chennai');
      expect(json).not.toContain('content_filter');
    }
  });

  it('takes ids, partition keys, service, region and timings from the records', () => {
    expect(ok200.gatewayRequestId).toBe('99789635-18d0-480f-8182-a3a3c477a6a4');
    expect(ok200.id).toBe('99789635-18d0-480f-8182-a3a3c477a6a4');
    expect(bad400.id).not.toBe(ok200.id);
    expect(ok200.time).toBe('2024-07-02T06:31:31.446Z');
    expect(ok200.gateway.service).toBe('azure-openai-apm');
    expect(ok200.gateway.regionCode).toBe('eastus');
    expect(ok200.operation).toBe('ChatCompletions_Create');
    expect(ok200.stream).toBe(false);
    expect(ok200.timings).toEqual({ totalMs: 176, backendMs: 176, ttftMs: null });
    expect(bad400.timings).toEqual({ totalMs: 453, backendMs: 452, ttftMs: null });
  });
});

describe('normalizeEvent: APIM GatewayLlmLogs records', () => {
  it('maps token counts to a ledger entry with token source llm-log', () => {
    const normalized = accepted(normalizeEvent(llmLogRecord()));
    expect(normalized.source).toBe('apim-llm-log');
    const entry = toLedgerEntry(normalized);
    expect(entry.tokens).toEqual({ source: 'llm-log', promptTokens: 300, cachedTokens: 0, completionTokens: 45, reasoningTokens: 0 });
    expect(entry.stream).toBe(true);
    expect(entry.status).toBeNull();
    expect(entry.deployment).toBe('gpt-4o-prod');
    expect(entry.model).toBe('gpt-4o');
    expect(entry.gateway.service).toBe('apim1');
    expect(entry.gateway.regionCode).toBe('eastus');
    expect(entry.missing).toContain('status');
  });

  it('reads the PascalCase property names too', () => {
    const entry = entryOf(
      llmLogRecord({ properties: { DeploymentName: 'o3-mini', ModelName: 'o3-mini', PromptTokens: 9, CompletionTokens: 4, TotalTokens: 13, IsStreamCompletion: false } }),
    );
    expect(entry.tokens).toMatchObject({ source: 'llm-log', promptTokens: 9, completionTokens: 4 });
    expect(entry.deployment).toBe('o3-mini');
    expect(entry.stream).toBe(false);
  });

  it('gives the same ledger id as the GatewayLogs record with the same correlationId', () => {
    const fromLlm = entryOf(llmLogRecord());
    const fromGateway = entryOf(gatewayLogRecord());
    expect(fromLlm.id).toBe(fromGateway.id);
    expect(entryOf(llmLogRecord({ correlationId: CORRELATION_ID.toUpperCase() })).id).toBe(fromGateway.id);
    expect(entryOf(llmLogRecord({ correlationId: 'another-request' })).id).not.toBe(fromGateway.id);
  });

  it('gives the same ledger id as a v1 event without apim-request-id whose gatewayRequestId is the correlationId', () => {
    const fromV1 = entryOf(v1Event({ gatewayRequestId: CORRELATION_ID, apimRequestId: null }));
    expect(fromV1.id).toBe(entryOf(llmLogRecord()).id);
  });

  it('rejects an LLM log with an inconsistent total, naming the record type', () => {
    const reason = rejection(normalizeEvent(llmLogRecord({ properties: { promptTokens: 10, completionTokens: 5, totalTokens: 16 } })));
    expect(reason).toMatch(/^invalid APIM GatewayLlmLogs record: /);
    expect(reason).toMatch(/totalTokens is not promptTokens \+ completionTokens/);
  });

  it('rejects a GatewayLogs record without a correlationId', () => {
    const { correlationId: _omitted, ...record } = gatewayLogRecord();
    expect(rejection(normalizeEvent(record))).toMatch(/^invalid APIM GatewayLogs record: correlationId/);
  });
});

describe('normalizeEvent: AI Hub Gateway usage payloads', () => {
  it('accepts the payload, with the invariant-culture timestamp read as UTC and regions normalised', () => {
    const normalized = accepted(normalizeEvent(aiHubPayload()));
    expect(normalized.source).toBe('ai-hub-gateway');
    const entry = toLedgerEntry(normalized);
    expect(entry.time).toBe('2025-11-22T10:15:03.000Z');
    expect(entry.caller.appid).toBe('c0ffee00-1234-4abc-8def-0123456789ab');
    expect(entry.caller.oid).toBeNull();
    expect(entry.backendRegion).toBe('swedencentral');
    expect(entry.gateway).toEqual({ service: 'ai-hub-gateway', regionCode: 'westeurope', backendId: 'openai-swedencentral' });
    expect(entry.tokens).toEqual({ source: 'gateway', promptTokens: 120, cachedTokens: 0, completionTokens: 30, reasoningTokens: 0 });
    expect(entry.status).toBe(200);
    expect(entry.subscriptionId).toBe('sub-ai-hub-1');
    expect(entry.productId).toBe('ai-premium');
    expect(entry.deployment).toBe('chat');
    expect(entry.missing).toContain('caller.oid');
    expect(entry.missing).not.toContain('caller.appid');
    expect(entry.id).toMatch(/^h-[0-9a-f]{32}$/);
  });

  it('treats an appId of "NA" as no app id', () => {
    const entry = entryOf(aiHubPayload({ appId: 'NA' }));
    expect(entry.caller.appid).toBeNull();
    expect(entry.missing).toContain('caller.appid');
    expect(entry.missing).toContain('caller.oid');
  });

  it('accepts an ISO-8601 timestamp as well', () => {
    expect(entryOf(aiHubPayload({ timestamp: '2025-11-22T10:15:03Z' })).time).toBe('2025-11-22T10:15:03.000Z');
  });

  it('rejects an unreadable timestamp and an inconsistent total', () => {
    expect(rejection(normalizeEvent(aiHubPayload({ timestamp: '22.11.2025 10:15' })))).toMatch(/^invalid AI Hub Gateway usage payload: time/);
    expect(rejection(normalizeEvent(aiHubPayload({ totalTokens: 151 })))).toMatch(/totalTokens is not promptTokens \+ completionTokens/);
    expect(rejection(normalizeEvent(aiHubPayload({ promptTokens: 'many' })))).toMatch(/^invalid AI Hub Gateway usage payload: promptTokens/);
  });
});

describe('ledgerId and partition key', () => {
  it('uses the gateway request id, lower-cased, for every APIM-side source, whatever the apim-request-id', () => {
    expect(ledgerId('gateway-v1', 'ABCDEF01-2345-4678-9ABC-DEF012345678', 'ignored')).toBe('abcdef01-2345-4678-9abc-def012345678');
    expect(ledgerId('apim-gateway-logs', 'ABCDEF01-2345-4678-9ABC-DEF012345678')).toBe('abcdef01-2345-4678-9abc-def012345678');
    expect(entryOf(v1Event({ gatewayRequestId: 'GW-123', apimRequestId: 'ABC-123' })).id).toBe('gw-123');
    expect(entryOf(v1Event({ gatewayRequestId: 'GW-123', apimRequestId: null })).id).toBe('gw-123');
  });

  it('hashes a gateway request id that is not a safe store id, with an a- prefix', () => {
    const withSlash = ledgerId('gateway-v1', 'abc/123');
    const withHash = ledgerId('gateway-v1', 'abc#123');
    expect(withSlash).toMatch(/^a-[0-9a-f]{32}$/);
    expect(withHash).toMatch(/^a-[0-9a-f]{32}$/);
    expect(withSlash).not.toBe(withHash);
    expect(ledgerId('gateway-v1', 'x'.repeat(129))).toMatch(/^a-[0-9a-f]{32}$/);
    expect(ledgerId('gateway-v1', 'x'.repeat(128))).toBe('x'.repeat(128));
  });

  it('keeps AI Hub ids in their own family, apart from APIM ids', () => {
    expect(ledgerId('ai-hub-gateway', 'r-1')).toMatch(/^h-[0-9a-f]{32}$/);
    expect(ledgerId('ai-hub-gateway', 'r-1')).not.toBe(ledgerId('gateway-v1', 'r-1'));
    expect(ledgerId('apim-gateway-logs', 'r-1')).toBe(ledgerId('apim-llm-log', 'R-1'));
  });

  it('partitions by a hash bucket of the id, the same for every source of one request', () => {
    expect(ledgerPartition('abc-123')).toMatch(/^l[0-9a-f]{2}$/);
    expect(ledgerPartition('abc-123')).toBe(ledgerPartition('abc-123'));
    const early = entryOf(v1Event({ gatewayRequestId: 'gw-9', time: '2026-11-20T23:59:59.000Z' }));
    const late = entryOf(v1Event({ gatewayRequestId: 'gw-9', time: '2026-11-21T00:00:01.000Z' }));
    expect(early.id).toBe(late.id);
    expect(ledgerDocument(early).pk).toBe(ledgerPartition(early.id));
    const buckets = new Set(Array.from({ length: 2000 }, (_, n) => ledgerPartition(`request-${n}`)));
    expect(buckets.size).toBe(256);
  });

  it('gives hour buckets YYYY-MM-DDTHH in UTC', () => {
    expect(hourBucket('2026-11-20T23:59:59.999Z')).toBe('2026-11-20T23');
    expect(hourBucket('2026-11-21T00:00:00.000Z')).toBe('2026-11-21T00');
    expect(hourBucket('2026-11-21T01:30:00+02:00')).toBe('2026-11-20T23');
    expect(hourBucket(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)))).toBe('2026-01-02T03');
  });
});

describe('mergeLedgerEntries', () => {
  const fromGatewayLogs = entryOf(gatewayLogRecord());
  const fromLlmLog = entryOf(llmLogRecord());

  it('starts from a GatewayLogs entry with status and no usage and an LLM-log entry with usage for the same id', () => {
    expect(fromGatewayLogs.id).toBe(fromLlmLog.id);
    expect(fromGatewayLogs.status).toBe(200);
    expect(fromGatewayLogs.tokens.source).toBe('none');
    expect(fromLlmLog.status).toBeNull();
    expect(fromLlmLog.tokens.source).toBe('llm-log');
  });

  it('is commutative', () => {
    expect(mergeLedgerEntries(fromGatewayLogs, fromLlmLog)).toEqual(mergeLedgerEntries(fromLlmLog, fromGatewayLogs));
  });

  it('is idempotent', () => {
    expect(mergeLedgerEntries(fromGatewayLogs, fromGatewayLogs)).toEqual(fromGatewayLogs);
    expect(mergeLedgerEntries(fromLlmLog, fromLlmLog)).toEqual(fromLlmLog);
  });

  it('takes the status from GatewayLogs and the tokens from the LLM log', () => {
    const merged = mergeLedgerEntries(fromGatewayLogs, fromLlmLog);
    expect(merged.status).toBe(200);
    expect(merged.tokens).toEqual({ source: 'llm-log', promptTokens: 300, cachedTokens: 0, completionTokens: 45, reasoningTokens: 0 });
    expect(merged.source).toBe('apim-gateway-logs');
    expect(merged.subscriptionId).toBe('sub-search-0');
    expect(merged.model).toBe('gpt-4o');
    expect(merged.timings.totalMs).toBe(2300);
    expect(merged.time).toBe(fromGatewayLogs.time);
  });

  it('keeps as missing only the fields neither source supplies', () => {
    const merged = mergeLedgerEntries(fromGatewayLogs, fromLlmLog);
    expect(merged.missing).toEqual(fromGatewayLogs.missing.filter((f) => fromLlmLog.missing.includes(f)));
    expect(merged.missing).not.toContain('usage');
    expect(merged.missing).not.toContain('status');
    expect(merged.missing).toContain('caller');
  });

  it('keeps gateway tokens when GatewayLogs already carries usage', () => {
    const withUsage = entryOf(
      gatewayLogRecord({
        properties: {
          responseCode: 200,
          backendUrl: 'https://x.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions',
          backendResponseBody: JSON.stringify({ model: 'gpt-4o', usage: { prompt_tokens: 300, completion_tokens: 45, total_tokens: 345 } }),
        },
      }),
    );
    const merged = mergeLedgerEntries(fromLlmLog, withUsage);
    expect(merged.tokens.source).toBe('gateway');
    expect(merged).toEqual(mergeLedgerEntries(withUsage, fromLlmLog));
  });
});
