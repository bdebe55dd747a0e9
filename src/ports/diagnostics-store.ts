import type { StoredDiagnostic } from '../contracts/diagnostic-record.js';
import type { StoreOptions } from './ledger-store.js';

/** A stored record with the version it was read at. */
export interface VersionedRecord {
  readonly record: StoredDiagnostic;
  /** The version, as the store words it (it may say more than an ETag, such as where the record is): passed back as it is. */
  readonly etag: string;
}

/** A conditional write: create when `etag` is null, else replace only if the record is still at that version. */
export interface RecordWrite {
  readonly record: StoredDiagnostic;
  readonly etag: string | null;
}

export interface RecordWriteOutcome {
  /** Correlation ids of writes that lost a race: the record was created or changed since it was read. */
  readonly conflicts: readonly string[];
  /** Records the store refused for good, with its reason. */
  readonly refused: readonly { readonly record: StoredDiagnostic; readonly reason: string }[];
}

/**
 * Every valid `RequestResponse` record, by `CorrelationId`, with whether a gateway request matched it. The ingest
 * and the join both change that status, so every read-modify-write goes through `readRecords` and `writeRecords`
 * (`updateDiagnostics`), and neither overwrites the other.
 */
export interface DiagnosticsStore {
  /** The records with these correlation ids that exist, each with its version. */
  readRecords(correlationIds: readonly string[], options?: StoreOptions): Promise<VersionedRecord[]>;
  /** Conditional writes (see `RecordWrite`); a lost race is reported, never applied. */
  writeRecords(writes: readonly RecordWrite[], options?: StoreOptions): Promise<RecordWriteOutcome>;
  getRecords(correlationIds: readonly string[], options?: StoreOptions): Promise<StoredDiagnostic[]>;
  /** Records still `pending` whose time is before `cutoff`. */
  listPending(cutoff: Date, options?: StoreOptions): AsyncIterable<readonly StoredDiagnostic[]>;
  /** Records in [from, to), for reports (bypass traffic, region latency). */
  listRecords(range: { from: Date; to: Date }, options?: StoreOptions): AsyncIterable<readonly StoredDiagnostic[]>;
}
