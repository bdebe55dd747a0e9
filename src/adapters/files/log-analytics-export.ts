import { parseCsv } from '../../domain/directory-csv.js';

/** One row of an export, and where it is in the file (`file line N`, `file: row N of the JSON array`, …) for messages. */
export interface ExportRow {
  readonly row: unknown;
  readonly where: string;
}

/**
 * The rows of a Log Analytics query result saved to a file, in whichever form it was saved:
 *
 * - the Log Analytics query API response, `{"tables":[{"name","columns":[{"name","type"}],"rows":[[…]]}]}`
 *   (the first table, `PrimaryResult`, is read);
 * - `az monitor log-analytics query` output: a JSON array of row objects, every value a string (`"None"` for
 *   null) and a `TableName` key added;
 * - the portal's CSV export: a header row (a datetime column is headed `TimeGenerated [UTC]`), times in the
 *   en-US display form;
 * - JSON lines, one row object per line.
 *
 * A file that is none of these, or a CSV without the `required` column, stops the read with the file and the line.
 * Rows are made one at a time, as they are taken.
 */
export function logAnalyticsExportRows(text: string, file: string, required: { readonly column: string; readonly table: string }): Iterable<ExportRow> {
  const content = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const start = content.trimStart()[0];
  if (start === '[' || start === '{') {
    let whole: unknown;
    try {
      whole = JSON.parse(content);
    } catch (error) {
      if (start === '[') throw new Error(`${file}: not JSON: ${(error as Error).message.slice(0, 200)}`);
      return jsonLines(content, file);
    }
    if (Array.isArray(whole)) return arrayRows(whole, file);
    if (whole !== null && typeof whole === 'object' && 'tables' in whole) return queryApiRows(whole as { tables: unknown }, file);
    return [{ row: withPlainKeys(whole), where: `${file} line ${lineOf(content, 0)}` }];
  }
  return csvRows(content, file, required);
}

/** `TimeGenerated [UTC]` (the portal's header for a datetime column) is `TimeGenerated`. */
function withPlainKeys(row: unknown): unknown {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) return row;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) out[key.replace(/ \[UTC\]$/, '')] = value;
  return out;
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function* arrayRows(rows: readonly unknown[], file: string): Generator<ExportRow> {
  for (let i = 0; i < rows.length; i++) yield { row: withPlainKeys(rows[i]), where: `${file}: row ${i + 1} of the JSON array` };
}

function* jsonLines(text: string, file: string): Generator<ExportRow> {
  let line = 0;
  for (let start = 0; start < text.length; line++) {
    const end = text.indexOf('\n', start);
    const content = text.slice(start, end < 0 ? text.length : end);
    start = end < 0 ? text.length : end + 1;
    if (content.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch {
      throw new Error(`${file} line ${line + 1}: not JSON (expected one row object per line)`);
    }
    yield { row: withPlainKeys(value), where: `${file} line ${line + 1}` };
  }
}

function queryApiRows(response: { tables: unknown }, file: string): Iterable<ExportRow> {
  const table = Array.isArray(response.tables) ? (response.tables[0] as { columns?: unknown; rows?: unknown } | undefined) : undefined;
  if (!table || !Array.isArray(table.columns) || !Array.isArray(table.rows)) throw new Error(`${file}: "tables" holds no table with "columns" and "rows"`);
  const names = table.columns.map((c: unknown) => (c !== null && typeof c === 'object' ? String((c as { name?: unknown }).name) : String(c)));
  const rows: readonly unknown[] = table.rows;
  return (function* () {
    for (let i = 0; i < rows.length; i++) {
      const cells = rows[i];
      if (!Array.isArray(cells) || cells.length !== names.length) throw new Error(`${file}: tables[0].rows[${i}]: expected ${names.length} values, one per column`);
      yield { row: Object.fromEntries(names.map((name, c) => [name, cells[c]])), where: `${file}: tables[0].rows[${i}]` };
    }
  })();
}

function csvRows(text: string, file: string, required: { readonly column: string; readonly table: string }): Iterable<ExportRow> {
  const records = parseCsv(text);
  const header = records[0];
  if (!header) return [];
  if ('error' in header) throw new Error(`${file} line ${header.line}: ${header.error}`);
  const names = header.fields.map((name) => name.trim());
  if (!names.some((n) => n === required.column)) {
    throw new Error(`${file} line ${header.line}: not an ${required.table} export (no ${required.column} column; expected a CSV header, a JSON array, a query API response with "tables", or JSON lines)`);
  }
  return (function* () {
    for (const record of records.slice(1)) {
      if ('error' in record) throw new Error(`${file} line ${record.line}: ${record.error}`);
      if (record.fields.length !== names.length) throw new Error(`${file} line ${record.line}: ${record.fields.length} fields, the header has ${names.length}`);
      yield { row: withPlainKeys(Object.fromEntries(names.map((name, c) => [name, record.fields[c]]))), where: `${file} line ${record.line}` };
    }
  })();
}
