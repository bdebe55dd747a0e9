import type { ActualCostRow } from '../contracts/actual-cost-row.js';
import { USAGE_DATE } from '../contracts/actual-cost-row.js';
import { regionCode } from './regions.js';
import type { FocusCostRow } from '../contracts/focus-cost-row.js';

/**
 * An actual- or amortized-cost export row in the FOCUS terms allocation reads (`allocationRowOf`). The row's one
 * cost, `CostInBillingCurrency`, is both its billed and its effective cost: an actual-cost export holds what is
 * invoiced (usage a reservation covers costs 0), an amortized one spreads reservation purchases over the usage they
 * cover; which of the two a file is, its header does not say. Usage a reservation or savings plan covers is billed
 * 0 in either (Microsoft's mapping of these exports to FOCUS: the commitment was billed when bought), so its cost in
 * an amortized export is effective cost only. The charge period is the row's day.
 */

/** `PricingModel` of usage covered by a commitment bought beforehand. */
const COMMITTED = /^(reservation|savings ?plan)$/i;

const DAY_MS = 86_400_000;

/** The row's day as a charge period, `[start, end)`. */
export function chargePeriodOf(date: string): { start: string; end: string } {
  const parts = USAGE_DATE.exec(date.trim());
  if (!parts) throw new RangeError(`not a usage date: ${JSON.stringify(date)}`);
  const day = parts[3] ? `${parts[3]}-${parts[1]}-${parts[2]}` : `${parts[4]}-${parts[5]}-${parts[6]}`;
  const start = Date.parse(`${day}T00:00:00Z`);
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  return { start: iso(start), end: iso(start + DAY_MS) };
}

/**
 * Microsoft's mapping of these exports to FOCUS (FinOps toolkit, "Convert Cost Management data to FOCUS"): a
 * commitment's purchase or refund has `EffectiveCost` 0 (its cost is amortized over the usage it covers); a refund
 * of a commitment is a `Purchase` of `ChargeClass` `Correction`; an unused reservation or savings plan is `Usage` of
 * `CommitmentDiscountStatus` `Unused`, billed when bought (`BilledCost` 0).
 */
export function focusRowOfActual(row: ActualCostRow): FocusCostRow {
  const period = chargePeriodOf(row.Date);
  const chargeType = row.ChargeType || 'Usage';
  const committed = COMMITTED.test(row.PricingModel?.trim() ?? '');
  const refund = /^refund$/i.test(chargeType);
  const unused = /^unused(reservation|savingsplan)$/i.test(chargeType);
  // The commitment was billed when bought: its usage and its unused part are effective cost only.
  const billedWhenBought = unused || (/^usage$/i.test(chargeType) && committed);
  const commitmentBought = committed && (refund || /^purchase$/i.test(chargeType));
  return {
    BilledCost: billedWhenBought ? '0' : row.CostInBillingCurrency,
    EffectiveCost: commitmentBought ? '0' : row.CostInBillingCurrency,
    BillingAccountId: row.BillingAccountId,
    BillingCurrency: row.BillingCurrency,
    // A refund of pay-as-you-go usage corrects that usage, and is split as it was.
    ChargeCategory: refund ? (committed ? 'Purchase' : 'Usage') : unused ? 'Usage' : chargeType,
    ...(refund ? { ChargeClass: 'Correction' } : {}),
    ...(unused ? { CommitmentDiscountStatus: 'Unused' } : {}),
    ChargePeriodStart: period.start,
    ChargePeriodEnd: period.end,
    ResourceId: row.ResourceId,
    ServiceName: row.ConsumedService ?? '',
    SkuMeter: row.MeterName,
    x_SkuMeterCategory: row.MeterCategory,
    ...(row.MeterSubCategory !== undefined ? { x_SkuMeterSubcategory: row.MeterSubCategory } : {}),
    ...(row.InvoiceId ? { InvoiceId: row.InvoiceId } : {}),
    ...(/reservation/i.test(row.PricingModel ?? '') ? { CommitmentDiscountType: 'Reservation' } : {}),
    // `Quantity` counts `UnitOfMeasure`s (`1K`, `1M`): a token meter's tokens are read by that block, as FOCUS's
    // `PricingQuantity` in its `x_PricingUnitDescription`.
    ...(row.Quantity !== undefined ? { ConsumedQuantity: row.Quantity, PricingQuantity: row.Quantity } : {}),
    ...(row.UnitOfMeasure !== undefined ? { ConsumedUnit: row.UnitOfMeasure, x_PricingUnitDescription: row.UnitOfMeasure } : {}),
    ...contextOfActual(row),
  };
}

/**
 * The row's context in FOCUS terms: the billing account's and the subscription's names, the resource's region as
 * Azure codes it (`ResourceLocation` is written `EastUS` or `eastus`), the billing period (its end date is the last
 * day, FOCUS's end the instant after it) and the tags.
 */
function contextOfActual(row: ActualCostRow): Partial<FocusCostRow> {
  const region = regionCode(row.ResourceLocation);
  return {
    ...(row.BillingAccountName ? { BillingAccountName: row.BillingAccountName } : {}),
    ...(row.SubscriptionName ? { SubAccountName: row.SubscriptionName } : {}),
    ...(region ? { RegionId: region } : {}),
    ...(row.BillingPeriodStartDate && row.BillingPeriodEndDate
      ? { BillingPeriodStart: chargePeriodOf(row.BillingPeriodStartDate).start, BillingPeriodEnd: chargePeriodOf(row.BillingPeriodEndDate).end }
      : {}),
    ...(row.Tags ? { Tags: row.Tags } : {}),
  };
}
