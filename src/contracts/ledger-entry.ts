import { z } from 'zod';

export const LEDGER_ENTRY_SCHEMA = 'tokenledger.ledger/v2';

export const tokenSourceSchema = z.enum(['gateway', 'llm-log', 'none']);
export type TokenSource = z.infer<typeof tokenSourceSchema>;

const nullableText = z.string().nullable();

/**
 * The join's verdict for one request. `none` is final after the grace period, yet a record that arrives
 * later still upgrades it to `matched` (late diagnostics re-rate closed periods).
 */
export const joinOutcomeSchema = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('matched'),
    durationMs: z.number().nullable(),
    regionCode: nullableText,
    account: z.string(),
    modelName: nullableText,
    modelVersion: nullableText,
    streamType: nullableText,
    objectId: nullableText,
    httpStatus: z.number().int().nullable(),
  }),
  z.object({ status: z.literal('none') }),
]);
export type JoinOutcome = z.infer<typeof joinOutcomeSchema>;

/**
 * What one source told about a request: a ledger entry without the document's own fields. A document told by
 * several sources keeps one part per source (`parts`), so its merge can be recomputed when a conflicting
 * duplicate of one source replaces that source's part.
 */
export const ledgerPartSchema = z.object({
  source: z.enum(['gateway-v1', 'apim-gateway-logs', 'apim-llm-log', 'ai-hub-gateway']),
  missing: z.array(z.string()),
  time: z.string(),
  gatewayRequestId: z.string(),
  apimRequestId: nullableText,
  gateway: z.object({ service: z.string(), regionCode: nullableText, backendId: nullableText }),
  /** Region code of the backend that answered (`x-ms-region` normalised through the region table). */
  backendRegion: nullableText,
  caller: z.object({
    oid: nullableText,
    tid: nullableText,
    appid: nullableText,
    idtyp: z.enum(['user', 'app']).nullable(),
    upn: nullableText,
    sub: nullableText,
  }),
  subscriptionId: nullableText,
  productId: nullableText,
  deployment: nullableText,
  model: nullableText,
  operation: nullableText,
  stream: z.boolean(),
  status: z.number().int().nullable(),
  tokens: z.object({
    source: tokenSourceSchema,
    promptTokens: z.number().int(),
    cachedTokens: z.number().int(),
    completionTokens: z.number().int(),
    reasoningTokens: z.number().int(),
    /** Audio input tokens, part of `promptTokens`; absent when there were none. */
    audioPromptTokens: z.number().int().optional(),
    /** Audio output tokens, part of `completionTokens`; absent when there were none. */
    audioCompletionTokens: z.number().int().optional(),
  }),
  timings: z.object({ totalMs: z.number().nullable(), backendMs: z.number().nullable(), ttftMs: z.number().nullable() }),
  rateLimit: z.object({ remainingRequests: z.number().nullable(), remainingTokens: z.number().nullable() }),
});
export type LedgerPart = z.infer<typeof ledgerPartSchema>;

/**
 * One accepted request: the unit of truth every report is derived from, one document for its whole life. Its id
 * comes from the request alone (APIM's gateway request id, shared by every APIM-side source; an AI Hub payload's
 * own id), so merging the sources of a request never moves it. Its content depends only on the events, never on
 * when, where or in which order they were received. Its partition follows from its id too (`ledgerPartition`):
 * the store adds it as the document's partition key.
 */
export const ledgerEntrySchema = z.object({
  id: z.string(),
  schema: z.literal(LEDGER_ENTRY_SCHEMA),
  ...ledgerPartSchema.shape,
  /** Each source's own part, by source rank, when more than one source told the request (see `mergeLedgerEntries`). */
  parts: z.array(ledgerPartSchema).optional(),
  /** What the join found in Azure OpenAI's `RequestResponse` logs; absent until the join has looked. Last, as the join adds it. */
  diagnostics: joinOutcomeSchema.nullish(),
});
export type LedgerEntry = z.infer<typeof ledgerEntrySchema>;
