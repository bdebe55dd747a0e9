import type { Container } from '@azure/cosmos';
import { ledgerEntrySchema, type LedgerEntry } from '../../contracts/ledger-entry.js';
import { hourBucket } from '../../domain/ledger.js';
import type { LedgerKey, LedgerStore, RefusedEntry, StoreOptions } from '../../ports/ledger-store.js';
import { bulkCreate, bulkDelete, bulkUpsert, cosmosCall, type RejectedWrite } from './bulk-write.js';

const IDS_PER_QUERY = 200;

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

  async getEntries(keys: readonly LedgerKey[], options: StoreOptions = {}): Promise<LedgerEntry[]> {
    const found: LedgerEntry[] = [];
    const ids = [...new Set(keys.map((k) => k.id))];
    for (let start = 0; start < ids.length; start += IDS_PER_QUERY) {
      const query = { query: 'SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.id)', parameters: [{ name: '@ids', value: ids.slice(start, start + IDS_PER_QUERY) }] };
      const { resources } = await cosmosCall('read ledger entries', () =>
        this.container.items.query(query, { abortSignal: options.abortSignal }).fetchAll(),
      );
      found.push(...resources.map(toEntry));
    }
    return found;
  }

  /** A range inside one hour reads one partition (the partition key is the request's hour); longer ranges fan out. */
  async *listEntries(range: { from: Date; to: Date }, options: StoreOptions = {}): AsyncIterable<readonly LedgerEntry[]> {
    const lastInstant = new Date(Math.max(range.from.getTime(), range.to.getTime() - 1));
    const singleHour = hourBucket(range.from) === hourBucket(lastInstant);
    const iterator = this.container.items.query(
      {
        query: 'SELECT * FROM c WHERE c.time >= @from AND c.time < @to',
        parameters: [
          { name: '@from', value: range.from.toISOString() },
          { name: '@to', value: range.to.toISOString() },
        ],
      },
      { maxItemCount: 1000, abortSignal: options.abortSignal, ...(singleHour ? { partitionKey: hourBucket(range.from) } : {}) },
    );
    while (iterator.hasMoreResults()) {
      const page = await cosmosCall('list ledger entries', () => iterator.fetchNext());
      if (page.resources.length > 0) yield page.resources.map(toEntry);
    }
  }
}
