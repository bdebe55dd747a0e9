import { z } from 'zod';

/** An hour whose tiles must be recomputed (new or changed ledger entries, new diagnostic records). */
export const dirtyWindowSchema = z.object({ id: z.string(), pk: z.literal('dirty'), hour: z.string(), markedAt: z.string() });
export type DirtyWindow = z.infer<typeof dirtyWindowSchema>;
