import { readFile } from 'node:fs/promises';
import { llmLogRowSchema, toLlmUsageRows, type LlmLogRow } from '../../contracts/reconciliation-inputs.js';
import { describeIssues } from '../../domain/event-normalization.js';
import type { LlmUsageRow } from '../../domain/reconciliation.js';
import { logAnalyticsExportRows } from './log-analytics-export.js';

/**
 * An `ApiManagementGatewayLlmLog` export, in whichever form it was saved (`logAnalyticsExportRows`). Rows of one
 * request (APIM splits a large request over several) give one usage (see `toLlmUsageRows`). Every row is
 * validated; the first bad one stops the read with the file and the line (or row) it is on.
 */
export function parseLlmLogExport(text: string, file: string): LlmUsageRow[] {
  return toLlmUsageRows(Array.from(logAnalyticsExportRows(text, file, { column: 'CorrelationId', table: 'ApiManagementGatewayLlmLog' }), ({ row, where }) => validRow(row, where)));
}

export async function readLlmLogExport(file: string): Promise<LlmUsageRow[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`${file}: cannot read the LLM log export (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return parseLlmLogExport(text, file);
}

function validRow(row: unknown, where: string): LlmLogRow {
  const parsed = llmLogRowSchema.safeParse(row);
  if (!parsed.success) throw new Error(`${where}: ${describeIssues('ApiManagementGatewayLlmLog row', parsed.error)}`);
  return parsed.data;
}
