import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LogsQueryClient } from '@azure/monitor-query-logs';
import type { SimulatedDay } from '../../../src/simulator/traffic.js';

export const WORKSPACE = '3b6a5c1e-0d2f-4c8e-9a7b-5e4d3c2b1a00';
const TOKEN = 'fake-token-for-a-local-server';
const HOUR = 3_600_000;

/** Faults of the Log Analytics query API: throttling (with Retry-After), gateway timeout, unavailability, a partial result. */
export const LA_FAULT_KINDS = ['throttle', 'gateway-timeout', 'unavailable', 'partial'] as const;
export type LaFaultKind = (typeof LA_FAULT_KINDS)[number];

interface Row {
  readonly cells: Record<string, string | number>;
  readonly timeGenerated: number;
  readonly ingestedAt: number;
  readonly correlationId: string;
}

/** A window the fake answered completely (HTTP 200 without `PartialError`). */
export interface ServedWindow {
  readonly from: number;
  readonly to: number;
  readonly rows: number;
}

const COLUMNS = ['TimeGenerated', 'ResourceId', 'OperationName', 'CorrelationId', 'DurationMs', 'ResultSignature', 'CallerIPAddress', 'location_s', 'Tenant_s', 'properties_s'];
const COLUMN_TYPES: Record<string, string> = { TimeGenerated: 'datetime', DurationMs: 'real' };

/**
 * The archive records of a simulated day as an `AzureDiagnostics` table. Ingestion times are not in the archive:
 * the blob hour is the hour of receipt and records are appended in receipt order, so they are spread over that
 * hour in order, never before the request ended (as in test/integration/log-analytics-contract.test.ts).
 */
function rowsOf(day: SimulatedDay): Row[] {
  return [...day.archive.entries()]
    .flatMap(([path, lines]) => {
      const [, y, m, d, h] = /y=(\d{4})\/m=(\d{2})\/d=(\d{2})\/h=(\d{2})/.exec(path)!;
      const hourStart = Date.parse(`${y}-${m}-${d}T${h}:00:00Z`);
      const step = Math.floor(HOUR / (lines.length + 1));
      return lines.map((line, i): Row => {
        const record = JSON.parse(line) as Record<string, unknown>;
        const properties = record['properties'];
        const resourceId = String(record['resourceId']);
        return {
          cells: {
            TimeGenerated: String(record['time']),
            ResourceId: resourceId,
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
          correlationId: String(record['correlationId']),
        };
      });
    })
    .sort((a, b) => a.ingestedAt - b.ingestedAt);
}

function uniform(...parts: readonly (string | number)[]): number {
  return createHash('sha256').update(parts.join('\u0000')).digest().readUIntBE(0, 6) / 2 ** 48;
}

/**
 * A local Log Analytics query API (the documented wire format, no KQL evaluation) serving a simulated day's
 * `RequestResponse` records for the queries in queries/, and failing on purpose: per query, by seed, query text
 * and repetition, a 429 with `Retry-After`, a 504, a 503, or HTTP 200 with half the rows and `PartialError`.
 */
export class FailingLogAnalytics {
  readonly rows: readonly Row[];
  readonly faults: Record<LaFaultKind, number> = { throttle: 0, 'gateway-timeout': 0, unavailable: 0, partial: 0 };
  readonly served: ServedWindow[] = [];
  /** `Retry-After` values (seconds) sent with throttled answers, in order. */
  readonly retryAfterSent: number[] = [];
  queries = 0;
  url = '';
  private server: Server | undefined;
  private readonly seen = new Map<string, number>();

  constructor(
    day: SimulatedDay,
    private readonly seed: number,
    private readonly rates: Readonly<Record<LaFaultKind, number>>,
  ) {
    this.rows = rowsOf(day);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => send(res, 500, { error: { code: 'InternalError', message: String(error) } }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  get faultCount(): number {
    return Object.values(this.faults).reduce((sum, n) => sum + n, 0);
  }

  private fault(query: string): LaFaultKind | null {
    const occurrence = this.seen.get(query) ?? 0;
    this.seen.set(query, occurrence + 1);
    let draw = uniform(this.seed, query, occurrence);
    for (const kind of LA_FAULT_KINDS) {
      if (draw < this.rates[kind]) return kind;
      draw -= this.rates[kind];
    }
    return null;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url !== `/v1/workspaces/${WORKSPACE}/query`) return send(res, 404, { error: { code: 'PathNotFound', message: `${req.method} ${req.url}` } });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(res, 401, { error: { code: 'AuthorizationRequiredError', message: 'Valid authentication was not provided' } });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { query?: unknown; timespan?: unknown };
    if (typeof body.query !== 'string' || typeof body.timespan !== 'string') return send(res, 400, { error: { code: 'BadArgumentError', message: 'query and timespan are required' } });
    const file = /^\/\/ ([a-z-]+\.kql):/.exec(body.query)?.[1];
    if (file !== 'requestresponse-window.kql' && file !== 'requestresponse-window-count.kql') return send(res, 400, { error: { code: 'SemanticError', message: 'this fake answers only the RequestResponse window queries' } });
    const match = /ingestion_time\(\) > datetime\(([^)]+)\) and ingestion_time\(\) <= datetime\(([^)]+)\)/.exec(body.query);
    if (!match) return send(res, 400, { error: { code: 'SemanticError', message: 'no ingestion-time window in the query' } });
    this.queries++;
    const [spanStart, spanEnd] = body.timespan.split('/').map((t) => Date.parse(t)) as [number, number];
    const [from, to] = [Date.parse(match[1]!), Date.parse(match[2]!)];
    const rows = this.rows.filter((r) => r.ingestedAt > from && r.ingestedAt <= to && r.timeGenerated >= spanStart && r.timeGenerated <= spanEnd);

    const fault = this.fault(`${body.query}\n${body.timespan}`);
    if (fault !== null) this.faults[fault]++;
    if (fault === 'throttle') {
      const seconds = 1 + Math.floor(uniform(this.seed, body.query, 'retry-after') * 30);
      this.retryAfterSent.push(seconds);
      res.setHeader('Retry-After', String(seconds));
      return send(res, 429, { error: { code: 'ThrottledError', message: 'Your request was throttled: 200 requests per 30 seconds' } });
    }
    if (fault === 'gateway-timeout') return send(res, 504, { error: { code: 'GatewayTimeout', message: 'The gateway did not receive a response in time' } });
    if (fault === 'unavailable') return send(res, 503, { error: { code: 'ServiceUnavailableError', message: 'try again later' } });

    const table =
      file === 'requestresponse-window-count.kql'
        ? { columns: [{ name: 'Count', type: 'long' }], rows: [[rows.length]] as unknown[][] }
        : {
            columns: [...COLUMNS.map((name) => ({ name, type: COLUMN_TYPES[name] ?? 'string' })), { name: 'IngestionTime', type: 'datetime' }],
            rows: rows.map((r) => [...COLUMNS.map((name) => r.cells[name]!), new Date(r.ingestedAt).toISOString().replace('Z', '0000Z')]),
          };
    if (fault === 'partial') {
      return send(res, 200, {
        tables: [{ name: 'PrimaryResult', columns: table.columns, rows: table.rows.slice(0, Math.floor(table.rows.length / 2)) }],
        error: {
          code: 'PartialError',
          message: 'There were some errors when processing your query.',
          details: [{ code: 'EngineError', message: 'Something went wrong processing your query on the server.', innererror: { code: '-2133196797', message: 'Query result set has exceeded the internal data size limit' } }],
        },
      });
    }
    if (file === 'requestresponse-window.kql') this.served.push({ from, to, rows: rows.length });
    send(res, 200, { tables: [{ name: 'PrimaryResult', columns: table.columns, rows: table.rows }] });
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
