import { z } from 'zod';
import { decimalCell, emptyAsNull, optionalDecimalCell, textCell } from './cost-export-cells.js';

/**
 * One row of Azure Cost Management's "Cost and usage details (actual)" or "(amortized)" export, the columns allocation
 * reads. Both exports have one layout; Enterprise Agreement files name the columns in PascalCase (learn.microsoft.com,
 * "Enterprise Agreement cost and usage details file schema", version 2024-08-01), Microsoft Customer Agreement files
 * mostly in camelCase ("Microsoft Customer Agreement cost and usage details file schema", version
 * 2023-12-01-preview), so columns are found by name without regard to case and the keys below are the EA names. EA
 * files name the currency `BillingCurrencyCode` and have no invoice column; MCA files name them `billingCurrency` and
 * `invoiceId`.
 */

/** `MM/DD/YYYY` (as exports write it), or an ISO date with an optional time of day. */
export const USAGE_DATE = /^(?:(\d{2})\/(\d{2})\/(\d{4})|(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?)$/;
const usageDate = z.string().trim().refine((v) => {
  const parts = USAGE_DATE.exec(v);
  if (!parts) return false;
  const [year, month, day] = parts[3] ? [parts[3], parts[1], parts[2]] : [parts[4], parts[5], parts[6]];
  const date = new Date(`${year}-${month}-${day}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(`${year}-${month}-${day}`);
}, { error: 'expected a date (MM/DD/YYYY or YYYY-MM-DD)' });

export const actualCostRowSchema = z.object({
  Date: usageDate,
  MeterName: textCell,
  MeterCategory: textCell,
  ResourceId: textCell,
  CostInBillingCurrency: decimalCell,
  BillingAccountId: textCell,
  BillingCurrency: textCell,
  MeterSubCategory: textCell.optional(),
  MeterId: textCell.optional(),
  ConsumedService: textCell.optional(),
  Quantity: optionalDecimalCell.optional(),
  UnitOfMeasure: textCell.optional(),
  ChargeType: textCell.optional(),
  PricingModel: textCell.optional(),
  InvoiceId: textCell.optional(),
  PayGPrice: optionalDecimalCell.optional(),
  UnitPrice: optionalDecimalCell.optional(),
  BillingAccountName: textCell.optional(),
  SubscriptionName: textCell.optional(),
  ResourceLocation: textCell.optional(),
  BillingPeriodStartDate: emptyAsNull(usageDate).optional(),
  BillingPeriodEndDate: emptyAsNull(usageDate).optional(),
  Tags: textCell.optional(),
});

/**
 * The columns a file must have: the key each is read under, and the names files give it, the first one a file has
 * being read. The cost is `Cost` in older EA files ("Understand cost details fields": "Cost | EA, pay-as-you-go |
 * See CostInBillingCurrency"; Microsoft's EA sample exports in microsoft/finops-toolkit name it so); the currency is
 * `BillingCurrencyCode` in EA files and `billingCurrency` in MCA files.
 */
export const ACTUAL_COST_REQUIRED_COLUMNS: readonly { readonly key: keyof typeof actualCostRowSchema.shape; readonly names: readonly string[] }[] = [
  { key: 'Date', names: ['Date'] },
  { key: 'MeterName', names: ['MeterName'] },
  { key: 'MeterCategory', names: ['MeterCategory'] },
  { key: 'ResourceId', names: ['ResourceId'] },
  { key: 'CostInBillingCurrency', names: ['CostInBillingCurrency', 'Cost'] },
  { key: 'BillingAccountId', names: ['BillingAccountId'] },
  { key: 'BillingCurrency', names: ['BillingCurrencyCode', 'BillingCurrency'] },
];

export type ActualCostRow = z.infer<typeof actualCostRowSchema>;
