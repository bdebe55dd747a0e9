import type { Container } from '@azure/cosmos';
import { storedDiagnosticSchema, type StoredDiagnostic } from '../../contracts/diagnostic-record.js';
import { hourBucket } from '../../domain/ledger.js';
import type { DiagnosticsStore } from '../../ports/diagnostics-store.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import { bulkUpsert } from './bulk-write.js';
import { queryByIds, queryPages } from './query-pages.js';

function toStored(document: unknown): StoredDiagnostic {
  return storedDiagnosticSchema.parse(document);
}

/** Diagnostic records by `CorrelationId`, partitioned by the record's UTC hour. */
export class CosmosDiagnosticsStore implements DiagnosticsStore {
  constructor(private readonly container: Container) {}

  async upsertRecords(records: readonly StoredDiagnostic[], options?: StoreOptions): Promise<void> {
    const documents = records.map((r) => ({ ...r, id: r.correlationId, pk: hourBucket(r.time) }));
    const rejected = await bulkUpsert(this.container, documents, options);
    if (rejected.length > 0) throw new Error(`diagnostics store refused ${rejected.length} records (status ${rejected.map((r) => String(r.status)).join(', ')})`);
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
