import type { Container } from '@azure/cosmos';
import { chargebackTileSchema, dirtyWindowSchema, type ChargebackTile, type DirtyWindow } from '../../contracts/chargeback-tile.js';
import type { AggregateStore } from '../../ports/aggregate-store.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import { bulkDelete, bulkUpsert } from './bulk-write.js';
import { queryByIds, queryPages } from './query-pages.js';

function tileDocument(tile: ChargebackTile) {
  return { ...tile, lines: tile.lines.map((line) => ({ ...line, costPico: line.costPico.toString() })) };
}

async function writeAll(what: string, write: () => Promise<{ status: unknown }[]>): Promise<void> {
  const rejected = await write();
  if (rejected.length > 0) throw new Error(`aggregate store refused ${rejected.length} ${what} (status ${rejected.map((r) => String(r.status)).join(', ')})`);
}

/** Tiles and dirty-window markers in the `aggregates` container. */
export class CosmosAggregateStore implements AggregateStore {
  constructor(private readonly container: Container) {}

  upsertChargebackTiles(tiles: readonly ChargebackTile[], options?: StoreOptions): Promise<void> {
    return writeAll('tiles', () => bulkUpsert(this.container, tiles.map(tileDocument), options));
  }

  getChargebackTiles(ids: readonly string[], options?: StoreOptions): Promise<ChargebackTile[]> {
    return queryByIds(this.container, ids, (doc) => chargebackTileSchema.parse(doc), options);
  }

  markDirty(hours: readonly string[], options?: StoreOptions): Promise<void> {
    const markedAt = new Date().toISOString();
    const markers: DirtyWindow[] = [...new Set(hours)].map((hour) => ({ id: `dirty:${hour}`, pk: 'dirty', hour, markedAt }));
    return writeAll('dirty markers', () => bulkUpsert(this.container, markers, options));
  }

  async listDirty(options: StoreOptions = {}): Promise<DirtyWindow[]> {
    const markers: DirtyWindow[] = [];
    for await (const page of queryPages(this.container, { query: "SELECT * FROM c WHERE c.pk = 'dirty'" }, (doc) => dirtyWindowSchema.parse(doc), { ...options, partitionKey: 'dirty' })) {
      markers.push(...page);
    }
    return markers.sort((a, b) => (a.hour < b.hour ? -1 : 1));
  }

  async clearDirty(markers: readonly DirtyWindow[], options: StoreOptions = {}): Promise<void> {
    const current = new Map((await this.listDirty(options)).map((m) => [m.id, m.markedAt]));
    const unchanged = markers.filter((m) => current.get(m.id) === m.markedAt);
    await writeAll('dirty markers', () => bulkDelete(this.container, unchanged, options));
  }
}
