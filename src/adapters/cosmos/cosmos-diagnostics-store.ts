import type { Container } from '@azure/cosmos';
import { storedDiagnosticSchema, type StoredDiagnostic } from '../../contracts/diagnostic-record.js';
import { hourBucket } from '../../domain/ledger.js';
import type { DiagnosticsStore, RecordWrite, RecordWriteOutcome, VersionedRecord } from '../../ports/diagnostics-store.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import { bulkConditionalWrite } from './bulk-write.js';
import { queryByIds, queryPages } from './query-pages.js';

function toStored(document: unknown): StoredDiagnostic {
  return storedDiagnosticSchema.parse(document);
}

function toVersioned(document: unknown): VersionedRecord {
  return { record: toStored(document), etag: String((document as { _etag?: unknown })._etag) };
}

/** Diagnostic records by `CorrelationId`, partitioned by the record's UTC hour. */
export class CosmosDiagnosticsStore implements DiagnosticsStore {
  constructor(private readonly container: Container) {}

  /** A correlation id does not tell the record's hour: this query fans out, one per 1,000 ids. */
  readRecords(correlationIds: readonly string[], options?: StoreOptions): Promise<VersionedRecord[]> {
    return queryByIds(this.container, correlationIds, toVersioned, options);
  }

  async writeRecords(writes: readonly RecordWrite[], options?: StoreOptions): Promise<RecordWriteOutcome> {
    const result = await bulkConditionalWrite(this.container, writes.map(({ record, etag }) => ({ document: { ...record, id: record.correlationId, pk: hourBucket(record.time) }, etag })), options);
    return {
      conflicts: result.conflicts.map((d) => d.id),
      refused: result.rejected.map(({ document: { id: _id, pk: _pk, ...record }, status }) => ({ record, reason: `diagnostics store refused the record (status ${String(status)})` })),
    };
  }

  getRecords(correlationIds: readonly string[], options?: StoreOptions): Promise<StoredDiagnostic[]> {
    return queryByIds(this.container, correlationIds, toStored, options);
  }

  listPending(cutoff: Date, options?: StoreOptions): AsyncIterable<readonly StoredDiagnostic[]> {
    return queryPages(
      this.container,
      { query: "SELECT * FROM c WHERE c.gateway = 'pending' AND c.time < @cutoff", parameters: [{ name: '@cutoff', value: cutoff.toISOString() }] },
      toStored,
      options,
    );
  }

  listRecords(range: { from: Date; to: Date }, options?: StoreOptions): AsyncIterable<readonly StoredDiagnostic[]> {
    return queryPages(
      this.container,
      { query: 'SELECT * FROM c WHERE c.time >= @from AND c.time < @to', parameters: [{ name: '@from', value: range.from.toISOString() }, { name: '@to', value: range.to.toISOString() }] },
      toStored,
      options,
    );
  }
}
