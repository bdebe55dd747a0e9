import { z } from 'zod';

export const QUARANTINE_SCHEMA_V1 = 'tokenledger.quarantine/v1';

/**
 * An Event Hubs body as the trigger handed it over: bytes (base64), a string (utf8) or a value the host had
 * already parsed (json), so a replay hands the ingest service the same body.
 */
export const quarantinedBodySchema = z.object({ encoding: z.enum(['base64', 'utf8', 'json']), data: z.string() });
export type QuarantinedBody = z.infer<typeof quarantinedBodySchema>;

/** A trigger batch that kept failing, set aside whole in Blob storage so its partition could move on. */
export const quarantinedBatchSchema = z.object({
  schema: z.literal(QUARANTINE_SCHEMA_V1),
  partitionId: z.string(),
  /** The last error, and whether it was worth retrying (`transient`) or not (`permanent`). */
  reason: z.string(),
  failure: z.enum(['transient', 'permanent']),
  /** Attempts made in the invocation that quarantined the batch. */
  attempts: z.number().int().nonnegative(),
  quarantinedAt: z.iso.datetime(),
  events: z
    .array(
      z.object({
        sequenceNumber: z.number().nullable(),
        offset: z.string().nullable(),
        enqueuedTimeUtc: z.string().nullable(),
        body: quarantinedBodySchema,
      }),
    )
    .min(1),
});
export type QuarantinedBatch = z.infer<typeof quarantinedBatchSchema>;
