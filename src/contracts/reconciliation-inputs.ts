import { z } from 'zod';
import type { LlmUsageRow, MetricTokens } from '../domain/reconciliation.js';

/** An `ApiManagementGatewayLlmLog` row as exported from Log Analytics (one JSON object per line). */
export const llmLogRowSchema = z.object({
  TimeGenerated: z.string(),
  CorrelationId: z.string().min(1).max(256),
  DeploymentName: z.string().max(256).nullish(),
  PromptTokens: z.number().int().nonnegative(),
  CompletionTokens: z.number().int().nonnegative(),
});

export function toLlmUsageRow(row: z.infer<typeof llmLogRowSchema>): LlmUsageRow {
  return { gatewayRequestId: row.CorrelationId, time: row.TimeGenerated, deployment: row.DeploymentName ?? '(unknown)', promptTokens: row.PromptTokens, completionTokens: row.CompletionTokens };
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
          data: z.array(z.object({ timeStamp: z.string(), total: z.number().nonnegative().nullish() })),
        }),
      ),
    }),
  ),
});

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
