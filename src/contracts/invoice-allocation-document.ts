import { z } from 'zod';

/**
 * A cost export's allocation as stored in the `aggregates` container, one partition per billing month
 * (`invoice:YYYY-MM`, the month of the rows' ChargePeriodStart). Amounts stay the export's decimal text and token
 * counts decimal integer text, so nothing is rounded on the way through the store.
 */

const count = z.number().int().nonnegative();
const integerText = z.string().regex(/^\d+$/);

export const storedCostRowSchema = z.object({
  billingAccountId: z.string(),
  invoiceId: z.string().nullable(),
  chargePeriodStart: z.string(),
  chargePeriodEnd: z.string(),
  resourceId: z.string(),
  meterName: z.string(),
  meter: z.discriminatedUnion('type', [
    z.object({ type: z.literal('tokens'), model: z.string(), kind: z.string() }),
    z.object({ type: z.literal('provisioned') }),
    z.object({ type: z.literal('unreadable'), reason: z.string() }),
  ]),
  billedCost: z.string(),
  effectiveCost: z.string(),
  currency: z.string(),
  billedTokens: integerText.nullable(),
  /** The row's context as the export wrote it (see `CostRowContext`); absent in documents written before it was kept. */
  context: z
    .object({
      billingAccountName: z.string().nullable(),
      subAccountName: z.string().nullable(),
      regionId: z.string().nullable(),
      regionName: z.string().nullable().optional(),
      chargeClass: z.string().nullable(),
      billingPeriodStart: z.string().nullable(),
      billingPeriodEnd: z.string().nullable(),
      tags: z.string().nullable(),
    })
    .optional(),
});
export type StoredCostRow = z.infer<typeof storedCostRowSchema>;

export const storedAllocationPartSchema = z.object({
  identity: z.string(),
  billedCost: z.string(),
  effectiveCost: z.string(),
  tokens: integerText,
  reason: z.string().nullable(),
});

/**
 * Some parts of one cost row: a row split over more identities than fit one document is stored as several slices
 * with the same `index`, whose parts, in order, are the row's parts.
 */
export const allocationSliceSchema = z.object({
  /** The row's position among the month's rows of the export. */
  index: count,
  row: storedCostRowSchema,
  parts: z.array(storedAllocationPartSchema),
});
export type AllocationSlice = z.infer<typeof allocationSliceSchema>;

/** What one allocation of an export counted beside its rows. */
export const allocationCountsSchema = z.object({
  /** Cost rows of other services, not allocated. */
  skippedRows: count,
  /** Gateway requests with no diagnostic record, so on no resource. */
  unplacedRequests: count,
  /** Diagnostic records with no gateway request. */
  bypassCalls: count,
});
export type AllocationCounts = z.infer<typeof allocationCountsSchema>;

/**
 * Which run wrote a document: the instant it started reading (ISO 8601), `#`, and a random id. Runs order by this
 * text; a document from before runs were recorded has none and is older than any run.
 */
const run = z.string().optional();

/**
 * Which generation of parts holds an export's allocation of one month. Parts of a new generation are written
 * first, then the head, then the parts of older generations are removed: a reader never sees half of one. A head
 * of no rows and no parts says the export no longer covers the month.
 */
export const invoiceHeadSchema = z.object({
  id: z.string(),
  pk: z.string(),
  kind: z.literal('invoice-head'),
  /** The export's blob name. */
  exportName: z.string(),
  /** SHA-256 of the export's bytes. */
  contentHash: z.string(),
  /** When the export was written (the blob's last modification), ISO 8601. */
  exportedAt: z.string(),
  allocatedAt: z.string(),
  month: z.string().regex(/^\d{4}-\d{2}$/),
  generation: z.string(),
  parts: count,
  rows: count,
  counts: allocationCountsSchema,
  run,
  /**
   * The files of the export run the export's blob is a partition of, as its `manifest.json` names them: the run counts
   * only once each of them is allocated. Absent for a file that is a run of its own.
   */
  runFiles: z.array(z.string()).optional(),
});
export type InvoiceHead = z.infer<typeof invoiceHeadSchema>;

export const invoicePartSchema = z.object({
  id: z.string(),
  pk: z.string(),
  kind: z.literal('invoice-part'),
  exportName: z.string(),
  month: z.string(),
  generation: z.string(),
  part: count,
  slices: z.array(allocationSliceSchema),
  run,
});
export type InvoicePart = z.infer<typeof invoicePartSchema>;

/** That an export blob, at one ETag, has been allocated, and into which months. */
export const allocatedExportSchema = z.object({
  id: z.string(),
  pk: z.string(),
  kind: z.literal('invoice-export'),
  exportName: z.string(),
  etag: z.string(),
  contentHash: z.string(),
  months: z.array(z.string()),
  allocatedAt: z.string(),
  /**
   * From when the ledger and diagnostics of the export's charge periods are taken as complete (late records and
   * events settled): an export allocated before then is allocated again by the next run, even unchanged.
   */
  settlesAt: z.string(),
  run,
  /** Set while the run that wrote the marker is still writing its parts and heads: the export counts as not yet allocated. */
  pending: z.literal(true).optional(),
  /**
   * With `pending`: an earlier run's allocation of the export was stored whole before this claim, and stands until
   * the claiming run replaces it month by month (so the export's run still counts as whole meanwhile).
   */
  allocatedBefore: z.literal(true).optional(),
  /** Months the export covered before and no longer does, whose heads the run is still to empty. */
  retiredMonths: z.array(z.string()).optional(),
});
export type AllocatedExport = z.infer<typeof allocatedExportSchema>;

/** Whether an allocation of the export stands: written whole, or an earlier one while a newer run's claim is pending. */
export function allocationStands(marker: AllocatedExport): boolean {
  return marker.pending !== true || marker.allocatedBefore === true;
}
