import { readFile } from 'node:fs/promises';
import { FOCUS_REQUIRED_COLUMNS, focusCostRowSchema, type FocusCostRow } from '../../contracts/focus-cost-row.js';

/**
 * Reading a "Cost and usage details (FOCUS)" CSV export as Azure Cost Management writes it: RFC 4180 (quoted fields
 * may hold commas, doubled quotes and line breaks; CRLF or LF), an optional UTF-8 byte order mark. Every problem
 * names the file and the line.
 */

export class CsvError extends SyntaxError {}

/** The records of a CSV text, each with the line it starts on. */
export function parseCsv(content: string): { line: number; fields: string[] }[] {
  const textOf = content.charCodeAt(0) === 0xfeff ? content.slice(1) : content;
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let start = 1;
  let quoted = false;
  let afterQuote = false;
  let any = false;
  for (let i = 0; i < textOf.length; i++) {
    const c = textOf[i]!;
    if (quoted) {
      if (c === '"') {
        if (textOf[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
          afterQuote = true;
        }
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === ',') {
      fields.push(field);
      [field, afterQuote, any] = ['', false, true];
    } else if (c === '\n' || (c === '\r' && textOf[i + 1] === '\n')) {
      if (c === '\r') i++;
      if (any || field !== '' || afterQuote) records.push({ line: start, fields: [...fields, field] });
      [fields, field, afterQuote, any] = [[], '', false, false];
      line++;
      start = line;
    } else if (c === '"' && field === '' && !afterQuote) {
      quoted = true;
      any = true;
    } else if (afterQuote) {
      throw new CsvError(`line ${line}: text after a closing quote`);
    } else {
      field += c;
      any = true;
    }
  }
  if (quoted) throw new CsvError(`line ${start}: a quoted field is not closed`);
  if (any || field !== '' || afterQuote) records.push({ line: start, fields: [...fields, field] });
  return records;
}

export interface FocusExport {
  readonly rows: readonly (FocusCostRow & { readonly line: number })[];
  readonly columns: readonly string[];
}

/** Why the header is not a FOCUS export's, or null when it is. */
export function focusHeaderProblem(columns: readonly string[]): string | null {
  const missing = FOCUS_REQUIRED_COLUMNS.filter((c) => !columns.includes(c));
  if (missing.length > 0) return `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`;
  if (!columns.includes('SkuMeter') && !columns.includes('x_SkuMeterName')) return 'no meter column (SkuMeter or x_SkuMeterName)';
  return null;
}

export function csvRecords(content: string, name: string): { line: number; fields: string[] }[] {
  try {
    return parseCsv(content);
  } catch (error) {
    throw new Error(`${name}: ${(error as Error).message}`);
  }
}

/** Each record read by `read` into a row; throws an `Error` listing the lines that cannot be read. */
export function readRecords<T>(
  records: readonly { line: number; fields: string[] }[],
  columns: readonly string[],
  name: string,
  read: (raw: Record<string, string>) => { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } },
): (T & { line: number })[] {
  const rows: (T & { line: number })[] = [];
  const problems: string[] = [];
  for (const record of records) {
    if (record.fields.length !== columns.length) {
      problems.push(`line ${record.line}: ${record.fields.length} fields, the header has ${columns.length}`);
      continue;
    }
    const parsed = read(Object.fromEntries(columns.map((c, i) => [c, record.fields[i]!])));
    if (parsed.success) rows.push({ ...parsed.data, line: record.line });
    else problems.push(`line ${record.line}: ${parsed.error.issues.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`).join('; ')}`);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 20);
    throw new Error(`${name}: ${problems.length} row${problems.length > 1 ? 's' : ''} cannot be read:\n  ${shown.join('\n  ')}${problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : ''}`);
  }
  return rows;
}

/** The rows of a FOCUS cost export's text; throws an `Error` listing the lines that cannot be read. */
export function parseFocusExport(content: string, name = 'cost export'): FocusExport {
  const records = csvRecords(content, name);
  const header = records[0];
  if (!header) throw new Error(`${name}: empty file: expected a "Cost and usage details (FOCUS)" CSV export`);
  const columns = header.fields.map((f) => f.trim());
  const problem = focusHeaderProblem(columns);
  if (problem) throw new Error(`${name}: not a "Cost and usage details (FOCUS)" export: ${problem}`);
  return { rows: readRecords(records.slice(1), columns, name, (raw) => focusCostRowSchema.safeParse(raw)), columns };
}

export async function readFocusExport(path: string): Promise<FocusExport> {
  return parseFocusExport(await readFile(path, 'utf8'), path);
}
