import { z } from 'zod';
import { decimalCell, emptyAsNull, optionalDecimalCell, textCell } from './cost-export-cells.js';
import { isoInstantMs } from './utc-instant.js';

/**
 * One row of Azure Cost Management's "Cost and usage details (FOCUS)" export, the columns allocation reads. Header
 * names are those Microsoft's export writes (learn.microsoft.com, "FOCUS cost and usage details file schema",
 * versions 1.0, 1.0r2 and 1.2-preview): FOCUS 1.2 renamed `x_InvoiceId` to `InvoiceId` and `x_SkuMeterName` to
 * `SkuMeter`; 1.2-preview files carry both meter columns.
 */

/**
 * FOCUS 1.0 writes `2024-01-01T00:00Z`, 1.0r2 and later add seconds; both are read, naming a real day and time.
 * FOCUS date-times are UTC: one written without `Z` gets it, so that no reader takes it for local time.
 */
const instant = z
  .string()
  .trim()
  .refine((v) => /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?$/.test(v) && !Number.isNaN(isoInstantMs(v)), { error: 'expected an ISO date and time naming a real day' })
  .transform((v) => (v.includes('T') && !v.endsWith('Z') ? `${v}Z` : v));

export const FOCUS_REQUIRED_COLUMNS = ['BilledCost', 'EffectiveCost', 'BillingAccountId', 'BillingCurrency', 'ChargeCategory', 'ChargePeriodStart', 'ChargePeriodEnd', 'ResourceId', 'ServiceName'] as const;

export const focusCostRowSchema = z.object({
  BilledCost: decimalCell,
  EffectiveCost: decimalCell,
  BillingAccountId: textCell,
  BillingCurrency: textCell,
  ChargeCategory: textCell,
  ChargePeriodStart: instant,
  ChargePeriodEnd: instant,
  ResourceId: textCell,
  ServiceName: textCell,
  InvoiceId: textCell.optional(),
  x_InvoiceId: textCell.optional(),
  SkuMeter: textCell.optional(),
  x_SkuMeterName: textCell.optional(),
  x_SkuMeterCategory: textCell.optional(),
  x_SkuMeterSubcategory: textCell.optional(),
  ChargeDescription: textCell.optional(),
  CommitmentDiscountType: textCell.optional(),
  CommitmentDiscountStatus: textCell.optional(),
  PricingCategory: textCell.optional(),
  ConsumedQuantity: optionalDecimalCell.optional(),
  ConsumedUnit: textCell.optional(),
  PricingQuantity: optionalDecimalCell.optional(),
  x_PricingBlockSize: optionalDecimalCell.optional(),
  x_PricingUnitDescription: textCell.optional(),
  // The row's context, carried into the allocation's FOCUS rows as Microsoft wrote it.
  BillingAccountName: textCell.optional(),
  SubAccountName: textCell.optional(),
  RegionId: textCell.optional(),
  RegionName: textCell.optional(),
  ChargeClass: textCell.optional(),
  BillingPeriodStart: emptyAsNull(instant).optional(),
  BillingPeriodEnd: emptyAsNull(instant).optional(),
  Tags: textCell.optional(),
});
export type FocusCostRow = z.infer<typeof focusCostRowSchema>;
