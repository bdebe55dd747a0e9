import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { CheckResult, LlmUsageRow, MetricTokens } from '../domain/reconciliation.js';
import type { NamedRun } from '../domain/run-order.js';
import type { Versioned } from './aggregate-store.js';
import type { StoreOptions } from './ledger-store.js';

export interface TimeWindow {
  readonly from: Date;
  readonly to: Date;
}

/** Azure's side of the reconciliation for a window: one query per source per window, never one per request. */
export interface ReconciliationSources {
  /** Fails with `MissingTableError` while the workspace holds no `AzureDiagnostics` table. */
  records(window: TimeWindow, options?: StoreOptions): Promise<DiagnosticRecord[]>;
  llmUsage?(window: TimeWindow, options?: StoreOptions): Promise<LlmUsageRow[]>;
  metrics?(window: TimeWindow, options?: StoreOptions): Promise<MetricTokens[]>;
}

/**
 * Check results by (check, hour, deployment), each run's apart, and per hour which run's are the hour's results:
 * a run replaces an hour's results as a whole, and only an older run's (see `storeHourResults`).
 */
export interface ReconciliationStore {
  /** Writes one run's results of one hour (`YYYY-MM-DDTHH`); readers ignore them until the hour names the run. */
  putResults(hour: string, run: string, results: readonly CheckResult[], options?: StoreOptions): Promise<void>;
  /** The run the hour names and the version of that naming, or null when it names none. */
  getHourRun(hour: string, options?: StoreOptions): Promise<Versioned<NamedRun> | null>;
  /** Names `named` for the hour if its naming is still at `expectedVersion` (null: none yet); false when another writer came first. */
  replaceHourRun(hour: string, named: NamedRun, expectedVersion: string | null, options?: StoreOptions): Promise<boolean>;
  /** Removes the hour's results of the runs `remove` picks (a result stored before runs had keys has run undefined). */
  deleteResults(hour: string, remove: (run: string | undefined) => boolean, options?: StoreOptions): Promise<void>;
  /**
   * The results of the hours in the window, each hour's named run's, one UTC day at a time in the order of
   * `compareResultKeys`: a reader holds a day's results, never the window's. A day read while a run replaces one of
   * its hours is read again (`TransientStoreError` when that keeps happening); the days before it were answered.
   */
  resultsByDay(window: TimeWindow, options?: StoreOptions): AsyncIterable<readonly CheckResult[]>;
  /** All the results of `resultsByDay`, in one list: for windows of a few days (the timer's regrading, the demo's day). */
  listResults(window: TimeWindow, options?: StoreOptions): Promise<CheckResult[]>;
}
