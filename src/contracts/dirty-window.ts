import { z } from 'zod';

/**
 * An hour whose tiles must be recomputed (new or changed ledger entries, new diagnostic records). A `held` marker is a
 * rollup's own while it writes an hour's side tiles: only its holder clears it, or any rollup once it is older than
 * a run can last.
 */
export const dirtyWindowSchema = z.object({ id: z.string(), pk: z.literal('dirty'), hour: z.string(), markedAt: z.string(), held: z.literal(true).optional() });
export type DirtyWindow = z.infer<typeof dirtyWindowSchema>;
