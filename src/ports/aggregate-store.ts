import type { ChargebackTile, DirtyWindow } from '../contracts/chargeback-tile.js';
import type { StoreOptions } from './ledger-store.js';

/** Derived aggregates (tiles) and the windows waiting to be recomputed. */
export interface AggregateStore {
  upsertChargebackTiles(tiles: readonly ChargebackTile[], options?: StoreOptions): Promise<void>;
  /** Tiles with these ids (missing ones are simply absent): one query, not one read per tile. */
  getChargebackTiles(ids: readonly string[], options?: StoreOptions): Promise<ChargebackTile[]>;
  markDirty(hours: readonly string[], options?: StoreOptions): Promise<void>;
  listDirty(options?: StoreOptions): Promise<DirtyWindow[]>;
  /** Removes markers, unless a marker was set again after `markedBefore` (a newer change still needs a rollup). */
  clearDirty(markers: readonly DirtyWindow[], options?: StoreOptions): Promise<void>;
}
