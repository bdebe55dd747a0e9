import type { StoredDiagnostic } from '../contracts/diagnostic-record.js';
import type { StoreOptions } from './ledger-store.js';

/** Every valid `RequestResponse` record, by `CorrelationId` (idempotent writes). */
export interface DiagnosticsStore {
  upsertRecords(records: readonly StoredDiagnostic[], options?: StoreOptions): Promise<void>;
  getRecords(correlationIds: readonly string[], options?: StoreOptions): Promise<StoredDiagnostic[]>;
  /** Records still `pending` whose time is before `cutoff`. */
  listPending(cutoff: Date, options?: StoreOptions): AsyncIterable<readonly StoredDiagnostic[]>;
  /** Records in [from, to), for reports (bypass traffic, region latency). */
  listRecords(range: { from: Date; to: Date }, options?: StoreOptions): AsyncIterable<readonly StoredDiagnostic[]>;
}
