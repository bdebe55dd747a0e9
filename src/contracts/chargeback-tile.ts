import { z } from 'zod';
import { IDENTITY_KINDS } from './identity-kind.js';

export const GRAINS = ['hour', 'day', 'month'] as const;
export type Grain = (typeof GRAINS)[number];

const lineSchema = z.object({
  identity: z.string(),
  identityKind: z.enum(IDENTITY_KINDS),
  model: z.string(),
  deployment: z.string(),
  priceVersion: z.string().nullable(),
  requests: z.number().int(),
  promptTokens: z.number().int(),
  cachedTokens: z.number().int(),
  completionTokens: z.number().int(),
  reasoningTokens: z.number().int(),
  /** Exact cost in picodollars (1e-12 of the currency), as a decimal integer string: JSON numbers would round. */
  costPico: z.string().regex(/^-?\d+$/).transform((v) => BigInt(v)),
  tokenSources: z.object({ gateway: z.number().int(), 'llm-log': z.number().int(), none: z.number().int() }),
  unpriced: z.boolean(),
});

/**
 * A chargeback tile: the chargeback lines of one window (an hour, a day or a month, UTC). Hour tiles are
 * recomputed from the ledger; day and month tiles are merged from the finer ones. Ids are deterministic.
 */
export const chargebackTileSchema = z.object({
  id: z.string(),
  pk: z.string(),
  kind: z.literal('chargeback'),
  grain: z.enum(GRAINS),
  /** Window start: `YYYY-MM-DDTHH`, `YYYY-MM-DD` or `YYYY-MM`. */
  window: z.string(),
  entries: z.number().int(),
  lines: z.array(lineSchema),
});
export type ChargebackTileDocument = z.input<typeof chargebackTileSchema>;
export type ChargebackTile = z.output<typeof chargebackTileSchema>;

/** A window whose tiles must be recomputed (new or changed ledger entries, a price correction). */
export const dirtyWindowSchema = z.object({ id: z.string(), pk: z.literal('dirty'), hour: z.string(), markedAt: z.string() });
export type DirtyWindow = z.infer<typeof dirtyWindowSchema>;
