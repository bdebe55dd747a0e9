import { z } from 'zod';

/** The last weights recommendation of a deployment: the window it was computed for and the weight per backend. */
export const storedWeightsSchema = z.object({
  deployment: z.string(),
  windowEnd: z.string(),
  weights: z.record(z.string(), z.number()),
  /** The recommendation this one stepped from (so asking again for the same window gives the same answer). */
  basedOn: z.record(z.string(), z.number()).nullable(),
});
export type StoredWeights = z.infer<typeof storedWeightsSchema>;
