import { normalizeIdentityKey, type DirectoryRow } from '../contracts/directory.js';
import type { Basis } from '../contracts/report-query.js';
import { canSeeIdentity, type ChargebackScope } from './access.js';
import { amountsCsv } from './allocation-formats.js';
import { UNMAPPED } from './chargeback.js';
import { sumAmounts, UNALLOCATED, type RowAllocation } from './invoice-allocation.js';
import { compareEstimateWithInvoice, type TeamInvoiceLine } from './invoice-comparison.js';
import type { Picodollars } from './money.js';

/**
 * A chargeback report on Azure's invoice: the allocated parts of the cost export's rows, grouped by identity, team
 * or cost center, amounts exact as the export wrote them. What could not be attributed is one row of its own
 * (`unallocated`), with its amounts by reason; it is never spread over the groups.
 */

export type InvoiceGroupBy = 'identity' | 'team' | 'costCenter';

export interface InvoiceReportRow {
  /** The group's key, or `unallocated`. */
  readonly key: string;
  readonly identity: string | null;
  readonly displayName: string | null;
  readonly team: string | null;
  readonly costCenter: string | null;
  readonly billedCost: string;
  readonly effectiveCost: string;
  /** Tokens of the parts (a decimal integer). */
  readonly tokens: string;
  /** For the `unallocated` row, its amounts by reason; null for any other. */
  readonly reasons: readonly { readonly reason: string; readonly billedCost: string; readonly effectiveCost: string }[] | null;
}

export interface InvoiceReport {
  readonly basis: Extract<Basis, 'invoice'>;
  readonly groupBy: InvoiceGroupBy;
  /** The export's billing currency. */
  readonly currency: string;
  readonly rows: readonly InvoiceReportRow[];
  readonly totals: { readonly billedCost: string; readonly effectiveCost: string; readonly tokens: string };
  /**
   * Per team, the ledger's list-price estimate next to the team's parts of the invoice and their difference
   * (`billedDifference` = billed − estimate); null when the invoice is in another currency than the price table.
   */
  readonly teams: readonly TeamInvoiceLine[] | null;
}

/** The parts the scope may see: all for `all`, else only the caller's own identity's (never the unallocated). */
export function visibleAllocations(allocations: readonly RowAllocation[], scope: ChargebackScope): RowAllocation[] {
  if (scope === 'all') return [...allocations];
  return allocations.map(({ row, parts }) => ({ row, parts: parts.filter((p) => p.identity !== UNALLOCATED && canSeeIdentity(scope, p.identity)) }));
}

/** The one currency of the rows; a RangeError when they bill in several. */
export function currencyOf(allocations: readonly RowAllocation[], fallback: string): string {
  const currencies = [...new Set(allocations.map((a) => a.row.currency))].sort();
  if (currencies.length > 1) throw new RangeError(`the period's cost exports bill in several currencies (${currencies.join(', ')}): ask for a period of one billing currency`);
  return currencies[0] ?? fallback;
}

/**
 * Groups the (already visible) parts; `estimates` are the list-price report's costs per team for the same period
 * and scope, in `estimateCurrency`.
 */
export function invoiceReport(
  allocations: readonly RowAllocation[],
  options: {
    readonly groupBy: InvoiceGroupBy;
    readonly directory: ReadonlyMap<string, DirectoryRow>;
    readonly estimates: readonly { readonly team: string; readonly costPico: Picodollars }[];
    readonly estimateCurrency: string;
  },
): InvoiceReport {
  const currency = currencyOf(allocations, options.estimateCurrency);
  const directoryOf = (identity: string) => options.directory.get(normalizeIdentityKey(identity));
  const keyOf = (identity: string): string => {
    if (options.groupBy === 'identity') return identity;
    return (options.groupBy === 'team' ? directoryOf(identity)?.team : directoryOf(identity)?.costCenter) ?? UNMAPPED;
  };
  type Group = { billed: string[]; effective: string[]; tokens: bigint; reasons: Map<string, { billed: string[]; effective: string[] }> };
  const newGroup = (): Group => ({ billed: [], effective: [], tokens: 0n, reasons: new Map() });
  // Apart from the groups: a team or cost center may be named `unallocated` too.
  let unallocatedGroup: Group | null = null;
  const groups = new Map<string, Group>();
  for (const { parts } of allocations) {
    for (const part of parts) {
      let group: Group;
      if (part.identity === UNALLOCATED) group = unallocatedGroup ??= newGroup();
      else {
        const key = keyOf(part.identity);
        group = groups.get(key) ?? newGroup();
        groups.set(key, group);
      }
      group.billed.push(part.billedCost);
      group.effective.push(part.effectiveCost);
      group.tokens += part.tokens;
      if (part.identity === UNALLOCATED) {
        const reason = group.reasons.get(part.reason ?? '') ?? { billed: [] as string[], effective: [] as string[] };
        reason.billed.push(part.billedCost);
        reason.effective.push(part.effectiveCost);
        group.reasons.set(part.reason ?? '', reason);
      }
    }
  }
  // The unallocated row last, whatever the keys.
  const ordered: [string, Group, boolean][] = [...groups.keys()].sort().map((key) => [key, groups.get(key)!, false]);
  if (unallocatedGroup) ordered.push([UNALLOCATED, unallocatedGroup, true]);
  const rows = ordered.map(([key, group, unallocated]): InvoiceReportRow => {
    const identity = options.groupBy === 'identity' && !unallocated ? key : null;
    const entry = identity ? directoryOf(identity) : undefined;
    return {
      key,
      identity,
      displayName: entry?.displayName ?? null,
      team: unallocated ? null : identity ? (entry?.team ?? UNMAPPED) : options.groupBy === 'team' ? key : null,
      costCenter: unallocated ? null : identity ? (entry?.costCenter ?? UNMAPPED) : options.groupBy === 'costCenter' ? key : null,
      billedCost: sumAmounts(group.billed),
      effectiveCost: sumAmounts(group.effective),
      tokens: group.tokens.toString(),
      reasons: unallocated
        ? [...group.reasons.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([reason, r]) => ({ reason, billedCost: sumAmounts(r.billed), effectiveCost: sumAmounts(r.effective) }))
        : null,
    };
  });
  const parts = allocations.flatMap((a) => a.parts);
  const comparable = currency === options.estimateCurrency;
  return {
    basis: 'invoice',
    groupBy: options.groupBy,
    currency,
    rows,
    totals: { billedCost: sumAmounts(parts.map((p) => p.billedCost)), effectiveCost: sumAmounts(parts.map((p) => p.effectiveCost)), tokens: parts.reduce((n, p) => n + p.tokens, 0n).toString() },
    teams: comparable ? compareEstimateWithInvoice(options.estimates, allocations, options.directory, currency).teams : null,
  };
}

const INVOICE_COLUMNS = ['key', 'identity', 'displayName', 'team', 'costCenter', 'billedCost', 'effectiveCost', 'tokens', 'currency'] as const;

/** The invoice report as CSV: one line per row, then a TOTAL line; amounts keep their sign. */
export function invoiceReportCsv(report: InvoiceReport): string {
  const t = report.totals;
  return amountsCsv(INVOICE_COLUMNS, [
    ...report.rows.map((r) => [r.key, r.identity, r.displayName, r.team, r.costCenter, r.billedCost, r.effectiveCost, r.tokens, report.currency]),
    ['TOTAL', null, null, null, null, t.billedCost, t.effectiveCost, t.tokens, report.currency],
  ]);
}
