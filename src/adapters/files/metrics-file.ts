import { metricsResponseSchema, toMetricTokens, type MetricTokens } from '../../contracts/reconciliation-inputs.js';
import { describeIssues } from '../../domain/event-normalization.js';
import { readJsonFile } from './json-file.js';

/**
 * An Azure Monitor metrics response saved to a file (the REST API's body, or `az monitor metrics list -o json`), as
 * token counts per hour and deployment. Every error names the file, and the line and column of a JSON syntax error
 * or the field of a wrong shape.
 */
export async function readMetricsFile(path: string): Promise<MetricTokens[]> {
  const response = metricsResponseSchema.safeParse((await readJsonFile(path)).json);
  if (!response.success) throw new Error(`${path}: ${describeIssues('Azure Monitor metrics response', response.error)}`);
  return toMetricTokens(response.data);
}
