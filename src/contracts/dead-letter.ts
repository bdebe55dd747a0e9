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

/** The rejected bytes, kept in the document: UTF-8 text as it is, anything else base64-encoded. */
export const inlineRawSchema = z.object({ encoding: z.enum(['utf8', 'base64']), data: z.string(), bytes: z.number().int() });

/**
 * The rejected bytes, too large for a Cosmos DB item, kept whole in Blob storage: the document names the blob and
 * carries its size and SHA-256, so the payload can be fetched and checked. `encoding` says how the bytes were held
 * (UTF-8 text, or bytes that are not text).
 */
export const blobRawSchema = z.object({
  encoding: z.enum(['utf8', 'base64']),
  bytes: z.number().int(),
  blob: z.object({ container: z.string(), name: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
});

/** A rejected input: its raw bytes, where it came from, and why it was rejected. Nothing is dropped. */
export const deadLetterSchema = z.object({
  /** Content hash of the raw payload: the same bad payload delivered twice is one dead letter. */
  id: z.string(),
  pk: z.string(),
  reason: z.string(),
  position: sourcePositionSchema,
  raw: z.union([inlineRawSchema, blobRawSchema]),
  /** A conflicting duplicate: the ledger document whose request it describes, which kept the winning version. */
  duplicateOf: z.object({ id: z.string(), pk: z.string() }).optional(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;

/**
 * A dead letter without its payload's bytes, as a listing shows it: its size and encoding stay, and where it is
 * kept when it is in Blob storage.
 */
export const deadLetterHeaderSchema = deadLetterSchema.omit({ raw: true }).extend({
  raw: z.object({ encoding: z.enum(['utf8', 'base64']), bytes: z.number().int(), blob: blobRawSchema.shape.blob.optional() }),
});
export type DeadLetterHeader = z.infer<typeof deadLetterHeaderSchema>;
export type InlineRaw = z.infer<typeof inlineRawSchema>;
export type BlobRaw = z.infer<typeof blobRawSchema>;
