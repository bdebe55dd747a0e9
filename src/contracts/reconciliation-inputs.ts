import { z } from 'zod';
import { isoInstantMs } from './utc-instant.js';
/** One request's tokens in APIM's LLM log, as reconciliation compares them with the ledger. */
export interface LlmUsageRow {
  readonly gatewayRequestId: string;
  readonly time: string;
  readonly deployment: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** Azure Monitor's token metrics of one hour and deployment. */
export interface MetricTokens {
  readonly hour: string;
  readonly deployment: string;
  readonly promptTokens: number;
  readonly generatedTokens: number;
}

/** Whole UTC hours, `YYYY-MM-DDTHH`, from `from` up to but not including `to`. */
export interface HourSpan {
  readonly from: string;
  readonly to: string;
}

/** How exports write "no value": JSON null, an empty CSV cell, or the az CLI's `str(None)`. */
export const noValue = (value: unknown): unknown => (value === null || value === undefined || value === '' || value === 'None' ? null : value);

const tokenCell = z
  .preprocess(noValue, z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,12}$/).transform(Number)], { error: 'expected a token count (a non-negative integer)' }).nullable())
  .optional();

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
/** Python's `str(datetime)`, as `az monitor log-analytics query` prints a datetime column. */
const PYTHON_INSTANT = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:\d{2})?$/;
/** The portal's CSV export: en-US display form, in UTC (`TimeGenerated [UTC]`). */
const PORTAL_INSTANT = /^(\d{1,2})\/(\d{1,2})\/(\d{4}),? (\d{1,2}):(\d{2}):(\d{2})(\.\d{1,7})? ([AaPp][Mm])$/;

/** A `TimeGenerated` value of any of the three exports as an ISO-8601 instant, or null when it is not one. */
export function exportInstant(value: string): string | null {
  const text = value.trim();
  const iso = (candidate: string) => {
    const ms = isoInstantMs(candidate);
    return Number.isNaN(ms) ? null : new Date(ms).toISOString();
  };
  if (ISO_INSTANT.test(text)) return iso(text);
  const python = PYTHON_INSTANT.exec(text);
  if (python) return iso(`${python[1]}T${python[2]}${python[3] ?? 'Z'}`);
  const portal = PORTAL_INSTANT.exec(text);
  if (!portal) return null;
  const [month, day, , hour] = portal.slice(1, 5).map(Number) as [number, number, number, number];
  if (hour < 1 || hour > 12) return null;
  const two = (n: number) => String(n).padStart(2, '0');
  const hour24 = (hour % 12) + (portal[8]!.toUpperCase() === 'PM' ? 12 : 0);
  return iso(`${portal[3]}-${two(month)}-${two(day)}T${two(hour24)}:${portal[5]}:${portal[6]}${portal[7] ?? ''}Z`);
}

/**
 * One `ApiManagementGatewayLlmLog` row as any export writes it: the Log Analytics query API (`tables`), the
 * portal's CSV export, `az monitor log-analytics query` (every value a string), or JSON lines. Message rows of a
 * split request have null, empty or 0 token columns and an empty deployment.
 */
export const llmLogRowSchema = z.object({
  TimeGenerated: z.string().transform((value, ctx) => {
    const instant = exportInstant(value);
    if (instant !== null) return instant;
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value.slice(0, 40))} is not a time (ISO-8601, "YYYY-MM-DD HH:MM:SS+00:00" or "M/D/YYYY, h:mm:ss.fff AM")` });
    return z.NEVER;
  }),
  CorrelationId: z.string().min(1).max(256),
  DeploymentName: z.preprocess(noValue, z.string().max(256).nullable()).optional(),
  PromptTokens: tokenCell,
  CompletionTokens: tokenCell,
});
export type LlmLogRow = z.infer<typeof llmLogRowSchema>;

/**
 * The tokens APIM logged per request: one usage per `CorrelationId` however many rows it was split over. Each
 * count is taken from the row that has it (the largest), never added across rows, so a message row or a
 * repeated row changes nothing; the deployment is the one a row names; the time is the earliest.
 */
export function toLlmUsageRows(rows: Iterable<LlmLogRow>): LlmUsageRow[] {
  const byRequest = new Map<string, { gatewayRequestId: string; time: string; deployment: string | null; promptTokens: number; completionTokens: number }>();
  for (const row of rows) {
    const key = row.CorrelationId.toLowerCase();
    const seen = byRequest.get(key);
    if (!seen) {
      byRequest.set(key, { gatewayRequestId: row.CorrelationId, time: row.TimeGenerated, deployment: row.DeploymentName ?? null, promptTokens: row.PromptTokens ?? 0, completionTokens: row.CompletionTokens ?? 0 });
      continue;
    }
    if (row.TimeGenerated < seen.time) seen.time = row.TimeGenerated;
    seen.deployment ??= row.DeploymentName ?? null;
    seen.promptTokens = Math.max(seen.promptTokens, row.PromptTokens ?? 0);
    seen.completionTokens = Math.max(seen.completionTokens, row.CompletionTokens ?? 0);
  }
  return [...byRequest.values()].map((r) => ({ ...r, deployment: r.deployment ?? '(unknown)' }));
}

/**
 * An Azure Monitor metrics REST response (`…/providers/Microsoft.Insights/metrics`), as `MetricsClient` and
 * `az monitor metrics list` return it: per metric, time series split by the `ModelDeploymentName` dimension.
 * `interval` is the grain the service answered with; a metric it could not read has an `errorCode` other than
 * `Success` and an `errorMessage` (Metrics Batch REST reference, 2024-02-01, `Metric`).
 */
const aggregate = z.number().nullish();

export const metricsResponseSchema = z.object({
  interval: z.string().nullish(),
  /** The span asked for: `timespan` ("start/end") in a metrics response, `starttime` and `endtime` in each of getBatch's. */
  timespan: z.string().nullish(),
  starttime: z.iso.datetime({ offset: true }).nullish(),
  endtime: z.iso.datetime({ offset: true }).nullish(),
  value: z.array(
    z.object({
      id: z.string().nullish(),
      name: z.object({ value: z.string() }),
      errorCode: z.string().nullish(),
      errorMessage: z.string().nullish(),
      timeseries: z.array(
        z.object({
          metadatavalues: z.array(z.object({ name: z.object({ value: z.string() }), value: z.string() })).default([]),
          data: z.array(
            z.object({ timeStamp: z.iso.datetime({ offset: true }), total: z.number().nonnegative().nullish(), average: aggregate, count: aggregate, minimum: aggregate, maximum: aggregate }),
          ),
        }),
      ),
    }),
  ),
});
export type MetricsResponse = z.infer<typeof metricsResponseSchema>;

/**
 * A `metrics:getBatch` response (what the Azure path calls, per region and subscription): one metrics response per
 * resource under `values` ("How to migrate from the metrics API to the getBatch API", response format).
 */
export const metricsBatchResponseSchema = z.object({ values: z.array(metricsResponseSchema) });

const PROMPT = 'ProcessedPromptTokens';
const GENERATED = 'GeneratedTokens';
const MS_PER_MINUTE = 60_000;
const MINUTES_PER_HOUR = 60;

/**
 * Minutes of a grain, or null for `FULL` and anything else: ISO 8601 as the REST API writes it (`PT5M`, `PT1H`,
 * `P1D`), or as `az monitor metrics list -o json` prints it, Python's timedelta (`0:05:00`, `1:00:00`, `1 day, 0:00:00`:
 * the Azure CLI sample in Microsoft Learn's "Estimating Consumption plan costs").
 */
function grainMinutes(interval: string): number | null {
  const iso = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/i.exec(interval);
  const timedelta = /^(?:(\d+) days?, )?(\d+):(\d{2}):00$/.exec(interval);
  const match = iso ?? timedelta;
  if (!match || (match[1] ?? match[2] ?? match[3]) === undefined) return null;
  return Number(match[1] ?? 0) * 1_440 + Number(match[2] ?? 0) * MINUTES_PER_HOUR + Number(match[3] ?? 0);
}

/**
 * The UTC hour a data point's bucket lies in. A point's `timeStamp` starts a bucket of the response's interval; the
 * ledger is checked by the hour, so a bucket must lie within one: an interval that divides an hour, starting on a
 * multiple of it. The service starts buckets at the query's start time (`az monitor metrics list` without
 * `--start-time` starts them at the current minute), and `P1D` or `FULL` buckets span many hours.
 */
function hourOf(timeStamp: string, interval: string | null | undefined): string {
  const ms = Date.parse(timeStamp);
  const hour = new Date(ms).toISOString().slice(0, 13);
  if (interval == null) return hour;
  const minutes = grainMinutes(interval);
  if (minutes === null || minutes === 0 || MINUTES_PER_HOUR % minutes !== 0) {
    throw new RangeError(`metrics of interval ${JSON.stringify(interval.slice(0, 40))} cannot be checked by the hour: ask for PT1H or a shorter interval that divides an hour (PT1M, PT5M, PT15M, PT30M)`);
  }
  if (ms % (minutes * MS_PER_MINUTE) !== 0) {
    throw new RangeError(`data point ${timeStamp} starts a ${interval} bucket that is not within one UTC hour: ask with a start time on a whole hour`);
  }
  return hour;
}

/** Throws for a token metric the service could not read: its missing series are no zero. */
function assertRead(metric: MetricsResponse['value'][number]): void {
  if (metric.errorCode == null || metric.errorCode.toLowerCase() === 'success') return;
  const what = (metric.id ?? metric.name.value).slice(0, 300);
  throw new Error(`Azure Monitor could not read ${what}: ${metric.errorCode.slice(0, 100)}${metric.errorMessage ? `: ${metric.errorMessage.slice(0, 300)}` : ''}`);
}

type DataPoint = MetricsResponse['value'][number]['timeseries'][number]['data'][number];

/**
 * A point's tokens. A point holds only the aggregations asked for (the others absent, or null as `az monitor metrics
 * list` prints them): one with an average or a count but no total was asked without `Total`, and is not zero tokens.
 */
function totalOf(point: DataPoint, metric: string): number {
  if (point.total != null) return point.total;
  const asked = (['average', 'count', 'minimum', 'maximum'] as const).filter((aggregation) => point[aggregation] != null);
  if (asked.length === 0) return 0;
  throw new Error(`${metric} at ${point.timeStamp} has ${asked.join(', ')} but no total: ask for the Total aggregation (az monitor metrics list --aggregation Total)`);
}

/**
 * Sums `ProcessedPromptTokens` and `GeneratedTokens` per UTC hour and deployment over responses (one per account
 * of a getBatch call: a deployment's tokens add up across accounts), at any grain within an hour.
 */
export function toMetricTokens(...responses: readonly MetricsResponse[]): MetricTokens[] {
  const cells = new Map<string, { hour: string; deployment: string; promptTokens: number; generatedTokens: number }>();
  for (const response of responses) {
    for (const metric of response.value) {
      if (metric.name.value !== PROMPT && metric.name.value !== GENERATED) continue;
      assertRead(metric);
      for (const series of metric.timeseries) {
        const deployment = series.metadatavalues.find((m) => m.name.value.toLowerCase() === 'modeldeploymentname')?.value;
        for (const point of series.data) {
          const tokens = totalOf(point, metric.name.value);
          if (tokens === 0) continue;
          // Asked without `ModelDeploymentName eq '*'`, Azure Monitor answers one series for the whole account.
          if (deployment === undefined) {
            throw new Error(`${metric.name.value} is not split by deployment: ask with the filter "ModelDeploymentName eq '*'" (az monitor metrics list --filter)`);
          }
          const hour = hourOf(point.timeStamp, response.interval);
          const key = `${hour}\u0000${deployment}`;
          const cell = cells.get(key) ?? { hour, deployment, promptTokens: 0, generatedTokens: 0 };
          if (metric.name.value === PROMPT) cell.promptTokens += tokens;
          else cell.generatedTokens += tokens;
          cells.set(key, cell);
        }
      }
    }
  }
  return [...cells.values()];
}

const HOUR_MS = MINUTES_PER_HOUR * MS_PER_MINUTE;
const hourText = (ms: number) => new Date(ms).toISOString().slice(0, 13);

/**
 * The whole UTC hours every response's span covers (`timespan`, or `starttime` and `endtime`), or null when one
 * names none: an hour outside was not asked about, which is not an hour without tokens. A span written to the last
 * second of an hour (`…T23:59:59Z`, as a day is often asked for) covers that hour.
 */
export function metricsHours(...responses: readonly MetricsResponse[]): HourSpan | null {
  let from = -Infinity;
  let to = Infinity;
  for (const response of responses) {
    const [start, end] = response.timespan ? response.timespan.split('/') : [response.starttime, response.endtime];
    const [startMs, endMs] = [isoInstantMs(start ?? ''), isoInstantMs(end ?? '')];
    if (Number.isNaN(startMs) || Number.isNaN(endMs)) return null;
    from = Math.max(from, Math.ceil(startMs / HOUR_MS) * HOUR_MS);
    to = Math.min(to, Math.floor((endMs + MS_PER_MINUTE) / HOUR_MS) * HOUR_MS);
  }
  if (!Number.isFinite(from) || !Number.isFinite(to)) return null;
  return { from: hourText(from), to: hourText(Math.max(from, to)) };
}
