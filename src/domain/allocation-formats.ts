import { normalizeIdentityKey, type DirectoryRow } from '../contracts/directory.js';
import { UNMAPPED } from './chargeback.js';
import { csvField } from './chargeback-formats.js';
import { AZURE_OPENAI, dollars, focusCsv, focusDateTime, monthOf, placeColumns, skuOf, whoColumns, whoOf, type FocusRow } from './focus-export.js';
import { formatAmount, readAmount, sumAmounts, UNALLOCATED, UNALLOCATED_REASONS, type RowAllocation } from './invoice-allocation.js';
import { microsToPicodollars, type Picodollars } from './money.js';
import type { PriceMatch, PriceMatcher } from './price-matching.js';
import type { MeterKind } from './retail-price-meters.js';

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
  /** The cost row's `BillingCurrency`: one export may bill in several (an MCA billing account's profiles). */
  readonly currency: string;
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
        currency: row.currency,
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

const LINE_COLUMNS = ['identity', 'team', 'costCenter', 'resourceId', 'meter', 'chargePeriodStart', 'billedCost', 'effectiveCost', 'tokens', 'currency', 'reason'] as const;

export function allocationCsv(lines: readonly AllocationLine[]): string {
  return amountsCsv(LINE_COLUMNS, lines.map((l) => LINE_COLUMNS.map((c) => l[c])));
}

const METER_NAMES: Record<MeterKind, { unit: string; meter: string }> = {
  input: { unit: 'Tokens', meter: 'Input Tokens' },
  cachedInput: { unit: 'Tokens', meter: 'Cached Input Tokens' },
  output: { unit: 'Tokens', meter: 'Output Tokens' },
  audioInput: { unit: 'Tokens', meter: 'Audio Input Tokens' },
  cachedAudioInput: { unit: 'Tokens', meter: 'Cached Audio Input Tokens' },
  audioOutput: { unit: 'Tokens', meter: 'Audio Output Tokens' },
  perImage: { unit: 'Images', meter: 'Images' },
};

/** The list price per token (or image) of a meter kind, in picodollars: a price per 1M in micros is that many picodollars per token. */
function listUnitPico(match: PriceMatch, kind: MeterKind): Picodollars | null {
  switch (kind) {
    case 'input': return match.pricesTokens ? match.inputPer1MMicros : null;
    case 'cachedInput': case 'cachedAudioInput': return match.pricesTokens ? match.cachedInputPer1MMicros : null;
    case 'output': return match.pricesTokens ? match.outputPer1MMicros : null;
    case 'audioInput': return match.audioInputPer1MMicros;
    case 'audioOutput': return match.audioOutputPer1MMicros;
    case 'perImage': return match.perRequestMicros === null ? null : microsToPicodollars(match.perRequestMicros);
  }
}

/**
 * FOCUS 1.2 rows of the allocation, one per part of a cost row: the source row's BillingAccountId, InvoiceId, charge
 * period, currency and resource (its subscription as SubAccountId), and as the export wrote them its billing account
 * and subscription names, region, billing period, correction class and tags; the part's BilledCost and EffectiveCost, and the
 * identity, team, cost center and (for unallocated parts) the reason in Tags and `x_` columns. With a price table in
 * the row's currency, a token meter's part is priced at its list price: PricingQuantity in tokens, ListUnitPrice =
 * ContractedUnitPrice per token, ListCost = ContractedCost = their exact product. A part the price table does not
 * price (a provisioned or unreadable meter, a model it lacks, a row billed in another currency, or no table) is
 * stated as one unit at its billed cost: FOCUS states every cost of a row in its BillingCurrency. A negative part
 * (money back) is a Credit. Parts with neither cost nor tokens are left out.
 */
export function allocationFocus(allocations: readonly RowAllocation[], directory: ReadonlyMap<string, DirectoryRow>, prices?: { readonly matcher: PriceMatcher; readonly currency: string }): string {
  const rows: FocusRow[] = [];
  for (const { row, parts } of allocations) {
    const start = new Date(row.chargePeriodStart);
    const context = row.context;
    const billing = context?.billingPeriodStart && context.billingPeriodEnd ? { start: new Date(context.billingPeriodStart), end: new Date(context.billingPeriodEnd) } : monthOf(start);
    const sourceTags = context?.tags ? (JSON.parse(context.tags) as Record<string, string>) : {};
    const meter = row.meter.type === 'tokens' ? row.meter : null;
    const listed = prices && prices.currency.toUpperCase() === row.currency.toUpperCase() ? prices.matcher : null;
    const match = meter && listed ? listed.match({ model: meter.model, deployment: null, time: start.toISOString() }) : null;
    const unitPico = meter && match ? listUnitPico(match, meter.kind) : null;
    const names = meter ? METER_NAMES[meter.kind] : null;
    // A commitment bought or refunded is a Purchase in FOCUS, which has no consumed quantity.
    const purchase = row.meter.type === 'unreadable' && row.meter.reason === UNALLOCATED_REASONS.commitmentBought;
    const committed = purchase || (row.meter.type === 'unreadable' && row.meter.reason === UNALLOCATED_REASONS.commitmentUnused);
    for (const part of parts) {
      if (part.tokens === 0n && isZero(part.billedCost) && isZero(part.effectiveCost)) continue;
      const unallocated = part.identity === UNALLOCATED;
      const billedCost = plainDecimal(part.billedCost);
      // A negative amount is money back: FOCUS states it as a Credit, which carries no quantity or unit price.
      const credit = readAmount(part.billedCost).units < 0n;
      const priced = !credit && unitPico !== null;
      const listCost = priced ? dollars(part.tokens * unitPico) : billedCost;
      const unitPrice = credit ? null : priced ? dollars(unitPico) : billedCost;
      rows.push({
        ...AZURE_OPENAI,
        ...placeColumns(row.resourceId, context?.regionId ?? null, context),
        BillingAccountId: row.billingAccountId,
        BilledCost: billedCost,
        BillingCurrency: row.currency,
        BillingPeriodStart: focusDateTime(billing.start),
        BillingPeriodEnd: focusDateTime(billing.end),
        ChargeCategory: purchase ? 'Purchase' : credit ? 'Credit' : 'Usage',
        ChargeClass: context?.chargeClass ?? null,
        ChargeDescription: `${row.meterName} allocated to ${part.identity}`,
        ChargeFrequency: row.meter.type === 'provisioned' || purchase ? 'Recurring' : 'Usage-Based',
        ChargePeriodStart: focusDateTime(start),
        ChargePeriodEnd: focusDateTime(new Date(row.chargePeriodEnd)),
        ConsumedQuantity: credit || purchase ? null : part.tokens.toString(),
        ConsumedUnit: credit || purchase ? null : (names?.unit ?? 'Tokens'),
        ContractedCost: listCost,
        ContractedUnitPrice: unitPrice,
        EffectiveCost: plainDecimal(part.effectiveCost),
        InvoiceId: row.invoiceId,
        ListCost: listCost,
        ListUnitPrice: unitPrice,
        PricingCategory: credit ? null : committed ? 'Committed' : 'Standard',
        PricingQuantity: credit ? null : priced ? part.tokens.toString() : '1',
        PricingUnit: credit ? null : priced ? names!.unit : 'Units',
        SkuId: priced ? skuOf(match!.priceVersion) : (meter?.model ?? row.meterName),
        SkuMeter: row.meterName,
        SkuPriceId: priced ? `${match!.priceVersion}#${meter!.kind}` : row.meterName,
        // The row's own tags are kept as the export wrote them, beside the part's identity, team and reason.
        ...whoColumns(whoOf(part.identity, null, directory, !unallocated), part.reason === null ? {} : { reason: part.reason }, sourceTags),
        x_Model: meter?.model ?? null,
        x_Deployment: null,
        x_PriceComponent: meter?.kind ?? row.meter.type,
        x_PriceVersion: priced ? match!.priceVersion : null,
        x_Requests: null,
        x_UnallocatedReason: part.reason,
      });
    }
  }
  return focusCsv(rows);
}

const isZero = (amount: string) => readAmount(amount).units === 0n;

/** An export's amount (`8e-07`, `+1.50`) as plain decimal text, which FOCUS's numeric format accepts as is. */
function plainDecimal(amount: string): string {
  const { units, scale } = readAmount(amount);
  return formatAmount(units, scale);
}
