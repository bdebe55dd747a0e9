import type { DirtyWindow } from '../contracts/dirty-window.js';
import type { LatencyTileDocument, TileGrain } from '../contracts/latency-tile-document.js';
import type { StoredWeights } from '../contracts/stored-weights.js';
import type { TrafficTile } from '../contracts/traffic-tile.js';
import type { UsageGrain, UsageTileHead, UsageTilePart } from '../contracts/usage-tile.js';
import type { StoreOptions } from './ledger-store.js';

/** A stored document's version (its ETag): a conditional write succeeds only while the document is unchanged. */
export interface Versioned<T> {
  readonly value: T;
  readonly version: string;
}

/** A usage tile's head and parts as a query returned them (parts of other generations included). */
export interface UsageDocuments {
  readonly heads: readonly UsageTileHead[];
  readonly parts: readonly UsageTilePart[];
}

/** Latency tiles of one UTC day (`YYYY-MM-DD`) at some grains, with window starts (ISO 8601, as stored) in [from, to). */
export interface LatencyWindows {
  readonly day: string;
  readonly grains: readonly TileGrain[];
  readonly from: string;
  readonly to: string;
}

/** Derived aggregates (tiles) and the windows waiting to be recomputed. */
export interface LatencyTileQueryOptions extends StoreOptions {
  /** Only this deployment's tiles (in the query, not after it: a day holds every deployment's). */
  readonly deployment?: string;
}

export interface AggregateStore {
  /** The head of a window's usage tile and its version, or null when the window has no tile yet. */
  getUsageHead(grain: UsageGrain, window: string, options?: StoreOptions): Promise<Versioned<UsageTileHead> | null>;
  /** Writes parts of a generation no head names yet (readers ignore them until one does). */
  putUsageParts(parts: readonly UsageTilePart[], options?: StoreOptions): Promise<void>;
  /**
   * Makes `head` its window's head if the stored head is still at `expectedVersion` (null: there is none yet). False
   * when another writer replaced or created it first; then nothing changed.
   */
  replaceUsageHead(head: UsageTileHead, expectedVersion: string | null, options?: StoreOptions): Promise<boolean>;
  deleteUsageParts(parts: readonly { id: string; pk: string }[], options?: StoreOptions): Promise<void>;
  /**
   * Heads and parts of the usage tiles of one grain whose windows are in [fromWindow, toWindow), all in the partition
   * `usagePartition(grain, fromWindow)`: one single-partition query, read page by page.
   */
  listUsageDocuments(grain: UsageGrain, fromWindow: string, toWindow: string, options?: StoreOptions): Promise<UsageDocuments>;
  upsertLatencyTiles(tiles: readonly LatencyTileDocument[], options?: StoreOptions): Promise<void>;
  /**
   * Deletes the latency tiles of `windows` (one UTC day's partition, the grains named, window starts in [from, to))
   * whose ids are not in `keep`: the tiles a recompute of those windows no longer gives (a request now joined to
   * another backend, one whose merge moved it to another hour).
   */
  deleteLatencyTilesExcept(windows: LatencyWindows, keep: ReadonlySet<string>, options?: StoreOptions): Promise<void>;
  /**
   * Latency tiles of one UTC day (`YYYY-MM-DD`) at one grain: one single-partition query. Only tiles of the
   * current `LATENCY_TILE_SCHEMA` are listed: tiles of an older version are keyed differently and would be
   * counted twice beside their recomputed successors (mark their hours dirty to rebuild them).
   */
  listLatencyTiles(day: string, grain: TileGrain, options?: LatencyTileQueryOptions): Promise<LatencyTileDocument[]>;
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
  /**
   * A marker of the hour of the caller's own, beside the hour's other markers (which it neither replaces nor
   * outlives): it brings the hour back to the next rollup until its holder clears it at the version returned.
   */
  holdDirty(hour: string, options?: StoreOptions): Promise<Versioned<DirtyWindow>>;
  listDirty(options?: StoreOptions): Promise<Versioned<DirtyWindow>[]>;
  /** Removes markers still at the version listed; a marker set again since (a newer change) stays for the next rollup. */
  clearDirty(markers: readonly Versioned<DirtyWindow>[], options?: StoreOptions): Promise<void>;
}
