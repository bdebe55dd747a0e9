import { constants } from 'node:buffer';
import { readFile, stat } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { ACTUAL_COST_CURRENCY_COLUMNS, ACTUAL_COST_REQUIRED_COLUMNS, actualCostRowSchema } from '../../contracts/actual-cost-row.js';
import { focusCostRowSchema, type FocusCostRow } from '../../contracts/focus-cost-row.js';
import { focusRowOfActual } from '../../domain/actual-cost-rows.js';
import { csvRecords, focusHeaderProblem, readRecords } from './focus-cost-export.js';

/**
 * Reading a cost export as Azure Cost Management writes it, whichever kind: "Cost and usage details (FOCUS)", or
 * "Cost and usage details (actual)" / "(amortized)" (one layout, EA or MCA column names). The kind is told by the
 * header; rows of either kind are returned in FOCUS terms (see `focusRowOfActual`). A file is CSV (`.csv`, or
 * `.csv.gz` gzipped) or Parquet (`.parquet`), told by its name.
 */

export type CostExportKind = 'focus' | 'actual-or-amortized';

export interface CostExport {
  readonly kind: CostExportKind;
  readonly rows: readonly (FocusCostRow & { readonly line: number })[];
  readonly columns: readonly string[];
}

/** Why the header is not an actual- or amortized-cost export's, or null when it is. */
function actualHeaderProblem(columns: readonly string[]): string | null {
  const names = new Set(columns.map((c) => c.toLowerCase()));
  const missing: string[] = ACTUAL_COST_REQUIRED_COLUMNS.filter((c) => !names.has(c.toLowerCase()));
  if (!ACTUAL_COST_CURRENCY_COLUMNS.some((c) => names.has(c.toLowerCase()))) missing.push(ACTUAL_COST_CURRENCY_COLUMNS.join(' or '));
  return missing.length > 0 ? `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` : null;
}

/** The export's columns under the contract's names: matched without regard to case, the currency under one name. */
function actualColumnNames(columns: readonly string[]): string[] {
  const byLower = new Map<string, string>(Object.keys(actualCostRowSchema.shape).map((c) => [c.toLowerCase(), c]));
  const hasCode = columns.some((c) => c.toLowerCase() === 'billingcurrencycode');
  return columns.map((c) => {
    const lower = c.toLowerCase();
    if (lower === 'billingcurrencycode') return 'BillingCurrency';
    // An EA file's `BillingCurrencyCode` is the currency; any other `BillingCurrency` column is then not read.
    if (lower === 'billingcurrency') return hasCode ? `${c} (unread)` : 'BillingCurrency';
    return byLower.get(lower) ?? c;
  });
}

/** The rows of a cost export's CSV text; throws an `Error` naming the file, and the lines that cannot be read. */
export function parseCostExport(content: string, name = 'cost export'): CostExport {
  const records = csvRecords(content, name);
  const header = records[0];
  if (!header) throw new Error(`${name}: empty file: expected a Cost Management "Cost and usage details" CSV export`);
  return costExportOf(header.fields.map((f) => f.trim()), records.slice(1), name);
}

function costExportOf(columns: readonly string[], records: readonly { line: number; fields: string[] }[], name: string): CostExport {
  const focusProblem = focusHeaderProblem(columns);
  if (focusProblem === null) return { kind: 'focus', rows: readRecords(records, columns, name, (raw) => focusCostRowSchema.safeParse(raw)), columns };
  const actualProblem = actualHeaderProblem(columns);
  if (actualProblem !== null) {
    throw new Error(`${name}: not a "Cost and usage details (FOCUS)" export: ${focusProblem}; nor a "Cost and usage details (actual)" or "(amortized)" export: ${actualProblem}`);
  }
  const rows = readRecords(records, actualColumnNames(columns), name, (raw) => actualCostRowSchema.safeParse(raw));
  return { kind: 'actual-or-amortized', rows: rows.map(({ line, ...row }) => ({ ...focusRowOfActual(row), line })), columns };
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
export async function parseParquetCostExport(bytes: Uint8Array, name = 'cost export'): Promise<CostExport> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let columns: string[];
  let objects: Record<string, unknown>[];
  try {
    columns = parquetSchema(parquetMetadata(file)).children.map((child) => child.element.name);
    objects = await parquetReadObjects({ file });
  } catch (error) {
    throw new Error(`${name}: not a Parquet file that can be read: ${(error as Error).message}`);
  }
  return costExportOf(columns, objects.map((object, i) => ({ line: i + 2, fields: columns.map((c) => parquetText(object[c])) })), name);
}

/** A file `fs.readFile` can read: at most 2 GiB. */
const MAX_FILE_BYTES = 2 ** 31 - 1;
/** CSV text is read whole, as one string: at most `buffer.constants.MAX_STRING_LENGTH` (512 MiB on 64-bit builds). */
const MAX_CSV_BYTES = constants.MAX_STRING_LENGTH;

function tooLarge(name: string, what: string, max: number): Error {
  return new Error(
    `${name}: ${what}, and a cost export is read whole, at most ${max.toLocaleString('en-US')} bytes: export a narrower scope or a shorter period, or keep only the rows whose ResourceId is an Azure AI services account (…/providers/Microsoft.CognitiveServices/accounts/…), the only rows allocate reads`,
  );
}

/**
 * What a cost export file holds, told by its name: the bytes of a Parquet file, else the CSV text (gunzipped when the
 * name ends `.gz`, as an export with gzip compression writes it).
 */
export function costExportContent(bytes: Uint8Array, name: string): string | Uint8Array {
  if (/\.parquet$/i.test(name)) return bytes;
  let csv = bytes;
  if (/\.gz$/i.test(name)) {
    try {
      csv = gunzipSync(bytes, { maxOutputLength: MAX_CSV_BYTES });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(name, 'unzipped, it is larger', MAX_CSV_BYTES);
      throw new Error(`${name}: not a gzip file that can be read (${(error as Error).message})`);
    }
  }
  if (csv.length > MAX_CSV_BYTES) throw tooLarge(name, `${csv.length.toLocaleString('en-US')} bytes of CSV`, MAX_CSV_BYTES);
  return new TextDecoder().decode(csv);
}

/** The rows of a cost export file's content (see `costExportContent`). */
export function parseCostExportContent(content: string | Uint8Array, name: string): Promise<CostExport> {
  return typeof content === 'string' ? Promise.resolve(parseCostExport(content, name)) : parseParquetCostExport(content, name);
}

export async function readCostExport(path: string): Promise<CostExport> {
  const { size } = await stat(path);
  const max = /\.(?:gz|parquet)$/i.test(path) ? MAX_FILE_BYTES : MAX_CSV_BYTES;
  if (size > max) throw tooLarge(path, `${size.toLocaleString('en-US')} bytes`, max);
  return parseCostExportContent(costExportContent(await readFile(path), path), path);
}
