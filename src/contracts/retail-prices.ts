import { z } from 'zod';
import { isoInstantMs } from './utc-instant.js';

/**
 * A saved response of the Azure Retail Prices API (`https://prices.azure.com/api/retail/prices`, documented at
 * learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices): one page is
 * `{"BillingCurrency", "CustomerEntityId", "CustomerEntityType", "Items": [...], "NextPageLink", "Count"}`, with up to
 * 1,000 items a page and `NextPageLink` null on the last one. A saved response is one page, or several pages in a
 * JSON array, or several files of one page each.
 *
 * The schemas read JSON parsed with `parseJsonKeepingNumberText`: numbers arrive as the text they were written as
 * (`"8.8E-05"`), so prices stay exact.
 */

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** A JSON number, as its source text. */
export const numberTextSchema = z.string({ error: 'expected a number' }).regex(JSON_NUMBER, 'expected a number');

/** An ISO-8601 instant as the API writes it (`2024-10-01T00:00:00Z`). */
const instantSchema = z
  .string({ error: 'expected a date-time string like "2024-10-01T00:00:00Z"' })
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/, 'expected a date-time like "2024-10-01T00:00:00Z"')
  .refine((text) => !Number.isNaN(isoInstantMs(text)), 'not a real day and time');

/** The fields of one price item that conversion reads; the API sends more (meterId, skuId, serviceId, …). */
export const retailPriceItemSchema = z.object({
  currencyCode: z.string({ error: 'expected a currency code string' }),
  retailPrice: numberTextSchema,
  unitOfMeasure: z.string({ error: 'expected a unit string like "1K"' }),
  meterName: z.string({ error: 'expected a meter name string' }),
  productName: z.string({ error: 'expected a product name string' }),
  skuName: z.string().optional(),
  serviceName: z.string().optional(),
  armRegionName: z.string({ error: 'expected a region name string' }),
  effectiveStartDate: instantSchema,
  effectiveEndDate: instantSchema.optional(),
  type: z.string({ error: 'expected a price type string like "Consumption"' }),
  tierMinimumUnits: numberTextSchema.optional(),
  meterId: z.string().optional(),
});
export type RetailPriceItem = z.output<typeof retailPriceItemSchema>;

/** The page envelope; items are checked one by one, so a problem names its item. */
export const retailPricesPageSchema = z.object({
  BillingCurrency: z.string().optional(),
  CustomerEntityId: z.string().optional(),
  CustomerEntityType: z.string().optional(),
  Items: z.array(z.unknown(), { error: 'expected "Items" to be an array of price items' }),
  NextPageLink: z.string().nullable().optional(),
  Count: numberTextSchema.optional(),
});
export type RetailPricesPage = z.output<typeof retailPricesPageSchema>;

/** Whether parsed JSON looks like a Retail Prices response (a page, or an array of pages) rather than a price file. */
export function isRetailPricesResponse(json: unknown): boolean {
  const isPage = (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value) && 'Items' in value;
  return isPage(json) || (Array.isArray(json) && json.length > 0 && json.every(isPage));
}
