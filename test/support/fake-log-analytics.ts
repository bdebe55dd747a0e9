import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LogsQueryClient } from '@azure/monitor-query-logs';
import { LOG_ANALYTICS_MAX_BYTES, LOG_ANALYTICS_MAX_ROWS, RESULT_SIZE } from '../../src/adapters/log-analytics/log-analytics-diagnostics-source.js';
import { gatewayEventV1Schema } from '../../src/contracts/gateway-event.js';
import type { SimulatedDay } from '../../src/simulator/traffic.js';

export const WORKSPACE = '3b6a5c1e-0d2f-4c8e-9a7b-5e4d3c2b1a00';
const TOKEN = 'fake-token-for-a-local-server';
const HOUR = 3_600_000;

/**
 * Faults of the Log Analytics query API: throttling (429, with Retry-After), gateway timeout (504), unavailability
 * (503), an internal error (500 `InternalServerFault`), a connection dropped without an answer, a partial result.
 */
export const LA_FAULT_KINDS = ['throttle', 'gateway-timeout', 'unavailable', 'internal-error', 'reset', 'partial'] as const;
export type LaFaultKind = (typeof LA_FAULT_KINDS)[number];
/** One fault; a throttle without `retryAfter` (seconds) is sent without a `Retry-After` header. */
export type LaFault = { readonly kind: 'throttle'; readonly retryAfter?: number } | { readonly kind: Exclude<LaFaultKind, 'throttle'> };

/** The queries in queries/ that the fake answers, each also with `RESULT_SIZE` appended (the size of its result). */
const QUERY_FILES = ['requestresponse-window.kql', 'gateway-llm-usage.kql', 'reconcile-requestresponse.kql', 'reconcile-llm-usage.kql'] as const;
export type QueryFile = (typeof QUERY_FILES)[number];

/** The table each query reads. */
const TABLE_OF: Readonly<Record<QueryFile, string>> = {
  'requestresponse-window.kql': 'AzureDiagnostics',
  'reconcile-requestresponse.kql': 'AzureDiagnostics',
  'gateway-llm-usage.kql': 'ApiManagementGatewayLlmLog',
  'reconcile-llm-usage.kql': 'ApiManagementGatewayLlmLog',
};

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
  readonly DeploymentName: string;
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
  /** The size of the query's result was asked (`RESULT_SIZE` appended), not the result. */
  readonly size: boolean;
  /** Answered with half the rows and `PartialError`: a fault, or a result over the service's limits. */
  readonly partial: boolean;
  /** The request's `Prefer` header (`wait=<seconds>` sets the query's time limit). */
  readonly prefer: string | undefined;
}

export interface FakeLogAnalyticsOptions {
  /** Seeds the random faults. */
  readonly seed?: number;
  /** Per query, the chance of each fault, drawn by seed, query text and repetition (default: no random faults). */
  readonly faultRates?: Readonly<Record<LaFaultKind, number>>;
}

const COLUMNS = ['TimeGenerated', 'ResourceId', 'OperationName', 'CorrelationId', 'DurationMs', 'ResultSignature', 'CallerIPAddress', 'location_s', 'Tenant_s', 'properties_s'];
/** The columns `reconcile-requestresponse.kql` projects. */
const RECONCILE_COLUMNS = COLUMNS.filter((name) => name !== 'CallerIPAddress');
/** The type Log Analytics gives each column that is not a string. */
export const COLUMN_TYPES: Readonly<Record<string, string>> = { TimeGenerated: 'datetime', DurationMs: 'long' };

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

/**
 * The usage of every valid event, once per gateway request. APIM splits a large request over several rows whose
 * message rows carry 0 tokens and no deployment: every streamed usage gets such a row too.
 */
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
    const time = Date.parse(event.time);
    const { promptTokens, completionTokens } = event.usage!;
    const counts = { CorrelationId: event.gatewayRequestId, TimeGenerated: time, DeploymentName: event.deployment ?? '', PromptTokens: promptTokens, CompletionTokens: completionTokens, TotalTokens: promptTokens + completionTokens };
    if (!event.stream) return [counts];
    return [{ CorrelationId: event.gatewayRequestId, TimeGenerated: time + 1, DeploymentName: '', PromptTokens: 0, CompletionTokens: 0, TotalTokens: 0 }, counts];
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
 * query text and repetition) with a 429 and `Retry-After`, a 504, a 503, a 500, a dropped connection, or HTTP 200
 * with half the rows and `PartialError`.
 */
export class FakeLogAnalytics {
  readonly rows: readonly DiagnosticRow[];
  /** Every query answered with HTTP 200, in order. */
  readonly seen: SeenQuery[] = [];
  /** Faults served, by kind. */
  readonly faults: Record<LaFaultKind, number> = { throttle: 0, 'gateway-timeout': 0, unavailable: 0, 'internal-error': 0, reset: 0, partial: 0 };
  /** `Retry-After` values (seconds) sent with throttled answers, in order. */
  readonly retryAfterSent: number[] = [];
  /** POST requests received, answered or not. */
  posts = 0;
  /**
   * Estimated bytes one result may hold (the service's 64 MB until `reset`); a result over it, or over 500,000
   * rows, is answered as the service does, with part of the rows and a `PartialError`.
   */
  maxResultBytes = LOG_ANALYTICS_MAX_BYTES;
  /**
   * Rows a query can go through within its time limit (unlimited until `reset`): a query of more, its size
   * included, runs past `Prefer: wait` and is answered 504, as the service answers a query that runs too long.
   */
  maxRowsInTime = Infinity;
  /** The service's clock, for records that become queryable late (`queryableFrom`); unset: every record is queryable. */
  clock = Infinity;
  /**
   * When a record (by correlation id) becomes queryable, if later than its ingestion time: an ingestion may take
   * minutes to complete, and `ingestion_time()` does not say when it did.
   */
  readonly queryableFrom = new Map<string, number>();
  /**
   * Tables the workspace does not hold (none until `reset`): Azure Monitor creates a table when its first row arrives,
   * and a query of one that does not exist is answered 400 (`BadArgumentError`, the semantic error naming it).
   */
  readonly missingTables = new Set<string>();
  /** Queries answered 504 for running past their time limit, with the `Prefer` header each was sent with. */
  readonly timedOut: (string | undefined)[] = [];
  url = '';
  private server: Server | undefined;
  private llmUsage: readonly LlmUsageRow[] | undefined;
  private readonly queued: { readonly file: QueryFile; readonly size: boolean; readonly fault: LaFault }[] = [];
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
    for (const fault of faults) this.queued.push({ file, size: false, fault });
  }

  /** The same for the next queries of the size of `file`'s result. */
  failNextSize(file: QueryFile, ...faults: LaFault[]): void {
    for (const fault of faults) this.queued.push({ file, size: true, fault });
  }

  /** Forgets the queries seen, the faults served and queued, and the POSTs counted. */
  reset(): void {
    this.seen.length = 0;
    this.queued.length = 0;
    this.retryAfterSent.length = 0;
    this.repetitions.clear();
    for (const kind of LA_FAULT_KINDS) this.faults[kind] = 0;
    this.posts = 0;
    this.maxResultBytes = LOG_ANALYTICS_MAX_BYTES;
    this.maxRowsInTime = Infinity;
    this.timedOut.length = 0;
    this.clock = Infinity;
    this.queryableFrom.clear();
    this.missingTables.clear();
  }

  private fault(file: QueryFile, size: boolean, query: string, timespan: string): LaFault | null {
    const index = this.queued.findIndex((q) => q.file === file && q.size === size);
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
    const size = body.query.endsWith(RESULT_SIZE);
    const query = size ? body.query.slice(0, -RESULT_SIZE.length) : body.query;
    const file = QUERY_FILES.find((name) => query.startsWith(`// ${name}:`));
    if (!file) return send(res, 400, { error: { code: 'SemanticError', message: 'this fake answers only the queries in queries/' } });
    if (this.missingTables.has(TABLE_OF[file])) {
      return send(res, 400, {
        error: {
          message: 'The request had some invalid properties',
          code: 'BadArgumentError',
          innererror: { code: 'SemanticError', message: 'A semantic error occurred.', innererror: { code: 'SEM0100', message: `'where' operator: Failed to resolve table or column expression named '${TABLE_OF[file]}'` } },
        },
      });
    }
    const [spanStart, spanEnd] = body.timespan.split('/').map((t) => Date.parse(t)) as [number, number];
    const result = this.result(file, query, spanStart, spanEnd);
    const table = size ? { ...result, columns: [{ name: 'Records', type: 'long' }, { name: 'Bytes', type: 'long' }], rows: [[result.rows.length, estimatedBytes(result)]] } : result;

    const fault = this.fault(file, size, body.query, body.timespan);
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
    if (fault?.kind === 'internal-error') return send(res, 500, { error: { code: 'InternalServerFault', message: 'An unexpected error occurred' } });
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }

    const prefer = preferOf(req);
    if (result.rows.length > this.maxRowsInTime) {
      this.timedOut.push(prefer);
      return send(res, 504, { error: { code: 'GatewayTimeout', message: 'The query did not complete within the time limit' } });
    }
    const tooLarge = table.rows.length > LOG_ANALYTICS_MAX_ROWS || estimatedBytes(table) > this.maxResultBytes;
    const partial = fault?.kind === 'partial' || tooLarge;
    this.seen.push({ file, from: table.from, to: table.to, rows: table.rows.length, size, partial, prefer });
    if (partial) {
      return send(res, 200, {
        tables: [{ name: 'PrimaryResult', columns: table.columns, rows: table.rows.slice(0, Math.floor(table.rows.length / 2)) }],
        error: {
          code: 'PartialError',
          message: 'There were some errors when processing your query.',
          details: [{ code: 'EngineError', message: 'Something went wrong processing your query on the server.', innererror: { code: 'E_QUERY_RESULT_SET_TOO_LARGE', message: 'Query result set has exceeded the internal data size limit' } }],
        },
      });
    }
    send(res, 200, { tables: [{ name: 'PrimaryResult', columns: table.columns, rows: table.rows }] });
  }

  /** The whole result of one of the queries, as the service would compute it (no limits applied). */
  private result(file: QueryFile, query: string, spanStart: number, spanEnd: number): FakeTable {
    if (file === 'gateway-llm-usage.kql') return this.usage(query);
    if (file === 'requestresponse-window.kql') return this.window(query, spanStart, spanEnd);
    const [from, to, range] = timeGeneratedRange(query);
    if (file === 'reconcile-requestresponse.kql') {
      const rows = this.rows.filter((r) => r.timeGenerated >= from && r.timeGenerated < to && r.timeGenerated >= spanStart && r.timeGenerated <= spanEnd);
      return { ...range, columns: RECONCILE_COLUMNS.map((name) => ({ name, type: COLUMN_TYPES[name] ?? 'string' })), rows: rows.map((r) => RECONCILE_COLUMNS.map((name) => r.cells[name]!)) };
    }
    // reconcile-llm-usage.kql: one row per request, each count from the row that has it.
    const byRequest = new Map<string, { time: number; deployment: string; prompt: number; completion: number }>();
    for (const row of this.llmUsageRows) {
      if (row.TimeGenerated < from || row.TimeGenerated >= to) continue;
      const known = byRequest.get(row.CorrelationId);
      byRequest.set(row.CorrelationId, {
        time: Math.min(known?.time ?? Infinity, row.TimeGenerated),
        deployment: known?.deployment || row.DeploymentName,
        prompt: Math.max(known?.prompt ?? 0, row.PromptTokens),
        completion: Math.max(known?.completion ?? 0, row.CompletionTokens),
      });
    }
    return {
      ...range,
      columns: [
        { name: 'CorrelationId', type: 'string' },
        { name: 'TimeGenerated', type: 'datetime' },
        { name: 'PromptTokens', type: 'long' },
        { name: 'CompletionTokens', type: 'long' },
        { name: 'DeploymentName', type: 'string' },
      ],
      rows: [...byRequest].filter(([, r]) => r.prompt > 0 || r.completion > 0).map(([id, r]): unknown[] => [id, new Date(r.time).toISOString(), r.prompt, r.completion, r.deployment]),
    };
  }

  private window(query: string, spanStart: number, spanEnd: number): FakeTable {
    const match = /ingestion_time\(\) > datetime\(([^)]+)\) and ingestion_time\(\) <= datetime\(([^)]+)\)/.exec(query);
    if (!match) throw new BadQuery('no ingestion-time window in the query');
    const [from, to] = [Date.parse(match[1]!), Date.parse(match[2]!)];
    const rows = this.rows.filter(
      (r) => r.ingestedAt > from && r.ingestedAt <= to && r.timeGenerated >= spanStart && r.timeGenerated <= spanEnd && (this.queryableFrom.get(r.correlationId) ?? -Infinity) <= this.clock,
    );
    return {
      from: match[1]!,
      to: match[2]!,
      columns: [...COLUMNS.map((name) => ({ name, type: COLUMN_TYPES[name] ?? 'string' })), { name: 'IngestionTime', type: 'datetime' }],
      rows: rows.map((r) => [...COLUMNS.map((name) => r.cells[name]!), new Date(r.ingestedAt).toISOString().replace('Z', '0000Z')]),
    };
  }

  private usage(query: string): FakeTable {
    const between = /between \(datetime\(([^)]+)\) \.\. datetime\(([^)]+)\)\)/.exec(query);
    const list = /CorrelationId in \(dynamic\((\[.*\])\)\)\s*$/m.exec(query);
    if (!between || !list) throw new BadQuery('no time range or id list in the query');
    const [from, to] = [Date.parse(between[1]!), Date.parse(between[2]!)];
    const ids = new Set(JSON.parse(list[1]!) as string[]);
    const maxima = new Map<string, [number, number, number]>();
    for (const row of this.llmUsageRows) {
      if (!ids.has(row.CorrelationId) || row.TimeGenerated < from || row.TimeGenerated > to) continue;
      const known = maxima.get(row.CorrelationId) ?? [0, 0, 0];
      maxima.set(row.CorrelationId, [Math.max(known[0], row.PromptTokens), Math.max(known[1], row.CompletionTokens), Math.max(known[2], row.TotalTokens)]);
    }
    // `| where PromptTokens > 0 or CompletionTokens > 0 or TotalTokens > 0`: requests with only message rows so far.
    for (const [id, counts] of maxima) if (counts.every((n) => n === 0)) maxima.delete(id);
    return {
      from: between[1]!,
      to: between[2]!,
      columns: [
        { name: 'CorrelationId', type: 'string' },
        { name: 'PromptTokens', type: 'long' },
        { name: 'CompletionTokens', type: 'long' },
        { name: 'TotalTokens', type: 'long' },
      ],
      rows: [...maxima.entries()].map(([id, [p, c, t]]): unknown[] => [id, p, c, t]),
    };
  }
}

interface FakeTable {
  /** The query's time range as written in it. */
  readonly from: string;
  readonly to: string;
  readonly columns: readonly { readonly name: string; readonly type: string }[];
  readonly rows: readonly (readonly unknown[])[];
}

/** The `TimeGenerated >= datetime(from) and TimeGenerated < datetime(to)` range of a reconcile query. */
function timeGeneratedRange(query: string): [number, number, { from: string; to: string }] {
  const match = /TimeGenerated >= datetime\(([^)]+)\) and TimeGenerated < datetime\(([^)]+)\)/.exec(query);
  if (!match) throw new BadQuery('no TimeGenerated range in the query');
  return [Date.parse(match[1]!), Date.parse(match[2]!), { from: match[1]!, to: match[2]! }];
}

/** `estimate_data_size(*)` summed over a result: a string's UTF-8 bytes, 8 for a number or a datetime. */
function estimatedBytes(table: Pick<FakeTable, 'columns' | 'rows'>): number {
  let bytes = 0;
  for (const row of table.rows) {
    table.columns.forEach((column, i) => {
      bytes += column.type === 'string' ? Buffer.byteLength(String(row[i] ?? ''), 'utf8') : 8;
    });
  }
  return bytes;
}

function preferOf(req: IncomingMessage): string | undefined {
  const prefer = req.headers['prefer'];
  return Array.isArray(prefer) ? prefer.join(',') : prefer;
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
