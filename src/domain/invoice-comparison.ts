import type { DirectoryRow } from '../contracts/directory.js';
import { allocationLines } from './allocation-formats.js';
import { formatAmount, readAmount, sumAmounts, UNALLOCATED, type RowAllocation } from './invoice-allocation.js';
import { divideHalfEven, roundToTotal, type Picodollars } from './money.js';

/**
 * The ledger's estimate (tokens at list prices) next to Azure's invoice allocated to the same teams, exactly: what
 * the teams were told their usage costs, and what the bill says once it is split by token share.
 */

export interface TeamInvoiceLine {
  readonly team: string;
  /** The ledger's cost at the price file's (list) prices. */
  readonly estimate: string;
  /** The team's parts of the export's rows. */
  readonly billedCost: string;
  readonly effectiveCost: string;
  /** `billedCost − estimate`, `effectiveCost − estimate`. */
  readonly billedDifference: string;
  readonly effectiveDifference: string;
}

export interface InvoiceComparison {
  readonly currency: string;
  readonly teams: readonly TeamInvoiceLine[];
  readonly unallocated: readonly { readonly reason: string; readonly billedCost: string; readonly effectiveCost: string }[];
  readonly totals: {
    readonly estimate: string;
    /** The export's rows. */
    readonly billedCost: string;
    readonly effectiveCost: string;
    /** Every part: the teams' and the unallocated. */
    readonly allocatedBilledCost: string;
    readonly allocatedEffectiveCost: string;
    readonly unallocatedBilledCost: string;
    readonly unallocatedEffectiveCost: string;
  };
}

export function negateAmount(amount: string): string {
  return amount.startsWith('-') ? amount.slice(1) : `-${amount}`;
}

/** The sign of `a − b` for two decimal texts: -1, 0 or 1. */
export function compareAmounts(a: string, b: string): -1 | 0 | 1 {
  const { units } = readAmount(sumAmounts([a, negateAmount(b)]));
  return units < 0n ? -1 : units > 0n ? 1 : 0;
}

/** An amount rounded half to even at `decimals` decimals, for display. */
export function roundAmount(amount: string, decimals: number): string {
  const { units, scale } = readAmount(amount);
  if (scale <= decimals) return formatAmount(units * 10n ** BigInt(decimals - scale), decimals);
  return formatAmount(divideHalfEven(units, 10n ** BigInt(scale - decimals)), decimals);
}

/**
 * Amounts rounded to `decimals` decimals so that they add up to `roundAmount` of their exact sum, or to `shownTotal`
 * (their sum as a table already shows it, at `decimals`), see `roundToTotal`: the lines of a table then add up to
 * its TOTAL line.
 */
export function roundAmountsToTotal(amounts: readonly string[], decimals: number, shownTotal?: string): string[] {
  const read = amounts.map(readAmount);
  const scale = read.reduce((max, a) => Math.max(max, a.scale), decimals);
  const step = 10n ** BigInt(scale - decimals);
  const totalSteps = shownTotal === undefined ? undefined : readAmount(roundAmount(shownTotal, decimals)).units;
  return roundToTotal(read.map((a) => a.units * 10n ** BigInt(scale - a.scale)), step, totalSteps).map((units) => formatAmount(units / step, decimals));
}

/**
 * Per team: the estimate, the invoice's parts and their difference; teams of either side appear. The unallocated
 * parts are summed by reason, never given to a team.
 */
export function compareEstimateWithInvoice(
  estimates: readonly { readonly team: string; readonly costPico: Picodollars }[],
  allocations: readonly RowAllocation[],
  directory: ReadonlyMap<string, DirectoryRow>,
  currency: string,
): InvoiceComparison {
  const lines = allocationLines(allocations, directory);
  const allocated = lines.filter((line) => line.identity !== UNALLOCATED);
  const unallocated = lines.filter((line) => line.identity === UNALLOCATED);
  const estimateOf = new Map<string, string>();
  for (const e of estimates) estimateOf.set(e.team, sumAmounts([estimateOf.get(e.team) ?? '0', formatAmount(e.costPico, 12)]));
  const teams = [...new Set([...estimateOf.keys(), ...allocated.map((line) => line.team!)])].sort();
  const reasons = [...new Set(unallocated.map((line) => line.reason ?? ''))].sort();
  return {
    currency,
    teams: teams.map((team) => {
      const parts = allocated.filter((line) => line.team === team);
      const estimate = estimateOf.get(team) ?? '0';
      const billedCost = sumAmounts(parts.map((p) => p.billedCost));
      const effectiveCost = sumAmounts(parts.map((p) => p.effectiveCost));
      return {
        team,
        estimate,
        billedCost,
        effectiveCost,
        billedDifference: sumAmounts([billedCost, negateAmount(estimate)]),
        effectiveDifference: sumAmounts([effectiveCost, negateAmount(estimate)]),
      };
    }),
    unallocated: reasons.map((reason) => {
      const parts = unallocated.filter((line) => (line.reason ?? '') === reason);
      return { reason, billedCost: sumAmounts(parts.map((p) => p.billedCost)), effectiveCost: sumAmounts(parts.map((p) => p.effectiveCost)) };
    }),
    totals: {
      estimate: sumAmounts([...estimateOf.values()]),
      billedCost: sumAmounts(allocations.map((a) => a.row.billedCost)),
      effectiveCost: sumAmounts(allocations.map((a) => a.row.effectiveCost)),
      allocatedBilledCost: sumAmounts(lines.map((line) => line.billedCost)),
      allocatedEffectiveCost: sumAmounts(lines.map((line) => line.effectiveCost)),
      unallocatedBilledCost: sumAmounts(unallocated.map((line) => line.billedCost)),
      unallocatedEffectiveCost: sumAmounts(unallocated.map((line) => line.effectiveCost)),
    },
  };
}
