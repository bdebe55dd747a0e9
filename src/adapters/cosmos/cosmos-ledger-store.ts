import type { Container } from '@azure/cosmos';
import { ledgerEntrySchema, type LedgerEntry } from '../../contracts/ledger-entry.js';
import { LEDGER_PARTITIONS, ledgerDocument, ledgerPartition, type LedgerDocument } from '../../domain/ledger.js';
import type { EntryWrite, LedgerCursor, LedgerEntryPage, LedgerKey, LedgerStore, RefusedEntry, StoredEntry, StoreOptions, WriteOutcome } from '../../ports/ledger-store.js';
import { bulkConditionalWrite, bulkCreate, bulkRead, type RejectedWrite } from './bulk-write.js';
import { queryByIds, queryPages } from './query-pages.js';

function keyOf(key: LedgerKey): { id: string; pk: string } {
  return { id: key.id, pk: ledgerPartition(key.id) };
}

function refused(rejected: readonly RejectedWrite<LedgerDocument>[]): RefusedEntry[] {
  return rejected.map(({ document: { pk: _pk, ...entry }, status }) => ({ entry, reason: `ledger store refused the entry (status ${String(status)})` }));
}

/** Strips Cosmos system properties (`_rid`, `_etag`, …) and the partition key, and checks the stored shape. */
function toEntry(document: unknown): LedgerEntry {
  return ledgerEntrySchema.parse(document);
}

function toStored(document: unknown): StoredEntry {
  return { entry: toEntry(document), etag: String((document as { _etag?: unknown })._etag) };
}

export class CosmosLedgerStore implements LedgerStore {
  constructor(private readonly container: Container) {}

  async createEntries(entries: readonly LedgerEntry[], options?: StoreOptions): Promise<RefusedEntry[]> {
    return refused(await bulkCreate(this.container, entries.map(ledgerDocument), options));
  }

  async readEntries(keys: readonly LedgerKey[], options?: StoreOptions): Promise<StoredEntry[]> {
    const found = await bulkRead(this.container, keys.map(keyOf), options);
    return found.map(({ document, etag }) => ({ entry: toEntry(document), etag }));
  }

  async writeEntries(writes: readonly EntryWrite[], options?: StoreOptions): Promise<WriteOutcome> {
    const result = await bulkConditionalWrite(this.container, writes.map((w) => ({ document: ledgerDocument(w.entry), etag: w.etag })), options);
    return { conflicts: result.conflicts.map((e) => ({ id: e.id })), refused: refused(result.rejected) };
  }

  /** A record's correlation id does not tell the request's partition: this query fans out, one per 1,000 ids. */
  getEntriesByApimRequestIds(apimRequestIds: readonly string[], options: StoreOptions = {}): Promise<StoredEntry[]> {
    const ids = apimRequestIds.flatMap((id) => [id, id.toLowerCase()]);
    return queryByIds(this.container, ids, toStored, options, 'apimRequestId');
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

  listUncountedStreams(range: { from: Date; to: Date }, options: StoreOptions = {}): AsyncIterable<readonly LedgerEntry[]> {
    return this.entriesIn(range, "c.stream = true AND c.tokens.source = 'none'", options);
  }

  listEntries(range: { from: Date; to: Date }, options: StoreOptions = {}): AsyncIterable<readonly LedgerEntry[]> {
    return this.entriesIn(range, null, options);
  }

  /** The partition key is a hash bucket of the id, so a time range is a query over every partition. */
  private entriesIn(range: { from: Date; to: Date }, condition: string | null, options: StoreOptions): AsyncIterable<readonly LedgerEntry[]> {
    return queryPages(
      this.container,
      {
        query: `SELECT * FROM c WHERE ${condition === null ? '' : `${condition} AND `}c.time >= @from AND c.time < @to`,
        parameters: [
          { name: '@from', value: range.from.toISOString() },
          { name: '@to', value: range.to.toISOString() },
        ],
      },
      toEntry,
      options,
    );
  }

  /**
   * One partition after another, by id within each: single-partition queries ordered by the id's own index, so a
   * page needs no cross-partition ORDER BY (nor a composite index) and resumes exactly after its cursor.
   */
  async listEntryPage(range: { from: Date; to: Date }, after: LedgerCursor | null, limit: number, options: StoreOptions = {}): Promise<LedgerEntryPage> {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
    let index = after === null ? 0 : LEDGER_PARTITIONS.indexOf(after.pk);
    if (index < 0) throw new RangeError(`${JSON.stringify(after!.pk)} is not a ledger partition`);
    const entries: LedgerEntry[] = [];
    for (let afterId = after?.id ?? null; index < LEDGER_PARTITIONS.length; index++, afterId = null) {
      const pk = LEDGER_PARTITIONS[index]!;
      const query = {
        query: `SELECT TOP ${limit - entries.length} * FROM c WHERE c.pk = @pk AND c.time >= @from AND c.time < @to${afterId === null ? '' : ' AND c.id > @after'} ORDER BY c.id`,
        parameters: [
          { name: '@pk', value: pk },
          { name: '@from', value: range.from.toISOString() },
          { name: '@to', value: range.to.toISOString() },
          ...(afterId === null ? [] : [{ name: '@after', value: afterId }]),
        ],
      };
      for await (const page of queryPages(this.container, query, toEntry, { ...options, partitionKey: pk })) entries.push(...page);
      if (entries.length >= limit) return { entries, next: { pk, id: entries[entries.length - 1]!.id } };
    }
    return { entries, next: null };
  }
}
