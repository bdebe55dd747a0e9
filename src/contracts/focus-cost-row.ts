import { z } from 'zod';

/**
 * One row of Azure Cost Management's "Cost and usage details (FOCUS)" export, the columns allocation reads. Header
 * names are those Microsoft's export writes (learn.microsoft.com, "FOCUS cost and usage details file schema",
 * versions 1.0, 1.0r2 and 1.2-preview): FOCUS 1.2 renamed `x_InvoiceId` to `InvoiceId` and `x_SkuMeterName` to
 * `SkuMeter`; 1.2-preview files carry both meter columns. Amounts stay decimal text: they are read exactly later.
 */

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const decimalText = z.string().trim().regex(DECIMAL, { error: 'expected a decimal number' });
const optionalDecimal = z.string().trim().transform((v) => (v === '' ? null : v)).pipe(decimalText.nullable());
/** FOCUS 1.0 writes `2024-01-01T00:00Z`, 1.0r2 and later add seconds; both are read. */
const instant = z.string().trim().refine((v) => /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?$/.test(v) && !Number.isNaN(Date.parse(v)), { error: 'expected an ISO date and time' });
const text = z.string().trim();
/** An instant, or an empty cell (absent). */
const optionalInstant = z.string().trim().transform((v) => (v === '' ? undefined : v)).pipe(instant.optional());

export const FOCUS_REQUIRED_COLUMNS = ['BilledCost', 'EffectiveCost', 'BillingAccountId', 'BillingCurrency', 'ChargeCategory', 'ChargePeriodStart', 'ChargePeriodEnd', 'ResourceId', 'ServiceName'] as const;

export const focusCostRowSchema = z.object({
  BilledCost: decimalText,
  EffectiveCost: decimalText,
  BillingAccountId: text,
  BillingCurrency: text,
  ChargeCategory: text,
  ChargePeriodStart: instant,
  ChargePeriodEnd: instant,
  ResourceId: text,
  ServiceName: text,
  InvoiceId: text.optional(),
  x_InvoiceId: text.optional(),
  SkuMeter: text.optional(),
  x_SkuMeterName: text.optional(),
  x_SkuMeterCategory: text.optional(),
  x_SkuMeterSubcategory: text.optional(),
  ChargeDescription: text.optional(),
  CommitmentDiscountType: text.optional(),
  PricingCategory: text.optional(),
  ConsumedQuantity: optionalDecimal.optional(),
  ConsumedUnit: text.optional(),
  PricingQuantity: optionalDecimal.optional(),
  x_PricingBlockSize: optionalDecimal.optional(),
  x_PricingUnitDescription: text.optional(),
  // The row's context, carried into the allocation's FOCUS rows as Microsoft wrote it.
  BillingAccountName: text.optional(),
  SubAccountName: text.optional(),
  RegionId: text.optional(),
  RegionName: text.optional(),
  ChargeClass: text.optional(),
  BillingPeriodStart: optionalInstant.optional(),
  BillingPeriodEnd: optionalInstant.optional(),
  Tags: text.optional(),
});
export type FocusCostRow = z.infer<typeof focusCostRowSchema>;
