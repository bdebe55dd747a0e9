import { z } from 'zod';

export const TRAFFIC_TILE_SCHEMA = 'tokenledger.traffic-tile/v1';

const count = z.number().int().nonnegative();

/**
 * What one UTC hour's traffic looked like, recomputed by the rollup from that hour's ledger entries and
 * diagnostic records: join outcomes, calls that bypassed the gateway (by credential) and unattributed use.
 * `GET /api/traffic` sums these tiles, so its cost does not grow with the ledger.
 */
export const trafficTileSchema = z.object({
  id: z.string(),
  /** `traffic:<YYYY-MM-DD>`: a day's tiles are one single-partition query. */
  pk: z.string(),
  schema: z.literal(TRAFFIC_TILE_SCHEMA),
  /** `YYYY-MM-DDTHH`. */
  hour: z.string(),
  join: z.object({ matched: count, noDiagnostics: count }),
  bypass: z.object({ entra: count, key: count }),
  unattributed: z.object({ requests: count, promptTokens: count, completionTokens: count }),
});
export type TrafficTile = z.infer<typeof trafficTileSchema>;
