import type { Container } from '@azure/cosmos';
import { storedDiagnosticSchema, type StoredDiagnostic } from '../../contracts/diagnostic-record.js';
import { hashBucket } from '../../domain/stable-id.js';
import type { DiagnosticsStore, RecordWrite, RecordWriteOutcome, VersionedRecord } from '../../ports/diagnostics-store.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import { bulkConditionalWrite } from './bulk-write.js';
import { queryByIds, queryPages } from './query-pages.js';

function toStored(document: unknown): StoredDiagnostic {
  return storedDiagnosticSchema.parse(document);
}

/**
 * The partition of a record: a hash bucket of its correlation id (`d00` to `dff`). One logical partition lives on
 * one physical partition, which serves at most 10,000 RU/s (learn.microsoft.com azure/cosmos-db/partitioning-overview):
 * a key per UTC hour, as earlier versions wrote, sends all of an hour's records through one partition.
 */
export function recordPartition(correlationId: string): string {
  return hashBucket('d', 'diagnostics-partition', correlationId);
}

/**
 * A record with the version it is handed out at: the partition its document is in, then its `_etag`. A record that
 * an earlier version stored in its hour's partition is so replaced where it is, and never stored twice.
 */
function toVersioned(document: unknown): VersionedRecord {
  const { pk, _etag } = document as { pk: string; _etag: string };
  return { record: toStored(document), etag: `${pk} ${_etag}` };
}

function toDocument({ record, etag }: RecordWrite): { document: StoredDiagnostic & { id: string; pk: string }; etag: string | null } {
  const id = record.correlationId;
  if (etag === null) return { document: { ...record, id, pk: recordPartition(id) }, etag: null };
  const space = etag.indexOf(' ');
  if (space < 0) throw new Error(`diagnostics store: ${JSON.stringify(etag).slice(0, 80)} is not a version it handed out`);
  return { document: { ...record, id, pk: etag.slice(0, space) }, etag: etag.slice(space + 1) };
}

/** Diagnostic records by `CorrelationId`, in hash-bucket partitions of it (`recordPartition`). */
export class CosmosDiagnosticsStore implements DiagnosticsStore {
  constructor(private readonly container: Container) {}

  /** Records stored by earlier versions are in their hour's partition: this query fans out, one per 1,000 ids. */
  readRecords(correlationIds: readonly string[], options?: StoreOptions): Promise<VersionedRecord[]> {
    return queryByIds(this.container, correlationIds, toVersioned, options);
  }

  async writeRecords(writes: readonly RecordWrite[], options?: StoreOptions): Promise<RecordWriteOutcome> {
    const result = await bulkConditionalWrite(this.container, writes.map(toDocument), options);
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
