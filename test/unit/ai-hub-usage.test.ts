import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readAiHubTimestamp } from '../../src/contracts/ai-hub-usage.js';
import { normalizeIdentityKey } from '../../src/contracts/directory.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { normalizeEvent } from '../../src/domain/event-normalization.js';
import { resolveIdentity } from '../../src/domain/identity.js';
import { PriceMatcher, priceEntry } from '../../src/domain/price-matching.js';
import { sortBatch } from '../../src/services/ingest-batch.js';

/** Fixtures built from the accelerator's own text; provenance in test/fixtures/ai-hub-gateway/README.md. */
const fixture = (name: string) => readFileSync(new URL(`../fixtures/ai-hub-gateway/${name}`, import.meta.url), 'utf8');
const POSITION = { partitionId: '0', sequenceNumber: 1, offset: '0', enqueuedTimeUtc: null } as const;

function ingested(body: unknown): LedgerEntry {
  const sorted = sortBatch([{ body, position: POSITION }]);
  expect(sorted.deadLetters.map((d) => d.reason)).toEqual([]);
  expect(sorted.entries).toHaveLength(1);
  return sorted.entries[0]!;
}

const prices = loadPriceTable({
  currency: 'USD',
  prices: [
    { model: 'gpt-4o', deployment: null, from: '2024-01-01', to: null, inputPer1M: '2.50', cachedInputPer1M: '1.25', outputPer1M: '10.00' },
    { model: 'gpt-35-turbo', deployment: null, from: '2024-01-01', to: null, inputPer1M: '0.50', outputPer1M: '1.50' },
  ],
});
const costOf = (entry: LedgerEntry) => {
  const match = new PriceMatcher(prices).match(entry);
  return match && priceEntry(entry, match).costPico;
};

describe('AI Hub Gateway payloads as the accelerator writes them', () => {
  it('reads the Newtonsoft-indented CRLF body of frag-openai-usage.xml (main) with its en-US timestamp and NA-HEADER app id', () => {
    const body = fixture('event-main.json');
    expect(body).toContain('\r\n  "timestamp": "1/5/2025 12:30:05 AM",\r\n');
    const entry = ingested(body);
    expect(entry.source).toBe('ai-hub-gateway');
    expect(entry.time).toBe('2025-01-05T00:30:05.000Z');
    expect(entry.caller).toEqual({ oid: null, tid: null, appid: null, idtyp: null, upn: null, sub: null });
    expect(entry.missing).toContain('caller.appid');
    expect(entry.subscriptionId).toBe('6b3f0a2e1c7d4e59a8b2c3d4e5f60718');
    expect(entry.productId).toBe('HR-Chatbot');
    expect(entry.gateway).toEqual({ service: 'apim-ai-hub-contoso', regionCode: 'swedencentral', backendId: 'openai-backend-0' });
    expect(entry.backendRegion).toBe('swedencentral');
    expect(entry.deployment).toBe('gpt-4o');
    expect(entry.model).toBe('gpt-4o-2024-08-06');
    expect(entry.tokens).toEqual({ source: 'gateway', promptTokens: 1523, cachedTokens: 0, completionTokens: 311, reasoningTokens: 0 });
    // 1523 × 2.50 + 311 × 10.00 dollars per million tokens = 0.0069175 dollars.
    expect(costOf(entry)).toBe(6_917_500_000n);
  });

  it('keeps the cachedTokens and audioTokens of the citadel-v1 fragment, both inside the prompt tokens', () => {
    const entry = ingested(fixture('event-citadel-v1.json'));
    expect(entry.time).toBe('2024-12-31T12:59:59.000Z');
    expect(entry.caller.appid).toBe('hr-assistant');
    expect(entry.tokens).toEqual({ source: 'gateway', promptTokens: 2048, cachedTokens: 1024, audioPromptTokens: 512, completionTokens: 128, reasoningTokens: 0 });
    expect(entry.missing).not.toContain('usage.cachedTokens');
  });

  it('reads the Stream Analytics record of src/usage-reports/usage-record.json, token counts as digit strings', () => {
    const entry = ingested(fixture('usage-record.json'));
    expect(entry.time).toBe('2024-05-24T14:45:56.000Z');
    expect(entry.tokens).toEqual({ source: 'gateway', promptTokens: 15000, cachedTokens: 0, completionTokens: 5000, reasoningTokens: 0 });
    expect(entry.caller.appid).toBe('11115293-844b-456f-8dbc-0c2d78e3e307');
    expect(entry.gateway).toEqual({ service: 'APIM-HOST.azure-api.net', regionCode: 'eastus', backendId: 'openai-backend-2' });
    expect(entry.backendRegion).toBe('eastus2');
    expect(entry.model).toBe('gpt-35-turbo');
    // 15000 × 0.50 + 5000 × 1.50 dollars per million tokens = 0.015 dollars.
    expect(costOf(entry)).toBe(15_000_000_000n);
  });

  it('takes every NA placeholder for "not known": no model, deployment, backend or region invented from it', () => {
    const entry = ingested(fixture('event-placeholders.json'));
    expect(entry.time).toBe('2025-07-04T21:05:00.000Z');
    expect(entry.caller.appid).toBeNull();
    expect(entry.model).toBeNull();
    expect(entry.deployment).toBeNull();
    expect(entry.gateway.backendId).toBeNull();
    expect(entry.backendRegion).toBeNull();
    expect(costOf(entry)).toBeNull();
  });

  it('charges the subscription whose key APIM checked, not the application an appId header names; appId decides only without one', () => {
    // The accelerator sets appId from a request header the caller chooses (its policies:
    // `context.Request.Headers.GetValueOrDefault("appId", "NA-HEADER")`).
    const forged = ingested(fixture('event-main.json').replace('"appId": "NA-HEADER"', '"appId": "42e0ee4f-4059-498f-8146-bb05294493e5"'));
    expect(forged.caller.appid).toBe('42e0ee4f-4059-498f-8146-bb05294493e5');
    expect(resolveIdentity(forged)).toEqual({ key: '6b3f0a2e1c7d4e59a8b2c3d4e5f60718', kind: 'apimSubscription', via: 'subscription' });
    expect(resolveIdentity({ ...forged, subscriptionId: null })).toMatchObject({ key: '42e0ee4f-4059-498f-8146-bb05294493e5', via: 'appid' });
    // An APIM v1 event's appid is a validated token claim, and still comes first.
    expect(resolveIdentity({ ...forged, source: 'gateway-v1' })).toMatchObject({ via: 'appid' });
  });

  it('keeps an appId that is no GUID as the caller wrote it, as the directory keys it, and a GUID in one case', () => {
    const named = ingested(fixture('event-main.json').replace('"appId": "NA-HEADER"', '"appId": "ContosoChat"'));
    expect(resolveIdentity({ ...named, subscriptionId: null })).toMatchObject({ key: normalizeIdentityKey('ContosoChat'), via: 'appid' });
    const guid = ingested(fixture('event-main.json').replace('"appId": "NA-HEADER"', '"appId": "42E0EE4F-4059-498F-8146-BB05294493E5"'));
    expect(guid.caller.appid).toBe('42e0ee4f-4059-498f-8146-bb05294493e5');
  });

  it("takes the fragment's default counts (1, 0: the body had no usage.prompt_tokens) for unknown usage, whatever the total, not for a 1-token request", () => {
    // frag-openai-usage.xml: `responseBody?["usage"]?["prompt_tokens"]?.Value<int>() ?? 1`, `…completion_tokens… ?? 0`,
    // `…total_tokens… ?? 1`; a Responses API body counts input_tokens, output_tokens and total_tokens instead, so its
    // payload carries 1, 0 and the real total.
    const counts = (targetService: string, prompt: number, response: number, total: number) =>
      fixture('event-main.json')
        .replace('"targetService": "chat.completion"', `"targetService": "${targetService}"`)
        .replace('"promptTokens": 1523', `"promptTokens": ${prompt}`)
        .replace('"responseTokens": 311', `"responseTokens": ${response}`)
        .replace('"totalTokens": 1834', `"totalTokens": ${total}`);
    const responses = ingested(counts('response', 1, 0, 1));
    expect(responses.tokens).toEqual({ source: 'none', promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 });
    expect(responses.missing).toContain('usage');
    const responsesApi = ingested(counts('response', 1, 0, 123));
    expect(responsesApi.tokens).toEqual({ source: 'none', promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 });
    expect(responsesApi.missing).toContain('usage');
    expect(ingested(counts('NA', 1, 0, 1)).tokens.source).toBe('none');
    // An embeddings list of one token is a real count.
    expect(ingested(counts('list', 1, 0, 1)).tokens).toMatchObject({ source: 'gateway', promptTokens: 1 });
    expect(ingested(counts('chat.completion', 1, 1, 2)).tokens).toMatchObject({ source: 'gateway', promptTokens: 1, completionTokens: 1 });
  });

  it('takes Portal-Admin, the subscription of a call without one, for "not known"', () => {
    const entry = ingested(fixture('event-main.json').replace('"subscriptionId": "6b3f0a2e1c7d4e59a8b2c3d4e5f60718"', '"subscriptionId": "Portal-Admin"'));
    expect(entry.subscriptionId).toBeNull();
    expect(resolveIdentity(entry).key).toBe('unattributed');
  });

  it('reads the same payload whether the host hands it over as text, bytes or a parsed object', () => {
    const text = fixture('event-main.json');
    const fromText = ingested(text);
    expect(ingested(Buffer.from(text, 'utf8'))).toEqual(fromText);
    expect(ingested(JSON.parse(text))).toEqual(fromText);
  });
});

describe('readAiHubTimestamp: DateTime.UtcNow.ToString() in en-US', () => {
  it.each([
    ['5/24/2024 2:45:56 PM', '2024-05-24T14:45:56.000Z'],
    ['1/5/2025 12:30:05 AM', '2025-01-05T00:30:05.000Z'],
    ['1/5/2025 12:00:00 PM', '2025-01-05T12:00:00.000Z'],
    ['1/5/2025 11:59:59 PM', '2025-01-05T23:59:59.000Z'],
    ['1/5/2025 1:00:00 AM', '2025-01-05T01:00:00.000Z'],
    ['2/29/2024 12:00:01 am', '2024-02-29T00:00:01.000Z'],
    ['12/31/2024 11:59:59 PM', '2024-12-31T23:59:59.000Z'],
    ['05/24/2024 14:45:56', '2024-05-24T14:45:56.000Z'],
    ['2024-05-24T14:45:56Z', '2024-05-24T14:45:56.000Z'],
    ['2024-05-24T16:45:56.5+02:00', '2024-05-24T14:45:56.500Z'],
  ])('%s is %s', (timestamp, iso) => {
    expect(readAiHubTimestamp(timestamp)).toEqual({ ok: true, iso });
  });

  it.each([
    ['2/29/2023 1:00:00 PM', /day 29 of February 2023, which has 28 days/],
    ['4/31/2024 1:00:00 PM', /day 31 of April 2024, which has 30 days/],
    ['13/1/2024 1:00:00 PM', /month 13/],
    ['0/1/2024 1:00:00 PM', /month 0/],
    ['1/0/2024 1:00:00 PM', /day 0 of January/],
    ['1/5/2025 0:30:05 AM', /hour 0 on a 12-hour clock/],
    ['1/5/2025 13:30:05 PM', /hour 13 on a 12-hour clock/],
    ['1/5/2025 24:00:00', /hour 24/],
    ['1/5/2025 10:60:00 AM', /minute or second above 59/],
    ['24.05.2024 14:45', /neither M\/d\/yyyy h:mm:ss AM\|PM nor ISO-8601/],
    ['2026-02-30T10:00:00Z', /"2026-02-30T10:00:00Z" names no real day and time/],
    ['2026-04-31T10:00:00+02:00', /names no real day and time/],
    ['2026-11-15T24:00:00Z', /names no real day and time/],
    ['2024-05-24 14:45:56', /neither/],
  ])('refuses %s, saying why', (timestamp, reason) => {
    const reading = readAiHubTimestamp(timestamp);
    expect(reading.ok).toBe(false);
    if (!reading.ok) expect(reading.reason).toMatch(reason);
  });

  it('dead-letters a payload with an impossible date, naming the field and the reason', () => {
    const payload = { ...JSON.parse(fixture('event-main.json')), timestamp: '2/30/2025 10:00:00 AM' };
    const result = normalizeEvent(payload);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toBe('invalid AI Hub Gateway usage payload: timestamp: timestamp "2/30/2025 10:00:00 AM" names day 30 of February 2025, which has 28 days');
  });

  it('refuses audio or cached tokens beyond the prompt tokens they are part of', () => {
    const payload = JSON.parse(fixture('event-citadel-v1.json')) as Record<string, unknown>;
    const tooMuchAudio = normalizeEvent({ ...payload, audioTokens: 4096 });
    expect(tooMuchAudio.ok ? '' : tooMuchAudio.reason).toMatch(/audioPromptTokens exceeds promptTokens/);
    const tooMuchCache = normalizeEvent({ ...payload, cachedTokens: '4096' });
    expect(tooMuchCache.ok ? '' : tooMuchCache.reason).toMatch(/cachedTokens exceeds promptTokens/);
  });
});
