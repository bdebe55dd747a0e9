import { FOCUS_REQUIRED_COLUMNS } from '../../contracts/focus-cost-row.js';

/**
 * The CSV of a cost export as Azure Cost Management writes it: RFC 4180 (quoted fields may hold commas, doubled quotes
 * and line breaks; CRLF or LF), an optional UTF-8 byte order mark; the FOCUS header, and rows read record by record.
 * Every problem names the line (`cost-export.ts` adds the file).
 */

export class CsvError extends SyntaxError {}

export interface CsvRecord {
  /** The line the record starts on. */
  readonly line: number;
  readonly fields: string[];
}

/**
 * A record longer than this is refused: no cost export row comes near it (the longest, with its tags, are a few
 * KB), and a quote left open would otherwise make the rest of a file of any size one record held in memory.
 */
export const MAX_RECORD_CHARS = 1 << 20;

const QUOTE = 0x22;
const COMMA = 0x2c;
const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const BYTE_ORDER_MARK = 0xfeff;

/** The number of line feeds in `text` between `from` and `to`. */
function lineFeeds(text: string, from: number, to: number): number {
  let count = 0;
  for (let at = text.indexOf('\n', from); at !== -1 && at < to; at = text.indexOf('\n', at + 1)) count++;
  return count;
}

interface RecordRead {
  readonly fields: string[];
  /** Where the next record starts, and its line. */
  readonly end: number;
  readonly nextLine: number;
  /** No field, no separator, no quote: a blank line, which is no record. */
  readonly blank: boolean;
}

/**
 * The record of `text` that starts at `at`, on `line`; null when it may go on beyond the text (unless `final`, when
 * the text's end ends it).
 */
function readRecord(text: string, at: number, line: number, final: boolean): RecordRead | null {
  const fields: string[] = [];
  let lines = line;
  let blank = true;
  let i = at;
  for (;;) {
    if (text.charCodeAt(i) === QUOTE) {
      blank = false;
      let value = '';
      let from = i + 1;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote === -1) {
          if (final) throw new CsvError(`line ${line}: a quoted field is not closed`);
          return null;
        }
        lines += lineFeeds(text, from, quote);
        if (text.charCodeAt(quote + 1) === QUOTE) {
          value += text.slice(from, quote + 1);
          from = quote + 2;
          continue;
        }
        value += text.slice(from, quote);
        i = quote + 1;
        break;
      }
      fields.push(value);
      const next = text.charCodeAt(i);
      if (next === COMMA) {
        i++;
        continue;
      }
      if (next === LINE_FEED) return { fields, end: i + 1, nextLine: lines + 1, blank };
      if (next === CARRIAGE_RETURN && text.charCodeAt(i + 1) === LINE_FEED) return { fields, end: i + 2, nextLine: lines + 1, blank };
      if (i === text.length) return final ? { fields, end: i, nextLine: lines, blank } : null;
      if (next === CARRIAGE_RETURN && i + 1 === text.length && !final) return null;
      throw new CsvError(`line ${lines}: text after a closing quote`);
    }
    // An unquoted field: up to a comma or the record's end (a quote inside it is text).
    let j = i;
    let code = 0;
    for (; j < text.length; j++) {
      code = text.charCodeAt(j);
      if (code === COMMA || code === LINE_FEED) break;
      if (code === CARRIAGE_RETURN && text.charCodeAt(j + 1) === LINE_FEED) break;
    }
    if (j === text.length && !final) return null;
    fields.push(text.slice(i, j));
    if (j > i) blank = false;
    if (j === text.length) return { fields, end: j, nextLine: lines, blank };
    if (code === COMMA) {
      blank = false;
      i = j + 1;
      continue;
    }
    return { fields, end: code === CARRIAGE_RETURN ? j + 2 : j + 1, nextLine: lines + 1, blank };
  }
}

/**
 * The records of a CSV text given piece by piece, each as soon as it is complete: RFC 4180 (quoted fields may hold
 * commas, doubled quotes and line breaks; CRLF or LF), an optional byte order mark, blank lines skipped. Only the
 * record begun and not ended is held between pieces.
 */
export class CsvRecordReader {
  /** The text of the record begun and not ended, and the line it starts on. */
  private pending = '';
  private line = 1;
  private started = false;

  /** The records that the text given so far completes. */
  push(text: string): CsvRecord[] {
    return this.read(text, false);
  }

  /** The last record, at the end of the text. */
  end(): CsvRecord[] {
    return this.read('', true);
  }

  private read(piece: string, final: boolean): CsvRecord[] {
    let text = this.pending + piece;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === BYTE_ORDER_MARK) text = text.slice(1);
    }
    const records: CsvRecord[] = [];
    let at = 0;
    let line = this.line;
    while (at < text.length) {
      const record = readRecord(text, at, line, final);
      if (record === null) break;
      if (!record.blank) records.push({ line, fields: record.fields });
      at = record.end;
      line = record.nextLine;
    }
    this.pending = at < text.length ? text.slice(at) : '';
    this.line = line;
    if (this.pending.length > MAX_RECORD_CHARS) {
      throw new CsvError(`line ${line}: a record of more than ${MAX_RECORD_CHARS.toLocaleString('en-US')} characters (is a quote left open?)`);
    }
    return records;
  }
}

/**
 * The size of the pieces a CSV held whole is read in (characters of a text, bytes of a file's content), as a file
 * stream gives its chunks (64 KiB): a record is read from the piece it ends in, not from the whole text. Pieces of
 * a mebibyte made reading a 300 MB export twice as slow.
 */
export const CSV_PIECE = 1 << 16;

/** The records of a CSV text, each with the line it starts on (read a piece of the text at a time). */
export function parseCsv(content: string): CsvRecord[] {
  const reader = new CsvRecordReader();
  const records: CsvRecord[] = [];
  for (let at = 0; at < content.length; at += CSV_PIECE) records.push(...reader.push(content.slice(at, at + CSV_PIECE)));
  records.push(...reader.end());
  return records;
}

/** Why the header is not a FOCUS export's, or null when it is. */
export function focusHeaderProblem(columns: readonly string[]): string | null {
  const missing = FOCUS_REQUIRED_COLUMNS.filter((c) => !columns.includes(c));
  if (missing.length > 0) return `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`;
  if (!columns.includes('SkuMeter') && !columns.includes('x_SkuMeterName')) return 'no meter column (SkuMeter or x_SkuMeterName)';
  return null;
}

/** At most this many lines that cannot be read are named in the error: enough to fix the file, short enough to read. */
const MAX_PROBLEMS_SHOWN = 20;

type RowRead<T> = { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };

/** Reads records into rows one at a time (by `read`, under the header's columns); `check` throws for the lines that could not be read. */
export class RecordRows<T> {
  private problems = 0;
  private readonly shown: string[] = [];

  constructor(
    private readonly columns: readonly string[],
    private readonly name: string,
    private readonly read: (raw: Record<string, string>) => RowRead<T>,
  ) {}

  /** The record's row, or null when it cannot be read (noted for `check`). */
  rowOf(record: CsvRecord): (T & { line: number }) | null {
    const { columns } = this;
    if (record.fields.length !== columns.length) return this.problem(`line ${record.line}: ${record.fields.length} fields, the header has ${columns.length}`);
    const raw: Record<string, string> = {};
    for (let i = 0; i < columns.length; i++) raw[columns[i]!] = record.fields[i]!;
    const parsed = this.read(raw);
    if (parsed.success) return { ...parsed.data, line: record.line };
    return this.problem(`line ${record.line}: ${parsed.error.issues.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`).join('; ')}`);
  }

  /** Throws an `Error` listing the lines that could not be read, if any. */
  check(): void {
    const { problems, shown } = this;
    if (problems === 0) return;
    throw new Error(`${this.name}: ${problems} row${problems > 1 ? 's' : ''} cannot be read:\n  ${shown.join('\n  ')}${problems > shown.length ? `\n  … and ${problems - shown.length} more` : ''}`);
  }

  private problem(text: string): null {
    this.problems++;
    if (this.shown.length < MAX_PROBLEMS_SHOWN) this.shown.push(text);
    return null;
  }
}

/** A CSV problem as an `Error` that names the file. */
export function namedCsvError(error: unknown, name: string): unknown {
  return error instanceof CsvError ? new Error(`${name}: ${error.message}`) : error;
}
