import { readFile } from 'node:fs/promises';
import { llmLogRowSchema, toLlmUsageRows, type LlmLogRow } from '../../contracts/reconciliation-inputs.js';
import { parseCsv } from '../../domain/directory-csv.js';
import { describeIssues } from '../../domain/event-normalization.js';
import type { LlmUsageRow } from '../../domain/reconciliation.js';

/**
 * An `ApiManagementGatewayLlmLog` export, in whichever form it was saved:
 *
 * - the Log Analytics query API response, `{"tables":[{"name","columns":[{"name","type"}],"rows":[[…]]}]}`
 *   (the first table, `PrimaryResult`, is read);
 * - `az monitor log-analytics query` output: a JSON array of row objects, every value a string (`"None"` for
 *   null) and a `TableName` key added;
 * - the portal's CSV export: a header row (a datetime column is headed `TimeGenerated [UTC]`), times in the
 *   en-US display form;
 * - JSON lines, one row object per line.
 *
 * Rows of one request (APIM splits a large request over several) give one usage (see `toLlmUsageRows`). Every
 * row is validated; the first bad one stops the read with the file and the line (or row) it is on.
 */
export function parseLlmLogExport(text: string, file: string): LlmUsageRow[] {
  const content = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const start = content.trimStart()[0];
  if (start === '[' || start === '{') {
    let whole: unknown;
    try {
      whole = JSON.parse(content);
    } catch (error) {
      if (start === '[') throw new Error(`${file}: not JSON: ${(error as Error).message.slice(0, 200)}`);
      return toLlmUsageRows(jsonLines(content, file));
    }
    if (Array.isArray(whole)) return toLlmUsageRows(whole.map((row, i) => validRow(row, `${file}: row ${i + 1} of the JSON array`)));
    if (whole !== null && typeof whole === 'object' && 'tables' in whole) return toLlmUsageRows(queryApiRows(whole as { tables: unknown }, file));
    return toLlmUsageRows([validRow(whole, `${file} line ${lineOf(content, 0)}`)]);
  }
  return toLlmUsageRows(csvRows(content, file));
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

function validRow(value: unknown, where: string): LlmLogRow {
  const row = value !== null && typeof value === 'object' && !Array.isArray(value) ? withPlainKeys(value as Record<string, unknown>) : value;
  const parsed = llmLogRowSchema.safeParse(row);
  if (!parsed.success) throw new Error(`${where}: ${describeIssues('ApiManagementGatewayLlmLog row', parsed.error)}`);
  return parsed.data;
}

/** `TimeGenerated [UTC]` (the portal's header for a datetime column) is `TimeGenerated`. */
function withPlainKeys(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) out[key.replace(/ \[UTC\]$/, '')] = value;
  return out;
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function jsonLines(text: string, file: string): LlmLogRow[] {
  const rows: LlmLogRow[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`${file} line ${i + 1}: not JSON (expected one row object per line)`);
    }
    rows.push(validRow(value, `${file} line ${i + 1}`));
  });
  return rows;
}

function queryApiRows(response: { tables: unknown }, file: string): LlmLogRow[] {
  const table = Array.isArray(response.tables) ? (response.tables[0] as { columns?: unknown; rows?: unknown } | undefined) : undefined;
  if (!table || !Array.isArray(table.columns) || !Array.isArray(table.rows)) throw new Error(`${file}: "tables" holds no table with "columns" and "rows"`);
  const names = table.columns.map((c: unknown) => (c !== null && typeof c === 'object' ? String((c as { name?: unknown }).name) : String(c)));
  return table.rows.map((cells: unknown, i: number) => {
    if (!Array.isArray(cells) || cells.length !== names.length) throw new Error(`${file}: tables[0].rows[${i}]: expected ${names.length} values, one per column`);
    return validRow(Object.fromEntries(names.map((name, c) => [name, cells[c]])), `${file}: tables[0].rows[${i}]`);
  });
}

function csvRows(text: string, file: string): LlmLogRow[] {
  const records = parseCsv(text);
  const header = records[0];
  if (!header) return [];
  if ('error' in header) throw new Error(`${file} line ${header.line}: ${header.error}`);
  const names = header.fields.map((name) => name.trim());
  if (!names.some((n) => n === 'CorrelationId')) {
    throw new Error(`${file} line ${header.line}: not an ApiManagementGatewayLlmLog export (no CorrelationId column; expected a CSV header, a JSON array, a query API response with "tables", or JSON lines)`);
  }
  return records.slice(1).map((record) => {
    if ('error' in record) throw new Error(`${file} line ${record.line}: ${record.error}`);
    if (record.fields.length !== names.length) throw new Error(`${file} line ${record.line}: ${record.fields.length} fields, the header has ${names.length}`);
    return validRow(Object.fromEntries(names.map((name, c) => [name, record.fields[c]])), `${file} line ${record.line}`);
  });
}
