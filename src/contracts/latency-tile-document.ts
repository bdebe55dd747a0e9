import { z } from 'zod';

/** v2 added the APIM backend to the key; stores read only tiles of this version (see `listLatencyTiles`). */
export const LATENCY_TILE_SCHEMA = 'tokenledger.latency-tile/v2';

/** Window lengths of latency tiles: 5-minute tiles are built from the ledger, hours and days by merging them. */
export const tileGrainSchema = z.enum(['5m', 'hour', 'day']);
export type TileGrain = z.infer<typeof tileGrainSchema>;

/**
 * One DDSketch as stored: its protobuf bytes in base64, and beside them the summary statistics that
 * `DDSketch.fromProto` does not restore (it keeps the bins and the count, but resets sum, min and max).
 * `min`/`max` are null for an empty sketch (JSON has no infinities).
 */
export const storedSketchSchema = z
  .object({
    base64: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, { error: 'expected base64 text' }),
    count: z.number().nonnegative(),
    sum: z.number().nonnegative(),
    min: z.number().nonnegative().nullable(),
    max: z.number().nonnegative().nullable(),
  })
  .refine((s) => (s.count === 0) === (s.min === null && s.max === null), { error: 'min and max are null exactly when count is 0' })
  .refine((s) => s.min === null || s.max === null || s.min <= s.max, { error: 'min must not exceed max' });
export type StoredSketch = z.infer<typeof storedSketchSchema>;

/** The four distributions a latency tile keeps (see `src/domain/latency-tile.ts` for what feeds each). */
export const latencyMetricSchema = z.enum(['serviceMs', 'gatewayTotalMs', 'ttftMs', 'msPerOutputToken']);
export type LatencyMetric = z.infer<typeof latencyMetricSchema>;

/**
 * A latency tile as written to the aggregates container: per region code, APIM backend, deployment and window,
 * with a deterministic id (grain, region, backend, deployment, window start), so recomputing a window overwrites
 * its tile.
 * Partition key: `latency:YYYY-MM-DD`, the UTC day of the window, so one day's tiles of every grain share
 * one logical partition. Unknown fields (a store's own, such as Cosmos DB's `_etag`) are ignored when reading.
 */
export const latencyTileDocumentSchema = z
  .object({
    id: z.string().min(1),
    pk: z.string().regex(/^latency:\d{4}-\d{2}-\d{2}$/),
    schema: z.literal(LATENCY_TILE_SCHEMA),
    regionCode: z.string().min(1),
    /** APIM backend id (`gateway.backendId`), or `(unknown)` (see `src/domain/latency-tile.ts`). */
    backendId: z.string().min(1),
    deployment: z.string().min(1),
    grain: tileGrainSchema,
    /** Window start, ISO 8601 UTC with milliseconds (`2026-11-21T10:05:00.000Z`). */
    windowStart: z.iso.datetime(),
    /** Exclusive window end. */
    windowEnd: z.iso.datetime(),
    /** Relative accuracy every sketch of the tile was built with. */
    relativeAccuracy: z.number().positive().lt(1),
    /** Diagnostic `RequestResponse` records of the backend's account in the window (gateway traffic and direct calls). */
    requests: z.number().int().nonnegative(),
    /** Of those, records with a 5xx status. */
    errors: z.number().int().nonnegative(),
    /** Of those, records with status 429. */
    throttled: z.number().int().nonnegative(),
    sketches: z.object({
      serviceMs: storedSketchSchema,
      gatewayTotalMs: storedSketchSchema,
      ttftMs: storedSketchSchema,
      msPerOutputToken: storedSketchSchema,
    }),
  })
  .refine((d) => d.errors + d.throttled <= d.requests, { error: 'errors + throttled must not exceed requests' })
  .refine((d) => Date.parse(d.windowStart) < Date.parse(d.windowEnd), { error: 'windowStart must precede windowEnd' });
export type LatencyTileDocument = z.infer<typeof latencyTileDocumentSchema>;
