import { csvField } from '../../src/simulator/cost-export.js';
import { azureDiagnosticsCells, COLUMN_TYPES } from './fake-log-analytics.js';

/**
 * `RequestResponse` records as Log Analytics exports them: the `AzureDiagnostics` row of each archive record
 * (`azureDiagnosticsCells`, the mapping the fake query API answers with), saved the three ways a user saves a
 * query result. The forms follow `test/fixtures/llm-log-exports/README.md`.
 */

type Record_ = Readonly<Record<string, unknown>>;

/** The Log Analytics query API response (`{"tables":[…]}`): values in their JSON types, a datetime in ISO-8601. */
export function queryApiExport(records: readonly Record_[]): string {
  const rows = records.map(azureDiagnosticsCells);
  const columns = Object.keys(rows[0] ?? {});
  const cell = (column: string, value: string | number) => (column === 'TimeGenerated' ? new Date(Date.parse(String(value))).toISOString() : value);
  return JSON.stringify({ tables: [{ name: 'PrimaryResult', columns: columns.map((name) => ({ name, type: COLUMN_TYPES[name] ?? 'string' })), rows: rows.map((row) => columns.map((c) => cell(c, row[c]!))) }] });
}

/** Python's `str(datetime)` with a UTC offset: microseconds, left out when they are 0. */
function pythonInstant(ms: number): string {
  const iso = new Date(ms).toISOString();
  const micro = ms % 1000 === 0 ? '' : `.${iso.slice(20, 23)}000`;
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${micro}+00:00`;
}

/** `az monitor log-analytics query -o json`: row objects, `TableName` first, every value `str(value)` (a real `102.0`). */
export function azCliExport(records: readonly Record_[]): string {
  const rows = records.map(azureDiagnosticsCells).map((row) => ({
    TableName: 'PrimaryResult',
    ...Object.fromEntries(
      Object.entries(row).map(([column, value]) => [column, column === 'TimeGenerated' ? pythonInstant(Date.parse(String(value))) : typeof value === 'number' ? (Number.isInteger(value) ? `${value}.0` : String(value)) : value]),
    ),
  }));
  return JSON.stringify(rows, null, 2);
}

/** The portal's en-US display of a UTC instant: `4/8/2024, 12:23:02.435 PM`. */
function portalInstant(ms: number): string {
  const d = new Date(ms);
  const hour = d.getUTCHours();
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}, ${hour % 12 === 0 ? 12 : hour % 12}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, '0')} ${hour < 12 ? 'AM' : 'PM'}`;
}

/** The portal's Export → CSV (all columns): `TimeGenerated [UTC]` in the display form, CRLF line ends. */
export function portalCsvExport(records: readonly Record_[]): string {
  const rows = records.map(azureDiagnosticsCells);
  const columns = Object.keys(rows[0] ?? {});
  const header = columns.map((c) => (COLUMN_TYPES[c] === 'datetime' ? `${c} [UTC]` : c)).join(',');
  const line = (row: Record<string, string | number>) => columns.map((c) => csvField(c === 'TimeGenerated' ? portalInstant(Date.parse(String(row[c]))) : String(row[c]))).join(',');
  return [header, ...rows.map(line)].map((l) => `${l}\r\n`).join('');
}
