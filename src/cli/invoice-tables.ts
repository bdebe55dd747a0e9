import { sumAmounts } from '../domain/invoice-allocation.js';
import { negateAmount, roundAmount, roundAmountsToTotal } from '../domain/invoice-comparison.js';
import { formatTable } from './table.js';

/** What `report chargeback --basis invoice --format table` prints from: the API's JSON answer, the parts it shows. */
export interface InvoiceTableBody {
  readonly groupBy: string;
  readonly currency: string;
  readonly rows: readonly { key: string; billedCost: string; effectiveCost: string; reasons: readonly { reason: string; billedCost: string }[] | null }[];
  readonly totals: { billedCost: string; effectiveCost: string };
  readonly teams: readonly { team: string; estimate: string; billedCost: string }[] | null;
  readonly exports: readonly string[];
}

/**
 * The invoice report as tables: its rows, then each team's estimate next to its invoice parts (6 decimals shown; the
 * rows rounded so that they add up to the TOTAL line). A team's invoice is shown as its row shows it, and its
 * difference is the invoice minus the estimate as shown: one screen never gives one amount two values.
 */
export function invoiceTables(body: InvoiceTableBody): string {
  const money = (amount: string) => roundAmount(amount, 6);
  if (body.exports.length === 0) return 'No cost export has been allocated for this period yet.\n';
  const billed = roundAmountsToTotal(body.rows.map((r) => r.billedCost), 6);
  const effective = roundAmountsToTotal(body.rows.map((r) => r.effectiveCost), 6);
  let text = formatTable(['key', `billed (${body.currency})`, `effective (${body.currency})`], [...body.rows.map((r, i) => [r.key, billed[i]!, effective[i]!]), ['TOTAL', money(body.totals.billedCost), money(body.totals.effectiveCost)]]) + '\n';
  const unallocatedAt = body.rows.findIndex((r) => r.reasons !== null);
  const reasons = body.rows[unallocatedAt]?.reasons ?? [];
  // The reasons' amounts are rounded to add up to the unallocated row as the table shows it.
  const byReason = unallocatedAt < 0 ? [] : roundAmountsToTotal(reasons.map((u) => u.billedCost), 6, billed[unallocatedAt]);
  reasons.forEach((u, i) => (text += `unallocated ${byReason[i]!} billed: ${u.reason}\n`));
  if (body.teams && body.teams.length > 0) {
    const shownInvoice = new Map(body.groupBy === 'team' ? body.rows.map((r, i) => [r.key, billed[i]!]) : []);
    const lines = body.teams.map((t) => {
      const estimate = money(t.estimate);
      const invoice = shownInvoice.get(t.team) ?? money(t.billedCost);
      return [t.team, estimate, invoice, money(sumAmounts([invoice, negateAmount(estimate)]))];
    });
    text += `\nList-price estimate vs invoice per team (${body.currency})\n`;
    text += formatTable(['team', 'estimate', 'invoice (billed)', 'difference'], lines) + '\n';
  }
  return text;
}
