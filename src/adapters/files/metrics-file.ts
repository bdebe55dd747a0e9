import { metricsBatchResponseSchema, metricsHours, metricsResponseSchema, toMetricTokens, type HourSpan, type MetricsResponse, type MetricTokens } from '../../contracts/reconciliation-inputs.js';
import { describeIssues } from '../../domain/event-normalization.js';
import { readJsonFile } from './json-file.js';

function isBatch(json: unknown): boolean {
  return typeof json === 'object' && json !== null && 'values' in json && !('value' in json);
}

/** A metrics file's token counts, and the whole hours it was asked for (null when it does not say). */
export interface MetricsFile {
  readonly tokens: MetricTokens[];
  readonly hours: HourSpan | null;
}

/**
 * An Azure Monitor metrics response saved to a file (the REST API's body, `az monitor metrics list -o json`, or a
 * `metrics:getBatch` body, whose resources add up), as token counts per hour and deployment. Every error names the
 * file, and the line and column of a JSON syntax error or the field of a wrong shape.
 */
export async function readMetricsFile(path: string): Promise<MetricsFile> {
  const { json } = await readJsonFile(path);
  let responses: MetricsResponse[];
  if (isBatch(json)) {
    const batch = metricsBatchResponseSchema.safeParse(json);
    if (!batch.success) throw new Error(`${path}: ${describeIssues('Azure Monitor metrics:getBatch response', batch.error)}`);
    responses = batch.data.values;
  } else {
    const response = metricsResponseSchema.safeParse(json);
    if (!response.success) throw new Error(`${path}: ${describeIssues('Azure Monitor metrics response', response.error)}`);
    responses = [response.data];
  }
  try {
    return { tokens: toMetricTokens(...responses), hours: metricsHours(...responses) };
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}
