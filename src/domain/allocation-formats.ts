import { normalizeIdentityKey, type DirectoryRow } from '../contracts/directory.js';
import { UNMAPPED } from './chargeback.js';
import { csvField } from './chargeback-formats.js';
import { sumAmounts, UNALLOCATED, type RowAllocation } from './invoice-allocation.js';

/** One allocated amount: a part of one cost row, for one identity or unallocated. */
export interface AllocationLine {
  readonly identity: string;
  readonly team: string | null;
  readonly costCenter: string | null;
  readonly resourceId: string;
  readonly meter: string;
  readonly chargePeriodStart: string;
  readonly billedCost: string;
  readonly effectiveCost: string;
  readonly tokens: number;
  readonly reason: string | null;
}

export function allocationLines(allocations: readonly RowAllocation[], directory: ReadonlyMap<string, DirectoryRow>): AllocationLine[] {
  return allocations.flatMap(({ row, parts }) =>
    parts.map((part) => {
      const entry = part.identity === UNALLOCATED ? undefined : directory.get(normalizeIdentityKey(part.identity));
      const unallocated = part.identity === UNALLOCATED;
      return {
        identity: part.identity,
        team: unallocated ? null : (entry?.team ?? UNMAPPED),
        costCenter: unallocated ? null : (entry?.costCenter ?? UNMAPPED),
        resourceId: row.resourceId,
        meter: row.meterName,
        chargePeriodStart: row.chargePeriodStart,
        billedCost: part.billedCost,
        effectiveCost: part.effectiveCost,
        tokens: Number(part.tokens),
        reason: part.reason,
      };
    }),
  );
}

/** Totals per currency: what the rows billed, and how much of it stayed unallocated, by reason. */
export function allocationTotals(allocations: readonly RowAllocation[], counts: { skippedRows: number; unplacedRequests: number; bypassCalls: number }) {
  const currencies = [...new Set(allocations.map((a) => a.row.currency))].sort();
  return {
    costRows: allocations.length + counts.skippedRows,
    allocatedRows: allocations.length,
    skippedRows: counts.skippedRows,
    unplacedRequests: counts.unplacedRequests,
    bypassCalls: counts.bypassCalls,
    byCurrency: currencies.map((currency) => {
      const rows = allocations.filter((a) => a.row.currency === currency);
      const unallocated = rows.flatMap((a) => a.parts.filter((p) => p.identity === UNALLOCATED));
      const reasons = [...new Set(unallocated.map((p) => p.reason ?? ''))].sort();
      return {
        currency,
        billedCost: sumAmounts(rows.map((a) => a.row.billedCost)),
        effectiveCost: sumAmounts(rows.map((a) => a.row.effectiveCost)),
        unallocatedBilledCost: sumAmounts(unallocated.map((p) => p.billedCost)),
        unallocatedEffectiveCost: sumAmounts(unallocated.map((p) => p.effectiveCost)),
        unallocatedByReason: reasons.map((reason) => {
          const parts = unallocated.filter((p) => (p.reason ?? '') === reason);
          return { reason, billedCost: sumAmounts(parts.map((p) => p.billedCost)), effectiveCost: sumAmounts(parts.map((p) => p.effectiveCost)) };
        }),
      };
    }),
  };
}

/** CSV as `toCsv`, but an amount keeps its sign: a credit is `-1.25`, not a formula to defuse. */
export function amountsCsv(header: readonly string[], rows: readonly (readonly (string | number | null)[])[]): string {
  const field = (value: string | number | null) => (typeof value === 'string' && /^-\d+(?:\.\d+)?$/.test(value) ? value : csvField(value));
  return [header, ...rows].map((row) => row.map(field).join(',')).join('\r\n') + '\r\n';
}

const LINE_COLUMNS = ['identity', 'team', 'costCenter', 'resourceId', 'meter', 'chargePeriodStart', 'billedCost', 'effectiveCost', 'tokens', 'reason'] as const;

export function allocationCsv(lines: readonly AllocationLine[]): string {
  return amountsCsv(LINE_COLUMNS, lines.map((l) => LINE_COLUMNS.map((c) => l[c])));
}

/**
 * FOCUS rows of the allocation, one per part of a cost row: the source row's BillingAccountId, InvoiceId, charge
 * period, currency, resource and meter, the part's BilledCost and EffectiveCost, and the identity, team, cost center
 * and (for unallocated parts) the reason in Tags.
 */
export function allocationFocus(allocations: readonly RowAllocation[], directory: ReadonlyMap<string, DirectoryRow>): string {
  const header = [
    'BillingAccountId', 'InvoiceId', 'ChargePeriodStart', 'ChargePeriodEnd', 'BillingCurrency', 'BilledCost', 'EffectiveCost',
    'ChargeCategory', 'ChargeDescription', 'ResourceId', 'SkuMeter', 'ConsumedQuantity', 'ConsumedUnit', 'ServiceName', 'ProviderName', 'Tags',
  ];
  const rows = allocations.flatMap(({ row, parts }) =>
    parts.map((part) => {
      const entry = part.identity === UNALLOCATED ? undefined : directory.get(normalizeIdentityKey(part.identity));
      const tags: Record<string, string> = { identity: part.identity };
      if (part.identity !== UNALLOCATED) Object.assign(tags, { team: entry?.team ?? UNMAPPED, costCenter: entry?.costCenter ?? UNMAPPED });
      if (part.reason !== null) tags.reason = part.reason;
      return [
        row.billingAccountId, row.invoiceId, row.chargePeriodStart, row.chargePeriodEnd, row.currency, part.billedCost, part.effectiveCost,
        'Usage', `${row.meterName} allocated to ${part.identity}`, row.resourceId, row.meterName, part.tokens.toString(), 'Tokens', 'Azure OpenAI', 'Microsoft', JSON.stringify(tags),
      ];
    }),
  );
  return amountsCsv(header, rows);
}
