import { z } from 'zod';

/**
 * One row of Azure Cost Management's "Cost and usage details (actual)" or "(amortized)" export, the columns allocation
 * reads. Both exports have one layout; Enterprise Agreement files name the columns in PascalCase (learn.microsoft.com,
 * "Enterprise Agreement cost and usage details file schema", version 2024-08-01), Microsoft Customer Agreement files
 * mostly in camelCase ("Microsoft Customer Agreement cost and usage details file schema", version
 * 2023-12-01-preview), so columns are found by name without regard to case and the keys below are the EA names. EA
 * files name the currency `BillingCurrencyCode` and have no invoice column; MCA files name them `billingCurrency` and
 * `invoiceId`. Amounts stay decimal text: they are read exactly later.
 */

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const decimalText = z.string().trim().regex(DECIMAL, { error: 'expected a decimal number' });
const optionalDecimal = z.string().trim().transform((v) => (v === '' ? null : v)).pipe(decimalText.nullable());
const text = z.string().trim();

/** `MM/DD/YYYY` (as exports write it), or an ISO date with an optional time of day. */
export const USAGE_DATE = /^(?:(\d{2})\/(\d{2})\/(\d{4})|(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?)$/;
const usageDate = z.string().trim().refine((v) => {
  const parts = USAGE_DATE.exec(v);
  if (!parts) return false;
  const [year, month, day] = parts[3] ? [parts[3], parts[1], parts[2]] : [parts[4], parts[5], parts[6]];
  const date = new Date(`${year}-${month}-${day}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(`${year}-${month}-${day}`);
}, { error: 'expected a date (MM/DD/YYYY or YYYY-MM-DD)' });

/** A date, or an empty cell (absent). */
const optionalUsageDate = z.string().trim().transform((v) => (v === '' ? undefined : v)).pipe(usageDate.optional());

export const ACTUAL_COST_REQUIRED_COLUMNS = ['Date', 'MeterName', 'MeterCategory', 'ResourceId', 'CostInBillingCurrency', 'BillingAccountId'] as const;
/** The currency column: `BillingCurrencyCode` in EA files, `billingCurrency` in MCA files. */
export const ACTUAL_COST_CURRENCY_COLUMNS = ['BillingCurrencyCode', 'BillingCurrency'] as const;

export const actualCostRowSchema = z.object({
  Date: usageDate,
  MeterName: text,
  MeterCategory: text,
  ResourceId: text,
  CostInBillingCurrency: decimalText,
  BillingAccountId: text,
  BillingCurrency: text,
  MeterSubCategory: text.optional(),
  MeterId: text.optional(),
  ConsumedService: text.optional(),
  Quantity: optionalDecimal.optional(),
  UnitOfMeasure: text.optional(),
  ChargeType: text.optional(),
  PricingModel: text.optional(),
  InvoiceId: text.optional(),
  PayGPrice: optionalDecimal.optional(),
  UnitPrice: optionalDecimal.optional(),
  BillingAccountName: text.optional(),
  SubscriptionName: text.optional(),
  ResourceLocation: text.optional(),
  BillingPeriodStartDate: optionalUsageDate.optional(),
  BillingPeriodEndDate: optionalUsageDate.optional(),
  Tags: text.optional(),
});
export type ActualCostRow = z.infer<typeof actualCostRowSchema>;
