import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LogsQueryClient } from '@azure/monitor-query-logs';
import { gatewayEventV1Schema } from '../../src/contracts/gateway-event.js';
import type { SimulatedDay } from '../../src/simulator/traffic.js';

export const WORKSPACE = '3b6a5c1e-0d2f-4c8e-9a7b-5e4d3c2b1a00';
const TOKEN = 'fake-token-for-a-local-server';
const HOUR = 3_600_000;

/** Faults of the Log Analytics query API: throttling (429, with Retry-After), gateway timeout (504), unavailability (503), a partial result. */
export const LA_FAULT_KINDS = ['throttle', 'gateway-timeout', 'unavailable', 'partial'] as const;
export type LaFaultKind = (typeof LA_FAULT_KINDS)[number];
/** One fault; a throttle without `retryAfter` (seconds) is sent without a `Retry-After` header. */
export type LaFault = { readonly kind: 'throttle'; readonly retryAfter?: number } | { readonly kind: Exclude<LaFaultKind, 'throttle'> };

/** The queries in queries/ that the fake answers. */
export type QueryFile = 'requestresponse-window.kql' | 'requestresponse-window-count.kql' | 'gateway-llm-usage.kql';

/** An `AzureDiagnostics` `RequestResponse` row, made from an archive record. */
export interface DiagnosticRow {
  readonly cells: Readonly<Record<string, string | number>>;
  readonly timeGenerated: number;
  readonly ingestedAt: number;
  readonly correlationId: string;
  /** The archive record the row was made from. */
  readonly record: Readonly<Record<string, unknown>>;
}

/** An `ApiManagementGatewayLlmLog` row. */
export interface LlmUsageRow {
  readonly CorrelationId: string;
  readonly TimeGenerated: number;
  readonly PromptTokens: number;
  readonly CompletionTokens: number;
  readonly TotalTokens: number;
}

/** A query the fake answered with HTTP 200: its window as written in the query, and the rows it matched. */
export interface SeenQuery {
  readonly file: QueryFile;
  readonly from: string;
  readonly to: string;
  readonly rows: number;
  /** Answered with half the rows and `PartialError`. */
  readonly partial: boolean;
}

export interface FakeLogAnalyticsOptions {
  /** Seeds the random faults. */
  readonly seed?: number;
  /** Per query, the chance of each fault, drawn by seed, query text and repetition (default: no random faults). */
  readonly faultRates?: Readonly<Record<LaFaultKind, number>>;
}

const COLUMNS = ['TimeGenerated', 'ResourceId', 'OperationName', 'CorrelationId', 'DurationMs', 'ResultSignature', 'CallerIPAddress', 'location_s', 'Tenant_s', 'properties_s'];
/** The type Log Analytics gives each column that is not a string. */
export const COLUMN_TYPES: Readonly<Record<string, string>> = { TimeGenerated: 'datetime', DurationMs: 'real' };

/** The `AzureDiagnostics` columns `requestresponse-window.kql` projects (the ingestion time aside) of an archive record. */
export function azureDiagnosticsCells(record: Readonly<Record<string, unknown>>): Record<string, string | number> {
  const properties = record['properties'];
  return {
    TimeGenerated: String(record['time']),
    ResourceId: String(record['resourceId']),
    OperationName: String(record['operationName']),
    CorrelationId: String(record['correlationId']),
    DurationMs: Number(record['durationMs']),
    ResultSignature: String(record['resultSignature']),
    CallerIPAddress: String(record['callerIpAddress']),
    location_s: String(record['location']),
    Tenant_s: String(record['Tenant']),
    properties_s: typeof properties === 'string' ? properties : JSON.stringify(properties),
  };
}

/**
 * The archive records as an `AzureDiagnostics` table. Ingestion times are not in the archive: the blob hour is
 * the hour of receipt and records are appended in receipt order, so they are spread over that hour in order,
 * never before the request ended.
 */
function diagnosticRowsOf(archive: ReadonlyMap<string, readonly string[]>): DiagnosticRow[] {
  return [...archive.entries()]
    .flatMap(([path, lines]) => {
      const [, y, m, d, h] = /y=(\d{4})\/m=(\d{2})\/d=(\d{2})\/h=(\d{2})/.exec(path)!;
      const hourStart = Date.parse(`${y}-${m}-${d}T${h}:00:00Z`);
      const step = Math.floor(HOUR / (lines.length + 1));
      return lines.map((line, i): DiagnosticRow => {
        const record = JSON.parse(line) as Record<string, unknown>;
        return {
          cells: azureDiagnosticsCells(record),
          timeGenerated: Date.parse(String(record['time'])),
          ingestedAt: Math.max(hourStart + (i + 1) * step, Date.parse(String(record['time'])) + Number(record['durationMs']) + 1),
          correlationId: String(record['correlationId']),
          record,
        };
      });
    })
    .sort((a, b) => a.ingestedAt - b.ingestedAt);
}

/** The usage of every valid event, once per gateway request; APIM logs a streamed completion in several rows, so streamed usages are split in two. */
function llmUsageRowsOf(eventLines: readonly string[]): LlmUsageRow[] {
  return [
    ...new Map(
      eventLines.flatMap((line) => {
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
}

function uniform(...parts: readonly (string | number)[]): number {
  return createHash('sha256').update(parts.join('\u0000')).digest().readUIntBE(0, 6) / 2 ** 48;
}

class BadQuery extends Error {}

/**
 * A local Log Analytics query API (the documented wire format of `POST /v1/workspaces/{id}/query`, no KQL
 * evaluation) serving a simulated day's `RequestResponse` records and LLM usage for the queries in queries/.
 * It fails on purpose: with faults queued by `failNext`, and, given fault rates, at random per query (by seed,
 * query text and repetition) with a 429 and `Retry-After`, a 504, a 503, or HTTP 200 with half the rows and
 * `PartialError`.
 */
export class FakeLogAnalytics {
  readonly rows: readonly DiagnosticRow[];
  /** Every query answered with HTTP 200, in order. */
  readonly seen: SeenQuery[] = [];
  /** Faults served, by kind. */
  readonly faults: Record<LaFaultKind, number> = { throttle: 0, 'gateway-timeout': 0, unavailable: 0, partial: 0 };
  /** `Retry-After` values (seconds) sent with throttled answers, in order. */
  readonly retryAfterSent: number[] = [];
  /** POST requests received, answered or not. */
  posts = 0;
  url = '';
  private server: Server | undefined;
  private llmUsage: readonly LlmUsageRow[] | undefined;
  private readonly queued: { readonly file: QueryFile; readonly fault: LaFault }[] = [];
  private readonly repetitions = new Map<string, number>();

  constructor(
    private readonly day: Pick<SimulatedDay, 'archive' | 'eventLines'>,
    private readonly options: FakeLogAnalyticsOptions = {},
  ) {
    this.rows = diagnosticRowsOf(day.archive);
  }

  /** The LLM usage rows the usage query sums (made on first use). */
  get llmUsageRows(): readonly LlmUsageRow[] {
    return (this.llmUsage ??= llmUsageRowsOf(this.day.eventLines));
  }

  get faultCount(): number {
    return Object.values(this.faults).reduce((sum, n) => sum + n, 0);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) =>
        error instanceof BadQuery ? send(res, 400, { error: { code: 'SemanticError', message: error.message } }) : send(res, 500, { error: { code: 'InternalError', message: String(error) } }),
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Answers the next queries of `file` with these faults, one each, before any random fault. */
  failNext(file: QueryFile, ...faults: LaFault[]): void {
    for (const fault of faults) this.queued.push({ file, fault });
  }

  /** Forgets the queries seen, the faults served and queued, and the POSTs counted. */
  reset(): void {
    this.seen.length = 0;
    this.queued.length = 0;
    this.retryAfterSent.length = 0;
    this.repetitions.clear();
    for (const kind of LA_FAULT_KINDS) this.faults[kind] = 0;
    this.posts = 0;
  }

  private fault(file: QueryFile, query: string, timespan: string): LaFault | null {
    const index = this.queued.findIndex((q) => q.file === file);
    if (index >= 0) return this.queued.splice(index, 1)[0]!.fault;
    const rates = this.options.faultRates;
    if (!rates) return null;
    const seed = this.options.seed ?? 0;
    const key = `${query}\n${timespan}`;
    const occurrence = this.repetitions.get(key) ?? 0;
    this.repetitions.set(key, occurrence + 1);
    let draw = uniform(seed, key, occurrence);
    for (const kind of LA_FAULT_KINDS) {
      if (draw < rates[kind]) return kind === 'throttle' ? { kind, retryAfter: 1 + Math.floor(uniform(seed, query, 'retry-after') * 30) } : { kind };
      draw -= rates[kind];
    }
    return null;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'POST') this.posts++;
    if (req.method !== 'POST' || req.url !== `/v1/workspaces/${WORKSPACE}/query`) return send(res, 404, { error: { code: 'PathNotFound', message: `${req.method} ${req.url}` } });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(res, 401, { error: { code: 'AuthorizationRequiredError', message: 'Valid authentication was not provided' } });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { query?: unknown; timespan?: unknown };
    if (typeof body.query !== 'string' || typeof body.timespan !== 'string') return send(res, 400, { error: { code: 'BadArgumentError', message: 'query and timespan are required' } });
    const file = /^\/\/ ([a-z-]+\.kql):/.exec(body.query)?.[1];
    if (file !== 'requestresponse-window.kql' && file !== 'requestresponse-window-count.kql' && file !== 'gateway-llm-usage.kql') {
      return send(res, 400, { error: { code: 'SemanticError', message: 'this fake answers only the queries in queries/' } });
    }
    const [spanStart, spanEnd] = body.timespan.split('/').map((t) => Date.parse(t)) as [number, number];
    const table = file === 'gateway-llm-usage.kql' ? this.usage(body.query) : this.window(file, body.query, spanStart, spanEnd);

    const fault = this.fault(file, body.query, body.timespan);
    if (fault !== null) this.faults[fault.kind]++;
    if (fault?.kind === 'throttle') {
      if (fault.retryAfter !== undefined) {
        this.retryAfterSent.push(fault.retryAfter);
        res.setHeader('Retry-After', String(fault.retryAfter));
      }
      return send(res, 429, { error: { code: 'ThrottledError', message: 'Your request was throttled: 200 requests per 30 seconds' } });
    }
    if (fault?.kind === 'gateway-timeout') return send(res, 504, { error: { code: 'GatewayTimeout', message: 'The gateway did not receive a response in time' } });
    if (fault?.kind === 'unavailable') return send(res, 503, { error: { code: 'ServiceUnavailableError', message: 'try again later' } });

    const partial = fault?.kind === 'partial';
    this.seen.push({ file, from: table.from, to: table.to, rows: table.rows.length, partial });
    if (partial) {
      return send(res, 200, {
        tables: [{ name: 'PrimaryResult', columns: table.columns, rows: table.rows.slice(0, Math.floor(table.rows.length / 2)) }],
        error: {
          code: 'PartialError',
          message: 'There were some errors when processing your query.',
          details: [{ code: 'EngineError', message: 'Something went wrong processing your query on the server.', innererror: { code: '-2133196797', message: 'Query result set has exceeded the internal data size limit' } }],
        },
      });
    }
    send(res, 200, { tables: [{ name: 'PrimaryResult', columns: table.columns, rows: table.rows }] });
  }

  private window(file: QueryFile, query: string, spanStart: number, spanEnd: number) {
    const match = /ingestion_time\(\) > datetime\(([^)]+)\) and ingestion_time\(\) <= datetime\(([^)]+)\)/.exec(query);
    if (!match) throw new BadQuery('no ingestion-time window in the query');
    const [from, to] = [Date.parse(match[1]!), Date.parse(match[2]!)];
    const rows = this.rows.filter((r) => r.ingestedAt > from && r.ingestedAt <= to && r.timeGenerated >= spanStart && r.timeGenerated <= spanEnd);
    if (file === 'requestresponse-window-count.kql') return { from: match[1]!, to: match[2]!, columns: [{ name: 'Count', type: 'long' }], rows: [[rows.length]] as unknown[][] };
    return {
      from: match[1]!,
      to: match[2]!,
      columns: [...COLUMNS.map((name) => ({ name, type: COLUMN_TYPES[name] ?? 'string' })), { name: 'IngestionTime', type: 'datetime' }],
      rows: rows.map((r) => [...COLUMNS.map((name) => r.cells[name]!), new Date(r.ingestedAt).toISOString().replace('Z', '0000Z')]),
    };
  }

  private usage(query: string) {
    const between = /between \(datetime\(([^)]+)\) \.\. datetime\(([^)]+)\)\)/.exec(query);
    const list = /CorrelationId in \(dynamic\((\[.*\])\)\)\s*$/m.exec(query);
    if (!between || !list) throw new BadQuery('no time range or id list in the query');
    const [from, to] = [Date.parse(between[1]!), Date.parse(between[2]!)];
    const ids = new Set(JSON.parse(list[1]!) as string[]);
    const sums = new Map<string, [number, number, number]>();
    for (const row of this.llmUsageRows) {
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
      rows: [...sums.entries()].map(([id, [p, c, t]]): unknown[] => [id, p, c, t]),
    };
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

type TokenCredential = ConstructorParameters<typeof LogsQueryClient>[0];
type PipelinePolicy = Parameters<LogsQueryClient['pipeline']['addPolicy']>[0];

/** The real SDK client pointed at the fake: no SDK retries (the adapter retries), a bearer header over loopback http. */
export function localLogsClient(baseUrl: string): LogsQueryClient {
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
