import type { Container } from '@azure/cosmos';
import { storedDiagnosticSchema, type StoredDiagnostic } from '../../contracts/diagnostic-record.js';
import { stableId } from '../../domain/stable-id.js';
import type { DiagnosticsStore, RecordWrite, RecordWriteOutcome, VersionedRecord } from '../../ports/diagnostics-store.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import { bulkConditionalWrite } from './bulk-write.js';
import { queryByIds, queryPages } from './query-pages.js';

function toStored(document: unknown): StoredDiagnostic {
  return storedDiagnosticSchema.parse(document);
}

/**
 * The partition of a record: one of 256 buckets of a stable hash of its correlation id (`d00` to `dff`). One
 * logical partition lives on one physical partition, which serves at most 10,000 RU/s (learn.microsoft.com
 * azure/cosmos-db/partitioning-overview): a key per UTC hour, as earlier versions wrote, sends all of an hour's
 * records through one partition.
 */
export function recordPartition(correlationId: string): string {
  return `d${stableId('diagnostics-partition', correlationId).slice(0, 2)}`;
}

/**
 * The version handed out with a record: the partition its document is in, then its `_etag`. A record that an
 * earlier version stored in its hour's partition is replaced where it is, so it is never stored twice.
 */
function versionOf(document: { pk?: unknown; _etag?: unknown }): string {
  return `${String(document.pk)} ${String(document._etag)}`;
}

/** The partition and `_etag` of a version (see `versionOf`); a bare `_etag` names the record's own partition. */
function partitionAndEtag(record: StoredDiagnostic, version: string): { pk: string; etag: string } {
  const space = version.indexOf(' ');
  return space < 0 ? { pk: recordPartition(record.correlationId), etag: version } : { pk: version.slice(0, space), etag: version.slice(space + 1) };
}

function toVersioned(document: unknown): VersionedRecord {
  return { record: toStored(document), etag: versionOf(document as { pk?: unknown; _etag?: unknown }) };
}

function toDocument({ record, etag }: RecordWrite): { document: StoredDiagnostic & { id: string; pk: string }; etag: string | null } {
  if (etag === null) return { document: { ...record, id: record.correlationId, pk: recordPartition(record.correlationId) }, etag: null };
  const at = partitionAndEtag(record, etag);
  return { document: { ...record, id: record.correlationId, pk: at.pk }, etag: at.etag };
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
