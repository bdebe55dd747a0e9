import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { CheckResult, LlmUsageRow, MetricTokens } from '../domain/reconciliation.js';
import type { StoreOptions } from './ledger-store.js';

export interface TimeWindow {
  readonly from: Date;
  readonly to: Date;
}

/** Azure's side of the reconciliation for a window: one query per source per window, never one per request. */
export interface ReconciliationSources {
  records(window: TimeWindow, options?: StoreOptions): Promise<DiagnosticRecord[]>;
  llmUsage?(window: TimeWindow, options?: StoreOptions): Promise<LlmUsageRow[]>;
  metrics?(window: TimeWindow, options?: StoreOptions): Promise<MetricTokens[]>;
}

/** Check results by (check, hour, deployment): deterministic ids, so re-running a window replaces its results. */
export interface ReconciliationStore {
  upsertResults(results: readonly CheckResult[], options?: StoreOptions): Promise<void>;
  listResults(window: TimeWindow, options?: StoreOptions): Promise<CheckResult[]>;
}
