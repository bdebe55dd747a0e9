import { randomUUID } from 'node:crypto';
import { isNewerRun, runKey } from '../domain/run-order.js';
import { reconcile, type CheckResult, type Thresholds } from '../domain/reconciliation.js';
import { MissingTableError, type WatermarkStore } from '../ports/diagnostics-source.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import { TransientStoreError, type LedgerStore, type StoreOptions } from '../ports/ledger-store.js';
import { joinKey } from '../domain/join.js';
import type { ReconciliationSources, ReconciliationStore, TimeWindow } from '../ports/reconciliation.js';
import { lastingFailureReason } from './failure-classification.js';

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
  /** How far back from the watermark an hour graded `fail` is checked again; default 24 hours. */
  readonly regradeInMs?: number;
  /** A number in [0, 1) that draws the hours graded `fail` a run checks again; default `Math.random`. */
  readonly random?: () => number;
}

const HOUR_MS = 3_600_000;
/**
 * Azure OpenAI writes a request's `RequestResponse` record, and APIM its LLM-log rows, when the response ends
 * (a record's time is seconds after its `responseTime`), while the ledger places the request when it began: both
 * are read this long past a window, so a request that began in the window finds them.
 */
const LOG_LAG_MS = HOUR_MS;

/** How the items of one log name their request, and how the ledger finds requests by that name. */
interface RequestNaming<T> {
  readonly keyOf: (item: T) => string;
  readonly timeOf: (item: T) => string;
  readonly entryKeyOf: (entry: LedgerEntry) => string | null;
  readonly findEntries: (keys: readonly string[]) => Promise<readonly LedgerEntry[]>;
}

/**
 * What Azure logged that belongs to a window: the items of its requests (read up to `LOG_LAG_MS` past its end),
 * and the items logged inside it whose request the ledger lacks; an item of a request that began in an earlier
 * window is that window's. Request keys are compared lower-cased.
 */
async function ofWindow<T>(items: readonly T[], entries: readonly LedgerEntry[], window: TimeWindow, naming: RequestNaming<T>): Promise<T[]> {
  const key = (item: T) => naming.keyOf(item).toLowerCase();
  const keyOfEntry = (entry: LedgerEntry) => naming.entryKeyOf(entry)?.toLowerCase() ?? [];
  const windowKeys = new Set(entries.flatMap(keyOfEntry));
  const within = (item: T) => Date.parse(naming.timeOf(item)) >= window.from.getTime() && Date.parse(naming.timeOf(item)) < window.to.getTime();
  const unknown = [...new Set(items.filter((item) => !windowKeys.has(key(item)) && within(item)).map(key))];
  const earlier = new Set(unknown.length > 0 ? (await naming.findEntries(unknown)).filter((e) => Date.parse(e.time) < window.from.getTime()).flatMap(keyOfEntry) : []);
  return items.filter((item) => windowKeys.has(key(item)) || (within(item) && !earlier.has(key(item))));
}

/**
 * What one source answers for a window, or why it cannot be read: `whyNot` words a failure that makes the window's
 * check of that source `unavailable`, or rethrows one that fails the run (retried from the same window).
 */
async function readOrWhyNot<T>(read: (() => Promise<T>) | undefined, whyNot: (error: unknown) => string): Promise<{ value?: T; unavailable?: string }> {
  if (!read) return {};
  try {
    return { value: await read() };
  } catch (error) {
    return { unavailable: whyNot(error) };
  }
}

/**
 * The secondary sources (APIM LLM log, metrics): a failure that stays would stall every later run at this window (a
 * missing Monitoring Reader role, a metric an account does not support, a deleted account; a workspace without
 * `ApiManagementGatewayLlmLog`, which Azure Monitor creates only once APIM's GatewayLlmLogs diagnostic setting has
 * sent a row), so it makes the check `unavailable`; a transient one (retries exhausted, throttling, 5xx, network)
 * fails the run.
 */
const unlessTransient = (options: StoreOptions) => (error: unknown) => lastingFailureReason(error, options.abortSignal);

/**
 * The `RequestResponse` records, the reconciliation's main input: only a workspace without `AzureDiagnostics` (none
 * until an Azure OpenAI diagnostic setting has sent a record) makes them `unavailable`; any other failure fails the run.
 */
function onlyMissingTable(error: unknown): string {
  if (error instanceof MissingTableError) return error.message;
  throw error;
}

/** The checks of one window (whole hours), from one query per source. */
export async function reconcileWindow(ports: Pick<ReconcilePorts, 'ledger' | 'sources'>, window: TimeWindow, options: ReconcileOptions): Promise<CheckResult[]> {
  return (await checkWindow(ports, window, options)).results;
}

/** The checks of a window, and why a source was unavailable even when the ledger gave it no hour to mark. */
async function checkWindow(ports: Pick<ReconcilePorts, 'ledger' | 'sources'>, window: TimeWindow, options: ReconcileOptions): Promise<{ results: CheckResult[]; unavailable: string[] }> {
  const entries: LedgerEntry[] = [];
  for await (const page of ports.ledger.listEntries(window, options)) entries.push(...page);
  const lagging = { from: window.from, to: new Date(window.to.getTime() + LOG_LAG_MS) };
  const { sources } = ports;
  const [logged, llm, metrics] = await Promise.all([
    readOrWhyNot(() => sources.records(lagging, options), onlyMissingTable),
    readOrWhyNot(sources.llmUsage && (() => sources.llmUsage!(lagging, options)), unlessTransient(options)),
    readOrWhyNot(sources.metrics && (() => sources.metrics!(window, options)), unlessTransient(options)),
  ]);
  const llmRows = llm.value;
  const { ledger } = ports;
  const records =
    logged.value &&
    (await ofWindow(logged.value, entries, window, {
      keyOf: (r) => r.correlationId,
      timeOf: (r) => r.time,
      entryKeyOf: joinKey,
      findEntries: async (ids) => (await ledger.getEntriesByApimRequestIds(ids, options)).map((found) => found.entry),
    }));
  const llmUsage =
    llmRows &&
    (await ofWindow(llmRows, entries, window, {
      keyOf: (row) => row.gatewayRequestId,
      timeOf: (row) => row.time,
      entryKeyOf: (entry) => entry.gatewayRequestId,
      findEntries: (ids) => ledger.getEntriesByGatewayRequestIds(ids, options),
    }));
  const results = reconcile({
    entries,
    ...(records ? { records } : {}),
    ...(logged.unavailable !== undefined ? { recordsUnavailable: logged.unavailable } : {}),
    ...(llmUsage ? { llmUsage } : {}),
    ...(llm.unavailable !== undefined ? { llmUsageUnavailable: llm.unavailable } : {}),
    ...(metrics.value ? { metrics: metrics.value } : {}),
    ...(metrics.unavailable !== undefined ? { metricsUnavailable: metrics.unavailable } : {}),
    gatewayObjectIds: options.gatewayObjectIds,
    ...(options.thresholds ? { thresholds: options.thresholds } : {}),
  });
  const unavailable = [
    ...(logged.unavailable !== undefined ? [`requests: ${logged.unavailable}`] : []),
    ...(llm.unavailable !== undefined ? [`llm-tokens: ${llm.unavailable}`] : []),
    ...(metrics.unavailable !== undefined ? [`metrics-tokens: ${metrics.unavailable}`] : []),
  ];
  return { results, unavailable };
}

/** Attempts to name the run for an hour while other runs keep naming theirs, before the run gives up (the hour is where the next run resumes). */
const ATTEMPTS = 5;

/** Hours graded `fail` a run checks again at most, so that a lasting fault costs each run a bounded number of reads. */
const MAX_REGRADED_HOURS = 6;

/**
 * `MAX_REGRADED_HOURS` of the hours drawn at random, in order. A turn taken by the clock would lock in phase with the
 * list, which slides an hour each run as hours leave it: with hours failing every other hour for good, the same
 * slices came round run after run and an hour between them was never checked again. Drawn, an hour among n is
 * missed by all 24 hourly runs that look back at it with odds (1 − 6/n)^24: about 1 in 1,000 with n = 24, under 1 in
 * 5,000 with n ≤ 20.
 */
function drawn(hours: readonly string[], random: () => number): string[] {
  const pool = [...hours];
  for (let i = 0; i < Math.min(MAX_REGRADED_HOURS, pool.length); i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, MAX_REGRADED_HOURS).sort();
}

/**
 * Stores one run's results of an hour in place of an older run's, as a whole: the run's results are written apart,
 * then the hour names the run and their count, at the version read (ETag), unless it names a newer run already; then
 * the older runs' results are removed. A run that finds a newer one's results removes its own (false then), and so
 * does a run that fails before the hour names it, as far as the store lets it.
 */
export async function storeHourResults(store: ReconciliationStore, hour: string, run: string, results: readonly CheckResult[], options: StoreOptions = {}): Promise<boolean> {
  const removeOwn = () => store.deleteResults(hour, (stored) => stored === run, options);
  let named = false;
  try {
    await store.putResults(hour, run, results, options);
    for (let attempt = 1; attempt <= ATTEMPTS && !named; attempt++) {
      const current = await store.getHourRun(hour, options);
      // Its own naming: a write that landed though the store answered otherwise.
      if (current?.value.run === run) named = true;
      else if (current && !isNewerRun(run, current.value.run)) {
        await removeOwn();
        return false;
      } else named = await store.replaceHourRun(hour, { run, results: results.length }, current?.version ?? null, options);
    }
  } catch (error) {
    // Results no hour names would stay unread for good: the watermark may move past the hour meanwhile.
    if (!named) await removeOwn().catch(() => undefined);
    throw error;
  }
  if (!named) {
    await removeOwn();
    throw new TransientStoreError(`the reconciliation of ${hour} was replaced by other runs ${ATTEMPTS} times in a row`);
  }
  await store.deleteResults(hour, (stored) => isNewerRun(run, stored), options);
  return true;
}

/**
 * One scheduled run: reconciles the whole hours between the watermark and the settled end (at most
 * `maxWindowInMs`), hour by hour. Each hour's results are stored (`storeHourResults`: they replace an older run's)
 * and only then the watermark advanced past it: memory holds one hour's entries and records however far behind the
 * timer is, a run the host stops at its time limit keeps the hours it finished, and a failed hour is where the next
 * run resumes. `superseded` counts hours whose results a newer run had stored first (this run's were dropped).
 *
 * Then it checks again the hours of the `regradeInMs` before the window that an earlier run graded `fail`, at most
 * `MAX_REGRADED_HOURS` of them drawn at random: Log Analytics ingests most records within minutes but some much
 * later, and the ledger lags behind an Event Hubs backlog, so such a verdict may be the data's lateness, not a fault.
 * `regraded` counts them.
 */
export async function runReconciliation(
  ports: ReconcilePorts,
  options: ReconcileRunOptions,
): Promise<{ window: TimeWindow | null; results: number; superseded: number; regraded: number; unavailable?: string[] }> {
  const settledEnd = Math.floor((options.now.getTime() - (options.settleInMs ?? 2 * HOUR_MS)) / HOUR_MS) * HOUR_MS;
  const stored = await ports.watermarks.get(options.watermarkName, options);
  const from = stored ? Date.parse(stored) : settledEnd - (options.initialLookbackInMs ?? 24 * HOUR_MS);
  const to = Math.min(settledEnd, from + (options.maxWindowInMs ?? 24 * HOUR_MS));
  const run = runKey(options.now, randomUUID());
  let results = 0;
  let superseded = 0;
  const unavailable = new Set<string>();
  /** Checks and stores one hour; the number of results stored (0 when a newer run's were there first). */
  const check = async (hour: TimeWindow) => {
    const checked = await checkWindow(ports, hour, options);
    for (const reason of checked.unavailable) unavailable.add(reason);
    if (await storeHourResults(ports.results, hour.from.toISOString().slice(0, 13), run, checked.results, options)) return checked.results.length;
    superseded++;
    return 0;
  };
  for (let start = from; start < to; ) {
    const end = Math.min(to, Math.floor(start / HOUR_MS) * HOUR_MS + HOUR_MS);
    const hour = { from: new Date(start), to: new Date(end) };
    results += await check(hour);
    await ports.watermarks.set(options.watermarkName, hour.to.toISOString(), options);
    start = end;
  }
  let regraded = 0;
  if (stored) {
    const recent = { from: new Date(Math.max(0, from - (options.regradeInMs ?? 24 * HOUR_MS))), to: new Date(from) };
    const doubtful = [...new Set((await ports.results.listResults(recent, options)).filter((r) => r.status === 'fail').map((r) => r.window))].sort();
    for (const window of drawn(doubtful, options.random ?? Math.random)) {
      const start = Date.parse(`${window}:00:00.000Z`);
      await check({ from: new Date(start), to: new Date(start + HOUR_MS) });
      regraded++;
    }
  }
  const window = to > from ? { from: new Date(from), to: new Date(to) } : null;
  return { window, results, superseded, regraded, ...(unavailable.size > 0 ? { unavailable: [...unavailable] } : {}) };
}
