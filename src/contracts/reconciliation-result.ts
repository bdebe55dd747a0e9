import { z } from 'zod';
/** The reconciliation checks, each graded per hour × deployment. */
export const CHECKS = ['requests', 'bypass', 'llm-tokens', 'metrics-tokens'] as const;
export type CheckName = (typeof CHECKS)[number];

/**
 * How a result is graded: `ok`, `warn` and `fail` judge the difference between the ledger and Azure's side;
 * `unavailable` says Azure's side could not be read for good (a missing role, an unsupported metric, a deleted
 * account), so nothing was compared and `reason` says why.
 */
export const CHECK_STATUSES = ['ok', 'warn', 'fail', 'unavailable'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

/** Longest `reason` stored: a status, a code and the first words of the service's message. */
export const MAX_REASON_LENGTH = 300;

/** A stored reconciliation result (see src/domain/reconciliation.ts for what each check compares). */
export const checkResultSchema = z.object({
  check: z.enum(CHECKS),
  window: z.string(),
  deployment: z.string(),
  /** Azure's count; null when it is `unavailable`. */
  expected: z.number().nullable(),
  actual: z.number(),
  driftPct: z.number().nullable(),
  status: z.enum(CHECK_STATUSES),
  /** Only with status `unavailable`: why Azure's side could not be read (HTTP status, error code, message). */
  reason: z.string().max(MAX_REASON_LENGTH).optional(),
  gatewayOnly: z.array(z.string()),
  gatewayOnlyCount: z.number().int(),
  diagnosticsOnly: z.array(z.string()),
  diagnosticsOnlyCount: z.number().int(),
});

/** A result as stored: one run's (see `runKey`); a result stored before runs had keys has none. */
export const storedCheckResultSchema = checkResultSchema.extend({ run: z.string().optional() });
export type StoredCheckResult = z.infer<typeof storedCheckResultSchema>;

/** Which run's results of an hour (`window`, `YYYY-MM-DDTHH`) are the hour's results, and how many it stored. */
export const reconciledHourSchema = z.object({
  id: z.string(),
  pk: z.string(),
  kind: z.literal('reconciled-hour'),
  window: z.string(),
  run: z.string(),
  results: z.number().int().nonnegative(),
});
export type ReconciledHour = z.infer<typeof reconciledHourSchema>;

/** Where a result is listed: results are ordered by hour, then check, then deployment, and no two share a key. */
export interface ResultKey {
  readonly window: string;
  readonly check: CheckName;
  readonly deployment: string;
}

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The order results are listed in (texts by UTF-16 code unit, as `<` compares them). */
export function compareResultKeys(a: ResultKey, b: ResultKey): number {
  return compareText(a.window, b.window) || compareText(a.check, b.check) || compareText(a.deployment, b.deployment);
}
