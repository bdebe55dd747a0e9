/**
 * Event Hubs bodies as the offline analysis meets them, for property tests of its stream: simulated gateway
 * events (with the simulator's duplicates), the same request told again with other numbers, batches in one
 * body, APIM GatewayLogs records (halves of a request, from test/fixtures), APIM's LLM-log row of a v1 event's
 * request, and blank or malformed bodies.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { sortBatch } from '../../src/services/ingest-batch.js';
import { simulateDay } from '../../src/simulator/traffic.js';

const day = simulateDay({ requests: 60, seed: 11, day: '2026-09-01' });
/** APIM GatewayLogs records: each one half of a request. */
export const apimRecords = (JSON.parse(readFileSync(new URL('../fixtures/apim-gatewaylogs.records.json', import.meta.url), 'utf8')) as { records: object[] }).records;
/** Simulated v1 events that carry tokens. */
export const v1Lines = [...new Set(day.eventLines)].filter((line) => sortBatch([{ body: line, position: { partitionId: 'file', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } }]).entries[0]?.tokens.source === 'gateway');

/** Another event with the same request id: the same request told differently, a conflicting duplicate. */
export function retold(line: string, completionTokens: number): string {
  const event = JSON.parse(line) as { usage?: { completionTokens: number; totalTokens?: number; promptTokens: number } | null; timings?: { totalMs: number | null } | null };
  if (event.usage) event.usage = { ...event.usage, completionTokens, totalTokens: event.usage.promptTokens + completionTokens };
  if (event.timings) event.timings = { ...event.timings, totalMs: null };
  return JSON.stringify(event);
}

/** APIM's LLM-log row for the same request as a v1 line (its CorrelationId is the gatewayRequestId): tokens or a message row. */
export function llmRowFor(line: string, tokens: boolean): string {
  const event = JSON.parse(line) as { gatewayRequestId: string; time: string; deployment: string | null; stream: boolean };
  const counts = tokens ? { promptTokens: 40, completionTokens: 2, totalTokens: 42 } : { promptTokens: null, completionTokens: null, totalTokens: null };
  const properties = { deploymentName: tokens ? event.deployment : '', modelName: tokens ? 'gpt-4o' : '', ...counts, isStreamCompletion: event.stream };
  return JSON.stringify({ records: [{ category: 'GatewayLlmLogs', time: event.time, resourceId: '/SUBSCRIPTIONS/X/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/APIM1', correlationId: event.gatewayRequestId, properties }] });
}

export const eventBodyArbitrary = fc.oneof(
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...v1Lines), fc.boolean()).map(([line, tokens]) => llmRowFor(line, tokens)) },
  { weight: 6, arbitrary: fc.constantFrom(...day.eventLines) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...v1Lines), fc.integer({ min: 0, max: 500 })).map(([line, tokens]) => retold(line, tokens)) },
  { weight: 1, arbitrary: fc.subarray(v1Lines, { minLength: 1, maxLength: 3 }).map((lines) => `[${lines.join(',')}]`) },
  { weight: 1, arbitrary: fc.subarray(apimRecords, { minLength: 1 }).map((records) => JSON.stringify({ records })) },
  { weight: 1, arbitrary: fc.constantFrom(...apimRecords).map((record) => JSON.stringify(record)) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '{not json', '[]', '{"schema":"tokenledger.gateway/v1"}') },
);

