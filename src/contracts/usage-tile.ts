import { z } from 'zod';
import { IDENTITY_KINDS } from './identity-kind.js';
import { tokenSourceSchema } from './ledger-entry.js';

export const USAGE_GRAINS = ['hour', 'day'] as const;
export type UsageGrain = (typeof USAGE_GRAINS)[number];

/**
 * What a request used, as the price table distinguishes it: text tokens, audio input, audio output, a per-call
 * operation (an image, a transcription). Requests of one line all used the same things, so a price either covers
 * every request of a line or none (a price without audio leaves audio requests unpriced, not charged in part).
 */
export const USES = ['text', 'audio-input', 'audio-output', 'per-call'] as const;
export type Use = (typeof USES)[number];

const count = z.number().int().nonnegative();

/**
 * Token use of one identity on one model, deployment, backend region and token source in one window: the fact
 * reports price when they are read. Every field but the counts is part of the line's key.
 */
export const usageLineSchema = z.object({
  identity: z.string(),
  identityKind: z.enum(IDENTITY_KINDS),
  /** The model as reports show it (`(unknown)` when no source named it). */
  model: z.string(),
  /** The model name the price table is asked for (see `pricingModelOf`); null when nothing named a model. */
  pricingModel: z.string().nullable(),
  /** Null when no source named the deployment (then it is priced by model only). */
  deployment: z.string().nullable(),
  region: z.string().nullable(),
  tokenSource: tokenSourceSchema,
  uses: z.array(z.enum(USES)),
  requests: count,
  promptTokens: count,
  cachedTokens: count,
  completionTokens: count,
  reasoningTokens: count,
  audioPromptTokens: count,
  audioCompletionTokens: count,
  /**
   * Prompt tokens billed at the uncached input price, summed per request: prompt − cached − audio input priced as
   * audio (`splitTokens`: cached audio is priced as cached), which is not a function of the summed counts. The
   * rest of the uncached prompt, `promptTokens − cachedTokens − uncachedInputTokens`, is the audio priced as audio.
   */
  uncachedInputTokens: count,
});
export type UsageLine = z.infer<typeof usageLineSchema>;

/**
 * A usage tile's head: which generation of parts holds the window's lines. Writers put a new generation's parts
 * first and then replace the head on the condition that it is still the one they read before reading their
 * inputs (ETag), so a rollup working from older inputs can never overwrite a newer tile.
 */
export const usageTileHeadSchema = z.object({
  id: z.string(),
  pk: z.string(),
  kind: z.literal('usage-head'),
  grain: z.enum(USAGE_GRAINS),
  /** `YYYY-MM-DDTHH` (hour) or `YYYY-MM-DD` (day), UTC. */
  window: z.string(),
  generation: z.string(),
  parts: count,
  /** Ledger entries the window holds. */
  entries: count,
});
export type UsageTileHead = z.infer<typeof usageTileHeadSchema>;

/** Lines of one window and generation, cut into parts so that no document nears Cosmos DB's item size limit. */
export const usageTilePartSchema = z.object({
  id: z.string(),
  pk: z.string(),
  kind: z.literal('usage-part'),
  grain: z.enum(USAGE_GRAINS),
  window: z.string(),
  generation: z.string(),
  part: count,
  lines: z.array(usageLineSchema),
});
export type UsageTilePart = z.infer<typeof usageTilePartSchema>;

/** The lines of one window as its head in force names them. */
export interface UsageTile {
  readonly grain: UsageGrain;
  readonly window: string;
  readonly entries: number;
  readonly lines: readonly UsageLine[];
}
