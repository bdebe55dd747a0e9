import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { ACTUAL_COST_CURRENCY_COLUMNS, ACTUAL_COST_REQUIRED_COLUMNS, actualCostRowSchema } from '../../contracts/actual-cost-row.js';
import { focusCostRowSchema, type FocusCostRow } from '../../contracts/focus-cost-row.js';
import { focusRowOfActual } from '../../domain/actual-cost-rows.js';
import { csvRecords, focusHeaderProblem, readRecords } from './focus-cost-export.js';

/**
 * Reading a cost export as Azure Cost Management writes it, whichever kind: "Cost and usage details (FOCUS)", or
 * "Cost and usage details (actual)" / "(amortized)" (one layout, EA or MCA column names). The kind is told by the
 * header; rows of either kind are returned in FOCUS terms (see `focusRowOfActual`).
 */

export type CostExportKind = 'focus' | 'actual-or-amortized';

export interface CostExport {
  readonly kind: CostExportKind;
  readonly rows: readonly (FocusCostRow & { readonly line: number })[];
  readonly columns: readonly string[];
}

const ACTUAL_COLUMNS = [...ACTUAL_COST_REQUIRED_COLUMNS, 'MeterSubCategory', 'MeterId', 'ConsumedService', 'Quantity', 'UnitOfMeasure', 'ChargeType', 'PricingModel', 'InvoiceId', 'PayGPrice', 'UnitPrice'] as const;

/** Why the header is not an actual- or amortized-cost export's, or null when it is. */
function actualHeaderProblem(columns: readonly string[]): string | null {
  const names = new Set(columns.map((c) => c.toLowerCase()));
  const missing: string[] = ACTUAL_COST_REQUIRED_COLUMNS.filter((c) => !names.has(c.toLowerCase()));
  if (!ACTUAL_COST_CURRENCY_COLUMNS.some((c) => names.has(c.toLowerCase()))) missing.push(ACTUAL_COST_CURRENCY_COLUMNS.join(' or '));
  return missing.length > 0 ? `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` : null;
}

/** The export's columns under the contract's names: matched without regard to case, the currency under one name. */
function actualColumnNames(columns: readonly string[]): string[] {
  const byLower = new Map<string, string>(ACTUAL_COLUMNS.map((c) => [c.toLowerCase(), c]));
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
  const columns = header.fields.map((f) => f.trim());
  const focusProblem = focusHeaderProblem(columns);
  if (focusProblem === null) return { kind: 'focus', rows: readRecords(records.slice(1), columns, name, (raw) => focusCostRowSchema.safeParse(raw)), columns };
  const actualProblem = actualHeaderProblem(columns);
  if (actualProblem !== null) {
    throw new Error(`${name}: not a "Cost and usage details (FOCUS)" export: ${focusProblem}; nor a "Cost and usage details (actual)" or "(amortized)" export: ${actualProblem}`);
  }
  const rows = readRecords(records.slice(1), actualColumnNames(columns), name, (raw) => actualCostRowSchema.safeParse(raw));
  return { kind: 'actual-or-amortized', rows: rows.map(({ line, ...row }) => ({ ...focusRowOfActual(row), line })), columns };
}

/** A cost export file's text: gunzipped when its name ends `.gz`. */
export async function readCostExportText(path: string): Promise<string> {
  const bytes = await readFile(path);
  return (/\.gz$/i.test(path) ? gunzipSync(bytes) : bytes).toString('utf8');
}

export async function readCostExport(path: string): Promise<CostExport> {
  return parseCostExport(await readCostExportText(path), path);
}
