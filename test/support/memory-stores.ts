import type { DirtyWindow } from '../../src/contracts/dirty-window.js';
import type { UsageGrain, UsageTileHead, UsageTilePart } from '../../src/contracts/usage-tile.js';
import { usageHeadKey, usagePartition } from '../../src/domain/usage.js';
import type { DeadLetter, DeadLetterHeader } from '../../src/contracts/dead-letter.js';
import { LATENCY_TILE_SCHEMA, type LatencyTileDocument, type TileGrain } from '../../src/contracts/latency-tile-document.js';
import type { StoredWeights } from '../../src/contracts/stored-weights.js';
import type { TrafficTile } from '../../src/contracts/traffic-tile.js';
import type { AggregateStore, LatencyTileQueryOptions, LatencyWindows, UsageDocuments, Versioned } from '../../src/ports/aggregate-store.js';
import type { StoredDiagnostic } from '../../src/contracts/diagnostic-record.js';
import type { WatermarkStore, WatermarkWriteOptions } from '../../src/ports/diagnostics-source.js';
import type { DiagnosticsStore, RecordWrite, RecordWriteOutcome, VersionedRecord } from '../../src/ports/diagnostics-store.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { ledgerPartition } from '../../src/domain/ledger.js';
import type { DeadLetterKey, DeadLetterQuery, DeadLetterStore, EntryWrite, LedgerCursor, LedgerEntryPage, LedgerKey, LedgerStore, RefusedEntry, StoredEntry, StoreOptions, WriteOutcome } from '../../src/ports/ledger-store.js';
import type { PayloadStore } from '../../src/ports/payload-store.js';
import type { QuarantineListing, QuarantineStore } from '../../src/ports/quarantine-store.js';
import { quarantinedBatchSchema, type QuarantinedBatch } from '../../src/contracts/quarantine.js';
import { quarantineName } from '../../src/adapters/blob/blob-quarantine-store.js';
import { isDocumentId } from '../../src/adapters/cosmos/bulk-write.js';
import type { AllocatedExport, InvoiceHead, InvoicePart } from '../../src/contracts/invoice-allocation-document.js';
import { allocatedExportKey, invoiceHeadKey, invoicePartition } from '../../src/domain/invoice-documents.js';
import type { InvoiceAllocationStore, InvoiceDocuments } from '../../src/ports/invoice-allocation-store.js';
import type { CostExportBlob, CostExportSource } from '../../src/ports/cost-export-source.js';
import type { CheckResult } from '../../src/domain/reconciliation.js';
import { compareResultKeys } from '../../src/contracts/reconciliation-result.js';
import { namedRunResults, type NamedRun } from '../../src/domain/run-order.js';
import type { ReconciliationStore, TimeWindow } from '../../src/ports/reconciliation.js';

/** Deep copy, so that a test can never mutate what a store holds (and the store never holds the caller's objects). */
function clone<T>(value: T): T {
  return structuredClone(value);
}

const keyOf = (entry: LedgerKey) => `${ledgerPartition(entry.id)}|${entry.id}`;

/**
 * In-memory fake of the ledger store, keyed like Cosmos DB by (partition key, id), the partition from the id
 * (`ledgerPartition`), as the Cosmos DB store writes it, with a version per document
 * that conditional writes check as Cosmos DB checks `_etag`. Hooks let a test make it fail transiently or refuse
 * entries for good.
 */
export class MemoryLedgerStore implements LedgerStore {
  readonly entries = new Map<string, LedgerEntry>();
  private readonly versions = new Map<string, number>();
  private version = 0;
  /** Called before every write; throw from it to simulate a store failure. */
  beforeUpsert: ((entries: readonly LedgerEntry[]) => void) | null = null;
  /** Returns the reason an entry is refused for good, or null to store it. */
  refuse: ((entry: LedgerEntry) => string | null) | null = null;
  upsertCalls = 0;

  private put(entry: LedgerEntry): void {
    this.entries.set(keyOf(entry), clone(entry));
    this.versions.set(keyOf(entry), ++this.version);
  }

  private etagOf(key: string): string {
    return `"${this.versions.get(key) ?? 0}"`;
  }

  async createEntries(entries: readonly LedgerEntry[], _options?: StoreOptions): Promise<readonly RefusedEntry[]> {
    this.upsertCalls++;
    this.beforeUpsert?.(entries);
    const refused: RefusedEntry[] = [];
    for (const entry of entries) {
      const reason = this.refuse?.(entry) ?? null;
      if (reason !== null) refused.push({ entry, reason });
      else if (!this.entries.has(keyOf(entry))) this.put(entry);
    }
    return refused;
  }

  async readEntries(keys: readonly LedgerKey[], _options?: StoreOptions): Promise<StoredEntry[]> {
    return [...new Set(keys.map(keyOf))].flatMap((key) => {
      const entry = this.entries.get(key);
      return entry ? [{ entry: clone(entry), etag: this.etagOf(key) }] : [];
    });
  }

  async writeEntries(writes: readonly EntryWrite[], _options?: StoreOptions): Promise<WriteOutcome> {
    this.upsertCalls++;
    this.beforeUpsert?.(writes.map((w) => w.entry));
    const conflicts: LedgerKey[] = [];
    const refused: RefusedEntry[] = [];
    for (const { entry, etag } of writes) {
      const key = keyOf(entry);
      const reason = this.refuse?.(entry) ?? null;
      if (reason !== null) refused.push({ entry, reason });
      else if (etag === null ? this.entries.has(key) : !this.entries.has(key) || this.etagOf(key) !== etag) conflicts.push({ id: entry.id });
      else this.put(entry);
    }
    return { conflicts, refused };
  }

  async getEntriesByApimRequestIds(apimRequestIds: readonly string[], _options?: StoreOptions): Promise<StoredEntry[]> {
    const ids = new Set(apimRequestIds.flatMap((id) => [id, id.toLowerCase()]));
    return [...this.entries.entries()].filter(([, e]) => e.apimRequestId !== null && ids.has(e.apimRequestId)).map(([key, e]) => ({ entry: clone(e), etag: this.etagOf(key) }));
  }

  async getEntriesByGatewayRequestIds(gatewayRequestIds: readonly string[], _options?: StoreOptions): Promise<LedgerEntry[]> {
    const ids = new Set(gatewayRequestIds.flatMap((id) => [id, id.toLowerCase()]));
    return [...this.entries.values()].filter((e) => ids.has(e.gatewayRequestId)).map(clone);
  }

  async *listEntries(range: { readonly from: Date; readonly to: Date }, _options?: StoreOptions): AsyncIterable<readonly LedgerEntry[]> {
    const from = range.from.getTime();
    const to = range.to.getTime();
    const page = [...this.entries.values()]
      .filter((e) => {
        const t = Date.parse(e.time);
        return t >= from && t < to;
      })
      .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.id < b.id ? -1 : 1))
      .map(clone);
    if (page.length > 0) yield page;
  }

  async listEntryPage(range: { readonly from: Date; readonly to: Date }, after: LedgerCursor | null, limit: number, _options?: StoreOptions): Promise<LedgerEntryPage> {
    const from = range.from.getTime();
    const to = range.to.getTime();
    const position = (e: { id: string }) => `${ledgerPartition(e.id)}\u0000${e.id}`;
    const start = after === null ? null : `${after.pk}\u0000${after.id}`;
    const all = [...this.entries.values()]
      .filter((e) => {
        const t = Date.parse(e.time);
        return t >= from && t < to && (start === null || position(e) > start);
      })
      .sort((a, b) => (position(a) < position(b) ? -1 : 1));
    const entries = all.slice(0, limit).map(clone);
    const last = entries[entries.length - 1];
    return { entries, next: all.length > limit && last ? { pk: ledgerPartition(last.id), id: last.id } : null };
  }

  async *listUnjoined(cutoff: Date, _options?: StoreOptions): AsyncIterable<readonly LedgerEntry[]> {
    const page = [...this.entries.values()].filter((e) => !e.diagnostics && Date.parse(e.time) < cutoff.getTime()).map(clone);
    if (page.length > 0) yield page;
  }

  async *listUncountedStreams(range: { from: Date; to: Date }, _options?: StoreOptions): AsyncIterable<readonly LedgerEntry[]> {
    const page = [...this.entries.values()]
      .filter((e) => e.stream && e.tokens.source === 'none' && Date.parse(e.time) >= range.from.getTime() && Date.parse(e.time) < range.to.getTime())
      .map(clone);
    if (page.length > 0) yield page;
  }

  /** Contents sorted by id: two stores with the same documents give deep-equal snapshots. */
  snapshot(): LedgerEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map(clone);
  }
}

/**
 * In-memory fake of the dead-letter store: a Map by id (the content hash of the raw payload). A listing reads it
 * page by page in id order, each page when it is asked for, so letters written or deleted during a walk are seen as
 * a Cosmos DB query sees them. `deleteCalls` counts delete round trips.
 */
export class MemoryDeadLetterStore implements DeadLetterStore {
  readonly letters = new Map<string, DeadLetter>();
  deleteCalls = 0;

  constructor(private readonly pageSize = 1_000) {}

  async upsertDeadLetters(letters: readonly DeadLetter[], _options?: StoreOptions): Promise<void> {
    for (const letter of letters) this.letters.set(letter.id, clone(letter));
  }

  async *listDeadLetters(query: DeadLetterQuery = {}): AsyncIterable<readonly DeadLetter[]> {
    const ids = query.ids === undefined ? null : new Set(query.ids);
    const selected = (letter: DeadLetter) => (ids === null || ids.has(letter.id)) && (query.reasonContains === undefined || letter.reason.includes(query.reasonContains));
    for (let after = ''; ; ) {
      const page = [...this.letters.values()]
        .filter((letter) => letter.id > after && selected(letter))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .slice(0, this.pageSize)
        .map(clone);
      if (page.length === 0) return;
      after = page[page.length - 1]!.id;
      yield page;
    }
  }

  async *listDeadLetterHeaders(query: DeadLetterQuery = {}): AsyncIterable<readonly DeadLetterHeader[]> {
    for await (const page of this.listDeadLetters(query)) {
      yield page.map(({ raw, ...letter }) => ({ ...letter, raw: { encoding: raw.encoding, bytes: raw.bytes, ...('blob' in raw ? { blob: raw.blob } : {}) } }));
    }
  }

  async deleteDeadLetters(keys: readonly DeadLetterKey[], _options?: StoreOptions): Promise<void> {
    this.deleteCalls++;
    for (const { id, pk } of keys) if (this.letters.get(id)?.pk === pk) this.letters.delete(id);
  }

  snapshot(): DeadLetter[] {
    return [...this.letters.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map(clone);
  }
}

/**
 * In-memory fake of the diagnostics store: one document per correlation id, as the Cosmos DB store keeps it (its
 * partition comes from the id). Each document has a version that conditional writes check as Cosmos DB checks
 * `_etag`: a create of an existing document, or a replace at another version or of a missing document, is a conflict.
 * A record whose correlation id Cosmos DB cannot take as an id is refused, as Cosmos DB refuses it (400).
 */
export class MemoryDiagnosticsStore implements DiagnosticsStore {
  private readonly documents = new Map<string, { record: StoredDiagnostic; version: number }>();
  private version = 0;

  /** The stored records by correlation id. */
  readonly records = new Map<string, StoredDiagnostic>();

  async readRecords(correlationIds: readonly string[], _options?: StoreOptions): Promise<VersionedRecord[]> {
    return [...new Set(correlationIds)].flatMap((id) => {
      const stored = this.documents.get(id);
      return stored ? [{ record: clone(stored.record), etag: `"${stored.version}"` }] : [];
    });
  }

  async writeRecords(writes: readonly RecordWrite[], _options?: StoreOptions): Promise<RecordWriteOutcome> {
    const conflicts: string[] = [];
    const refused: RecordWriteOutcome['refused'][number][] = [];
    for (const { record, etag } of writes) {
      if (!isDocumentId(record.correlationId)) {
        refused.push({ record, reason: 'diagnostics store refused the record (status 400)' });
        continue;
      }
      const stored = this.documents.get(record.correlationId);
      if (etag === null ? stored !== undefined : stored === undefined || `"${stored.version}"` !== etag) conflicts.push(record.correlationId);
      else {
        this.documents.set(record.correlationId, { record: clone(record), version: ++this.version });
        this.records.set(record.correlationId, clone(record));
      }
    }
    return { conflicts, refused };
  }

  async getRecords(correlationIds: readonly string[], options?: StoreOptions): Promise<StoredDiagnostic[]> {
    return (await this.readRecords(correlationIds, options)).map(({ record }) => record);
  }

  async *listPending(cutoff: Date, _options?: StoreOptions): AsyncIterable<readonly StoredDiagnostic[]> {
    const page = [...this.documents.values()].map((d) => d.record).filter((r) => r.gateway === 'pending' && Date.parse(r.time) < cutoff.getTime()).map(clone);
    if (page.length > 0) yield page;
  }

  async *listRecords(range: { from: Date; to: Date }, _options?: StoreOptions): AsyncIterable<readonly StoredDiagnostic[]> {
    const page = [...this.documents.values()].map((d) => d.record).filter((r) => Date.parse(r.time) >= range.from.getTime() && Date.parse(r.time) < range.to.getTime()).map(clone);
    if (page.length > 0) yield page;
  }

  snapshot(): StoredDiagnostic[] {
    return [...this.documents.values()].map((d) => d.record).sort((a, b) => (a.correlationId < b.correlationId ? -1 : 1)).map(clone);
  }
}

/** In-memory fake of the watermark store. */
export class MemoryWatermarkStore implements WatermarkStore {
  readonly values = new Map<string, string>();

  async get(name: string): Promise<string | null> {
    return this.values.get(name) ?? null;
  }

  async set(name: string, watermark: string, options?: WatermarkWriteOptions): Promise<void> {
    const current = this.values.get(name);
    if (current === undefined || (options?.isLater ?? ((a: string, b: string) => a > b))(watermark, current)) this.values.set(name, watermark);
  }
}

/** Cosmos DB's page bounds for a query: at most this many documents, and about 4 MB, per response. */
const PAGE_DOCUMENTS = 100;
const PAGE_BYTES = 4 * 1024 * 1024;

/**
 * In-memory fake of the aggregate store. Usage tile documents and dirty markers carry versions like Cosmos DB's
 * ETags, so conditional writes behave as they do there. `reads` counts store round trips as Cosmos DB would serve
 * them (a point read is one, a query one per page), and `largestDocumentBytes` the largest document written.
 */
export class MemoryAggregateStore implements AggregateStore {
  readonly usage = new Map<string, Versioned<UsageTileHead | UsageTilePart>>();
  /** Markers by hour (`markDirty`), and markers a rollup holds by id (`holdDirty`). */
  readonly dirty = new Map<string, Versioned<DirtyWindow>>();
  readonly held = new Map<string, Versioned<DirtyWindow>>();
  reads = 0;
  largestDocumentBytes = 0;
  private clock = 0;

  private nextVersion(): string {
    return String(++this.clock).padStart(12, '0');
  }

  private store(document: UsageTileHead | UsageTilePart): void {
    this.largestDocumentBytes = Math.max(this.largestDocumentBytes, Buffer.byteLength(JSON.stringify(document)));
    this.usage.set(`${document.pk}|${document.id}`, { value: clone(document), version: this.nextVersion() });
  }

  async getUsageHead(grain: UsageGrain, window: string): Promise<Versioned<UsageTileHead> | null> {
    this.reads++;
    const { id, pk } = usageHeadKey(grain, window);
    const found = this.usage.get(`${pk}|${id}`);
    return found ? (clone(found) as Versioned<UsageTileHead>) : null;
  }

  async putUsageParts(parts: readonly UsageTilePart[]): Promise<void> {
    for (const part of parts) this.store(part);
  }

  async replaceUsageHead(head: UsageTileHead, expectedVersion: string | null): Promise<boolean> {
    const stored = this.usage.get(`${head.pk}|${head.id}`);
    if ((stored?.version ?? null) !== expectedVersion) return false;
    this.store(head);
    return true;
  }

  async deleteUsageParts(parts: readonly { id: string; pk: string }[]): Promise<void> {
    for (const part of parts) this.usage.delete(`${part.pk}|${part.id}`);
  }

  async listUsageDocuments(grain: UsageGrain, fromWindow: string, toWindow: string): Promise<UsageDocuments> {
    const pk = usagePartition(grain, fromWindow);
    const found = [...this.usage.values()].map((d) => d.value).filter((d) => d.pk === pk && d.grain === grain && d.window >= fromWindow && d.window < toWindow);
    let inPage = 0;
    let bytes = 0;
    this.reads++;
    for (const document of found) {
      const size = Buffer.byteLength(JSON.stringify(document));
      if (inPage === PAGE_DOCUMENTS || (inPage > 0 && bytes + size > PAGE_BYTES)) {
        this.reads++;
        inPage = 0;
        bytes = 0;
      }
      inPage++;
      bytes += size;
    }
    return {
      heads: found.filter((d): d is UsageTileHead => d.kind === 'usage-head').map(clone),
      parts: found.filter((d): d is UsageTilePart => d.kind === 'usage-part').map(clone),
    };
  }

  readonly latency = new Map<string, LatencyTileDocument>();
  readonly weights = new Map<string, StoredWeights>();
  readonly traffic = new Map<string, TrafficTile>();

  async upsertLatencyTiles(tiles: readonly LatencyTileDocument[]): Promise<void> {
    for (const tile of tiles) this.latency.set(tile.id, clone(tile));
  }

  async deleteLatencyTilesExcept(windows: LatencyWindows, keep: ReadonlySet<string>): Promise<void> {
    for (const tile of [...this.latency.values()]) {
      const inWindows = tile.pk === `latency:${windows.day}` && windows.grains.includes(tile.grain) && tile.windowStart >= windows.from && tile.windowStart < windows.to;
      if (inWindows && !keep.has(tile.id)) this.latency.delete(tile.id);
    }
  }

  async listLatencyTiles(day: string, grain: TileGrain, options: LatencyTileQueryOptions = {}): Promise<LatencyTileDocument[]> {
    return [...this.latency.values()]
      .filter((t) => t.pk === `latency:${day}` && t.grain === grain && t.schema === LATENCY_TILE_SCHEMA && (options.deployment === undefined || t.deployment === options.deployment))
      .map(clone);
  }

  async upsertTrafficTiles(tiles: readonly TrafficTile[]): Promise<void> {
    for (const tile of tiles) this.traffic.set(tile.id, clone(tile));
  }

  async listTrafficTiles(day: string): Promise<TrafficTile[]> {
    return [...this.traffic.values()].filter((t) => t.pk === `traffic:${day}`).map(clone);
  }

  async latestLatencyHour(deployment?: string): Promise<string | null> {
    const ends = [...this.latency.values()].filter((t) => t.grain === 'hour' && (!deployment || t.deployment === deployment)).map((t) => t.windowStart);
    return ends.length === 0 ? null : ends.reduce((a, b) => (a > b ? a : b));
  }

  async latestWeights(deployment: string, windowEnd: string): Promise<StoredWeights | null> {
    const found = [...this.weights.values()].filter((w) => w.deployment === deployment && w.windowEnd <= windowEnd).sort((a, b) => (a.windowEnd < b.windowEnd ? 1 : -1))[0];
    return found ? clone(found) : null;
  }

  async createWeights(weights: StoredWeights): Promise<boolean> {
    const id = `${weights.deployment}|${weights.windowEnd}`;
    if (this.weights.has(id)) return false;
    this.weights.set(id, clone(weights));
    return true;
  }

  async markDirty(hours: readonly string[]): Promise<void> {
    const markedAt = new Date().toISOString();
    for (const hour of hours) this.dirty.set(hour, { value: { id: `dirty:${hour}`, pk: 'dirty', hour, markedAt }, version: this.nextVersion() });
  }

  async holdDirty(hour: string): Promise<Versioned<DirtyWindow>> {
    const marker = { value: { id: `dirty:${hour}:${this.nextVersion()}`, pk: 'dirty' as const, hour, markedAt: new Date().toISOString(), held: true as const }, version: this.nextVersion() };
    this.held.set(marker.value.id, marker);
    return clone(marker);
  }

  async listDirty(): Promise<Versioned<DirtyWindow>[]> {
    return [...this.dirty.values(), ...this.held.values()].sort((a, b) => (a.value.hour < b.value.hour ? -1 : 1)).map(clone);
  }

  async clearDirty(markers: readonly Versioned<DirtyWindow>[]): Promise<void> {
    for (const marker of markers) {
      if (this.dirty.get(marker.value.hour)?.version === marker.version) this.dirty.delete(marker.value.hour);
      if (this.held.get(marker.value.id)?.version === marker.version) this.held.delete(marker.value.id);
    }
  }
}

/** In-memory fake of Blob storage payloads, by name. */
export class MemoryPayloadStore implements PayloadStore {
  readonly container = 'dead-letters';
  readonly payloads = new Map<string, Uint8Array>();

  async putPayload(name: string, bytes: Uint8Array, _options?: StoreOptions): Promise<void> {
    this.payloads.set(name, Uint8Array.from(bytes));
  }

  async getPayload(name: string, _options?: StoreOptions): Promise<Uint8Array | null> {
    const bytes = this.payloads.get(name);
    return bytes ? Uint8Array.from(bytes) : null;
  }
}

/** In-memory fake of the quarantine: batches by the same name the blob store gives them. */
export class MemoryQuarantineStore implements QuarantineStore {
  readonly batches = new Map<string, { batch: QuarantinedBatch; replayedAt: Date | null }>();

  async putBatch(batch: QuarantinedBatch, _options?: StoreOptions): Promise<string> {
    const name = quarantineName(batch);
    this.batches.set(name, { batch: quarantinedBatchSchema.parse(clone(batch)), replayedAt: null });
    return name;
  }

  async getBatch(name: string, _options?: StoreOptions): Promise<QuarantinedBatch | null> {
    const found = this.batches.get(name);
    return found ? clone(found.batch) : null;
  }

  async listBatches(_options?: StoreOptions): Promise<QuarantineListing[]> {
    return [...this.batches.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, { batch, replayedAt }]) => ({ name, partitionId: batch.partitionId, replayedAt }));
  }

  async markReplayed(name: string, at: Date, _options?: StoreOptions): Promise<void> {
    const found = this.batches.get(name);
    if (!found) throw new Error(`no quarantined batch named ${name}`);
    found.replayedAt = at;
  }
}

/**
 * In-memory fake of the invoice allocation store, keyed like Cosmos DB by (partition key, id), with a version per
 * document that conditional writes check as Cosmos DB checks `_etag`. `largestDocumentBytes` is the largest document
 * written; `failBeforeMarker` makes a run stop before it writes its marker the second time (no longer pending), as a
 * crash would.
 */
export class MemoryInvoiceAllocationStore implements InvoiceAllocationStore {
  readonly documents = new Map<string, InvoiceHead | InvoicePart | AllocatedExport>();
  private readonly versions = new Map<string, number>();
  private version = 0;
  largestDocumentBytes = 0;
  failBeforeMarker = false;

  private put(document: InvoiceHead | InvoicePart | AllocatedExport): string {
    this.largestDocumentBytes = Math.max(this.largestDocumentBytes, Buffer.byteLength(JSON.stringify(document)));
    const key = `${document.pk}|${document.id}`;
    this.documents.set(key, clone(document));
    this.versions.set(key, ++this.version);
    return String(this.version);
  }

  private read<T extends InvoiceHead | AllocatedExport>(key: { id: string; pk: string }): Versioned<T> | null {
    const found = this.documents.get(`${key.pk}|${key.id}`);
    return found ? { value: clone(found) as T, version: String(this.versions.get(`${key.pk}|${key.id}`)) } : null;
  }

  /** Whether a write expecting `expectedVersion` (null: no document) finds the document so. */
  private atVersion(key: { id: string; pk: string }, expectedVersion: string | null): boolean {
    const stored = this.versions.get(`${key.pk}|${key.id}`);
    return expectedVersion === null ? stored === undefined : String(stored) === expectedVersion;
  }

  async listAllocatedExports(_options?: StoreOptions): Promise<AllocatedExport[]> {
    return [...this.documents.values()].filter((d): d is AllocatedExport => d.kind === 'invoice-export').sort((a, b) => (a.exportName < b.exportName ? -1 : 1)).map(clone);
  }

  async getAllocatedExport(exportName: string, _options?: StoreOptions): Promise<Versioned<AllocatedExport> | null> {
    return this.read(allocatedExportKey(exportName));
  }

  async replaceAllocatedExport(marker: AllocatedExport, expectedVersion: string | null, _options?: StoreOptions): Promise<string | null> {
    if (this.failBeforeMarker && !marker.pending) throw new Error('store unavailable');
    return this.atVersion(marker, expectedVersion) ? this.put(marker) : null;
  }

  async putParts(parts: readonly InvoicePart[], _options?: StoreOptions): Promise<void> {
    for (const part of parts) this.put(part);
  }

  async deleteParts(keys: readonly { id: string; pk: string }[], _options?: StoreOptions): Promise<void> {
    for (const { id, pk } of keys) {
      this.documents.delete(`${pk}|${id}`);
      this.versions.delete(`${pk}|${id}`);
    }
  }

  async getHeads(exportName: string, months: readonly string[], _options?: StoreOptions): Promise<Versioned<InvoiceHead>[]> {
    return months.map((month) => this.read<InvoiceHead>(invoiceHeadKey(exportName, month))).filter((h): h is Versioned<InvoiceHead> => h !== null);
  }

  async replaceHeads(writes: readonly { head: InvoiceHead; expectedVersion: string | null }[], _options?: StoreOptions): Promise<InvoiceHead[]> {
    const conflicts: InvoiceHead[] = [];
    for (const { head, expectedVersion } of writes) {
      if (this.atVersion(head, expectedVersion)) this.put(head);
      else conflicts.push(head);
    }
    return conflicts;
  }

  async listPartKeys(exportName: string, month: string, options?: StoreOptions): Promise<{ id: string; pk: string; run?: string }[]> {
    const { parts } = await this.listAllocations(month, [exportName], options);
    return parts.map(({ id, pk, run }) => ({ id, pk, ...(run === undefined ? {} : { run }) }));
  }

  async listHeads(month: string, _options?: StoreOptions): Promise<InvoiceHead[]> {
    return [...this.documents.values()].filter((d): d is InvoiceHead => d.kind === 'invoice-head' && d.pk === invoicePartition(month)).map(clone);
  }

  async listAllocations(month: string, exportNames?: readonly string[], _options?: StoreOptions): Promise<InvoiceDocuments> {
    const found = [...this.documents.values()].filter(
      (d): d is InvoiceHead | InvoicePart => d.kind !== 'invoice-export' && d.pk === invoicePartition(month) && (exportNames === undefined || exportNames.includes(d.exportName)),
    );
    return {
      heads: found.filter((d): d is InvoiceHead => d.kind === 'invoice-head').map(clone),
      parts: found.filter((d): d is InvoicePart => d.kind === 'invoice-part').map(clone),
    };
  }
}

/**
 * In-memory fake of the reconciliation results store, with the Cosmos adapter's rules: each run's results apart,
 * per hour the run it names, at a version that conditional writes check as Cosmos DB checks `_etag`.
 */
export class MemoryReconciliationStore implements ReconciliationStore {
  /** Every stored result, by (hour, run, check, deployment), of any run. */
  readonly stored = new Map<string, CheckResult & { readonly run?: string }>();
  readonly hourRuns = new Map<string, Versioned<NamedRun>>();
  private version = 0;

  async putResults(hour: string, run: string, results: readonly CheckResult[]): Promise<void> {
    for (const r of results) this.stored.set(`${hour}|${run}|${r.check}|${r.deployment}`, clone({ ...r, run }));
  }

  async getHourRun(hour: string): Promise<Versioned<NamedRun> | null> {
    return this.hourRuns.get(hour) ?? null;
  }

  async replaceHourRun(hour: string, named: NamedRun, expectedVersion: string | null): Promise<boolean> {
    if ((this.hourRuns.get(hour)?.version ?? null) !== expectedVersion) return false;
    this.hourRuns.set(hour, { value: { ...named }, version: String(++this.version) });
    return true;
  }

  async deleteResults(hour: string, remove: (run: string | undefined) => boolean): Promise<void> {
    for (const [key, result] of [...this.stored]) if (result.window === hour && remove(result.run)) this.stored.delete(key);
  }

  async listResults(window: TimeWindow): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    for await (const day of this.resultsByDay(window)) results.push(...day);
    return results;
  }

  async *resultsByDay(window: TimeWindow): AsyncIterable<readonly CheckResult[]> {
    const [from, to] = [window.from.toISOString().slice(0, 13), window.to.toISOString().slice(0, 13)];
    const inWindow = this.current()
      .filter((r) => r.window >= from && r.window < to)
      .sort(compareResultKeys);
    for (let start = 0; start < inWindow.length; ) {
      const day = inWindow[start]!.window.slice(0, 10);
      let end = start;
      while (end < inWindow.length && inWindow[end]!.window.startsWith(day)) end++;
      yield inWindow.slice(start, end);
      start = end;
    }
  }

  /** The results readers see: of each hour, its named run's (all of them: nothing changes while this reads). */
  current(): CheckResult[] {
    const named = new Map([...this.hourRuns].map(([hour, { value }]) => [hour, value]));
    return namedRunResults([...this.stored.values()], (r) => r.window, named).results.map(({ run: _run, ...result }) => result);
  }
}

/** In-memory fake of the cost export container: files by name, each write a new ETag. */
/**
 * Writes partitions of an export run as Cost Management does, then the run's `manifest.json` naming every partition
 * now in `folder` (its `blobs`; with `rows`, each one's `dataRowCount`).
 */
export function writeExportRun(exports: MemoryCostExportSource, folder: string, partitions: Readonly<Record<string, string | Uint8Array>>, rows: Readonly<Record<string, number>> = {}): void {
  for (const [name, content] of Object.entries(partitions)) exports.write(`${folder}/${name}`, content);
  const blobs = [...exports.files.keys()]
    .filter((name) => name.startsWith(`${folder}/`) && !name.endsWith('/manifest.json'))
    .map((blobName) => ({ blobName, ...(rows[blobName.slice(folder.length + 1)] === undefined ? {} : { dataRowCount: rows[blobName.slice(folder.length + 1)] }) }));
  exports.write(`${folder}/manifest.json`, JSON.stringify({ manifestVersion: '2024-04-01', blobCount: blobs.length, blobs }));
}

export class MemoryCostExportSource implements CostExportSource {
  readonly files = new Map<string, { bytes: Uint8Array; etag: string; lastModified: string }>();
  private writes = 0;

  /** Writes a CSV file's text, or any file's bytes. */
  write(name: string, content: string | Uint8Array, lastModified = new Date().toISOString()): void {
    this.files.set(name, { bytes: typeof content === 'string' ? new TextEncoder().encode(content) : content, etag: `"${++this.writes}"`, lastModified });
  }

  async list(_options?: StoreOptions): Promise<CostExportBlob[]> {
    return [...this.files.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, { etag, lastModified }]) => ({ name, etag, lastModified }));
  }

  /** The file's bytes in pieces of a few KB, as a download gives them. */
  async open(name: string, _options?: StoreOptions): Promise<{ bytes: AsyncIterable<Uint8Array>; etag: string }> {
    const file = this.files.get(name);
    if (!file) throw new Error(`no cost export named ${name}`);
    const { bytes } = file;
    const pieces = async function* () {
      for (let at = 0; at < bytes.length; at += 4096) yield bytes.subarray(at, at + 4096);
    };
    return { bytes: pieces(), etag: file.etag };
  }
}
