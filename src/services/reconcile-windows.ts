import { failureReason } from '../domain/failure-reason.js';
import { reconcile, type CheckResult, type LlmUsageRow, type MetricTokens, type Thresholds } from '../domain/reconciliation.js';
import type { WatermarkStore } from '../ports/diagnostics-source.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import type { LedgerStore, StoreOptions } from '../ports/ledger-store.js';
import type { ReconciliationSources, ReconciliationStore, TimeWindow } from '../ports/reconciliation.js';
import { classifyFailure } from './failure-classification.js';

export interface ReconcilePorts {
  readonly ledger: LedgerStore;
  readonly sources: ReconciliationSources;
  readonly results: ReconciliationStore;
  readonly watermarks: WatermarkStore;
}

export interface ReconcileOptions extends StoreOptions {
  readonly gatewayObjectIds: ReadonlySet<string>;
  readonly thresholds?: Partial<Record<'requests' | 'llm-tokens' | 'metrics-tokens', Thresholds>>;
}

export interface ReconcileRunOptions extends ReconcileOptions {
  readonly now: Date;
  readonly watermarkName: string;
  /** Diagnostics and metrics arrive late: only windows older than this are reconciled. */
  readonly settleInMs?: number;
  /** Longest window one run covers, so a run stays within the timer's time limit. */
  readonly maxWindowInMs?: number;
  /** Where a first run starts, back from the settled end. */
  readonly initialLookbackInMs?: number;
}

const HOUR_MS = 3_600_000;
/**
 * APIM writes a request's LLM-log rows when its response ends, while the ledger places the request when it began:
 * rows are read this long past the window, so a request that began in the window finds its rows.
 */
const LLM_LOG_LAG_MS = HOUR_MS;

/**
 * The LLM-log rows that belong to a window: those of its requests (read up to `LLM_LOG_LAG_MS` past its end), and
 * rows logged inside it whose request the ledger lacks; a row of a request that began in an earlier window is that
 * window's.
 */
async function llmRowsOf(rows: readonly LlmUsageRow[], entries: readonly LedgerEntry[], window: TimeWindow, ledger: LedgerStore, options: StoreOptions): Promise<LlmUsageRow[]> {
  const ids = new Set(entries.map((e) => e.gatewayRequestId));
  const within = (row: LlmUsageRow) => Date.parse(row.time) >= window.from.getTime() && Date.parse(row.time) < window.to.getTime();
  const unknown = rows.filter((row) => !ids.has(row.gatewayRequestId) && within(row));
  const earlier = new Set<string>();
  if (unknown.length > 0) {
    const found = await ledger.getEntriesByGatewayRequestIds([...new Set(unknown.map((row) => row.gatewayRequestId))], options);
    for (const entry of found) if (Date.parse(entry.time) < window.from.getTime()) earlier.add(entry.gatewayRequestId.toLowerCase());
  }
  return rows.filter((row) => ids.has(row.gatewayRequestId) || (within(row) && !earlier.has(row.gatewayRequestId.toLowerCase())));
}

/**
 * A window's metrics, or why they cannot be read. A failure that stays (a missing Monitoring Reader role, a metric
 * an account does not support, a deleted account) would stall every later run at this window, so it makes the
 * window's metrics check `unavailable` instead; a transient one (retries exhausted, throttling, 5xx, network)
 * fails the run, which is retried from the same window.
 */
async function metricsOf(sources: ReconciliationSources, window: TimeWindow, options: StoreOptions): Promise<{ metrics?: MetricTokens[]; metricsUnavailable?: string }> {
  if (!sources.metrics) return {};
  try {
    return { metrics: await sources.metrics(window, options) };
  } catch (error) {
    if (options.abortSignal?.aborted || classifyFailure(error) === 'transient') throw error;
    return { metricsUnavailable: failureReason(error) };
  }
}

/** The checks of one window (whole hours), from one query per source. */
export async function reconcileWindow(ports: Pick<ReconcilePorts, 'ledger' | 'sources'>, window: TimeWindow, options: ReconcileOptions): Promise<CheckResult[]> {
  return (await checkWindow(ports, window, options)).results;
}

/** The checks of a window, and why a source was unavailable even when the ledger gave it no hour to mark. */
async function checkWindow(ports: Pick<ReconcilePorts, 'ledger' | 'sources'>, window: TimeWindow, options: ReconcileOptions): Promise<{ results: CheckResult[]; unavailable: string[] }> {
  const entries: LedgerEntry[] = [];
  for await (const page of ports.ledger.listEntries(window, options)) entries.push(...page);
  const [records, llmRows, metrics] = await Promise.all([
    ports.sources.records(window, options),
    ports.sources.llmUsage?.({ from: window.from, to: new Date(window.to.getTime() + LLM_LOG_LAG_MS) }, options),
    metricsOf(ports.sources, window, options),
  ]);
  const llmUsage = llmRows && (await llmRowsOf(llmRows, entries, window, ports.ledger, options));
  const results = reconcile({
    entries,
    records,
    ...(llmUsage ? { llmUsage } : {}),
    ...metrics,
    gatewayObjectIds: options.gatewayObjectIds,
    ...(options.thresholds ? { thresholds: options.thresholds } : {}),
  });
  return { results, unavailable: metrics.metricsUnavailable !== undefined ? [`metrics-tokens: ${metrics.metricsUnavailable}`] : [] };
}

/**
 * One scheduled run: reconciles the whole hours between the watermark and the settled end (at most
 * `maxWindowInMs`), hour by hour. Each hour's results are stored (deterministic ids: a re-run replaces them) and
 * only then the watermark advanced past it: memory holds one hour's entries and records however far behind the
 * timer is, a run the host stops at its time limit keeps the hours it finished, and a failed hour is where the next
 * run resumes.
 */
export async function runReconciliation(ports: ReconcilePorts, options: ReconcileRunOptions): Promise<{ window: TimeWindow | null; results: number; unavailable?: string[] }> {
  const settledEnd = Math.floor((options.now.getTime() - (options.settleInMs ?? 2 * HOUR_MS)) / HOUR_MS) * HOUR_MS;
  const stored = await ports.watermarks.get(options.watermarkName, options);
  const from = stored ? Date.parse(stored) : settledEnd - (options.initialLookbackInMs ?? 24 * HOUR_MS);
  const to = Math.min(settledEnd, from + (options.maxWindowInMs ?? 24 * HOUR_MS));
  if (to <= from) return { window: null, results: 0 };
  let results = 0;
  const unavailable = new Set<string>();
  for (let start = from; start < to; ) {
    const end = Math.min(to, Math.floor(start / HOUR_MS) * HOUR_MS + HOUR_MS);
    const hour = { from: new Date(start), to: new Date(end) };
    const checked = await checkWindow(ports, hour, options);
    await ports.results.upsertResults(checked.results, options);
    await ports.watermarks.set(options.watermarkName, hour.to.toISOString(), options);
    results += checked.results.length;
    for (const reason of checked.unavailable) unavailable.add(reason);
    start = end;
  }
  return { window: { from: new Date(from), to: new Date(to) }, results, ...(unavailable.size > 0 ? { unavailable: [...unavailable] } : {}) };
}
