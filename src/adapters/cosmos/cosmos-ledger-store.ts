import type { Container } from '@azure/cosmos';
import { ledgerEntrySchema, type LedgerEntry } from '../../contracts/ledger-entry.js';
import { hourBucket } from '../../domain/ledger.js';
import type { LedgerKey, LedgerStore, RefusedEntry, StoreOptions } from '../../ports/ledger-store.js';
import { bulkCreate, bulkDelete, bulkUpsert, type RejectedWrite } from './bulk-write.js';
import { queryByIds, queryPages } from './query-pages.js';


function refused(rejected: readonly RejectedWrite<LedgerEntry>[]): RefusedEntry[] {
  return rejected.map(({ document, status }) => ({ entry: document, reason: `ledger store refused the entry (status ${String(status)})` }));
}

/** Strips Cosmos system properties (`_rid`, `_etag`, …) and checks the stored shape. */
function toEntry(document: unknown): LedgerEntry {
  return ledgerEntrySchema.parse(document);
}

export class CosmosLedgerStore implements LedgerStore {
  constructor(private readonly container: Container) {}

  async createEntries(entries: readonly LedgerEntry[], options?: StoreOptions): Promise<RefusedEntry[]> {
    return refused(await bulkCreate(this.container, entries, options));
  }

  async upsertEntries(entries: readonly LedgerEntry[], options?: StoreOptions): Promise<RefusedEntry[]> {
    return refused(await bulkUpsert(this.container, entries, options));
  }

  async deleteEntries(keys: readonly LedgerKey[], options?: StoreOptions): Promise<void> {
    const failed = await bulkDelete(this.container, keys, options);
    if (failed.length > 0) throw new Error(`could not delete ${failed.length} ledger entries (status ${failed.map((f) => String(f.status)).join(', ')})`);
  }

  getEntries(keys: readonly LedgerKey[], options: StoreOptions = {}): Promise<LedgerEntry[]> {
    return queryByIds(this.container, keys.map((k) => k.id), toEntry, options);
  }

  getEntriesByGatewayRequestIds(gatewayRequestIds: readonly string[], options: StoreOptions = {}): Promise<LedgerEntry[]> {
    const ids = gatewayRequestIds.flatMap((id) => [id, id.toLowerCase()]);
    return queryByIds(this.container, ids, toEntry, options, 'gatewayRequestId');
  }

  listUnjoined(cutoff: Date, options: StoreOptions = {}): AsyncIterable<readonly LedgerEntry[]> {
    return queryPages(
      this.container,
      { query: 'SELECT * FROM c WHERE (NOT IS_DEFINED(c.diagnostics) OR IS_NULL(c.diagnostics)) AND c.time < @cutoff', parameters: [{ name: '@cutoff', value: cutoff.toISOString() }] },
      toEntry,
      options,
    );
  }

  /** A range inside one hour reads one partition (the partition key is the request's hour); longer ranges fan out. */
  listEntries(range: { from: Date; to: Date }, options: StoreOptions = {}): AsyncIterable<readonly LedgerEntry[]> {
    const lastInstant = new Date(Math.max(range.from.getTime(), range.to.getTime() - 1));
    const singleHour = hourBucket(range.from) === hourBucket(lastInstant);
    return queryPages(
      this.container,
      {
        query: 'SELECT * FROM c WHERE c.time >= @from AND c.time < @to',
        parameters: [
          { name: '@from', value: range.from.toISOString() },
          { name: '@to', value: range.to.toISOString() },
        ],
      },
      toEntry,
      { ...options, ...(singleHour ? { partitionKey: hourBucket(range.from) } : {}) },
    );
  }
}
