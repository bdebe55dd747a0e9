import { readPackageFile } from '../../config/package-files.js';
import { LogsQueryResultStatus, type LogsQueryClient, type LogsQueryOptions, type LogsTable, type QueryTimeInterval } from '@azure/monitor-query-logs';
import type { DiagnosticRecord, RejectedDiagnostic } from '../../contracts/diagnostic-record.js';
import { fromAzureDiagnosticsRow, instantText, parseRequestResponse } from '../../domain/diagnostic-parsing.js';
import { NETWORK_ERROR_CODES, innermostError } from '../../domain/failure-reason.js';
import { ingestionPosition } from '../../domain/join-watermark.js';
import { bindQuery, kqlDatetime, kqlStringList } from '../../domain/kql.js';
import { MissingTableError, type DiagnosticsRead, type DiagnosticsSource, type LlmUsage, type LlmUsageSource } from '../../ports/diagnostics-source.js';
import { TransientStoreError, type StoreOptions } from '../../ports/ledger-store.js';
import { codeOf, statusCodeOf } from '../rest-error.js';

/** The one call we make; a `LogsQueryClient` fits. */
export type LogsQuerier = Pick<LogsQueryClient, 'queryWorkspace'>;

/**
 * Kusto's limits on one query result, which Azure Monitor applies to log queries
 * (learn.microsoft.com/kusto/concepts/querylimits): 500,000 records and 64 MB. A query past either fails with a
 * partial result (`E_QUERY_RESULT_SET_TOO_LARGE`), however often it is run again.
 */
export const LOG_ANALYTICS_MAX_ROWS = 500_000;
export const LOG_ANALYTICS_MAX_BYTES = 64 * 1024 * 1024;
/** `estimate_data_size()` approximates the size that limit measures: parts are planned to half of it. */
const DEFAULT_MAX_BYTES_PER_QUERY = LOG_ANALYTICS_MAX_BYTES / 2;
/** Appended to a query: the records and the estimated size of that query's result. */
export const RESULT_SIZE = '\n| summarize Records = count(), Bytes = sum(estimate_data_size(*))';
/** See `LogAnalyticsDiagnosticsSourceOptions.overlapInMs`. */
const DEFAULT_OVERLAP_MS = 10 * 60_000;
/** Ids per `in (…)` list: keeps each query text small and well under the service's limits. */
export const MAX_IDS_PER_QUERY = 1_000;
/**
 * HTTP statuses worth retrying as they were: request timeout, throttling (200 requests / 30 s, 5 concurrent), an
 * internal error (`InternalServerFault`), bad gateway, unavailable: those the Azure SDK's retry policy retries. A 504
 * is a query past its time limit (`QueryTimeoutError`): it is read in parts instead.
 */
const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503]);
/**
 * How long the service may run one query (`Prefer: wait`). Past it the query fails with 504, and running it again
 * fails the same way (learn.microsoft.com/azure/azure-monitor/logs/api/timeouts: 3 minutes by default, at most 10).
 * Two minutes keeps a size query and a data query within the timers' 10-minute `functionTimeout`.
 */
const DEFAULT_QUERY_TIMEOUT_SECONDS = 120;
const MAX_QUERY_TIMEOUT_SECONDS = 600;
/** How much longer than the service's limit the client waits for an answer before it drops the connection. */
const CLIENT_TIMEOUT_MARGIN_MS = 30_000;
/** A range of a minute or less that still runs past the time limit is not halved further: the run fails, to try again later. */
const SHORTEST_RANGE_FOR_TIME_MS = 60_000;
/** `TimeGenerated` comes from the resource's clock, `ingestion_time()` from the workspace's. */
const CLOCK_SKEW_MS = 60_000;

export interface RetrySettings {
  /** Attempts per query, the first included (default 5). */
  readonly maxAttempts?: number;
  /** First backoff when the service sends no `Retry-After`; doubled per attempt (default 1 s). */
  readonly baseDelayInMs?: number;
  /** Longest computed backoff (default 60 s); a longer `Retry-After` is still honoured. */
  readonly maxDelayInMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Seconds the service may run one query before it answers 504 (default 120, at most 600). */
  readonly queryTimeoutInSeconds?: number;
}

/**
 * A query the service could not answer whole, and likely would not if run again as it was. A range is read in
 * halves instead, an id list in halves. When nothing is left to halve, the run fails and the next one tries again;
 * the caller never settles on what it did not get.
 */
export class IncompleteQueryError extends TransientStoreError {}

/** A query the service stopped at its time limit (504), or that got no answer in time. */
export class QueryTimeoutError extends IncompleteQueryError {}

/**
 * A result the service answered with an error beside its table (HTTP 200, `PartialError`,
 * learn.microsoft.com/azure/azure-monitor/logs/api/response-format): some rows are missing. Past the result limit
 * (`E_QUERY_RESULT_SET_TOO_LARGE`, though the range's size estimate fitted) or the query's resources
 * (`E_RUNAWAY_QUERY`); the SDK keeps no inner error of the details that would say which, and a narrower query
 * helps either way.
 */
export class PartialResultError extends IncompleteQueryError {}

/** The codes and messages of an error body and its details and inner errors, on one line, for messages. */
function partialErrorText(error: unknown): string {
  const parts: string[] = [];
  const visit = (node: unknown, depth: number): void => {
    if (node === null || typeof node !== 'object' || depth > 10) return;
    const { code, message, details, innererror } = node as Record<string, unknown>;
    const said = [code, message].filter((value) => typeof value === 'string' && value !== '').join(': ');
    if (said !== '') parts.push(said);
    if (Array.isArray(details)) for (const detail of details.slice(0, 10)) visit(detail, depth + 1);
    visit(innererror, depth + 1);
  };
  visit(error, 0);
  return parts.join('; ');
}

/** One part of a range read in parts: its bounds and its result. */
export interface RangePart {
  readonly from: number;
  readonly to: number;
  readonly table: LogsTable;
}

export interface LogAnalyticsDiagnosticsSourceOptions extends RetrySettings, ResultLimits {
  /**
   * Build it with `retryOptions: { maxRetries: 0 }`: this adapter retries throttled queries itself (honouring
   * `Retry-After`) and would otherwise multiply the SDK's own retries.
   */
  readonly client: LogsQuerier;
  readonly workspaceId: string;
  /** Longest ingestion-time window one `readSince` covers. */
  readonly windowInMs: number;
  /** Ingestion times younger than this are not read yet: records become queryable shortly after ingestion. */
  readonly settleInMs: number;
  /**
   * How long after the settle time a record may still become queryable (default 10 minutes). `ingestion_time()` is
   * approximate and an ingestion can take minutes to complete, so a record can become queryable after a read past
   * its ingestion time: each read reaches back behind its watermark over what the previous read could have missed.
   */
  readonly overlapInMs?: number;
  /** Where a source without a watermark starts, before now (default 24 h). */
  readonly initialLookbackInMs?: number;
  /** How much older than its ingestion a record's `TimeGenerated` may be (default 72 h; archives show 48 h). */
  readonly lateArrivalInMs?: number;
  readonly now?: () => Date;
}

export interface ResultLimits {
  /** Rows per query before a time range is split (default 500,000, the service limit). */
  readonly maxRowsPerQuery?: number;
  /** Estimated bytes per query before a time range is split (default 32 MiB, half the service limit). */
  readonly maxBytesPerQuery?: number;
}

/** A query over a time range, which can be read in parts (the range cut in halves). */
export interface RangeQuery {
  text(from: number, to: number): string;
  timespan(from: number, to: number): QueryTimeInterval;
  /** The range as the query reads it, for messages. */
  label(from: number, to: number): string;
  /** The table it reads: when the workspace does not hold it, the read fails with `MissingTableError`. */
  readonly table?: string;
}

/**
 * The table a query failed on because the workspace does not hold it: Log Analytics answers 400 with the semantic
 * error SEM0100, "'where' operator: Failed to resolve table or column expression named 'AzureDiagnostics'", as the
 * innermost error of its body.
 */
function unresolvedTable(error: unknown): string | undefined {
  if (statusCodeOf(error) !== 400) return undefined;
  const message = innermostError((error as { details?: unknown }).details)?.message;
  return typeof message === 'string' ? /Failed to resolve (?:table|table or column|table or column or scalar) expression named '([^']+)'/.exec(message)?.[1] : undefined;
}

export interface LogAnalyticsLlmUsageSourceOptions extends RetrySettings {
  /** Build it with `retryOptions: { maxRetries: 0 }` (see `LogAnalyticsDiagnosticsSourceOptions.client`). */
  readonly client: LogsQuerier;
  readonly workspaceId: string;
  /** Ids per query, at most 1,000 (the default). */
  readonly idsPerQuery?: number;
}

/** Reads `queries/<file>` shipped with the package. */
export function readQueryFile(file: string): string {
  return readPackageFile(`queries/${file}`);
}

export function resultLimits(limits: ResultLimits): Required<ResultLimits> {
  const maxRowsPerQuery = positiveInteger(limits.maxRowsPerQuery ?? LOG_ANALYTICS_MAX_ROWS, 'maxRowsPerQuery');
  const maxBytesPerQuery = positiveInteger(limits.maxBytesPerQuery ?? DEFAULT_MAX_BYTES_PER_QUERY, 'maxBytesPerQuery');
  if (maxRowsPerQuery > LOG_ANALYTICS_MAX_ROWS) throw new RangeError(`maxRowsPerQuery must be at most ${LOG_ANALYTICS_MAX_ROWS}`);
  if (maxBytesPerQuery > LOG_ANALYTICS_MAX_BYTES) throw new RangeError(`maxBytesPerQuery must be at most ${LOG_ANALYTICS_MAX_BYTES}`);
  return { maxRowsPerQuery, maxBytesPerQuery };
}

export class QueryRunner {
  private readonly maxAttempts: number;
  private readonly baseDelayInMs: number;
  private readonly maxDelayInMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly queryOptions: LogsQueryOptions;

  constructor(
    private readonly client: LogsQuerier,
    private readonly workspaceId: string,
    settings: RetrySettings,
  ) {
    this.maxAttempts = positiveInteger(settings.maxAttempts ?? 5, 'maxAttempts');
    this.baseDelayInMs = settings.baseDelayInMs ?? 1_000;
    this.maxDelayInMs = settings.maxDelayInMs ?? 60_000;
    this.sleep = settings.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    const timeout = positiveInteger(settings.queryTimeoutInSeconds ?? DEFAULT_QUERY_TIMEOUT_SECONDS, 'queryTimeoutInSeconds');
    if (timeout > MAX_QUERY_TIMEOUT_SECONDS) throw new RangeError(`queryTimeoutInSeconds must be at most ${MAX_QUERY_TIMEOUT_SECONDS}`);
    this.queryOptions = { serverTimeoutInSeconds: timeout, requestOptions: { timeout: timeout * 1000 + CLIENT_TIMEOUT_MARGIN_MS } };
  }

  /**
   * The primary table of one query. A partial result throws `PartialResultError` (the caller must not advance past
   * data it did not get), a query past its time limit `QueryTimeoutError`, each at once; throttling, unavailability
   * and dropped connections are retried, then surface as `TransientStoreError`.
   */
  async run(label: string, query: string, timespan: QueryTimeInterval, options?: StoreOptions): Promise<LogsTable> {
    for (let attempt = 1; ; attempt++) {
      options?.abortSignal?.throwIfAborted();
      try {
        const result = await untilAborted(this.client.queryWorkspace(this.workspaceId, query, timespan, this.queryOptions), options?.abortSignal);
        if (result.status === LogsQueryResultStatus.PartialFailure) {
          throw new PartialResultError(`Log Analytics returned a partial result for ${label} (${partialErrorText(result.partialError)})`);
        }
        const table = result.tables[0];
        if (!table) throw new Error(`Log Analytics returned no table for ${label}`);
        return table;
      } catch (error) {
        if (options?.abortSignal?.aborted) throw error;
        if (isTimeout(error)) {
          throw new QueryTimeoutError(`Log Analytics ${label} ran past its limit of ${this.queryOptions.serverTimeoutInSeconds} s`, { cause: error });
        }
        const status = statusCodeOf(error);
        if (!((status !== undefined && RETRYABLE_STATUS.has(status)) || NETWORK_ERROR_CODES.has(String(codeOf(error))))) throw error;
        if (attempt >= this.maxAttempts) {
          throw new TransientStoreError(`Log Analytics ${label} still failing after ${attempt} attempts (${status ?? codeOf(error)})`, { cause: error });
        }
        await this.sleep(retryAfterInMs(error) ?? Math.min(this.maxDelayInMs, this.baseDelayInMs * 2 ** (attempt - 1)));
      }
    }
  }

  /**
   * The result of `query` over (from, to) in parts that each fit in one query result and in the time limit, in
   * the order of their ranges: for each range its size first (records and estimated bytes), then one query for a
   * range that fits, or both halves read the same way, as for a range whose size or data query timed out or answered part of its result.
   */
  async *parts(query: RangeQuery, from: number, to: number, limits: Required<ResultLimits>, options?: StoreOptions): AsyncGenerator<RangePart> {
    let table: LogsTable | null = null;
    try {
      table = await this.runIfItFits(query, from, to, limits, options);
    } catch (error) {
      if (!(error instanceof IncompleteQueryError) || to - from <= SHORTEST_RANGE_FOR_TIME_MS) throw error;
    }
    if (table) {
      yield { from, to, table };
      return;
    }
    const middle = from + Math.floor((to - from) / 2);
    yield* this.parts(query, from, middle, limits, options);
    yield* this.parts(query, middle, to, limits, options);
  }

  /** Every part of `parts`, read to the end. */
  async runInParts(query: RangeQuery, from: number, to: number, limits: Required<ResultLimits>, options?: StoreOptions): Promise<LogsTable[]> {
    const tables: LogsTable[] = [];
    for await (const part of this.parts(query, from, to, limits, options)) tables.push(part.table);
    return tables;
  }

  /** The size of a query's result; the first query of a range, so the one to find the table missing. */
  private async runSize(query: RangeQuery, label: string, text: string, timespan: QueryTimeInterval, options?: StoreOptions): Promise<LogsTable> {
    try {
      return await this.run(`size of ${label}`, text, timespan, options);
    } catch (error) {
      if (query.table !== undefined && unresolvedTable(error) === query.table) throw new MissingTableError(query.table, { cause: error });
      throw error;
    }
  }

  /** The result of `query` over (from, to) when its size fits in one query result; null when the range must be halved. */
  private async runIfItFits(query: RangeQuery, from: number, to: number, limits: Required<ResultLimits>, options?: StoreOptions): Promise<LogsTable | null> {
    const label = query.label(from, to);
    const text = query.text(from, to);
    const size = rowObjects(await this.runSize(query, label, text + RESULT_SIZE, query.timespan(from, to), options))[0];
    const records = Number(size?.['Records']);
    // sum() of no rows is null.
    const bytes = size?.['Bytes'] === null ? 0 : Number(size?.['Bytes']);
    if (!Number.isSafeInteger(records) || records < 0 || !Number.isFinite(bytes) || bytes < 0) throw new Error(`Log Analytics returned no usable size for ${label}`);
    if (records <= limits.maxRowsPerQuery && bytes <= limits.maxBytesPerQuery) return this.run(label, text, query.timespan(from, to), options);
    if (to - from < 2) {
      throw new Error(`${label} holds ${records} records of about ${bytes} bytes, more than one query may return (${limits.maxRowsPerQuery} records, ${limits.maxBytesPerQuery} bytes), and cannot be split further`);
    }
    return null;
  }
}

/**
 * Azure OpenAI `RequestResponse` records from a Log Analytics workspace, read incrementally by
 * `ingestion_time()`. The watermark `to/readAt` (an ISO 8601 interval) says up to which ingestion time records were
 * read, and when. Each call reads the window (watermark, min(watermark + window, now − settle)], splitting it in
 * halves until every part fits in one query result and time limit, with one size and one data query per part. It
 * reaches back behind the watermark to the ingestion times the previous read may have missed (those younger than
 * settle + overlap at its `readAt`): a read that caught up to its horizon is followed by one that reaches back the
 * whole overlap; a read of a backlog, long after those times, by one that does not reach back at all.
 */
export class LogAnalyticsDiagnosticsSource implements DiagnosticsSource {
  private readonly runner: QueryRunner;
  private readonly windowQuery: RangeQuery;
  private readonly windowInMs: number;
  private readonly settleInMs: number;
  private readonly initialLookbackInMs: number;
  private readonly overlapInMs: number;
  private readonly limits: Required<ResultLimits>;
  private readonly now: () => Date;
  private readonly source: string;

  constructor(options: LogAnalyticsDiagnosticsSourceOptions) {
    this.runner = new QueryRunner(options.client, options.workspaceId, options);
    this.windowInMs = positiveInteger(options.windowInMs, 'windowInMs');
    this.settleInMs = nonNegative(options.settleInMs, 'settleInMs');
    this.initialLookbackInMs = positiveInteger(options.initialLookbackInMs ?? 86_400_000, 'initialLookbackInMs');
    this.overlapInMs = nonNegative(options.overlapInMs ?? DEFAULT_OVERLAP_MS, 'overlapInMs');
    const lateArrivalInMs = nonNegative(options.lateArrivalInMs ?? 72 * 3_600_000, 'lateArrivalInMs');
    const text = readQueryFile('requestresponse-window.kql');
    this.windowQuery = {
      text: (from, to) => bindQuery(text, { from: kqlDatetime(new Date(from)), to: kqlDatetime(new Date(to)) }),
      timespan: (from, to) => ({ startTime: new Date(from - lateArrivalInMs), endTime: new Date(to + CLOCK_SKEW_MS) }),
      label: (from, to) => `window (${new Date(from).toISOString()}, ${new Date(to).toISOString()}]`,
      table: 'AzureDiagnostics',
    };
    this.limits = resultLimits(options);
    this.now = options.now ?? (() => new Date());
    this.source = `log-analytics:${options.workspaceId}`;
  }

  async readSince(watermark: string | null, options?: StoreOptions): Promise<DiagnosticsRead> {
    const now = this.now().getTime();
    const horizon = now - this.settleInMs;
    const previous = watermark === null ? null : ingestionPosition(watermark);
    const from = previous?.to ?? now - this.initialLookbackInMs;
    const to = Math.min(from + this.windowInMs, horizon);
    if (to <= from) return { records: [], rejected: [], nextWatermark: null, more: false };
    const missable = previous ? Math.max(from - this.overlapInMs, (previous.readAt ?? -Infinity) - this.settleInMs - this.overlapInMs) : from;
    // A window read in parts is returned part by part once past the watermark: the watermark moves as each part
    // is stored, and memory holds one query result, not the window's (and the part reached back over).
    const records: DiagnosticRecord[] = [];
    const rejected: RejectedDiagnostic[] = [];
    const readUpTo = (end: number): DiagnosticsRead => ({ records, rejected, nextWatermark: `${new Date(end).toISOString()}/${new Date(now).toISOString()}`, more: end < horizon });
    try {
      for await (const part of this.runner.parts(this.windowQuery, Math.min(from, missable), to, this.limits, options)) {
        for (const row of rowObjects(part.table)) {
          const parsed = parseRequestResponse(fromAzureDiagnosticsRow(row));
          if (parsed.ok) records.push(parsed.record);
          else rejected.push({ source: `${this.source}:AzureDiagnostics@${instantText(row['IngestionTime'])}`, reason: parsed.reason, raw: JSON.stringify(row) });
        }
        if (part.to > from) return readUpTo(part.to);
      }
    } catch (error) {
      // No record was ever ingested, so none is missed by moving on: the first ones are read by ingestion time.
      if (error instanceof MissingTableError) return readUpTo(to);
      throw error;
    }
    throw new Error(`Log Analytics returned no part of ${this.windowQuery.label(from, to)}`);
  }
}

/** Token counts from `ApiManagementGatewayLlmLog`, summed per gateway request id, 1,000 ids per query. */
export class LogAnalyticsLlmUsageSource implements LlmUsageSource {
  private readonly runner: QueryRunner;
  private readonly usageQuery = readQueryFile('gateway-llm-usage.kql');
  private readonly idsPerQuery: number;

  constructor(options: LogAnalyticsLlmUsageSourceOptions) {
    this.runner = new QueryRunner(options.client, options.workspaceId, options);
    this.idsPerQuery = positiveInteger(options.idsPerQuery ?? MAX_IDS_PER_QUERY, 'idsPerQuery');
    if (this.idsPerQuery > MAX_IDS_PER_QUERY) throw new RangeError(`idsPerQuery must be at most ${MAX_IDS_PER_QUERY}`);
  }

  async getUsage(gatewayRequestIds: readonly string[], range: { from: Date; to: Date }, options?: StoreOptions): Promise<LlmUsage[]> {
    const ids = [...new Set(gatewayRequestIds)];
    const usage: LlmUsage[] = [];
    for (let start = 0; start < ids.length; start += this.idsPerQuery) {
      for (const row of await this.usageRows(ids.slice(start, start + this.idsPerQuery), range, options)) {
        usage.push({
          gatewayRequestId: String(row['CorrelationId']),
          promptTokens: tokenCount(row, 'PromptTokens'),
          completionTokens: tokenCount(row, 'CompletionTokens'),
          totalTokens: tokenCount(row, 'TotalTokens'),
        });
      }
    }
    return usage;
  }

  /** The usage rows of `ids`, in one query, or in halves when it timed out or answered part of its result. */
  private async usageRows(ids: readonly string[], range: { from: Date; to: Date }, options?: StoreOptions): Promise<Row[]> {
    const timespan = { startTime: new Date(range.from.getTime() - CLOCK_SKEW_MS), endTime: new Date(range.to.getTime() + CLOCK_SKEW_MS) };
    const query = bindQuery(this.usageQuery, { from: kqlDatetime(range.from), to: kqlDatetime(range.to), ids: kqlStringList(ids) });
    try {
      return rowObjects(await this.runner.run(`LLM usage of ${ids.length} requests`, query, timespan, options));
    } catch (error) {
      if (!(error instanceof IncompleteQueryError) || ids.length < 2) throw error;
      const half = Math.ceil(ids.length / 2);
      return [...(await this.usageRows(ids.slice(0, half), range, options)), ...(await this.usageRows(ids.slice(half), range, options))];
    }
  }
}

type Row = Record<string, unknown>;

export function rowObjects(table: LogsTable): Row[] {
  const names = table.columnDescriptors.map((c, i) => c.name ?? `Column${i}`);
  return table.rows.map((cells) => Object.fromEntries(names.map((name, i) => [name, cells[i]])));
}

export function tokenCount(row: Row, column: string): number {
  const value = Number(row[column] ?? 0);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`Log Analytics returned ${column} = ${JSON.stringify(row[column])} for ${String(row['CorrelationId'])}`);
  return value;
}

/**
 * `promise`, or the signal's reason as soon as it aborts. The SDK's `queryWorkspace` does not pass an abort signal
 * on to its HTTP request, so an aborted run stops waiting here; the request ends at its own timeout.
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

/** The service's 504 past `Prefer: wait`, or the client's own timeout, which aborts the request (`AbortError`). */
function isTimeout(error: unknown): boolean {
  return statusCodeOf(error) === 504 || (error as { name?: unknown } | null)?.name === 'AbortError';
}

/** `retry-after-ms`, `x-ms-retry-after-ms` (milliseconds) or `Retry-After` (seconds or an HTTP date). */
function retryAfterInMs(error: unknown): number | undefined {
  const headers = (error as { response?: { headers?: { get?: (name: string) => string | undefined } } } | null)?.response?.headers;
  const header = (name: string) => headers?.get?.(name)?.trim() || undefined;
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const ms = Number(header(name));
    if (header(name) !== undefined && Number.isFinite(ms) && ms >= 0) return ms;
  }
  const retryAfter = header('retry-after');
  if (retryAfter === undefined) return undefined;
  const seconds = Number(retryAfter);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(retryAfter);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be zero or more, got ${value}`);
  return value;
}
