import { CHECKS, CHECK_STATUSES, compareResultKeys, type CheckName, type CheckStatus, type ResultKey } from '../contracts/reconciliation-result.js';
import type { CheckResult } from '../domain/reconciliation.js';
import type { StoreOptions } from '../ports/ledger-store.js';
import type { ReconciliationStore, TimeWindow } from '../ports/reconciliation.js';

export interface ReconciliationPageQuery extends TimeWindow {
  readonly deployment?: string;
  /** The statuses listed; the summary counts every status. */
  readonly statuses: readonly CheckStatus[];
  readonly limit: number;
  /** The key of the previous page's last result: this page lists the results after it. */
  readonly after?: ResultKey;
}

/** How many results of each check have each status (checks with no result left out). */
export type ResultCounts = Partial<Record<CheckName, Record<CheckStatus, number>>>;

export interface ReconciliationPage {
  /** Over the whole window (of the deployment, if given), whatever the statuses listed. */
  readonly summary: ResultCounts;
  /** Results of the window with a listed status, on every page. */
  readonly total: number;
  /** At most `limit` of them, after `after`, in the order of `compareResultKeys`. */
  readonly checks: readonly CheckResult[];
  /** The key of the last result listed when more follow it, or null on the last page. */
  readonly next: ResultKey | null;
}

/**
 * One page of a window's reconciliation results and the counts of all of them, from one pass over the store's
 * results a day at a time: it holds a day's results, the counts and the page, whatever the window's size.
 */
export async function reconciliationPage(store: Pick<ReconciliationStore, 'resultsByDay'>, query: ReconciliationPageQuery, options: StoreOptions = {}): Promise<ReconciliationPage> {
  const counts = new Map<CheckName, Record<CheckStatus, number>>();
  const listed = new Set(query.statuses);
  const checks: CheckResult[] = [];
  let total = 0;
  let more = false;
  for await (const day of store.resultsByDay(query, options)) {
    for (const result of day) {
      if (query.deployment !== undefined && result.deployment !== query.deployment) continue;
      const perStatus = counts.get(result.check) ?? (Object.fromEntries(CHECK_STATUSES.map((s) => [s, 0])) as Record<CheckStatus, number>);
      perStatus[result.status]++;
      counts.set(result.check, perStatus);
      if (!listed.has(result.status)) continue;
      total++;
      if (query.after !== undefined && compareResultKeys(result, query.after) <= 0) continue;
      if (checks.length < query.limit) checks.push(result);
      else more = true;
    }
  }
  const summary: ResultCounts = {};
  for (const check of CHECKS) {
    const perStatus = counts.get(check);
    if (perStatus) summary[check] = perStatus;
  }
  const last = checks.at(-1);
  return { summary, total, checks, next: more && last ? { window: last.window, check: last.check, deployment: last.deployment } : null };
}
