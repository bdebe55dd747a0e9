/**
 * Figure 3b: Log Analytics queries the join makes per 10,000 events. The join reads Azure OpenAI
 * `RequestResponse` records with `LogAnalyticsDiagnosticsSource` (the adapter the function app uses when a
 * workspace is configured, with its production window of one hour and 5 minutes of settle time), through the
 * real `LogsQueryClient`, against a local fake of the Log Analytics query API that holds a simulated day's
 * records and counts the POSTs it answers. The read loop is `joinDiagnostics`' own: readSince from the
 * watermark until the source says there is no more.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LogsQueryClient } from '@azure/monitor-query-logs';
import { LogAnalyticsDiagnosticsSource } from '../src/adapters/log-analytics/log-analytics-diagnostics-source.js';
import { simulateDay } from '../src/simulator/traffic.js';

const WORKSPACE = '3b6a5c1e-0d2f-4c8e-9a7b-5e4d3c2b1a00';
const TOKEN = 'fake-token-for-a-local-server';
const HOUR = 3_600_000;
/** As `joinPortsFromEnvironment` builds it. */
const WINDOW_MS = HOUR;
const SETTLE_MS = 5 * 60_000;

interface Row {
  readonly cells: readonly (string | number)[];
  readonly timeGenerated: number;
  readonly ingestedAt: number;
}

const COLUMNS = ['TimeGenerated', 'ResourceId', 'OperationName', 'CorrelationId', 'DurationMs', 'ResultSignature', 'CallerIPAddress', 'location_s', 'Tenant_s', 'properties_s'];
const TYPES: Record<string, string> = { TimeGenerated: 'datetime', DurationMs: 'real' };

/**
 * The archive's records as Log Analytics rows. Ingestion times are not in the archive: the blob hour is the
 * hour of receipt and records are appended in receipt order, so they are spread over that hour in order
 * (never before the request ended), as the contract test's fake does.
 */
function rowsOf(archive: ReadonlyMap<string, readonly string[]>): Row[] {
  const rows: Row[] = [];
  for (const [path, lines] of archive) {
    const [, y, m, d, h] = /y=(\d{4})\/m=(\d{2})\/d=(\d{2})\/h=(\d{2})/.exec(path)!;
    const hourStart = Date.parse(`${y}-${m}-${d}T${h}:00:00Z`);
    const step = Math.floor(HOUR / (lines.length + 1));
    lines.forEach((line, i) => {
      const record = JSON.parse(line) as Record<string, unknown>;
      const properties = record['properties'];
      const time = Date.parse(String(record['time']));
      const cells: Record<string, string | number> = {
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
      rows.push({ cells: COLUMNS.map((c) => cells[c]!), timeGenerated: time, ingestedAt: Math.max(hourStart + (i + 1) * step, time + Number(record['durationMs']) + 1) });
    });
  }
  return rows.sort((a, b) => a.ingestedAt - b.ingestedAt);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

/** The documented wire format of `POST /v1/workspaces/{id}/query`, for the two window queries only. */
class FakeLogAnalytics {
  posts = 0;
  rowsReturned = 0;
  private server!: Server;
  url = '';

  constructor(private readonly rows: readonly Row[]) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => send(res, 500, { error: { code: 'InternalError', message: String(error) } }));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'POST') this.posts++;
    if (req.method !== 'POST' || req.url !== `/v1/workspaces/${WORKSPACE}/query`) return send(res, 404, { error: { code: 'PathNotFound', message: `${req.method} ${req.url}` } });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(res, 401, { error: { code: 'AuthorizationRequiredError', message: 'Valid authentication was not provided' } });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { query: string; timespan: string };
    const file = /^\/\/ ([a-z-]+\.kql):/.exec(body.query)?.[1];
    const [spanStart, spanEnd] = body.timespan.split('/').map((t) => Date.parse(t)) as [number, number];
    const window = /ingestion_time\(\) > datetime\(([^)]+)\) and ingestion_time\(\) <= datetime\(([^)]+)\)/.exec(body.query);
    if (!window || (file !== 'requestresponse-window.kql' && file !== 'requestresponse-window-count.kql')) {
      return send(res, 400, { error: { code: 'SemanticError', message: 'this fake answers only the two window queries' } });
    }
    const [from, to] = [Date.parse(window[1]!), Date.parse(window[2]!)];
    const rows = this.rows.filter((r) => r.ingestedAt > from && r.ingestedAt <= to && r.timeGenerated >= spanStart && r.timeGenerated <= spanEnd);
    if (file === 'requestresponse-window-count.kql') {
      return send(res, 200, { tables: [{ name: 'PrimaryResult', columns: [{ name: 'Count', type: 'long' }], rows: [[rows.length]] }] });
    }
    this.rowsReturned += rows.length;
    const columns = [...COLUMNS.map((name) => ({ name, type: TYPES[name] ?? 'string' })), { name: 'IngestionTime', type: 'datetime' }];
    send(res, 200, { tables: [{ name: 'PrimaryResult', columns, rows: rows.map((r) => [...r.cells, new Date(r.ingestedAt).toISOString().replace('Z', '0000Z')]) }] });
  }
}

type TokenCredential = ConstructorParameters<typeof LogsQueryClient>[0];
type PipelinePolicy = Parameters<LogsQueryClient['pipeline']['addPolicy']>[0];

/** The real SDK client pointed at the fake (its bearer policy refuses plain http; this one sends the same header). */
function localClient(baseUrl: string): LogsQueryClient {
  const credential: TokenCredential = { getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + HOUR }) };
  const client = new LogsQueryClient(credential, { endpoint: `${baseUrl}/v1`, allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
  client.pipeline.removePolicy({ name: 'bearerTokenAuthenticationPolicy' });
  const bearer: PipelinePolicy = {
    name: 'loopbackBearerTokenPolicy',
    async sendRequest(request, next) {
      request.headers.set('authorization', `Bearer ${TOKEN}`);
      return next(request);
    },
  };
  client.pipeline.addPolicy(bearer, { phase: 'Sign' });
  return client;
}

export interface JoinQueryRun {
  readonly requests: number;
  readonly events: number;
  readonly records: number;
  readonly recordsRead: number;
  readonly reads: number;
  readonly queries: number;
  readonly queriesPer10k: number;
  readonly hoursCovered: number;
}

/**
 * Simulates a day of `requests`, then reads its records from the day's start until the source has nothing
 * more, with the clock 56 hours after the day's start (late records arrive up to 30 hours after their hour).
 */
export async function measureJoinQueries(requests: number, seed: number, day: string): Promise<JoinQueryRun> {
  const simulated = simulateDay({ requests, seed, day });
  const rows = rowsOf(simulated.archive);
  const fake = new FakeLogAnalytics(rows);
  await fake.start();
  try {
    const dayStart = Date.parse(`${day}T00:00:00Z`);
    const now = new Date(dayStart + 56 * HOUR);
    const source = new LogAnalyticsDiagnosticsSource({ client: localClient(fake.url), workspaceId: WORKSPACE, windowInMs: WINDOW_MS, settleInMs: SETTLE_MS, now: () => now });
    let watermark: string | null = new Date(dayStart).toISOString();
    let recordsRead = 0;
    let reads = 0;
    for (let more = true; more; reads++) {
      const read = await source.readSince(watermark);
      recordsRead += read.records.length + read.rejected.length;
      if (read.nextWatermark !== null) watermark = read.nextWatermark;
      more = read.more;
    }
    const events = simulated.eventLines.length;
    return {
      requests,
      events,
      records: rows.length,
      recordsRead,
      reads,
      queries: fake.posts,
      queriesPer10k: (fake.posts / events) * 10_000,
      hoursCovered: (now.getTime() - SETTLE_MS - dayStart) / HOUR,
    };
  } finally {
    await fake.stop();
  }
}
