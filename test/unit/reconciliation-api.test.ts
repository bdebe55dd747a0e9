import functions from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { createReconciliationHandler } from '../../functions/handlers/operations-reports.js';
import { compareResultKeys, type CheckName, type CheckStatus } from '../../src/contracts/reconciliation-result.js';
import { encodeResultKey, RECONCILIATION_PAGE_SIZE } from '../../src/contracts/report-query.js';
import type { CheckResult } from '../../src/domain/reconciliation.js';
import { runKey } from '../../src/domain/run-order.js';
import type { ReconciliationStore, TimeWindow } from '../../src/ports/reconciliation.js';
import { storeHourResults } from '../../src/services/reconcile-windows.js';
import { MemoryReconciliationStore } from '../support/memory-stores.js';

const { HttpRequest } = functions;

interface Answer {
  status: number | undefined;
  reason?: string;
  summary: Partial<Record<CheckName, Record<CheckStatus, number>>>;
  total: number;
  checks: CheckResult[];
  continuation: string | null;
}

function reconciliationOver(store: Pick<ReconciliationStore, 'resultsByDay'>) {
  const handler = createReconciliationHandler(() => store as ReconciliationStore);
  return async (query: string): Promise<Answer> => {
    const response = await handler(new HttpRequest({ method: 'GET', url: `https://tokenledger.example/api/reconciliation?${query}` }));
    return { status: response.status, ...(response.jsonBody as Omit<Answer, 'status'>) };
  };
}

/** Every page of a query, following `continuation` until it is null. */
async function allPages(get: (query: string) => Promise<Answer>, query: string): Promise<Answer[]> {
  const pages = [await get(query)];
  while (pages.at(-1)!.continuation !== null) pages.push(await get(`${query}&continuation=${pages.at(-1)!.continuation!}`));
  return pages;
}

const CHECKED: readonly CheckName[] = ['requests', 'llm-tokens', 'metrics-tokens'];
const statusOf = (i: number): CheckStatus => (i % 23 === 0 ? 'fail' : i % 7 === 0 ? 'warn' : i % 41 === 0 ? 'unavailable' : 'ok');

/** Results of every check, hour and deployment of the days, graded by `statusOf` their position. */
function resultsOf(days: readonly string[], deployments: readonly string[]): CheckResult[] {
  let i = 0;
  return days.flatMap((day) =>
    Array.from({ length: 24 }, (_, h) => `${day}T${String(h).padStart(2, '0')}`).flatMap((window) =>
      CHECKED.flatMap((check) =>
        deployments.map((deployment): CheckResult => {
          const status = statusOf(i++);
          return { check, window, deployment, expected: 100, actual: 100, driftPct: 0, status, ...(status === 'unavailable' ? { reason: 'HTTP 403 AuthorizationFailed' } : {}), gatewayOnly: [], gatewayOnlyCount: 0, diagnosticsOnly: [], diagnosticsOnlyCount: 0 };
        }),
      ),
    ),
  );
}

function countsOf(results: readonly CheckResult[]): Answer['summary'] {
  const summary: Answer['summary'] = {};
  for (const r of results) (summary[r.check] ??= { ok: 0, warn: 0, fail: 0, unavailable: 0 })[r.status]++;
  return summary;
}

const DAYS = ['2026-10-14', '2026-10-15', '2026-10-16'];
const RANGE = 'from=2026-10-14&to=2026-10-17';
/** The scope of a page of `RANGE` with every status. */
const SCOPE = { from: new Date('2026-10-14T00:00:00Z'), to: new Date('2026-10-17T00:00:00Z'), statuses: ['ok', 'warn', 'fail', 'unavailable'] } as const;
const DEPLOYMENTS = ['gpt-35', 'gpt-4o', 'gpt-4o-mini', 'o3', 'text-embedding'];

describe('GET /api/reconciliation, a page at a time', () => {
  const store = new MemoryReconciliationStore();
  const get = reconciliationOver(store);
  const stored = resultsOf(DAYS, DEPLOYMENTS).sort(compareResultKeys);
  beforeAll(async () => {
    const hours = [...new Set(stored.map((r) => r.window))];
    // Stored in reverse, so the answer's order is the API's doing, not the order of writing.
    for (const hour of hours.reverse()) {
      const run = runKey(new Date(`${DAYS[2]}T12:00:00Z`), hour);
      expect(await storeHourResults(store, hour, run, stored.filter((r) => r.window === hour).reverse())).toBe(true);
    }
  });

  it('answers every result of a window within one page, in order, as it did before pages', async () => {
    const answer = await get('from=2026-10-15T03:00:00Z&to=2026-10-15T05:00:00Z');
    const expected = stored.filter((r) => r.window === '2026-10-15T03' || r.window === '2026-10-15T04');
    expect(answer).toMatchObject({ status: 200, total: expected.length, continuation: null, summary: countsOf(expected) });
    expect(answer.checks).toEqual(expected);
  });

  it('answers limit results of a window with more, and the continuations the rest, none repeated or missed', async () => {
    expect(stored.length).toBe(1080);
    const pages = await allPages(get, `${RANGE}&limit=100`);
    expect(pages.map((p) => p.checks.length)).toEqual([...Array<number>(10).fill(100), 80]);
    expect(pages.flatMap((p) => p.checks)).toEqual(stored);
    for (const page of pages) expect({ status: page.status, total: page.total, summary: page.summary }).toEqual({ status: 200, total: 1080, summary: countsOf(stored) });
  });

  it(`lists ${RECONCILIATION_PAGE_SIZE.default} results a page when no limit is given, and no more when asked for more`, async () => {
    const [first, second] = await allPages(get, RANGE);
    expect([first!.checks.length, second!.checks.length, second!.continuation]).toEqual([1000, 80, null]);
    expect((await get(`${RANGE}&limit=1001`)).reason).toBe('invalid report parameters: limit: at most 1000 results a page; follow continuation for more');
  });

  it('lists the results of the statuses asked for, counting every status in the summary', async () => {
    const notOk = stored.filter((r) => r.status === 'fail' || r.status === 'warn');
    const pages = await allPages(get, `${RANGE}&status=fail,warn&limit=40`);
    expect(pages.flatMap((p) => p.checks)).toEqual(notOk);
    expect(pages.every((p) => p.total === notOk.length && p.checks.length <= 40)).toBe(true);
    expect(pages[0]!.summary).toEqual(countsOf(stored));
    const unavailable = await get(`${RANGE}&status=unavailable`);
    expect(unavailable.checks).toEqual(stored.filter((r) => r.status === 'unavailable'));
    expect(unavailable.checks.every((r) => r.reason === 'HTTP 403 AuthorizationFailed')).toBe(true);
  });

  it("counts and lists one deployment's results when deployment is given", async () => {
    const ofOne = stored.filter((r) => r.deployment === 'o3');
    const pages = await allPages(get, `${RANGE}&deployment=o3&limit=50`);
    expect(pages.flatMap((p) => p.checks)).toEqual(ofOne);
    expect(pages[0]).toMatchObject({ total: ofOne.length, summary: countsOf(ofOne) });
  });

  it('answers an empty page and summary for a window without results', async () => {
    expect(await get('from=2026-09-01&to=2026-09-02')).toMatchObject({ status: 200, summary: {}, total: 0, checks: [], continuation: null });
  });

  it('refuses unknown statuses, a bad limit and a continuation it did not write, or of another window, with 400 and the reason', async () => {
    const reasonFor = async (query: string) => {
      const answer = await get(query);
      expect(answer.status, query).toBe(400);
      return answer.reason;
    };
    expect(await reasonFor(`${RANGE}&status=failed`)).toBe('invalid report parameters: status: "failed" is not a status (expected one or more of ok, warn, fail, unavailable, separated by commas)');
    expect(await reasonFor(`${RANGE}&status=fail,,Warn`)).toBe('invalid report parameters: status: "", "Warn" are not statuses (expected one or more of ok, warn, fail, unavailable, separated by commas)');
    expect(await reasonFor(`${RANGE}&status=`)).toContain('status: "" is not a status');
    for (const limit of ['0', '-5', '2.5', 'all', '']) expect(await reasonFor(`${RANGE}&limit=${limit}`)).toMatch(/^invalid report parameters: limit: expected a whole number written in digits, such as 1000/);
    const notOurs = 'invalid report parameters: continuation: not a continuation this API wrote: pass the continuation of the previous page as it is';
    for (const token of ['not+a+token', '', 'A'.repeat(17_000)]) expect(await reasonFor(`${RANGE}&continuation=${token}`)).toBe(notOurs);
    expect(await reasonFor(`${RANGE}&continuation=${Buffer.from('{"window":"2026-10-15T03"}').toString('base64url')}`)).toBe(notOurs);
    expect(await reasonFor(`${RANGE}&continuation=${Buffer.from('["2026-10-15T03","latency","o3"]').toString('base64url')}`)).toBe(notOurs);
    const tokenAt = (window: string) => encodeResultKey({ window, check: 'requests', deployment: 'o3' }, SCOPE);
    expect(await reasonFor(`${RANGE}&continuation=${tokenAt('2026-10-20T03')}`)).toBe(
      'invalid report parameters: continuation: it continues after the hour 2026-10-20T03, outside the window: pass it as the previous page answered it',
    );
    // Hour 24 of the last day is the window's end; the others are on no clock.
    for (const hour of ['2026-10-16T24', '2026-10-15T99', '2026-09-31T05']) expect(await reasonFor(`${RANGE}&continuation=${tokenAt(hour)}`)).toBe(notOurs);
    // A page's continuation with another status, deployment or window would skip results unseen.
    const first = await get(`${RANGE}&status=fail&limit=2`);
    const otherScope =
      'invalid report parameters: continuation: it came with another window, deployment or status: pass it with those of the page it came with (from=2026-10-14T00:00:00.000Z, to=2026-10-17T00:00:00.000Z)';
    for (const query of [`${RANGE}&status=fail,warn`, `${RANGE}&status=fail&deployment=o3`, 'from=2026-10-15&to=2026-10-17&status=fail']) {
      expect(await reasonFor(`${query}&limit=2&continuation=${first.continuation!}`)).toBe(otherScope);
    }
    expect(await reasonFor(`${RANGE}&limit=10&limits=20`)).toContain('unknown parameter "limits" (expected from, to, deployment, status, limit, continuation)');
  });

  it('takes back the longest continuation it writes: a deployment name of the ledger’s longest, every character escaped', async () => {
    const deployment = '\u0001'.repeat(512);
    const token = encodeResultKey({ window: `${DAYS[0]}T05`, check: 'requests', deployment }, { ...SCOPE, deployment });
    expect(token.length).toBeGreaterThan(8192);
    expect((await get(`${RANGE}&deployment=${encodeURIComponent(deployment)}&continuation=${token}`)).status).toBe(200);
  });

  it('goes on after the last result of the previous page even when that result is gone since', async () => {
    const first = await get(`${RANGE}&limit=5`);
    const last = first.checks.at(-1)!;
    expect(first.continuation).toBe(encodeResultKey(last, SCOPE));
    const hour = last.window;
    expect(await storeHourResults(store, hour, runKey(new Date(`${DAYS[2]}T13:00:00Z`), 'regraded'), stored.filter((r) => r.window === hour && compareResultKeys(r, last) !== 0))).toBe(true);
    const next = await get(`${RANGE}&limit=5&continuation=${first.continuation!}`);
    expect(next.checks).toEqual(stored.slice(5, 10));
    expect(next.total).toBe(1079);
  });
});

/**
 * A counting fake store: 93 days of 40 deployments' results (3 checks an hour each), made a day at a time as the
 * reader asks for the next day. It counts the days and results it handed out and the most it handed out at once;
 * `listResults`, the whole window in one list, fails.
 */
class DayByDayCountingStore implements Pick<ReconciliationStore, 'resultsByDay' | 'listResults'> {
  daysRead = 0;
  resultsRead = 0;
  mostResultsAtOnce = 0;
  readonly counts: Answer['summary'] = {};

  async *resultsByDay(window: TimeWindow): AsyncIterable<readonly CheckResult[]> {
    const deployments = Array.from({ length: 40 }, (_, i) => `deployment-${String(i).padStart(2, '0')}`);
    for (let day = window.from.getTime(); day < window.to.getTime(); day += 86_400_000) {
      const results = resultsOf([new Date(day).toISOString().slice(0, 10)], deployments).sort(compareResultKeys);
      this.daysRead++;
      this.resultsRead += results.length;
      this.mostResultsAtOnce = Math.max(this.mostResultsAtOnce, results.length);
      for (const r of results) (this.counts[r.check] ??= { ok: 0, warn: 0, fail: 0, unavailable: 0 })[r.status]++;
      yield results;
    }
  }

  listResults(): Promise<CheckResult[]> {
    throw new Error('the reconciliation endpoint read the whole window into one list');
  }
}

describe('GET /api/reconciliation over 93 days of 40 deployments', () => {
  it('reads the store a day at a time and answers one page of the 267,840 results, its size independent of the window', async () => {
    const store = new DayByDayCountingStore();
    const get = reconciliationOver(store);
    const answer = await get('from=2026-07-01&to=2026-10-02');
    expect(store).toMatchObject({ daysRead: 93, resultsRead: 267_840, mostResultsAtOnce: 2880 });
    expect(answer).toMatchObject({ status: 200, total: 267_840, summary: store.counts });
    expect(answer.checks).toHaveLength(RECONCILIATION_PAGE_SIZE.max);
    expect(answer.continuation).not.toBeNull();

    const oneDay = await reconciliationOver(new DayByDayCountingStore())('from=2026-07-01&to=2026-07-02');
    expect(oneDay.checks).toHaveLength(RECONCILIATION_PAGE_SIZE.max);
    const size = (a: Answer) => JSON.stringify({ ...a, summary: undefined, total: undefined, continuation: undefined }).length;
    expect(Math.abs(size(answer) - size(oneDay))).toBeLessThan(100);
  });

  it('lists the not-ok results of the whole window a page at a time, each page counting all of them', async () => {
    const store = new DayByDayCountingStore();
    const get = reconciliationOver(store);
    const first = await get('from=2026-07-01&to=2026-10-02&status=fail,unavailable');
    const notOk = Object.values(store.counts).reduce((sum, n) => sum + n.fail + n.unavailable, 0);
    expect(first.total).toBe(notOk);
    expect(first.checks).toHaveLength(1000);
    expect(first.checks.every((r) => r.status === 'fail' || r.status === 'unavailable')).toBe(true);
    const second = await get(`from=2026-07-01&to=2026-10-02&status=fail,unavailable&continuation=${first.continuation!}`);
    expect(second).toMatchObject({ total: notOk, summary: first.summary });
    expect(compareResultKeys(second.checks[0]!, first.checks.at(-1)!)).toBe(1);
  });
});
