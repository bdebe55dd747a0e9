import { normalizeIdentityKey, type DirectoryRow } from '../contracts/directory.js';
import { teamOf, type ChargebackLine, type ChargebackReport, type ChargebackRow } from './chargeback.js';
import { allocateRounded, formatPicodollars } from './money.js';

/** A cell starting with = + - @, their full-width forms, tab, CR, LF or NUL could run as a formula. */
const STARTS_AS_FORMULA = /^[=+\-@\t\r\n\0\uff1d\uff0b\uff0d\uff20]/;
/**
 * Such a start (after any quotes) behind a semicolon inside a field. Excel opens a .csv with the locale's list
 * separator, `;` in much of Europe, and that reading starts a cell there; a deployment name in a request's URL may
 * hold one. A line break inside a value is left as it is, so that the value reads back whole (README, limitations).
 */
const FORMULA_INSIDE = /;(?="*[=+\-@\t\0\uff1d\uff0b\uff0d\uff20])/g;

/**
 * A CSV field safe to open in a spreadsheet (CSV injection: OWASP WSTG-INPV-21, ASVS 5.0 V1.2.10): a formula start
 * at the beginning of the value, or behind a semicolon in it, gets an apostrophe before it; fields with commas,
 * quotes or newlines are quoted.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const inside = value.replace(FORMULA_INSIDE, ";'");
  const safe = STARTS_AS_FORMULA.test(inside) ? `'${inside}` : inside;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(header: readonly string[], rows: readonly (readonly (string | number | null)[])[]): string {
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

const ROW_COLUMNS = [
  'key', 'identity', 'identityKind', 'displayName', 'team', 'costCenter', 'model', 'deployment', 'requests',
  'promptTokens', 'cachedTokens', 'completionTokens', 'reasoningTokens', 'cost', 'currency', 'priceVersions', 'unpricedRequests',
] as const;

function rowValues(row: ChargebackRow, currency: string): (string | number | null)[] {
  return [
    row.key, row.identity, row.identityKind, row.displayName, row.team, row.costCenter, row.model, row.deployment, row.requests,
    row.promptTokens, row.cachedTokens, row.completionTokens, row.reasoningTokens, row.cost, currency, row.priceVersions.join(' '), row.unpricedRequests,
  ];
}

/**
 * The report as CSV: one line per row, then a TOTAL line whose cost equals the sum of the rows' costs.
 * `unpricedRequests` counts the requests whose cost is missing because no price covered them.
 */
export function chargebackCsv(report: ChargebackReport): string {
  const t = report.totals;
  const total = ['TOTAL', null, null, null, null, null, null, null, t.requests, t.promptTokens, t.cachedTokens, t.completionTokens, t.reasoningTokens, t.cost, report.currency, t.priceVersions.join(' '), t.unpricedRequests];
  return toCsv(ROW_COLUMNS, [...report.rows.map((r) => rowValues(r, report.currency)), total]);
}

/** JSON-safe view of a report: exact picodollar sums as strings (a JSON number would round them). */
export function chargebackJson(report: ChargebackReport): unknown {
  const strip = <T extends { costPico: bigint }>({ costPico, ...rest }: T) => ({ ...rest, costPicodollars: costPico.toString() });
  return { ...report, rows: report.rows.map(strip), totals: strip(report.totals) };
}

/** Chargeback lines as JSON rows with directory attributes; displayed costs sum exactly to the total's. */
export function chargebackLineRows(lines: readonly ChargebackLine[], directory: ReadonlyMap<string, DirectoryRow>, currency: string, decimals = 6) {
  const displayed = allocateRounded(lines.map((l) => l.costPico), decimals);
  return lines.map((line, i) => {
    const entry = directory.get(normalizeIdentityKey(line.identity));
    return {
      identity: line.identity,
      identityKind: entry?.kind ?? line.identityKind,
      displayName: entry?.displayName ?? null,
      ...teamOf(line.identity, entry),
      model: line.model,
      deployment: line.deployment,
      requests: line.requests,
      promptTokens: line.promptTokens,
      cachedTokens: line.cachedTokens,
      completionTokens: line.completionTokens,
      reasoningTokens: line.reasoningTokens,
      cost: formatPicodollars(displayed[i]!, decimals),
      currency,
      priceVersion: line.priceVersion,
      unpriced: line.unpriced,
      tokenSources: line.tokenSources,
    };
  });
}
