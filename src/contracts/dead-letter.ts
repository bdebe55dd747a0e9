import { z } from 'zod';

/** Where a rejected payload was read from, so it can be found again in the source. */
export const sourcePositionSchema = z.object({
  partitionId: z.string(),
  sequenceNumber: z.number().nullable(),
  offset: z.string().nullable(),
  enqueuedTimeUtc: z.string().nullable(),
  /** Index of the item inside the event body (arrays and `{"records":[…]}` hold several), or null for the whole body. */
  itemIndex: z.number().int().nullable(),
});
export type SourcePosition = z.infer<typeof sourcePositionSchema>;

/** A rejected input: its raw bytes, where it came from, and why it was rejected. Nothing is dropped. */
export const deadLetterSchema = z.object({
  /** Content hash of the raw payload: the same bad payload delivered twice is one dead letter. */
  id: z.string(),
  pk: z.string(),
  reason: z.string(),
  position: sourcePositionSchema,
  raw: z.object({ encoding: z.enum(['utf8', 'base64']), data: z.string(), bytes: z.number().int() }),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;
