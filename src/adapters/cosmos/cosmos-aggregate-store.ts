import type { Container } from '@azure/cosmos';
import { chargebackTileSchema, dirtyWindowSchema, type ChargebackTile, type DirtyWindow } from '../../contracts/chargeback-tile.js';
import { LATENCY_TILE_SCHEMA, latencyTileDocumentSchema, type LatencyTileDocument, type TileGrain } from '../../contracts/latency-tile-document.js';
import { storedWeightsSchema, type StoredWeights } from '../../contracts/stored-weights.js';
import { TRAFFIC_TILE_SCHEMA, trafficTileSchema, type TrafficTile } from '../../contracts/traffic-tile.js';
import { trafficPartition } from '../../domain/traffic.js';
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

/** One partition per deployment: its recommendations, one per window end. */
const weightsPartition = (deployment: string) => `weights:${deployment}`;

/** Tiles, weights recommendations and dirty-window markers in the `aggregates` container. */
export class CosmosAggregateStore implements AggregateStore {
  constructor(private readonly container: Container) {}

  upsertChargebackTiles(tiles: readonly ChargebackTile[], options?: StoreOptions): Promise<void> {
    return writeAll('tiles', () => bulkUpsert(this.container, tiles.map(tileDocument), options));
  }

  getChargebackTiles(ids: readonly string[], options?: StoreOptions): Promise<ChargebackTile[]> {
    return queryByIds(this.container, ids, (doc) => chargebackTileSchema.parse(doc), options);
  }

  upsertLatencyTiles(tiles: readonly LatencyTileDocument[], options?: StoreOptions): Promise<void> {
    return writeAll('latency tiles', () => bulkUpsert(this.container, tiles, options));
  }

  async listLatencyTiles(day: string, grain: TileGrain, options: StoreOptions = {}): Promise<LatencyTileDocument[]> {
    const pk = `latency:${day}`;
    const tiles: LatencyTileDocument[] = [];
    const query = {
      query: 'SELECT * FROM c WHERE c.pk = @pk AND c.grain = @grain AND c.schema = @schema',
      parameters: [
        { name: '@pk', value: pk },
        { name: '@grain', value: grain },
        { name: '@schema', value: LATENCY_TILE_SCHEMA },
      ],
    };
    for await (const page of queryPages(this.container, query, (doc) => latencyTileDocumentSchema.parse(doc), { ...options, partitionKey: pk })) tiles.push(...page);
    return tiles;
  }

  upsertTrafficTiles(tiles: readonly TrafficTile[], options?: StoreOptions): Promise<void> {
    return writeAll('traffic tiles', () => bulkUpsert(this.container, tiles, options));
  }

  async listTrafficTiles(day: string, options: StoreOptions = {}): Promise<TrafficTile[]> {
    const pk = trafficPartition(day);
    const query = { query: 'SELECT * FROM c WHERE c.pk = @pk AND c.schema = @schema', parameters: [{ name: '@pk', value: pk }, { name: '@schema', value: TRAFFIC_TILE_SCHEMA }] };
    const tiles: TrafficTile[] = [];
    for await (const page of queryPages(this.container, query, (doc) => trafficTileSchema.parse(doc), { ...options, partitionKey: pk })) tiles.push(...page);
    return tiles;
  }

  async latestLatencyHour(deployment?: string, options: StoreOptions = {}): Promise<string | null> {
    // One aggregate over every day's partition, asked only when a report needs to say where the data is.
    const query = {
      query: `SELECT VALUE MAX(c.windowStart) FROM c WHERE c.schema = @schema AND c.grain = 'hour'${deployment ? ' AND c.deployment = @deployment' : ''}`,
      parameters: [{ name: '@schema', value: LATENCY_TILE_SCHEMA }, ...(deployment ? [{ name: '@deployment', value: deployment }] : [])],
    };
    let latest: string | null = null;
    for await (const page of queryPages(this.container, query, (value) => (typeof value === 'string' ? value : null), options)) {
      for (const value of page) if (value !== null && (latest === null || value > latest)) latest = value;
    }
    return latest;
  }

  async latestWeights(deployment: string, windowEnd: string, options: StoreOptions = {}): Promise<StoredWeights | null> {
    const pk = weightsPartition(deployment);
    const query = {
      query: 'SELECT TOP 1 * FROM c WHERE c.pk = @pk AND c.windowEnd <= @windowEnd ORDER BY c.windowEnd DESC',
      parameters: [
        { name: '@pk', value: pk },
        { name: '@windowEnd', value: windowEnd },
      ],
    };
    for await (const page of queryPages(this.container, query, (doc) => storedWeightsSchema.parse(doc), { ...options, partitionKey: pk })) if (page[0]) return page[0];
    return null;
  }

  async createWeights(weights: StoredWeights, options: StoreOptions = {}): Promise<boolean> {
    const document = { ...weights, id: `weights:${weights.deployment}:${weights.windowEnd}`, pk: weightsPartition(weights.deployment) };
    try {
      await this.container.items.create(document, { abortSignal: options.abortSignal });
      return true;
    } catch (error) {
      if ((error as { code?: unknown }).code === 409) return false;
      throw error;
    }
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
