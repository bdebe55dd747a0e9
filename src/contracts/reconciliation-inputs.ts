import { z } from 'zod';
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
    const ms = Date.parse(candidate);
    return Number.isNaN(ms) ? null : new Date(ms).toISOString();
  };
  if (ISO_INSTANT.test(text)) return iso(text);
  const python = PYTHON_INSTANT.exec(text);
  if (python) return iso(`${python[1]}T${python[2]!.slice(0, 12)}${python[3] ?? 'Z'}`);
  const portal = PORTAL_INSTANT.exec(text);
  if (!portal) return null;
  const [month, day, year, hour, minute, second] = portal.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (hour < 1 || hour > 12 || minute > 59 || second > 59) return null;
  const date = new Date(Date.UTC(year, month - 1, day, (hour % 12) + (portal[8]!.toUpperCase() === 'PM' ? 12 : 0), minute, second, Math.round(Number(`0${portal[7] ?? ''}`) * 1000)));
  // A date that rolled over (2/30) is not the date written.
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day ? date.toISOString() : null;
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
 */
export const metricsResponseSchema = z.object({
  value: z.array(
    z.object({
      name: z.object({ value: z.string() }),
      timeseries: z.array(
        z.object({
          metadatavalues: z.array(z.object({ name: z.object({ value: z.string() }), value: z.string() })).default([]),
          data: z.array(z.object({ timeStamp: z.iso.datetime({ offset: true }), total: z.number().nonnegative().nullish() })),
        }),
      ),
    }),
  ),
});

/**
 * A `metrics:getBatch` response (what the Azure path calls, per region and subscription): one metrics response per
 * resource under `values` ("How to migrate from the metrics API to the getBatch API", response format).
 */
export const metricsBatchResponseSchema = z.object({ values: z.array(metricsResponseSchema) });

/** The metrics of every resource of a batch as one response: token counts of one deployment add up across accounts. */
export function unbatched(batch: z.infer<typeof metricsBatchResponseSchema>): z.infer<typeof metricsResponseSchema> {
  return { value: batch.values.flatMap((response) => response.value) };
}

const PROMPT = 'ProcessedPromptTokens';
const GENERATED = 'GeneratedTokens';

/** Sums `ProcessedPromptTokens` and `GeneratedTokens` per UTC hour and deployment (any grain, PT1M included). */
export function toMetricTokens(response: z.infer<typeof metricsResponseSchema>): MetricTokens[] {
  const cells = new Map<string, { hour: string; deployment: string; promptTokens: number; generatedTokens: number }>();
  for (const metric of response.value) {
    if (metric.name.value !== PROMPT && metric.name.value !== GENERATED) continue;
    for (const series of metric.timeseries) {
      const deployment = series.metadatavalues.find((m) => m.name.value.toLowerCase() === 'modeldeploymentname')?.value ?? '(unknown)';
      for (const point of series.data) {
        const hour = new Date(point.timeStamp).toISOString().slice(0, 13);
        const key = `${hour}\u0000${deployment}`;
        const cell = cells.get(key) ?? { hour, deployment, promptTokens: 0, generatedTokens: 0 };
        if (metric.name.value === PROMPT) cell.promptTokens += point.total ?? 0;
        else cell.generatedTokens += point.total ?? 0;
        cells.set(key, cell);
      }
    }
  }
  return [...cells.values()];
}
