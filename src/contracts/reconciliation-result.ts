import { z } from 'zod';
/** The reconciliation checks, each graded per hour × deployment. */
export const CHECKS = ['requests', 'bypass', 'llm-tokens', 'metrics-tokens'] as const;
export type CheckName = (typeof CHECKS)[number];

/** A stored reconciliation result (see src/domain/reconciliation.ts for what each check compares). */
export const checkResultSchema = z.object({
  check: z.enum(CHECKS),
  window: z.string(),
  deployment: z.string(),
  expected: z.number(),
  actual: z.number(),
  driftPct: z.number().nullable(),
  status: z.enum(['ok', 'warn', 'fail']),
  gatewayOnly: z.array(z.string()),
  gatewayOnlyCount: z.number().int(),
  diagnosticsOnly: z.array(z.string()),
  diagnosticsOnlyCount: z.number().int(),
});
