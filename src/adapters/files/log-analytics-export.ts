import { constants } from 'node:buffer';
import { readFile, stat } from 'node:fs/promises';
import { parseCsv } from '../../domain/directory-csv.js';
import { readJsonlChunks } from './jsonl-lines.js';

/** One row of an export, and where it is in the file (`file line N`, `file: row N of the JSON array`, …) for messages. */
export interface ExportRow {
  readonly row: unknown;
  readonly where: string;
}

/** The column an export must have, and the table it is named by in messages. */
export interface ExportTable {
  readonly column: string;
  readonly table: string;
}

export interface ExportReadOptions {
  /**
   * A document read whole (pretty-printed JSON, CSV) may be at most this many bytes; by default the longest string
   * V8 makes (`buffer.constants.MAX_STRING_LENGTH`, 512 MiB on 64-bit builds).
   */
  readonly maxDocumentBytes?: number;
}

/**
 * The rows of a Log Analytics query result saved to a file, in whichever form it was saved:
 *
 * - JSON lines, one row object per line (rows of several exports can be put in one file); a line may also hold a
 *   whole query API response or JSON array, whose rows are taken in turn;
 * - the Log Analytics query API response, `{"tables":[{"name","columns":[{"name","type"}],"rows":[[…]]}]}`
 *   (the first table, `PrimaryResult`, is read);
 * - `az monitor log-analytics query` output: a JSON array of row objects, every value a string (`"None"` for
 *   null) and a `TableName` key added;
 * - the portal's CSV export: a header row (a datetime column is headed `TimeGenerated [UTC]`), times in the
 *   en-US display form.
 *
 * A file whose first line is JSON by itself is read as JSON lines, line by line as it comes, so it may be of any
 * size. Any other (a document written over several lines, a CSV) is read whole, and refused when it is larger than
 * a string can be: one Log Analytics query returns at most 500,000 rows and about 64 MB. A file that is none of
 * these, or a CSV without the `required` column, stops the read with the file and the line.
 */
export async function* readLogAnalyticsExport(file: string, required: ExportTable, options: ExportReadOptions = {}): AsyncGenerator<ExportRow> {
  let line = 0;
  let jsonLines = false;
  reading: for await (const { lines } of readJsonlChunks(file)) {
    for (const text of lines) {
      line++;
      const content = line === 1 && text.startsWith('\uFEFF') ? text.slice(1) : text;
      if (content.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(content);
      } catch {
        if (jsonLines) throw new Error(`${file} line ${line}: not JSON (expected one row object per line)`);
        break reading;
      }
      jsonLines = true;
      yield* lineRows(value, `${file} line ${line}`);
    }
  }
  if (jsonLines || line === 0) return;
  const { size } = await stat(file);
  const maxBytes = options.maxDocumentBytes ?? constants.MAX_STRING_LENGTH;
  if (size > maxBytes) {
    throw new Error(
      `${file}: ${size.toLocaleString('en-US')} bytes, and a query API response, az output or CSV is read whole, at most ${maxBytes.toLocaleString('en-US')} bytes (one query returns at most 500,000 rows and about 64 MB): save the rows as JSON lines, one row object per line, which are read as they come`,
    );
  }
  yield* documentRows(await readFile(file, 'utf8'), file, required);
}

/** The rows of one line of JSON lines: a row object, or a query API response or JSON array saved on one line. */
function lineRows(value: unknown, where: string): Iterable<ExportRow> {
  if (Array.isArray(value)) return arrayRows(value, where);
  if (value !== null && typeof value === 'object' && 'tables' in value) return queryApiRows(value as { tables: unknown }, where);
  return [{ row: withPlainKeys(value), where }];
}

/** The rows of a document written over several lines (pretty-printed JSON) or of a CSV, read whole. */
function documentRows(text: string, file: string, required: ExportTable): Iterable<ExportRow> {
  const content = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const start = content.trimStart()[0];
  if (start === '[' || start === '{') {
    let whole: unknown;
    try {
      whole = JSON.parse(content);
    } catch (error) {
      if (start === '[') throw new Error(`${file}: not JSON: ${(error as Error).message.slice(0, 200)}`);
      throw new Error(`${file} line ${lineOf(content, content.length - content.trimStart().length)}: not JSON (expected one row object per line)`);
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

/** `at`: the file, or the file and its line. */
function* arrayRows(rows: readonly unknown[], at: string): Generator<ExportRow> {
  for (let i = 0; i < rows.length; i++) yield { row: withPlainKeys(rows[i]), where: `${at}: row ${i + 1} of the JSON array` };
}

function queryApiRows(response: { tables: unknown }, at: string): Iterable<ExportRow> {
  const table = Array.isArray(response.tables) ? (response.tables[0] as { columns?: unknown; rows?: unknown } | undefined) : undefined;
  if (!table || !Array.isArray(table.columns) || !Array.isArray(table.rows)) throw new Error(`${at}: "tables" holds no table with "columns" and "rows"`);
  const names = table.columns.map((c: unknown) => (c !== null && typeof c === 'object' ? String((c as { name?: unknown }).name) : String(c)));
  const rows: readonly unknown[] = table.rows;
  return (function* () {
    for (let i = 0; i < rows.length; i++) {
      const cells = rows[i];
      if (!Array.isArray(cells) || cells.length !== names.length) throw new Error(`${at}: tables[0].rows[${i}]: expected ${names.length} values, one per column`);
      yield { row: Object.fromEntries(names.map((name, c) => [name, cells[c]])), where: `${at}: tables[0].rows[${i}]` };
    }
  })();
}

function csvRows(text: string, file: string, required: ExportTable): Iterable<ExportRow> {
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
