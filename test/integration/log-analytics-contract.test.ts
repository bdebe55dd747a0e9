import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LogsQueryClient } from '@azure/monitor-query-logs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LogAnalyticsDiagnosticsSource, LogAnalyticsLlmUsageSource, type LogAnalyticsDiagnosticsSourceOptions } from '../../src/adapters/log-analytics/log-analytics-diagnostics-source.js';
import { TableWatermarkStore } from '../../src/adapters/tables/table-watermark-store.js';
import type { DiagnosticRecord } from '../../src/contracts/diagnostic-record.js';
import { gatewayEventV1Schema } from '../../src/contracts/gateway-event.js';
import { parseRequestResponse } from '../../src/domain/diagnostic-parsing.js';
import { startAzurite, type Azurite } from '../../src/local/azurite.js';
import type { DiagnosticsSource, WatermarkStore } from '../../src/ports/diagnostics-source.js';
import { TransientStoreError } from '../../src/ports/ledger-store.js';
import { simulateDay } from '../../src/simulator/traffic.js';

const DAY = '2026-11-21';
const WORKSPACE = '3b6a5c1e-0d2f-4c8e-9a7b-5e4d3c2b1a00';
const TOKEN = 'fake-token-for-a-local-server';
const NOW = new Date('2026-11-24T00:00:00.000Z');
const HOUR = 3_600_000;

// ---- fixtures: a small simulated day, as Log Analytics would hold it ----

interface DiagnosticRow {
  readonly cells: Record<string, string | number>;
  readonly timeGenerated: number;
  readonly ingestedAt: number;
  /** What the archive path makes of the same record: the expected result. */
  readonly expected: ReturnType<typeof parseRequestResponse>;
}

interface LlmRow {
  readonly CorrelationId: string;
  readonly TimeGenerated: number;
  readonly PromptTokens: number;
  readonly CompletionTokens: number;
  readonly TotalTokens: number;
}

const day = simulateDay({ requests: 3_000, seed: 11, day: DAY });

/**
 * Ingestion times are not in the archive: the blob hour is the hour of receipt and records are appended in
 * receipt order, so spread them over that hour in order, never before the request ended.
 */
const diagnosticRows: DiagnosticRow[] = [...day.archive.entries()]
  .flatMap(([path, lines]) => {
    const [, y, m, d, h] = /y=(\d{4})\/m=(\d{2})\/d=(\d{2})\/h=(\d{2})/.exec(path)!;
    const hourStart = Date.parse(`${y}-${m}-${d}T${h}:00:00Z`);
    const step = Math.floor(HOUR / (lines.length + 1));
    return lines.map((line, i) => {
      const record = JSON.parse(line) as Record<string, unknown>;
      const properties = record['properties'];
      const resourceId = String(record['resourceId']);
      return {
        cells: {
          TimeGenerated: String(record['time']),
          ResourceId: resourceId,
          _ResourceId: resourceId.toLowerCase(),
          ResourceProvider: 'MICROSOFT.COGNITIVESERVICES',
          Category: 'RequestResponse',
          OperationName: String(record['operationName']),
          CorrelationId: String(record['correlationId']),
          DurationMs: Number(record['durationMs']),
          ResultSignature: String(record['resultSignature']),
          CallerIPAddress: String(record['callerIpAddress']),
          location_s: String(record['location']),
          Tenant_s: String(record['Tenant']),
          properties_s: typeof properties === 'string' ? properties : JSON.stringify(properties),
        },
        timeGenerated: Date.parse(String(record['time'])),
        ingestedAt: Math.max(hourStart + (i + 1) * step, Date.parse(String(record['time'])) + Number(record['durationMs']) + 1),
        expected: parseRequestResponse(record),
      };
    });
  })
  .sort((a, b) => a.ingestedAt - b.ingestedAt);

/** APIM logs a streamed completion in several rows; the fixture splits every streamed usage in two. */
const llmRows: LlmRow[] = [
  ...new Map(
    day.eventLines.flatMap((line) => {
      let parsed: ReturnType<typeof gatewayEventV1Schema.safeParse>;
      try {
        parsed = gatewayEventV1Schema.safeParse(JSON.parse(line));
      } catch {
        return [];
      }
      return parsed.success && parsed.data.usage ? [[parsed.data.gatewayRequestId, parsed.data] as const] : [];
    }),
  ).values(),
].flatMap((event) => {
  const base = { CorrelationId: event.gatewayRequestId, TimeGenerated: Date.parse(event.time) };
  const { promptTokens, completionTokens } = event.usage!;
  const totalTokens = promptTokens + completionTokens;
  if (!event.stream) return [{ ...base, PromptTokens: promptTokens, CompletionTokens: completionTokens, TotalTokens: totalTokens }];
  const firstCompletion = Math.floor(completionTokens / 2);
  return [
    { ...base, PromptTokens: promptTokens, CompletionTokens: firstCompletion, TotalTokens: promptTokens + firstCompletion },
    { ...base, PromptTokens: 0, CompletionTokens: completionTokens - firstCompletion, TotalTokens: totalTokens - promptTokens - firstCompletion },
  ];
});

function expectedWindow(from: string, to: string) {
  const rows = diagnosticRows.filter((r) => r.ingestedAt > Date.parse(from) && r.ingestedAt <= Date.parse(to));
  return {
    records: rows.flatMap((r) => (r.expected.ok ? [r.expected.record] : [])),
    rejected: rows.filter((r) => !r.expected.ok).length,
  };
}

// ---- the fake service: the documented wire format, no KQL evaluation ----

type QueryFile = 'requestresponse-window.kql' | 'requestresponse-window-count.kql' | 'gateway-llm-usage.kql';
type Fault = { readonly kind: 'partial' } | { readonly kind: 'throttle'; readonly status: 429 | 503; readonly retryAfter?: string };

interface SeenQuery {
  readonly file: QueryFile;
  readonly from: string;
  readonly to: string;
  readonly rows: number;
}

class FakeLogAnalytics {
  readonly seen: SeenQuery[] = [];
  readonly faults: { file: QueryFile; fault: Fault }[] = [];
  faultsServed = 0;
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => send(res, 500, { error: { code: 'InternalError', message: String(error) } }));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  reset(): void {
    this.seen.length = 0;
    this.faults.length = 0;
    this.faultsServed = 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url !== `/v1/workspaces/${WORKSPACE}/query`) return send(res, 404, { error: { code: 'PathNotFound', message: `${req.method} ${req.url}` } });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(res, 401, { error: { code: 'AuthorizationRequiredError', message: 'Valid authentication was not provided' } });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { query?: unknown; timespan?: unknown };
    if (typeof body.query !== 'string' || typeof body.timespan !== 'string') return send(res, 400, { error: { code: 'BadArgumentError', message: 'query and timespan are required' } });
    const file = /^\/\/ ([a-z-]+\.kql):/.exec(body.query)?.[1] as QueryFile | undefined;
    if (!file) return send(res, 400, { error: { code: 'SemanticError', message: 'this fake answers only the queries in queries/' } });
    const [spanStart, spanEnd] = body.timespan.split('/').map((t) => Date.parse(t));

    const faultIndex = this.faults.findIndex((f) => f.file === file);
    const fault = faultIndex >= 0 ? this.faults.splice(faultIndex, 1)[0]!.fault : undefined;
    if (fault) this.faultsServed++;
    if (fault?.kind === 'throttle') {
      if (fault.retryAfter !== undefined) res.setHeader('Retry-After', fault.retryAfter);
      return send(res, fault.status, { error: { code: fault.status === 429 ? 'ThrottledError' : 'ServiceUnavailableError', message: 'try again later' } });
    }

    const table = file === 'gateway-llm-usage.kql' ? this.llmUsage(body.query) : this.window(file, body.query, spanStart!, spanEnd!);
    this.seen.push({ file, from: table.from, to: table.to, rows: table.rows.length });
    const answer: Record<string, unknown> = { tables: [{ name: 'PrimaryResult', columns: table.columns, rows: table.rows }] };
    if (fault?.kind === 'partial') {
      answer['tables'] = [{ name: 'PrimaryResult', columns: table.columns, rows: table.rows.slice(0, Math.floor(table.rows.length / 2)) }];
      answer['error'] = {
        code: 'PartialError',
        message: 'There were some errors when processing your query.',
        details: [{ code: 'EngineError', message: 'Something went wrong processing your query on the server.', innererror: { code: '-2133196797', message: 'Query result set has exceeded the internal data size limit' } }],
      };
    }
    send(res, 200, answer);
  }

  private window(file: QueryFile, query: string, spanStart: number, spanEnd: number) {
    const match = /ingestion_time\(\) > datetime\(([^)]+)\) and ingestion_time\(\) <= datetime\(([^)]+)\)/.exec(query);
    if (!match) throw new Error('no ingestion-time window in the query');
    const [from, to] = [Date.parse(match[1]!), Date.parse(match[2]!)];
    const rows = diagnosticRows.filter((r) => r.ingestedAt > from && r.ingestedAt <= to && r.timeGenerated >= spanStart && r.timeGenerated <= spanEnd);
    if (file === 'requestresponse-window-count.kql') return { from: match[1]!, to: match[2]!, columns: [{ name: 'Count', type: 'long' }], rows: [[rows.length]] };
    const names = ['TimeGenerated', 'ResourceId', 'OperationName', 'CorrelationId', 'DurationMs', 'ResultSignature', 'CallerIPAddress', 'location_s', 'Tenant_s', 'properties_s'];
    const types: Record<string, string> = { TimeGenerated: 'datetime', DurationMs: 'real' };
    return {
      from: match[1]!,
      to: match[2]!,
      columns: [...names.map((name) => ({ name, type: types[name] ?? 'string' })), { name: 'IngestionTime', type: 'datetime' }],
      rows: rows.map((r) => [...names.map((name) => r.cells[name]!), new Date(r.ingestedAt).toISOString().replace('Z', '0000Z')]),
    };
  }

  private llmUsage(query: string) {
    const between = /between \(datetime\(([^)]+)\) \.\. datetime\(([^)]+)\)\)/.exec(query);
    const list = /CorrelationId in \(dynamic\((\[.*\])\)\)\s*$/m.exec(query);
    if (!between || !list) throw new Error('no time range or id list in the query');
    const [from, to] = [Date.parse(between[1]!), Date.parse(between[2]!)];
    const ids = new Set(JSON.parse(list[1]!) as string[]);
    const sums = new Map<string, [number, number, number]>();
    for (const row of llmRows) {
      if (!ids.has(row.CorrelationId) || row.TimeGenerated < from || row.TimeGenerated > to) continue;
      const sum = sums.get(row.CorrelationId) ?? [0, 0, 0];
      sums.set(row.CorrelationId, [sum[0] + row.PromptTokens, sum[1] + row.CompletionTokens, sum[2] + row.TotalTokens]);
    }
    return {
      from: between[1]!,
      to: between[2]!,
      columns: [
        { name: 'CorrelationId', type: 'string' },
        { name: 'PromptTokens', type: 'long' },
        { name: 'CompletionTokens', type: 'long' },
        { name: 'TotalTokens', type: 'long' },
      ],
      rows: [...sums.entries()].map(([id, [p, c, t]]) => [id, p, c, t]),
    };
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

// ---- the real SDK client, pointed at the fake ----

type TokenCredential = ConstructorParameters<typeof LogsQueryClient>[0];
type PipelinePolicy = Parameters<LogsQueryClient['pipeline']['addPolicy']>[0];

function localClient(baseUrl: string): LogsQueryClient {
  const credential: TokenCredential = { getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + HOUR }) };
  const client = new LogsQueryClient(credential, { endpoint: `${baseUrl}/v1`, allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
  // The SDK's bearer policy refuses plain http; this one sends the same header to the loopback fake.
  client.pipeline.removePolicy({ name: 'bearerTokenAuthenticationPolicy' });
  const bearer: PipelinePolicy = {
    name: 'loopbackBearerTokenPolicy',
    async sendRequest(request, next) {
      const token = await credential.getToken('https://api.loganalytics.io/.default');
      request.headers.set('authorization', `Bearer ${token?.token}`);
      return next(request);
    },
  };
  client.pipeline.addPolicy(bearer, { phase: 'Sign' });
  return client;
}

/** What a caller does: read from its watermark, process, and only then store the next watermark. */
async function pumpOnce(source: DiagnosticsSource, store: WatermarkStore, name: string, sink: DiagnosticRecord[]) {
  const read = await source.readSince(await store.get(name));
  sink.push(...read.records);
  if (read.nextWatermark !== null) await store.set(name, read.nextWatermark);
  return read;
}

describe('Log Analytics adapters against a local fake of the Log Analytics query API, built from its documented wire format', () => {
  const fake = new FakeLogAnalytics();
  let azurite: Azurite;
  let client: LogsQueryClient;
  let delays: number[];
  const sleep = async (ms: number) => {
    delays.push(ms);
  };
  const diagnosticsSource = (overrides: Partial<LogAnalyticsDiagnosticsSourceOptions> = {}) =>
    new LogAnalyticsDiagnosticsSource({ client, workspaceId: WORKSPACE, windowInMs: HOUR, settleInMs: 5 * 60_000, maxAttempts: 4, now: () => NOW, sleep, ...overrides });

  beforeAll(async () => {
    [azurite] = await Promise.all([startAzurite(), fake.start()]);
    client = localClient(fake.url);
  });
  afterAll(async () => {
    await Promise.all([fake.stop(), azurite?.stop()]);
  });
  beforeEach(() => {
    fake.reset();
    delays = [];
  });

  it('reads one window: exactly the records ingested in it, one count and one data query, and the next watermark', async () => {
    const expected = expectedWindow('2026-11-21T09:00:00.000Z', '2026-11-21T10:00:00.000Z');
    expect(expected.records.length).toBeGreaterThan(50);

    const read = await diagnosticsSource().readSince('2026-11-21T09:00:00.000Z');

    expect(read.records).toEqual(expected.records);
    expect(read.rejected).toHaveLength(expected.rejected);
    expect(read.nextWatermark).toBe('2026-11-21T10:00:00.000Z');
    expect(read.more).toBe(true);
    expect(fake.seen.map((q) => q.file)).toEqual(['requestresponse-window-count.kql', 'requestresponse-window.kql']);
    expect(fake.seen[1]).toMatchObject({ from: '2026-11-21T09:00:00.0000000Z', to: '2026-11-21T10:00:00.0000000Z', rows: expected.records.length + expected.rejected });
  });

  it('reads the whole simulated day from watermark to watermark: every record exactly once, late ones included', async () => {
    const store = TableWatermarkStore.fromConnectionString(azurite.connectionString, 'watermarksday');
    await store.set('aoai', '2026-11-20T23:00:00.000Z');
    const source = diagnosticsSource({ windowInMs: 12 * HOUR });
    const records: DiagnosticRecord[] = [];
    let reads = 0;
    for (let more = true; more; reads++) more = (await pumpOnce(source, store, 'aoai', records)).more;

    const all = diagnosticRows.flatMap((r) => (r.expected.ok ? [r.expected.record] : []));
    expect(records).toEqual(all);
    expect(new Set(records.map((r) => r.correlationId)).size).toBe(records.length);
    expect(all.length).toBe(day.groundTruth.diagnostics.records);
    expect(await store.get('aoai')).toBe(new Date(NOW.getTime() - 5 * 60_000).toISOString());
    expect(fake.seen).toHaveLength(2 * reads);
  });

  it('starts the lookback before now without a watermark, stops at now minus the settle time, then has nothing new', async () => {
    const source = diagnosticsSource({ windowInMs: 6 * HOUR, initialLookbackInMs: 2 * HOUR });
    const first = await source.readSince(null);
    expect(first).toMatchObject({ records: [], nextWatermark: '2026-11-23T23:55:00.000Z', more: false });
    expect(fake.seen.map((q) => [q.from, q.to])).toEqual([
      ['2026-11-23T22:00:00.0000000Z', '2026-11-23T23:55:00.0000000Z'],
      ['2026-11-23T22:00:00.0000000Z', '2026-11-23T23:55:00.0000000Z'],
    ]);
    expect(await source.readSince(first.nextWatermark)).toEqual({ records: [], rejected: [], nextWatermark: null, more: false });
    expect(fake.seen).toHaveLength(2);
  });

  it('rejects a partial result, so the watermark kept in Azure Table storage (Azurite) does not advance', async () => {
    const store = TableWatermarkStore.fromConnectionString(azurite.connectionString, 'watermarks');
    expect(await store.get('aoai-diagnostics')).toBeNull();
    await store.set('aoai-diagnostics', '2026-11-21T12:00:00.000Z');
    const source = diagnosticsSource();
    const records: DiagnosticRecord[] = [];
    fake.faults.push({ file: 'requestresponse-window.kql', fault: { kind: 'partial' } });

    await expect(pumpOnce(source, store, 'aoai-diagnostics', records)).rejects.toThrow(/partial result.*PartialError/);
    expect(fake.faultsServed).toBe(1);
    expect(records).toEqual([]);
    expect(await store.get('aoai-diagnostics')).toBe('2026-11-21T12:00:00.000Z');

    const read = await pumpOnce(source, store, 'aoai-diagnostics', records);
    expect(read.records).toEqual(expectedWindow('2026-11-21T12:00:00.000Z', '2026-11-21T13:00:00.000Z').records);
    expect(await store.get('aoai-diagnostics')).toBe('2026-11-21T13:00:00.000Z');
  });

  it('retries 429 twice, waiting as long as Retry-After says, then succeeds', async () => {
    fake.faults.push(
      { file: 'requestresponse-window-count.kql', fault: { kind: 'throttle', status: 429, retryAfter: '7' } },
      { file: 'requestresponse-window-count.kql', fault: { kind: 'throttle', status: 429, retryAfter: '3' } },
    );
    const read = await diagnosticsSource().readSince('2026-11-21T14:00:00.000Z');
    expect(fake.faultsServed).toBe(2);
    expect(delays).toEqual([7_000, 3_000]);
    expect(read.records).toEqual(expectedWindow('2026-11-21T14:00:00.000Z', '2026-11-21T15:00:00.000Z').records);
  });

  it('backs off exponentially without Retry-After and gives up with a TransientStoreError after maxAttempts', async () => {
    for (let i = 0; i < 4; i++) fake.faults.push({ file: 'requestresponse-window-count.kql', fault: { kind: 'throttle', status: 503 } });
    const error = await diagnosticsSource({ baseDelayInMs: 250 }).readSince('2026-11-21T14:00:00.000Z').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientStoreError);
    expect(fake.faultsServed).toBe(4);
    expect(delays).toEqual([250, 500, 1_000]);
    expect(fake.seen).toEqual([]);
  });

  it('splits a window whose count exceeds maxRowsPerQuery: every record once, one data query per part, no per-record queries', async () => {
    const from = '2026-11-21T08:00:00.000Z';
    const expected = expectedWindow(from, '2026-11-21T11:00:00.000Z');
    expect(expected.records.length).toBeGreaterThan(200);

    const read = await diagnosticsSource({ windowInMs: 3 * HOUR, maxRowsPerQuery: 50 }).readSince(from);

    expect(read.records).toEqual(expected.records);
    expect(new Set(read.records.map((r) => r.correlationId)).size).toBe(read.records.length);
    const data = fake.seen.filter((q) => q.file === 'requestresponse-window.kql');
    const counts = fake.seen.filter((q) => q.file === 'requestresponse-window-count.kql');
    expect(data.length).toBeGreaterThan(1);
    expect(data.every((q) => q.rows <= 50)).toBe(true);
    // A binary split: every count that was too big led to two parts, every part that fit to one data query.
    expect(counts).toHaveLength(2 * data.length - 1);
    expect(fake.seen.length).toBeLessThan(expected.records.length / 2);
    for (let i = 1; i < data.length; i++) expect(data[i]!.from).toBe(data[i - 1]!.to);
    expect([data[0]!.from, data.at(-1)!.to]).toEqual(['2026-11-21T08:00:00.0000000Z', '2026-11-21T11:00:00.0000000Z']);
  });

  it('sums LLM token usage per gateway request id, 1,000 ids per query, with hostile ids kept as data', async () => {
    const ids = [...new Set(llmRows.map((r) => r.CorrelationId))].slice(0, 2_400);
    const hostile = ['x" | union AzureDiagnostics', '\\" | union *', 'a"])) | take 1'];
    const source = new LogAnalyticsLlmUsageSource({ client, workspaceId: WORKSPACE, sleep });

    const usage = await source.getUsage([...ids, ...hostile, ids[0]!], { from: new Date(`${DAY}T00:00:00Z`), to: new Date(`${DAY}T23:59:59.999Z`) });

    const expected = new Map<string, { promptTokens: number; completionTokens: number; totalTokens: number }>();
    for (const row of llmRows.filter((r) => ids.includes(r.CorrelationId))) {
      const sum = expected.get(row.CorrelationId) ?? { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
      expected.set(row.CorrelationId, { promptTokens: sum.promptTokens + row.PromptTokens, completionTokens: sum.completionTokens + row.CompletionTokens, totalTokens: sum.totalTokens + row.TotalTokens });
    }
    expect(new Map(usage.map(({ gatewayRequestId, ...tokens }) => [gatewayRequestId, tokens]))).toEqual(expected);
    expect(usage).toHaveLength(ids.length);
    expect(llmRows.filter((r) => ids.includes(r.CorrelationId)).length).toBeGreaterThan(expected.size);
    expect(fake.seen.map((q) => q.file)).toEqual(['gateway-llm-usage.kql', 'gateway-llm-usage.kql', 'gateway-llm-usage.kql']);
  });
});
