import { llmLogRowSchema, toLlmUsageRows, type LlmLogRow } from '../../contracts/reconciliation-inputs.js';
import { describeIssues } from '../../domain/event-normalization.js';
import type { LlmUsageRow } from '../../domain/reconciliation.js';
import { readLogAnalyticsExport } from './log-analytics-export.js';

const LLM_LOG_EXPORT = { column: 'CorrelationId', table: 'ApiManagementGatewayLlmLog' } as const;

/**
 * An `ApiManagementGatewayLlmLog` export, in whichever form it was saved (`readLogAnalyticsExport`). Rows of one
 * request (APIM splits a large request over several) give one usage (see `toLlmUsageRows`). Every row is
 * validated as it is read; the first bad one stops the read with the file and the line (or row) it is on.
 */
export async function readLlmLogExport(file: string): Promise<LlmUsageRow[]> {
  const rows: LlmLogRow[] = [];
  try {
    for await (const { row, where } of readLogAnalyticsExport(file, LLM_LOG_EXPORT)) rows.push(validRow(row, where));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The file's own errors (ENOENT, EISDIR, …) are told with its name; the export's name their line already.
    if (typeof code === 'string') throw new Error(`${file}: cannot read the LLM log export (${code})`);
    throw error;
  }
  return toLlmUsageRows(rows);
}

function validRow(row: unknown, where: string): LlmLogRow {
  const parsed = llmLogRowSchema.safeParse(row);
  if (!parsed.success) throw new Error(`${where}: ${describeIssues('ApiManagementGatewayLlmLog row', parsed.error)}`);
  return parsed.data;
}
