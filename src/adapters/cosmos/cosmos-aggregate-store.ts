import { randomUUID } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import { dirtyWindowSchema, type DirtyWindow } from '../../contracts/dirty-window.js';
import { LATENCY_TILE_SCHEMA, latencyTileDocumentSchema, type LatencyTileDocument, type TileGrain } from '../../contracts/latency-tile-document.js';
import { storedWeightsSchema, type StoredWeights } from '../../contracts/stored-weights.js';
import { TRAFFIC_TILE_SCHEMA, trafficTileSchema, type TrafficTile } from '../../contracts/traffic-tile.js';
import { usageTileHeadSchema, usageTilePartSchema, type UsageGrain, type UsageTileHead, type UsageTilePart } from '../../contracts/usage-tile.js';
import { stableId } from '../../domain/stable-id.js';
import { trafficPartition } from '../../domain/traffic.js';
import { usageHeadKey, usagePartition } from '../../domain/usage.js';
import type { AggregateStore, LatencyTileQueryOptions, LatencyWindows, UsageDocuments, Versioned } from '../../ports/aggregate-store.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import { bulkDelete, bulkUpsert, cosmosCall, isDocumentId, MAX_PARTITION_KEY_BYTES, throwIfRefused } from './bulk-write.js';
import { queryPages } from './query-pages.js';
import { readVersioned, versioned, writeIfVersion } from './versioned-documents.js';

async function writeAll(what: string, write: () => Promise<{ status: unknown }[]>): Promise<void> {
  throwIfRefused('aggregate store', what, await write());
}

/**
 * One partition per deployment: its recommendations, one per window end. A deployment name too long for a partition
 * key value (a diagnostic record's `modelDeploymentName` has no bound) is hashed there.
 */
function weightsPartition(deployment: string): string {
  const pk = `weights:${deployment}`;
  return Buffer.byteLength(pk, 'utf8') <= MAX_PARTITION_KEY_BYTES ? pk : `weights:h-${stableId('weights-deployment', deployment)}`;
}

/**
 * A recommendation's id. A deployment name is any text an API client put in its request path; one that Cosmos DB
 * cannot take in an id (a '/', '?', '#' or '\\', or too long) is hashed there. Ids need only be unique within their
 * partition, which is the deployment's own.
 */
function weightsId(deployment: string, windowEnd: string): string {
  const id = `weights:${deployment}:${windowEnd}`;
  return isDocumentId(id) ? id : `weights:h-${stableId('weights-deployment', deployment)}:${windowEnd}`;
}

/** Tiles, weights recommendations and dirty-window markers in the `aggregates` container. */
export class CosmosAggregateStore implements AggregateStore {
  constructor(private readonly container: Container) {}

  getUsageHead(grain: UsageGrain, window: string, options: StoreOptions = {}): Promise<Versioned<UsageTileHead> | null> {
    return readVersioned(this.container, usageHeadKey(grain, window), (doc) => usageTileHeadSchema.parse(doc), options);
  }

  putUsageParts(parts: readonly UsageTilePart[], options?: StoreOptions): Promise<void> {
    return writeAll('usage tile parts', () => bulkUpsert(this.container, parts, options));
  }

  async replaceUsageHead(head: UsageTileHead, expectedVersion: string | null, options: StoreOptions = {}): Promise<boolean> {
    return (await writeIfVersion(this.container, head, expectedVersion, options)) !== null;
  }

  deleteUsageParts(parts: readonly { id: string; pk: string }[], options?: StoreOptions): Promise<void> {
    return writeAll('usage tile parts', () => bulkDelete(this.container, parts, options));
  }

  async listUsageDocuments(grain: UsageGrain, fromWindow: string, toWindow: string, options: StoreOptions = {}): Promise<UsageDocuments> {
    const pk = usagePartition(grain, fromWindow);
    const query = {
      query: "SELECT * FROM c WHERE c.pk = @pk AND c.grain = @grain AND c.window >= @from AND c.window < @to AND (c.kind = 'usage-head' OR c.kind = 'usage-part')",
      parameters: [
        { name: '@pk', value: pk },
        { name: '@grain', value: grain },
        { name: '@from', value: fromWindow },
        { name: '@to', value: toWindow },
      ],
    };
    const heads: UsageTileHead[] = [];
    const parts: UsageTilePart[] = [];
    const parse = (doc: unknown) => ((doc as { kind?: unknown }).kind === 'usage-head' ? usageTileHeadSchema.parse(doc) : usageTilePartSchema.parse(doc));
    for await (const page of queryPages(this.container, query, parse, { ...options, partitionKey: pk })) {
      for (const doc of page) (doc.kind === 'usage-head' ? heads : parts).push(doc as never);
    }
    return { heads, parts };
  }

  upsertLatencyTiles(tiles: readonly LatencyTileDocument[], options?: StoreOptions): Promise<void> {
    return writeAll('latency tiles', () => bulkUpsert(this.container, tiles, options));
  }

  async deleteLatencyTilesExcept(windows: LatencyWindows, keep: ReadonlySet<string>, options: StoreOptions = {}): Promise<void> {
    const pk = `latency:${windows.day}`;
    const grains = windows.grains.map((grain, i) => ({ name: `@grain${i}`, value: grain }));
    const query = {
      query: `SELECT c.id FROM c WHERE c.pk = @pk AND c.windowStart >= @from AND c.windowStart < @to AND (${grains.map((g) => `c.grain = ${g.name}`).join(' OR ')})`,
      parameters: [{ name: '@pk', value: pk }, { name: '@from', value: windows.from }, { name: '@to', value: windows.to }, ...grains],
    };
    const stale: { id: string; pk: string }[] = [];
    for await (const page of queryPages(this.container, query, (doc) => String((doc as { id: unknown }).id), { ...options, partitionKey: pk })) {
      for (const id of page) if (!keep.has(id)) stale.push({ id, pk });
    }
    if (stale.length > 0) await writeAll('latency tiles', () => bulkDelete(this.container, stale, options));
  }

  async listLatencyTiles(day: string, grain: TileGrain, options: LatencyTileQueryOptions = {}): Promise<LatencyTileDocument[]> {
    const pk = `latency:${day}`;
    const tiles: LatencyTileDocument[] = [];
    const query = {
      query: `SELECT * FROM c WHERE c.pk = @pk AND c.grain = @grain AND c.schema = @schema${options.deployment === undefined ? '' : ' AND c.deployment = @deployment'}`,
      parameters: [
        { name: '@pk', value: pk },
        { name: '@grain', value: grain },
        { name: '@schema', value: LATENCY_TILE_SCHEMA },
        ...(options.deployment === undefined ? [] : [{ name: '@deployment', value: options.deployment }]),
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
    const document = { ...weights, id: weightsId(weights.deployment, weights.windowEnd), pk: weightsPartition(weights.deployment) };
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

  async holdDirty(hour: string, options: StoreOptions = {}): Promise<Versioned<DirtyWindow>> {
    const marker: DirtyWindow = { id: `dirty:${hour}:${randomUUID()}`, pk: 'dirty', hour, markedAt: new Date().toISOString(), held: true };
    const { resource } = await cosmosCall('dirty marker', () => this.container.items.create(marker, { abortSignal: options.abortSignal }));
    return versioned(resource ?? {}, marker);
  }

  async listDirty(options: StoreOptions = {}): Promise<Versioned<DirtyWindow>[]> {
    const markers: Versioned<DirtyWindow>[] = [];
    const parse = (doc: unknown) => versioned(doc as { _etag?: unknown }, dirtyWindowSchema.parse(doc));
    for await (const page of queryPages(this.container, { query: "SELECT * FROM c WHERE c.pk = 'dirty'" }, parse, { ...options, partitionKey: 'dirty' })) {
      markers.push(...page);
    }
    return markers.sort((a, b) => (a.value.hour < b.value.hour ? -1 : 1));
  }

  /** Each delete is conditional on the marker's ETag: an ingest that marked the hour again keeps its marker. */
  clearDirty(markers: readonly Versioned<DirtyWindow>[], options: StoreOptions = {}): Promise<void> {
    return writeAll('dirty markers', () => bulkDelete(this.container, markers.map((m) => ({ id: m.value.id, pk: m.value.pk, ifMatch: m.version })), options));
  }
}
