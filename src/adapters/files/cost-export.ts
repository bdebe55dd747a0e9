import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { ACTUAL_COST_REQUIRED_COLUMNS, actualCostRowSchema } from '../../contracts/actual-cost-row.js';
import { focusCostRowSchema, type FocusCostRow } from '../../contracts/focus-cost-row.js';
import { focusRowOfActual } from '../../domain/actual-cost-rows.js';
import { gunzipStream, isZlibError } from './gunzip-stream.js';
import { CSV_PIECE, CsvRecordReader, RecordRows, focusHeaderProblem, namedCsvError, type CsvRecord } from './focus-cost-export.js';

/**
 * Reading a cost export as Azure Cost Management writes it, whichever kind: "Cost and usage details (FOCUS)", or
 * "Cost and usage details (actual)" / "(amortized)" (one layout, EA or MCA column names). The kind is told by the
 * header; rows of either kind are read in FOCUS terms (see `focusRowOfActual`). A file is CSV (`.csv`, or
 * `.csv.gz` gzipped) or Parquet (`.parquet`), told by its name.
 *
 * Every row is read and checked, and a selector keeps the rows its caller reads (allocation: those of Azure OpenAI
 * accounts), so that what is held grows with those rows, not with the export: an enterprise's month is millions of
 * rows of every service.
 */

export type CostExportKind = 'focus' | 'actual-or-amortized';

export type CostExportRow = FocusCostRow & { readonly line: number };

/** What a caller keeps of a row (null: nothing). */
export type RowSelector<T> = (row: CostExportRow) => T | null;

export interface CostExport<T = CostExportRow> {
  readonly kind: CostExportKind;
  /** The rows kept by the selector (without one, every row). */
  readonly rows: readonly T[];
  /** Every row read, kept or not. */
  readonly rowsRead: number;
  readonly columns: readonly string[];
}

const everyRow = (row: CostExportRow) => row;

/** Why the header is not an actual- or amortized-cost export's, or null when it is. */
function actualHeaderProblem(columns: readonly string[]): string | null {
  const names = new Set(columns.map((c) => c.toLowerCase()));
  const missing = ACTUAL_COST_REQUIRED_COLUMNS.filter((column) => !column.names.some((n) => names.has(n.toLowerCase()))).map((column) => column.names.join(' or '));
  return missing.length > 0 ? `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` : null;
}

/** The export's columns under the contract's names: matched without regard to case; of a column's names, the first the file has is read, the others are not. */
function actualColumnNames(columns: readonly string[]): string[] {
  const byLower = new Map<string, string>(Object.keys(actualCostRowSchema.shape).map((c) => [c.toLowerCase(), c]));
  const present = new Set(columns.map((c) => c.toLowerCase()));
  const unread = new Set<string>();
  for (const { key, names } of ACTUAL_COST_REQUIRED_COLUMNS) {
    const [read, ...others] = names.map((n) => n.toLowerCase()).filter((n) => present.has(n));
    if (read === undefined) continue;
    byLower.set(read, key);
    for (const other of others) unread.add(other);
  }
  return columns.map((c) => (unread.has(c.toLowerCase()) ? `${c} (unread)` : (byLower.get(c.toLowerCase()) ?? c)));
}

/** A cost export's rows, from its header on, record by record. */
class CostExportRows<T> {
  readonly kind: CostExportKind;
  private readonly rows: T[] = [];
  private rowsRead = 0;
  private readonly rowOf: (record: CsvRecord) => CostExportRow | null;
  private readonly check: () => void;

  constructor(
    private readonly columns: readonly string[],
    name: string,
    private readonly select: RowSelector<T>,
  ) {
    const focusProblem = focusHeaderProblem(columns);
    if (focusProblem === null) {
      const reader = new RecordRows(columns, name, (raw) => focusCostRowSchema.safeParse(raw));
      this.kind = 'focus';
      this.rowOf = (record) => reader.rowOf(record);
      this.check = () => reader.check();
      return;
    }
    const actualProblem = actualHeaderProblem(columns);
    if (actualProblem !== null) {
      throw new Error(`${name}: not a "Cost and usage details (FOCUS)" export: ${focusProblem}; nor a "Cost and usage details (actual)" or "(amortized)" export: ${actualProblem}`);
    }
    const reader = new RecordRows(actualColumnNames(columns), name, (raw) => actualCostRowSchema.safeParse(raw));
    this.kind = 'actual-or-amortized';
    this.rowOf = (record) => {
      const read = reader.rowOf(record);
      if (read === null) return null;
      const { line, ...row } = read;
      return { ...focusRowOfActual(row), line };
    };
    this.check = () => reader.check();
  }

  add(records: readonly CsvRecord[], from = 0): void {
    for (let i = from; i < records.length; i++) {
      const row = this.rowOf(records[i]!);
      if (row === null) continue;
      this.rowsRead++;
      const kept = this.select(row);
      // A copy: the row's texts are cut from the piece of the file they were read in, which they would keep in memory.
      if (kept !== null) this.rows.push(structuredClone(kept));
    }
  }

  /** The export; throws an `Error` naming the lines that cannot be read. */
  result(): CostExport<T> {
    this.check();
    return { kind: this.kind, rows: this.rows, rowsRead: this.rowsRead, columns: this.columns };
  }
}

/** A cost export's CSV text given piece by piece, read into its rows from its header on. */
class CsvCostExportReader<T> {
  private readonly records = new CsvRecordReader();
  /** Null until the header has come. */
  private rows: CostExportRows<T> | null = null;

  constructor(
    private readonly name: string,
    private readonly select: RowSelector<T>,
  ) {}

  push(text: string): void {
    this.add(() => this.records.push(text));
  }

  /** The export, at the end of the text; throws an `Error` naming the file, and the lines that cannot be read. */
  end(): CostExport<T> {
    this.add(() => this.records.end());
    if (!this.rows) throw new Error(`${this.name}: empty file: expected a Cost Management "Cost and usage details" CSV export`);
    return this.rows.result();
  }

  private add(read: () => readonly CsvRecord[]): void {
    let records: readonly CsvRecord[];
    try {
      records = read();
    } catch (error) {
      throw namedCsvError(error, this.name);
    }
    if (this.rows) return this.rows.add(records);
    const header = records[0];
    if (!header) return;
    this.rows = new CostExportRows(header.fields.map((f) => f.trim()), this.name, this.select);
    this.rows.add(records, 1);
  }
}

/** The rows of a cost export's CSV text; throws an `Error` naming the file, and the lines that cannot be read. */
export function parseCostExport(content: string, name?: string): CostExport;
export function parseCostExport<T>(content: string, name: string, select: RowSelector<T>): CostExport<T>;
export function parseCostExport<T>(content: string, name = 'cost export', select: RowSelector<T> = everyRow as RowSelector<T>): CostExport<T> {
  const reader = new CsvCostExportReader(name, select);
  for (let at = 0; at < content.length; at += CSV_PIECE) reader.push(content.slice(at, at + CSV_PIECE));
  return reader.end();
}

/** The rows of a cost export's CSV bytes as they are read (see `parseCostExport`). */
async function readCsvCostExport<T>(bytes: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, name: string, select: RowSelector<T>): Promise<CostExport<T>> {
  const decoder = new TextDecoder();
  const reader = new CsvCostExportReader(name, select);
  for await (const chunk of bytes) reader.push(decoder.decode(chunk, { stream: true }));
  reader.push(decoder.decode());
  return reader.end();
}

/**
 * A Parquet value as the CSV export writes it: numbers in their shortest exact decimal text, dates and timestamps
 * in ISO 8601 UTC (a date alone at midnight), nested values as JSON, null as an empty field.
 */
function parquetText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return value.toISOString().replace('.000Z', 'Z');
  return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/**
 * The rows of a cost export in Parquet; problems name a row by the line it would have in the CSV export (the header
 * is line 1).
 */
export async function parseParquetCostExport(bytes: Uint8Array, name?: string): Promise<CostExport>;
export async function parseParquetCostExport<T>(bytes: Uint8Array, name: string, select: RowSelector<T>): Promise<CostExport<T>>;
export async function parseParquetCostExport<T>(bytes: Uint8Array, name = 'cost export', select: RowSelector<T> = everyRow as RowSelector<T>): Promise<CostExport<T>> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let columns: string[];
  let objects: Record<string, unknown>[];
  try {
    columns = parquetSchema(parquetMetadata(file)).children.map((child) => child.element.name);
    objects = await parquetReadObjects({ file });
  } catch (error) {
    throw new Error(`${name}: not a Parquet file that can be read: ${(error as Error).message}`);
  }
  const rows = new CostExportRows(columns, name, select);
  rows.add(objects.map((object, i) => ({ line: i + 2, fields: columns.map((c) => parquetText(object[c])) })));
  return rows.result();
}

/** A file `fs.readFile` can read: at most 2 GiB. */
const MAX_FILE_BYTES = 2 ** 31 - 1;

function notGzip(name: string, error: unknown): Error {
  return new Error(`${name}: not a gzip file that can be read (${(error as Error).message})`);
}

/** A gzip file's CSV rows, unzipped as they are read. */
async function readGzipCostExport<T>(bytes: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, name: string, select: RowSelector<T>): Promise<CostExport<T>> {
  try {
    return await readCsvCostExport(gunzipStream(bytes), name, select);
  } catch (error) {
    throw isZlibError(error) ? notGzip(name, error) : error;
  }
}

/** The bytes in pieces: a CSV file's text is decoded and read a piece at a time. */
function* piecesOf(bytes: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += CSV_PIECE) yield bytes.subarray(at, at + CSV_PIECE);
}

/** Every byte of `bytes`, held whole. */
export async function wholeOf(bytes: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of bytes) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * The rows that `select` keeps of a cost export file's bytes, held or as they are read, told by its name: Parquet
 * (read whole), CSV gzipped (`.gz`, as an export with gzip compression writes it) or not (read as they come).
 */
export async function readCostExportContent<T>(content: Uint8Array | AsyncIterable<Uint8Array>, name: string, select: RowSelector<T>): Promise<CostExport<T>> {
  if (/\.parquet$/i.test(name)) return parseParquetCostExport(content instanceof Uint8Array ? content : await wholeOf(content), name, select);
  const bytes = content instanceof Uint8Array ? piecesOf(content) : content;
  return /\.gz$/i.test(name) ? readGzipCostExport(bytes, name, select) : readCsvCostExport(bytes, name, select);
}

/** The rows that `select` keeps of a cost export file: a CSV file (gzipped or not) is read as it comes, a Parquet file whole. */
export async function readCostExport(path: string): Promise<CostExport>;
export async function readCostExport<T>(path: string, select: RowSelector<T>): Promise<CostExport<T>>;
export async function readCostExport<T>(path: string, select: RowSelector<T> = everyRow as RowSelector<T>): Promise<CostExport<T>> {
  if (!/\.parquet$/i.test(path)) return readCostExportContent(createReadStream(path), path, select);
  const { size } = await stat(path);
  if (size > MAX_FILE_BYTES) throw new Error(`${path}: ${size.toLocaleString('en-US')} bytes, and a Parquet file is read whole, at most ${MAX_FILE_BYTES.toLocaleString('en-US')} bytes: export a narrower scope or a shorter period, or with file partitioning`);
  return parseParquetCostExport(await readFile(path), path, select);
}
