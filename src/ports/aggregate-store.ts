import type { ChargebackTile, DirtyWindow } from '../contracts/chargeback-tile.js';
import type { LatencyTileDocument, TileGrain } from '../contracts/latency-tile-document.js';
import type { StoredWeights } from '../contracts/stored-weights.js';
import type { TrafficTile } from '../contracts/traffic-tile.js';
import type { StoreOptions } from './ledger-store.js';

/** Derived aggregates (tiles) and the windows waiting to be recomputed. */
export interface AggregateStore {
  upsertChargebackTiles(tiles: readonly ChargebackTile[], options?: StoreOptions): Promise<void>;
  /** Tiles with these ids (missing ones are simply absent): one query, not one read per tile. */
  getChargebackTiles(ids: readonly string[], options?: StoreOptions): Promise<ChargebackTile[]>;
  upsertLatencyTiles(tiles: readonly LatencyTileDocument[], options?: StoreOptions): Promise<void>;
  /**
   * Latency tiles of one UTC day (`YYYY-MM-DD`) at one grain: one single-partition query. Only tiles of the
   * current `LATENCY_TILE_SCHEMA` are listed: tiles of an older version are keyed differently and would be
   * counted twice beside their recomputed successors (mark their hours dirty to rebuild them).
   */
  listLatencyTiles(day: string, grain: TileGrain, options?: StoreOptions): Promise<LatencyTileDocument[]>;
  upsertTrafficTiles(tiles: readonly TrafficTile[], options?: StoreOptions): Promise<void>;
  /** Traffic tiles of one UTC day (`YYYY-MM-DD`): one single-partition query. */
  listTrafficTiles(day: string, options?: StoreOptions): Promise<TrafficTile[]>;
  /** Start of the latest UTC hour that has a latency tile, of one deployment or any; null when there is none. */
  latestLatencyHour(deployment?: string, options?: StoreOptions): Promise<string | null>;
  /**
   * The latest weights recommendation stored for `deployment` whose window ends at or before `windowEnd`; null
   * when there is none. One single-partition query: a deployment's recommendations are its history.
   */
  latestWeights(deployment: string, windowEnd: string, options?: StoreOptions): Promise<StoredWeights | null>;
  /**
   * Stores a recommendation unless one of the same deployment and window end exists, which then stays as it is
   * (overlapping timer runs store one). True when this call stored it.
   */
  createWeights(weights: StoredWeights, options?: StoreOptions): Promise<boolean>;
  markDirty(hours: readonly string[], options?: StoreOptions): Promise<void>;
  listDirty(options?: StoreOptions): Promise<DirtyWindow[]>;
  /** Removes markers, unless a marker was set again after `markedBefore` (a newer change still needs a rollup). */
  clearDirty(markers: readonly DirtyWindow[], options?: StoreOptions): Promise<void>;
}

