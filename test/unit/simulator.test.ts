import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import type { GatewayEventV1 } from '../../src/contracts/gateway-event.js';
import { normalizeEvent } from '../../src/domain/event-normalization.js';
import { TokenTotalsByIdentity } from '../../src/domain/token-totals.js';
import { mergeByRequest } from '../../src/domain/ledger.js';
import { sortBatch } from '../../src/services/ingest-batch.js';
import { withLlmUsage } from '../../src/services/join-diagnostics.js';
import { BACKENDS } from '../../src/simulator/population.js';
import { enUsTimestamp, simulateDay } from '../../src/simulator/traffic.js';

const OPTIONS = { requests: 2000, seed: 7, day: '2026-11-20' } as const;
const day = simulateDay(OPTIONS);
const truth = day.groundTruth;

/** The distinct events the pipeline accepts (malformed lines and redelivered copies excluded), by source. */
const accepted = [...new Set(day.eventLines)].flatMap((line) => {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return [];
  }
  const normalized = normalizeEvent(value);
  return normalized.ok ? [normalized.value] : [];
});
/** The v1 events (one per line of TokenLedger's gateway). */
const events: GatewayEventV1[] = accepted.filter((n) => n.source === 'gateway-v1').map((n) => n.event);
/** The AI Hub Gateway accelerator's lines. */
const aiHubLines = [...new Set(day.eventLines)].filter((line) => line.includes('"appId": "NA-HEADER"'));

const archiveLines: { path: string; line: string }[] = [...day.archive].flatMap(([path, lines]) => lines.map((line) => ({ path, line })));

/** .NET ticks (100 ns since 0001-01-01) of the Unix epoch. */
const EPOCH_TICKS = 621_355_968_000_000_000n;

const realArchiveRecords = readFileSync(new URL('../fixtures/aoai-requestresponse.archive.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('simulateDay: determinism', () => {
  it('gives identical event lines, archive and ground truth for the same options', () => {
    const again = simulateDay({ ...OPTIONS });
    expect(again.eventLines).toEqual(day.eventLines);
    expect(again.archive).toEqual(day.archive);
    expect(again.groundTruth).toEqual(truth);
  });

  it('gives different traffic for a different seed', () => {
    const other = simulateDay({ ...OPTIONS, seed: 8 });
    expect(other.eventLines).not.toEqual(day.eventLines);
    expect(other.groundTruth.identities).not.toEqual(truth.identities);
    expect(other.groundTruth.seed).toBe(8);
  });

  it('rejects a day that is not YYYY-MM-DD', () => {
    expect(() => simulateDay({ ...OPTIONS, day: 'tomorrow' })).toThrow(/invalid day/);
  });
});

describe('simulateDay: population and traffic', () => {
  it('has at least 30 identities in the ground truth, of every kind', () => {
    expect(truth.identities.length).toBeGreaterThanOrEqual(30);
    expect(new Set(truth.identities.map((i) => i.kind))).toEqual(new Set(['user', 'servicePrincipal', 'managedIdentity', 'workloadIdentity', 'apimSubscription']));
    expect(truth.identities.reduce((sum, i) => sum + i.requests, 0)).toBe(truth.ledgerEntries);
    // Every request is an entry, but those the accelerator's gateway did not answer with 200: it logs no others.
    expect(truth.ledgerEntries).toBeLessThan(OPTIONS.requests);
    expect(truth.ledgerEntries).toBeGreaterThan(OPTIONS.requests * 0.95);
  });

  it('routes requests to every backend, two of them in one region', () => {
    const backends = new Set(events.map((e) => e.gateway.backendId).filter((b): b is string => typeof b === 'string'));
    const regions = new Set(events.map((e) => e.backendRegion).filter((r): r is string => typeof r === 'string'));
    expect([...backends].sort()).toEqual(BACKENDS.map((b) => b.backendId).sort());
    expect(regions.size).toBeGreaterThanOrEqual(4);
    expect(regions.size).toBeLessThan(backends.size);
    expect([...regions].sort()).toEqual([...new Set(BACKENDS.map((b) => b.regionDisplayName))].sort());
  });

  it('includes o3-mini requests with reasoning tokens', () => {
    const o3 = events.filter((e) => e.deployment === 'o3-mini' && e.usage);
    expect(o3.length).toBeGreaterThan(0);
    expect(o3.some((e) => (e.usage?.reasoningTokens ?? 0) > 0)).toBe(true);
    expect(events.filter((e) => e.deployment !== 'o3-mini').every((e) => (e.usage?.reasoningTokens ?? 0) === 0)).toBe(true);
  });

  it('includes embeddings requests, all with zero completion tokens', () => {
    const embeddings = events.filter((e) => e.operation === 'Embeddings_Create' && e.usage);
    expect(embeddings.length).toBeGreaterThan(0);
    expect(embeddings.every((e) => e.usage?.completionTokens === 0)).toBe(true);
    expect(embeddings.every((e) => (e.usage?.promptTokens ?? 0) > 0)).toBe(true);
  });

  it('includes interrupted streams: stream true, status 200 and no usage', () => {
    expect(events.some((e) => e.stream === true && e.status === 200 && e.usage === null)).toBe(true);
    expect(events.some((e) => e.stream === true && e.status === 200 && e.usage !== null)).toBe(true);
  });

  it('includes throttled (429) and failed (5xx) requests, none of them with usage', () => {
    const throttled = events.filter((e) => e.status === 429);
    const failed = events.filter((e) => typeof e.status === 'number' && e.status >= 500 && e.status <= 599);
    expect(throttled.length).toBeGreaterThan(0);
    expect(failed.length).toBeGreaterThan(0);
    expect([...throttled, ...failed].every((e) => e.usage === null)).toBe(true);
  });

  it('redelivers some events and makes 1 % of them malformed', () => {
    expect(truth.events.duplicates).toBeGreaterThan(0);
    expect(truth.events.malformed).toBe(20);
    expect(truth.events.lines).toBe(day.eventLines.length);
    expect(truth.events.lines).toBe(truth.events.distinct + truth.events.duplicates);
    expect(new Set(day.eventLines).size).toBe(truth.events.distinct);
    expect(accepted).toHaveLength(truth.events.distinct - truth.events.malformed - truth.events.llmLogLines - truth.events.diagnosticLines);
    expect(accepted.length - events.length).toBe(truth.sources.aiHubPayloads + truth.sources.aiHubUsageRecords);
  });

  it('also sends APIM LLM-log records of some requests, split over several rows, and some RequestResponse records, on the same event hub', () => {
    const bodies = [...new Set(day.eventLines)].flatMap((line) => {
      try {
        const body = JSON.parse(line) as { records?: { category: string; correlationId: string; properties: Record<string, unknown> }[] };
        return body.records ? [body.records] : [];
      } catch {
        return [];
      }
    });
    const records = bodies.flat();
    const llmBodies = bodies.filter((b) => b[0]!.category === 'GatewayLlmLogs');
    const llm = records.filter((r) => r.category === 'GatewayLlmLogs');
    expect(truth.events.llmLogLines).toBeGreaterThan(0);
    expect(truth.events.diagnosticLines).toBeGreaterThan(0);
    expect(llmBodies).toHaveLength(truth.events.llmLogLines);
    expect(llm).toHaveLength(truth.sources.llmLogRows);
    expect(new Set(llmBodies.map((b) => b.length))).toEqual(new Set([2, 3, 4]));
    expect(records.filter((r) => r.category === 'RequestResponse')).toHaveLength(truth.events.diagnosticLines);
    // One token row per request, anywhere in the split; the message rows carry null or 0 tokens and no deployment.
    for (const body of llmBodies) expect(body.filter((r) => (r.properties['promptTokens'] as number | null) !== null && r.properties['promptTokens'] !== 0)).toHaveLength(1);
    expect(llmBodies.some((b) => b[0]!.properties['promptTokens'] === null || b[0]!.properties['promptTokens'] === 0)).toBe(true);
    const messageRows = llm.filter((r) => !r.properties['promptTokens']);
    expect(messageRows).toHaveLength(truth.sources.llmLogRows - truth.events.llmLogLines);
    expect(new Set(messageRows.map((r) => r.properties['promptTokens']))).toEqual(new Set([null, 0]));
    expect(messageRows.every((r) => r.properties['deploymentName'] === '')).toBe(true);
    const gatewayIds = new Set(events.map((e) => e.gatewayRequestId));
    expect(llm.every((r) => gatewayIds.has(r.correlationId))).toBe(true);
    // Some tell streams cut short: their v1 event has no usage, their token row has it.
    const cutShort = new Set(events.filter((e) => e.stream && e.status === 200 && e.usage === null).map((e) => e.gatewayRequestId));
    expect(truth.sources.v1AndLlmLogInterrupted).toBeGreaterThan(0);
    expect(new Set(llm.filter((r) => cutShort.has(r.correlationId)).map((r) => r.correlationId)).size).toBe(truth.sources.v1AndLlmLogInterrupted);
  });

  it('sends some callers\' requests as the AI Hub Gateway accelerator writes them: en-US times, CRLF indentation, NA-HEADER, digit strings in stored records', () => {
    expect(aiHubLines).toHaveLength(truth.sources.aiHubPayloads + truth.sources.aiHubUsageRecords);
    const payloads = aiHubLines.filter((line) => !line.includes('EventProcessedUtcTime'));
    const records = aiHubLines.filter((line) => line.includes('EventProcessedUtcTime'));
    expect(payloads.length).toBe(truth.sources.aiHubPayloads);
    expect(records.length).toBe(truth.sources.aiHubUsageRecords);
    expect(records.length).toBeGreaterThan(0);
    // Json.NET's JObject.ToString(): two-space indentation and CRLF line ends, no trailing line end.
    for (const line of payloads) expect(line).toMatch(/^\{\r\n {2}"id": "[^"]+",\r\n {2}"timestamp": "\d{1,2}\/\d{1,2}\/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M",\r\n[\s\S]*"promptTokens": \d+,\r\n {2}"responseTokens": \d+,\r\n {2}"totalTokens": \d+(,\r\n {2}"audioTokens": 0,\r\n {2}"cachedTokens": \d+)?\r\n\}$/);
    expect(payloads.filter((line) => !line.includes('cachedTokens'))).toHaveLength(truth.sources.aiHubWithoutCachedTokens);
    for (const line of records) expect(line).toMatch(/"promptTokens": "\d+",\n {4}"responseTokens": "\d+",\n {4}"totalTokens": "\d+"/);
    const parsed = aiHubLines.map((line) => JSON.parse(line) as Record<string, string>);
    expect(parsed.every((p) => p['appId'] === 'NA-HEADER')).toBe(true);
    expect(new Set(parsed.map((p) => p['subscriptionId'])).size).toBe(2);
    // Every hour of the day is written on a 12-hour clock, 12 AM (midnight's hour) and 12 PM (noon's) included.
    const hours = parsed.map((p) => /^\d+\/\d+\/\d{4} (\d+):\d{2}:\d{2} ([AP]M)$/.exec(p['timestamp']!)!).map((m) => `${m[1]} ${m[2]}`);
    expect(hours.every((h) => Number(h.split(' ')[0]) >= 1 && Number(h.split(' ')[0]) <= 12)).toBe(true);
    expect(hours.filter((h) => h.startsWith('12 '))).toHaveLength(truth.sources.aiHubTwelveOClock);
    expect(hours).toContain('12 AM');
    expect(hours).toContain('12 PM');
    const ids = new Set(accepted.filter((n) => n.source === 'ai-hub-gateway').map((n) => n.sourceId));
    expect(ids.size).toBe(aiHubLines.length);
  });

  it('writes en-US timestamps as the accelerator does, 12 AM being the hour after midnight', () => {
    expect(enUsTimestamp(Date.parse('2025-01-05T00:30:05Z'))).toBe('1/5/2025 12:30:05 AM');
    expect(enUsTimestamp(Date.parse('2024-12-31T12:59:59Z'))).toBe('12/31/2024 12:59:59 PM');
    expect(enUsTimestamp(Date.parse('2024-05-24T14:45:56Z'))).toBe('5/24/2024 2:45:56 PM');
    expect(enUsTimestamp(Date.parse('2026-11-20T09:07:03Z'))).toBe('11/20/2026 9:07:03 AM');
  });

  it('keeps ground-truth join counts consistent: matched + noDiagnostics = requests', () => {
    expect(truth.join.matched + truth.join.noDiagnostics).toBe(truth.ledgerEntries);
    expect(truth.diagnostics.records).toBe(truth.join.matched + truth.join.bypass);
    expect(archiveLines).toHaveLength(truth.diagnostics.records);
  });
});

describe('simulateDay: diagnostics archive', () => {
  const PATH =
    /^insights-logs-requestresponse\/resourceId=\/SUBSCRIPTIONS\/[0-9A-F-]{36}\/RESOURCEGROUPS\/[A-Z0-9-]+\/PROVIDERS\/MICROSOFT\.COGNITIVESERVICES\/ACCOUNTS\/([A-Z0-9-]+)\/y=(\d{4})\/m=(\d{2})\/d=(\d{2})\/h=(\d{2})\/m=00\/PT1H\.json$/;

  it('writes every blob under the storage-account archive path of its account, day and hour', () => {
    expect(day.archive.size).toBeGreaterThan(0);
    const accounts = new Set(BACKENDS.map((b) => b.account.toUpperCase()));
    for (const path of day.archive.keys()) {
      const match = PATH.exec(path);
      expect(match, path).not.toBeNull();
      expect(accounts.has(match![1]!)).toBe(true);
      expect(Number(match![3])).toBeGreaterThanOrEqual(1);
      expect(Number(match![3])).toBeLessThanOrEqual(12);
      expect(Number(match![5])).toBeLessThanOrEqual(23);
    }
  });

  it('writes records whose resource id names the account of their blob', () => {
    for (const { path, line } of archiveLines.slice(0, 200)) {
      const record = JSON.parse(line) as { resourceId: string };
      expect(path).toContain(`resourceId=${record.resourceId}/`);
    }
  });

  it('writes records with the fields of a real Azure OpenAI RequestResponse record', () => {
    const realKeys = Object.keys(realArchiveRecords[1]!).sort();
    const realPropertyKeys = Object.keys(realArchiveRecords[1]!['properties'] as object).sort();
    const record = JSON.parse(archiveLines[0]!.line) as Record<string, unknown>;
    expect(Object.keys(record).sort()).toEqual(realKeys);
    const properties = typeof record['properties'] === 'string' ? (JSON.parse(record['properties']) as object) : (record['properties'] as object);
    expect(Object.keys(properties).sort()).toEqual(realPropertyKeys);
  });

  it('writes properties sometimes as a JSON string and sometimes as an object, like real archives', () => {
    const kinds = archiveLines.map(({ line }) => typeof (JSON.parse(line) as { properties: unknown }).properties);
    expect(kinds).toContain('string');
    expect(kinds).toContain('object');
    expect(new Set(kinds).size).toBe(2);
    expect(new Set(realArchiveRecords.map((r) => typeof r['properties']))).toEqual(new Set(['string', 'object']));
  });

  it('keeps requestTime and responseTime ticks as exact 18-digit integer literals in the raw line, and stamps the record 3 s after the response ends', () => {
    for (const { line } of archiveLines) {
      const isObject = typeof (JSON.parse(line) as { properties: unknown }).properties === 'object';
      const ticksOf = (name: string) => (isObject ? new RegExp(`"${name}":(\\d{18})[,}]`) : new RegExp(`\\\\"${name}\\\\":(\\d{18})[,}]`)).exec(line);
      const [request, response] = [ticksOf('requestTime'), ticksOf('responseTime')];
      expect(request, line).not.toBeNull();
      expect(response, line).not.toBeNull();
      const time = BigInt(Date.parse(/"time":"([^"]+)"/.exec(line)![1]!));
      const durationMs = BigInt((JSON.parse(line) as { durationMs: number }).durationMs);
      expect(BigInt(response![1]!)).toBe((time - 3_000n) * 10_000n + EPOCH_TICKS);
      expect(BigInt(request![1]!)).toBe((time - 3_000n - durationMs) * 10_000n + EPOCH_TICKS);
    }
  });

  it('writes ticks that a plain JSON.parse would round, so the exact digits matter', () => {
    const rounded = archiveLines.some(({ line }) => {
      const digits = /requestTime\\?":(\d{18})/.exec(line)![1]!;
      return BigInt(Number(digits)) !== BigInt(digits);
    });
    expect(rounded).toBe(true);
  });
});

describe('simulateDay: ground truth agrees with the pipeline', () => {
  const position = { partitionId: '0', sequenceNumber: null, offset: null, enqueuedTimeUtc: null };
  const sorted = sortBatch(day.eventLines.map((body) => ({ body, position })));
  // One request per gateway request id, however many sources tell it (the ledger's merge rule).
  const distinctEntries = new Map([...mergeByRequest(sorted.entries).values()].map((entry) => [entry.id, entry]));

  it('yields exactly groundTruth.ledgerEntries distinct ledger ids', () => {
    expect(distinctEntries.size).toBe(truth.ledgerEntries);
    // Every line is an entry, a dead letter or a RequestResponse record: an LLM-log line holds an entry per row.
    const diagnosticLines = day.eventLines.filter((line) => line.includes('"category":"RequestResponse"')).length;
    const llmLogLines = day.eventLines.filter((line) => line.includes('"category":"GatewayLlmLogs"'));
    const llmLogRows = llmLogLines.reduce((sum, line) => sum + line.split('"category":"GatewayLlmLogs"').length - 1, 0);
    expect(sorted.entries.length + sorted.deadLetters.length + diagnosticLines - llmLogRows + llmLogLines.length).toBe(day.eventLines.length);
  });

  it('yields exactly groundTruth.deadLetters distinct dead-letter ids', () => {
    expect(new Set(sorted.deadLetters.map((l) => l.id)).size).toBe(truth.deadLetters);
  });

  it('gives redelivered copies of an event identical ledger entries', () => {
    const byId = new Map<string, string>();
    for (const entry of sorted.entries.filter((e) => e.source === 'gateway-v1')) {
      const json = JSON.stringify(entry);
      const seen = byId.get(entry.id);
      if (seen !== undefined) expect(json).toBe(seen);
      byId.set(entry.id, json);
    }
    expect(sorted.entries.length).toBeGreaterThan(distinctEntries.size);
  });

  it('sums tokens per identity over the distinct entries, streams cut short taking the LLM log\'s tokens as the join does, to the ground truth', () => {
    const llmUsage = new Map(day.llmLog.map((row) => [row.CorrelationId, { gatewayRequestId: row.CorrelationId, promptTokens: row.PromptTokens, completionTokens: row.CompletionTokens, totalTokens: row.TotalTokens }]));
    const totals = new TokenTotalsByIdentity();
    let fromLlmLog = 0;
    for (const entry of distinctEntries.values()) {
      const joined = withLlmUsage(entry, llmUsage.get(entry.gatewayRequestId));
      if (joined || entry.tokens.source === 'llm-log') fromLlmLog++;
      totals.add(joined ?? entry);
    }
    expect(fromLlmLog).toBe(truth.sources.interruptedStreams);
    const computed = totals.rows().map(({ identity, requests, promptTokens, cachedTokens, completionTokens, reasoningTokens }) => ({
      identity,
      requests,
      promptTokens,
      cachedTokens,
      completionTokens,
      reasoningTokens,
    }));
    const expected = truth.identities.map(({ identity, requests, promptTokens, cachedTokens, completionTokens, reasoningTokens }) => ({
      identity,
      requests,
      promptTokens,
      cachedTokens,
      completionTokens,
      reasoningTokens,
    }));
    expect(computed).toEqual(expected);
    expect(computed.reduce((sum, row) => sum + row.promptTokens, 0)).toBeGreaterThan(0);
  });
});
