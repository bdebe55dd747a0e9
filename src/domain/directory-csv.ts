import { describeIssues, directoryRowSchema, type DirectoryRow } from '../contracts/directory.js';

/**
 * The identity directory as finance keeps it: a CSV file (RFC 4180) with the header
 * `identity,displayName,team,costCenter`, optionally followed by `,kind`.
 *
 * The CSV reader is small on purpose: quoted fields, `""` for a quote inside a quoted field, commas and line
 * breaks inside quotes, CRLF, LF or CR line breaks, an optional UTF-8 byte order mark. Empty lines hold no record
 * and are skipped. A quote inside an unquoted field, text after a closing quote and an unterminated quote are
 * errors, never guessed at.
 */

/** A record with the physical line it starts on (1-based; a quoted field may span lines), or why it is unreadable. */
export type CsvRecord = { readonly line: number; readonly fields: readonly string[] } | { readonly line: number; readonly error: string };

export interface DirectoryCsvError {
  /** The physical line (1-based, the header is line 1) the faulty record starts on. */
  readonly line: number;
  readonly reason: string;
}

export interface DirectoryCsvResult {
  readonly rows: DirectoryRow[];
  readonly errors: DirectoryCsvError[];
}

export const DIRECTORY_COLUMNS = ['identity', 'displayName', 'team', 'costCenter'] as const;
export const DIRECTORY_OPTIONAL_COLUMNS = ['kind'] as const;
const HEADER_TEXT = `${DIRECTORY_COLUMNS.join(',')} (optionally followed by ,${DIRECTORY_OPTIONAL_COLUMNS.join(',')})`;

/** Splits CSV text into records, in order; an unreadable record is reported and reading goes on at the next line. */
export function parseCsv(text: string): CsvRecord[] {
  const input = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let i = 0;
  let line = 1;

  /** Consumes a line break at `i` if there is one (CRLF counts as one). */
  const lineBreak = (): boolean => {
    const c = input[i];
    if (c === '\n') i += 1;
    else if (c === '\r') i += input[i + 1] === '\n' ? 2 : 1;
    else return false;
    line++;
    return true;
  };
  /** Skips the rest of a broken record: up to and including the next line break. */
  const skipLine = (): void => {
    while (i < input.length && !lineBreak()) i++;
  };

  while (i < input.length) {
    const start = line;
    // Files joined byte for byte (`cat a.csv b.csv`) keep each file's byte-order mark before its first record.
    if (input[i] === '\uFEFF') i += 1;
    if (lineBreak()) continue; // an empty line
    const fields: string[] = [];
    let error: string | null = null;
    for (;;) {
      let field = '';
      if (input[i] === '"') {
        i++;
        let closed = false;
        while (i < input.length) {
          const c = input[i]!;
          if (c === '"') {
            if (input[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (c === '\r' || c === '\n') {
            const from = i;
            lineBreak();
            field += input.slice(from, i);
            continue;
          }
          field += c;
          i++;
        }
        if (!closed) {
          error = `unterminated quoted field (field ${fields.length + 1})`;
          break;
        }
        if (i < input.length && input[i] !== ',' && input[i] !== '\r' && input[i] !== '\n') {
          error = `unexpected character after the closing quote of field ${fields.length + 1}`;
          skipLine();
          break;
        }
      } else {
        while (i < input.length && input[i] !== ',' && input[i] !== '\r' && input[i] !== '\n') {
          if (input[i] === '"') break;
          field += input[i];
          i++;
        }
        if (input[i] === '"') {
          error = `quote inside unquoted field ${fields.length + 1} (quote the whole field and double the quote)`;
          skipLine();
          break;
        }
      }
      fields.push(field);
      if (input[i] === ',') {
        i++;
        continue;
      }
      lineBreak();
      break;
    }
    records.push(error === null ? { line: start, fields } : { line: start, error });
  }
  return records;
}

/**
 * Reads the directory file. Every faulty line yields an error with its line number and no row: a CSV syntax error,
 * a wrong number of fields, a value the schema refuses (`directoryRowSchema`). An identity listed more than once
 * (after normalisation) yields an error on each later line naming the first, and none of its lines yields a row,
 * since the file does not say which one is right. A wrong header is a single error and no row is read.
 */
export function parseDirectoryCsv(text: string): DirectoryCsvResult {
  const records = parseCsv(text);
  const header = records[0];
  if (header === undefined) return { rows: [], errors: [{ line: 1, reason: `missing header: expected ${HEADER_TEXT}` }] };
  if ('error' in header) return { rows: [], errors: [{ line: header.line, reason: `unreadable header: ${header.error}` }] };
  const columns = checkHeader(header.fields);
  if (columns === null) {
    const got = JSON.stringify(header.fields.join(',')).slice(0, 200);
    return { rows: [], errors: [{ line: header.line, reason: `header must be exactly ${HEADER_TEXT}, got ${got}` }] };
  }

  const errors: DirectoryCsvError[] = [];
  const valid: { line: number; row: DirectoryRow }[] = [];
  const firstLine = new Map<string, number>();
  const duplicated = new Set<string>();
  for (const record of records.slice(1)) {
    if ('error' in record) {
      errors.push({ line: record.line, reason: record.error });
      continue;
    }
    // A spreadsheet writes a row that once held content or formatting as separators only (`,,,`): an empty line.
    if (record.fields.every((field) => field.trim() === '')) continue;
    if (record.fields.length === header.fields.length && record.fields.every((field, i) => field === header.fields[i])) {
      errors.push({ line: record.line, reason: 'the header again: files joined together? Keep the first header only' });
      continue;
    }
    if (record.fields.length !== columns.length) {
      errors.push({ line: record.line, reason: `expected ${columns.length} fields (${columns.join(',')}), got ${record.fields.length}` });
      continue;
    }
    const candidate: Record<string, string> = {};
    columns.forEach((column, index) => {
      const value = record.fields[index]!;
      // An empty kind means "not given"; every other column must have a value.
      if (!(column === 'kind' && value.trim() === '')) candidate[column] = value;
    });
    const parsed = directoryRowSchema.safeParse(candidate);
    if (!parsed.success) {
      errors.push({ line: record.line, reason: describeIssues(parsed.error) });
      continue;
    }
    const identity = parsed.data.identity;
    const first = firstLine.get(identity);
    if (first !== undefined) {
      duplicated.add(identity);
      errors.push({ line: record.line, reason: `duplicate identity ${JSON.stringify(identity.slice(0, 80))}: lines ${first} and ${record.line}` });
      continue;
    }
    firstLine.set(identity, record.line);
    valid.push({ line: record.line, row: parsed.data });
  }
  return { rows: valid.filter((v) => !duplicated.has(v.row.identity)).map((v) => v.row), errors };
}

function checkHeader(fields: readonly string[]): readonly string[] | null {
  const required: readonly string[] = DIRECTORY_COLUMNS;
  const all: readonly string[] = [...DIRECTORY_COLUMNS, ...DIRECTORY_OPTIONAL_COLUMNS];
  if (fields.length === required.length && fields.every((f, i) => f === required[i])) return required;
  if (fields.length === all.length && fields.every((f, i) => f === all[i])) return all;
  return null;
}

/**
 * Writes rows as a directory file `parseDirectoryCsv` reads back to the same rows: the header with `kind`, CRLF
 * line breaks, a field quoted when it holds a comma, quote or line break. Values are written as they are (no
 * formula escaping): the file is for the import, not for a spreadsheet.
 */
export function directoryCsv(rows: readonly DirectoryRow[]): string {
  return directoryCsvParts(rows, Infinity)[0]!;
}

/**
 * `rows` as directory files of at most `maxBytes` each (UTF-8), every one with its header, in the order of the rows;
 * one file when they fit (an empty one for no rows).
 */
export function directoryCsvParts(rows: readonly DirectoryRow[], maxBytes: number): string[] {
  const field = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
  const header = `${[...DIRECTORY_COLUMNS, ...DIRECTORY_OPTIONAL_COLUMNS].join(',')}\r\n`;
  const parts: string[] = [];
  let part = header;
  let bytes = header.length;
  for (const r of rows) {
    const line = `${[r.identity, r.displayName, r.team, r.costCenter, r.kind ?? ''].map(field).join(',')}\r\n`;
    const size = Buffer.byteLength(line, 'utf8');
    if (part !== header && bytes + size > maxBytes) {
      parts.push(part);
      [part, bytes] = [header, header.length];
    }
    part += line;
    bytes += size;
  }
  parts.push(part);
  return parts;
}

/** Why a directory CSV is refused when its bytes are not UTF-8. */
export const NOT_UTF8_CSV = 'is not UTF-8 text (save it as "CSV UTF-8")';

/**
 * The text of a directory CSV, or null when its bytes are not UTF-8: Excel's "CSV (Comma delimited)" is saved in the
 * locale's code page, whose names would be read garbled.
 */
export function directoryCsvText(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}
