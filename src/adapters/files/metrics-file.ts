import { readFile } from 'node:fs/promises';
import { metricsResponseSchema, toMetricTokens, type MetricTokens } from '../../contracts/reconciliation-inputs.js';
import { JsonTextError, parseJsonText } from '../../domain/exact-json.js';
import { describeIssues } from '../../domain/event-normalization.js';

/**
 * An Azure Monitor metrics response saved to a file (the REST API's body, or `az monitor metrics list -o json`), as
 * token counts per hour and deployment. Every error names the file, and the line and column of a JSON syntax error
 * or the field of a wrong shape.
 */
export async function readMetricsFile(path: string): Promise<MetricTokens[]> {
  let json: unknown;
  try {
    json = parseJsonText(await readFile(path, 'utf8'));
  } catch (error) {
    if (error instanceof JsonTextError) throw new Error(`${path}: not JSON: ${error.message}`);
    throw error;
  }
  const response = metricsResponseSchema.safeParse(json);
  if (!response.success) throw new Error(`${path}: ${describeIssues('Azure Monitor metrics response', response.error)}`);
  return toMetricTokens(response.data);
}
