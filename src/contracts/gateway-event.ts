import { z } from 'zod';

/**
 * Gateway event, version 1: the contract with the APIM policy in `gateway/`.
 * Field names are fixed; unknown fields are ignored (zod strips them), never stored blindly.
 * `checkGatewayEventV1` (gateway-event-check.ts) answers for this schema on the hot path: change both together.
 */
export const GATEWAY_EVENT_SCHEMA_V1 = 'tokenledger.gateway/v1';

export const MAX_ID_LENGTH = 256;
export const MAX_TEXT_LENGTH = 512;
/** Far larger than any context window; a count above it is corrupt data, not usage. */
export const MAX_TOKENS = 100_000_000;
/** The longest timing accepted: a day. */
export const MAX_MILLISECONDS = 86_400_000;

/** A lone UTF-16 surrogate has no UTF-8 form: it could not be stored, quoted in KQL or sent anywhere intact. */
const wellFormed = (value: string) => value.isWellFormed();
const id = z.string().trim().min(1).max(MAX_ID_LENGTH).refine(wellFormed, 'contains a lone UTF-16 surrogate');
const text = z.string().max(MAX_TEXT_LENGTH).refine(wellFormed, 'contains a lone UTF-16 surrogate');
const tokenCount = z.number().int().nonnegative().max(MAX_TOKENS);
const milliseconds = z.number().finite().nonnegative().max(MAX_MILLISECONDS);

/** Azure OpenAI did not exist before this; an earlier time is corrupt data (or a year-0000 placeholder). */
export const EARLIEST_EVENT_TIME = Date.parse('2020-01-01T00:00:00Z');
/** How far an event time may lie in the future of the receiver's clock. */
export const MAX_FUTURE_MS = 86_400_000;

/** An ISO-8601 instant with an explicit offset, from 2020 on and not more than a day in the future of the receiver's clock. */
export const eventTime = z.iso
  // A text that is no instant gets that one reason, not also those of the checks of its date.
  .datetime({ offset: true, abort: true })
  .refine((value) => Date.parse(value) >= EARLIEST_EVENT_TIME, 'time is before 2020-01-01')
  .refine((value) => Date.parse(value) <= Date.now() + MAX_FUTURE_MS, 'time is more than a day in the future');

export const usageSchema = z
  .object({
    promptTokens: tokenCount,
    cachedTokens: tokenCount.default(0),
    completionTokens: tokenCount.default(0),
    reasoningTokens: tokenCount.default(0),
    totalTokens: tokenCount.optional(),
    /** Audio input tokens (`prompt_tokens_details.audio_tokens`): part of `promptTokens`, priced apart. */
    audioPromptTokens: tokenCount.optional(),
    /** Audio output tokens (`completion_tokens_details.audio_tokens`): part of `completionTokens`, priced apart. */
    audioCompletionTokens: tokenCount.optional(),
  })
  .refine((u) => u.cachedTokens <= u.promptTokens, 'cachedTokens exceeds promptTokens (cached tokens are part of prompt tokens)')
  .refine(
    (u) => u.reasoningTokens <= u.completionTokens,
    'reasoningTokens exceeds completionTokens (reasoning tokens are part of completion tokens)',
  )
  .refine((u) => (u.audioPromptTokens ?? 0) <= u.promptTokens, 'audioPromptTokens exceeds promptTokens (audio tokens are part of prompt tokens)')
  .refine(
    (u) => (u.audioCompletionTokens ?? 0) <= u.completionTokens,
    'audioCompletionTokens exceeds completionTokens (audio tokens are part of completion tokens)',
  )
  .refine(
    (u) => u.totalTokens === undefined || u.totalTokens === u.promptTokens + u.completionTokens,
    'totalTokens is not promptTokens + completionTokens',
  );

export const callerSchema = z.object({
  oid: id.nullish(),
  tid: id.nullish(),
  appid: id.nullish(),
  idtyp: z.enum(['user', 'app']).nullish(),
  upn: text.nullish(),
  sub: id.nullish(),
});

export const gatewayEventV1Schema = z.object({
  schema: z.literal(GATEWAY_EVENT_SCHEMA_V1),
  gatewayRequestId: id,
  apimRequestId: id.nullable(),
  time: eventTime,
  gateway: z.object({
    service: text,
    region: text.nullish(),
    backendId: text.nullish(),
    backendUrl: text.nullish(),
  }),
  backendRegion: text.nullish(),
  subscriptionId: id.nullish(),
  productId: id.nullish(),
  caller: callerSchema.nullish(),
  deployment: text.nullish(),
  model: text.nullish(),
  operation: text.nullish(),
  stream: z.boolean().default(false),
  status: z.number().int().min(100).max(599).nullable(),
  usage: usageSchema.nullish(),
  timings: z
    .object({
      totalMs: milliseconds.nullish(),
      backendMs: milliseconds.nullish(),
      ttftMs: milliseconds.nullish(),
    })
    .nullish(),
  rateLimit: z
    .object({
      remainingRequests: z.number().int().nonnegative().nullish(),
      remainingTokens: z.number().int().nonnegative().nullish(),
    })
    .nullish(),
});

export type GatewayEventV1 = z.infer<typeof gatewayEventV1Schema>;
export type GatewayEventV1Input = z.input<typeof gatewayEventV1Schema>;
export type Usage = z.infer<typeof usageSchema>;
export type Caller = z.infer<typeof callerSchema>;
