import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  byCostDescending,
  cachedShare,
  daysOf,
  defaultRange,
  describeToken,
  displayAmounts,
  drillFromQuery,
  drillToQuery,
  formatPercent,
  formatRate,
  parseRequestsPage,
  picodollarsAmount,
  presetRange,
  withoutDrill,
  filtersFromQuery,
  filtersToQuery,
  operationsWindow,
  parseInvoice,
  roundAmount,
  optionsFor,
  parseChargeback,
  parseLatency,
  parseReconciliation,
  emptyLatencyMessage,
  parseTraffic,
  parseWeights,
  rangeProblem,
  rowsOfDeployment,
  rowsOfTeam,
  ShapeError,
  topSpenders,
  traceRoute,
  type ChargebackRow,
} from '../../dashboards/web/src/model.js';
import { latencyQuerySchemaAt, operationsQuerySchemaAt, reconciliationQuerySchemaAt, requestsQuerySchemaAt, trafficQuerySchemaAt, weightsQuerySchemaAt } from '../../src/contracts/report-query.js';

const figures = { requests: 1, promptTokens: 10, cachedTokens: 4, completionTokens: 2, reasoningTokens: 0, cost: '0.000010', costPicodollars: '10000000' };
const row = (over: Partial<ChargebackRow>): ChargebackRow => ({
  ...figures,
  key: 'k',
  identity: null,
  identityKind: null,
  displayName: null,
  team: null,
  costCenter: null,
  model: null,
  deployment: null,
  ...over,
});

describe('dashboard model', () => {
  it('reads why a reconciliation result is unavailable, and no reason for a graded one', () => {
    const result = { check: 'metrics-tokens', window: '2026-10-15T03', deployment: 'gpt-4o-prod', expected: null, actual: 1000, driftPct: null, gatewayOnly: [], gatewayOnlyCount: 0, diagnosticsOnly: [], diagnosticsOnlyCount: 0 };
    const page = { summary: { 'metrics-tokens': { ok: 1, warn: 0, fail: 0, unavailable: 1 } }, total: 2, continuation: null };
    const { checks } = parseReconciliation({ ...page, checks: [{ ...result, status: 'unavailable', reason: 'HTTP 403 AuthorizationFailed: denied' }, { ...result, expected: 1000, driftPct: 0, status: 'ok' }] });
    expect(checks.map((c) => [c.status, c.expected, c.reason])).toEqual([
      ['unavailable', null, 'HTTP 403 AuthorizationFailed: denied'],
      ['ok', 1000, null],
    ]);
    expect(() => parseReconciliation({ ...page, checks: [{ ...result, status: 'unavailable', reason: 403 }] })).toThrow(ShapeError);
  });

  it('reads the counts of a reconciliation window and the continuation of its page', () => {
    const report = parseReconciliation({ summary: { requests: { ok: 70, warn: 2, fail: 1, unavailable: 0 }, bypass: { ok: 24, warn: 0, fail: 0, unavailable: 0 } }, total: 3, checks: [], continuation: 'WyIyMDI2LTEwLTE1VDAzIl0' });
    expect(report.summary.map((s) => [s.check, Object.fromEntries(s.counts)])).toEqual([
      ['requests', { ok: 70, warn: 2, fail: 1, unavailable: 0 }],
      ['bypass', { ok: 24, warn: 0, fail: 0, unavailable: 0 }],
    ]);
    expect([report.total, report.continuation]).toEqual([3, 'WyIyMDI2LTEwLTE1VDAzIl0']);
    expect(() => parseReconciliation({ summary: { requests: { ok: -1 } }, total: 0, checks: [], continuation: null })).toThrow(ShapeError);
    expect(() => parseReconciliation({ checks: [] })).toThrow(ShapeError);
  });

  it('lists the UTC days of a range with an exclusive end, across a month boundary', () => {
    expect(daysOf('2026-10-30', '2026-11-02')).toEqual(['2026-10-30', '2026-10-31', '2026-11-01']);
    expect(daysOf('2026-10-15', '2026-10-16')).toEqual(['2026-10-15']);
  });

  it('defaults to last calendar month, January included', () => {
    expect(defaultRange(new Date('2026-11-22T09:00:00Z'))).toEqual({ from: '2026-10-01', to: '2026-11-01' });
    expect(defaultRange(new Date('2027-01-05T00:00:00Z'))).toEqual({ from: '2026-12-01', to: '2027-01-01' });
  });

  it('names what is wrong with a range, as the API would refuse it', () => {
    expect(rangeProblem('2026-10-15', '2026-10-16')).toBeNull();
    expect(rangeProblem('2026-10-16', '2026-10-15')).toMatch(/after/);
    expect(rangeProblem('2026-02-30', '2026-03-02')).toMatch(/From/);
    expect(rangeProblem('2025-01-01', '2026-03-01')).toMatch(/400 days/);
    expect(rangeProblem('1999-12-31', '2000-01-02')).toBe('From must be 2000-01-01 or later.');
    expect(rangeProblem('2000-01-01', '2000-01-02')).toBeNull();
  });

  it('asks the operations reports for the last 93 days of a longer range, and says so on their panels', () => {
    expect(operationsWindow({ from: '2026-01-01', to: '2026-07-20' })).toEqual({
      from: '2026-04-18',
      to: '2026-07-20',
      note: 'The last 93 days of the range, 2026-04-18 to 2026-07-20 (To exclusive): operations reports cover at most 93 days.',
    });
    expect(operationsWindow({ from: '2026-04-18', to: '2026-07-20' })).toEqual({ from: '2026-04-18', to: '2026-07-20', note: '' });
    expect(operationsWindow({ from: '2026-10-15', to: '2026-10-16' })).toEqual({ from: '2026-10-15', to: '2026-10-16', note: '' });
  });

  it('gives the operations reports a window their API accepts for every range the page accepts, ending where the range ends', () => {
    const now = new Date('2026-12-03T17:42:10Z');
    const schemas = [latencyQuerySchemaAt(now), weightsQuerySchemaAt(now), trafficQuerySchemaAt(now), operationsQuerySchemaAt(now), reconciliationQuerySchemaAt(now)];
    const first = Date.UTC(2000, 0, 1);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 365 * 900 }), fc.integer({ min: 1, max: 400 }), (startDay, days) => {
        const from = new Date(first + startDay * 86_400_000).toISOString().slice(0, 10);
        const to = new Date(first + (startDay + days) * 86_400_000).toISOString().slice(0, 10);
        expect(rangeProblem(from, to)).toBeNull();
        const window = operationsWindow({ from, to });
        for (const schema of schemas) expect(schema.safeParse({ from: window.from, to: window.to }).error?.issues ?? []).toEqual([]);
        expect(window.to).toBe(to);
        expect(window.from >= from).toBe(true);
        expect(window.from === from).toBe(days <= 93);
        expect(window.note === '').toBe(days <= 93);
      }),
    );
  });

  it('round-trips filters through the URL query and falls back for a bad range', () => {
    const filters = { from: '2026-10-15', to: '2026-10-16', team: 'Search & Ads', deployment: 'gpt-4o-prod', basis: 'invoice' } as const;
    expect(filtersFromQuery(filtersToQuery(filters), { from: 'x', to: 'y' })).toEqual(filters);
    expect(filtersFromQuery(new URLSearchParams('from=bad&to=2026-10-16&basis=bill'), { from: '2026-09-01', to: '2026-10-01' })).toEqual({ from: '2026-09-01', to: '2026-10-01', team: '', deployment: '', basis: 'list' });
  });

  it('rounds exact amounts half to even for display, keeping the sign of what is not zero', () => {
    expect(roundAmount('1.2345665', 6)).toBe('1.234566');
    expect(roundAmount('1.2345675', 6)).toBe('1.234568');
    expect(roundAmount('-0.0000015', 6)).toBe('-0.000002');
    expect(roundAmount('-0.0000004', 6)).toBe('0.000000');
    expect(roundAmount('12.5', 6)).toBe('12.500000');
  });

  it('reads an invoice report and refuses a list-price report in its place', () => {
    const body = {
      basis: 'invoice',
      currency: 'USD',
      rows: [{ key: 'Search', billedCost: '1.50', effectiveCost: '1.40', reasons: null }, { key: 'unallocated', billedCost: '0.10', effectiveCost: '0.10', reasons: [{ reason: 'r', billedCost: '0.10', effectiveCost: '0.10' }] }],
      totals: { billedCost: '1.60', effectiveCost: '1.50' },
      teams: [{ team: 'Search', estimate: '2.000000000000', billedCost: '1.50', effectiveCost: '1.40', billedDifference: '-0.500000000000', effectiveDifference: '-0.600000000000' }],
      exports: ['a/b/c/part_0.csv'],
    };
    expect(parseInvoice(body).teams![0]!.billedDifference).toBe('-0.500000000000');
    expect(parseInvoice(body).rows[1]!.reasons).toEqual([{ reason: 'r', billedCost: '0.10', effectiveCost: '0.10' }]);
    expect(() => parseInvoice({ ...body, basis: 'list' })).toThrow(/not on the invoice basis/);
  });

  it('keeps identity rows of a team by their team and team rows by their key', () => {
    const rows = [row({ key: 'a', identity: 'a', team: 'Search' }), row({ key: 'b', identity: 'b', team: 'Platform' }), row({ key: 'Search' })];
    expect(rowsOfTeam(rows, 'Search').map((r) => r.key)).toEqual(['a', 'Search']);
    expect(rowsOfTeam(rows, '')).toHaveLength(3);
    expect(rowsOfDeployment([row({ key: 'm1', deployment: 'd1' }), row({ key: 'm2', deployment: null })], 'd1').map((r) => r.key)).toEqual(['m1']);
  });

  it('ranks spenders on exact picodollars, not on rounded display costs', () => {
    const rows = [
      row({ key: 'small', cost: '0.000001', costPicodollars: '1000000' }),
      row({ key: 'big', cost: '0.000001', costPicodollars: '1499999' }),
      row({ key: 'huge', cost: '92233720368.547758', costPicodollars: '92233720368547758080000' }),
    ];
    expect(topSpenders(rows, 2).map((r) => r.key)).toEqual(['huge', 'big']);
    expect([...rows].sort(byCostDescending).at(-1)!.key).toBe('small');
  });

  it('shows the cached share of prompt tokens, and none without prompt tokens', () => {
    expect(cachedShare({ cachedTokens: 325_504, promptTokens: 2_296_594 })).toBe('14.17 %');
    expect(cachedShare({ cachedTokens: 0, promptTokens: 0 })).toBe('–');
  });

  it('keeps the current filter choice among the options even when the data lacks it', () => {
    expect(optionsFor(['b', null, 'a', 'b'], 'z')).toEqual(['a', 'b', 'z']);
  });

  it('accepts the chargeback JSON the API sends and refuses a changed shape', () => {
    const body = { currency: 'USD', groupBy: 'team', rows: [{ ...row({ key: 'Search', team: 'Search' }), tokenSources: {}, priceVersions: [] }], totals: figures, unpriced: [] };
    expect(parseChargeback(body).rows[0]!.key).toBe('Search');
    expect(() => parseChargeback({ ...body, totals: { ...figures, cost: 6.29 } })).toThrow(ShapeError);
    expect(() => parseChargeback({ ...body, rows: [{ ...body.rows[0], requests: -1 }] })).toThrow(/requests/);
  });

  it('accepts the operations reports in the shapes agreed with the API', () => {
    expect(
      parseLatency({
        rows: [{ region: 'eastus', requests: 3, errors: 0, throttled: 1, errorRate: 0, throttleRate: 0.333, p50Ms: 120, p90Ms: 300, p95Ms: null, p99Ms: null }],
        series: [{ windowStart: '2026-10-15T00:00:00.000Z', region: 'eastus', p50Ms: 120, p95Ms: 310, requests: 3 }],
      }).series,
    ).toHaveLength(1);
    expect(parseWeights({ recommendations: [{ deployment: 'd', basis: null, explanation: 'e', weights: [{ backendId: 'b', regionCode: null, weight: 100, reason: 'r' }] }] })[0]!.weights[0]!.weight).toBe(100);
    expect(parseTraffic({ join: { matched: 1, noDiagnostics: 2, bypass: 3 }, bypass: { entra: 1, key: 2 }, unattributed: { requests: 0, promptTokens: 0, completionTokens: 0 } }).bypass.key).toBe(2);
    expect(() => parseTraffic({ join: {} })).toThrow(ShapeError);
  });

  it('says where the latest latency data is when the range is empty', () => {
    const empty = parseLatency({ rows: [], series: [], latestDataHour: '2026-11-15T23:00:00.000Z' });
    expect(emptyLatencyMessage(empty)).toBe('No latency figures in this range. The latest data is in the hour from 2026-11-15 23:00 UTC.');
    expect(emptyLatencyMessage(parseLatency({ rows: [], series: [], latestDataHour: null }))).toBe('No latency figures in this range, and none at all yet.');
    expect(() => parseLatency({ rows: [], series: [], latestDataHour: 7 })).toThrow(ShapeError);
  });

  it('describes a pasted token by its name and expiry without trusting it', () => {
    const payload = Buffer.from(JSON.stringify({ name: 'Demo Finance Analyst', exp: Date.parse('2026-10-15T12:00:00Z') / 1000 })).toString('base64url');
    expect(describeToken(`h.${payload}.s`, new Date('2026-10-15T10:00:00Z'))).toBe('token for Demo Finance Analyst, expires 2026-10-15 12:00 UTC');
    expect(describeToken(`h.${payload}.s`, new Date('2026-10-16T00:00:00Z'))).toBe('token for Demo Finance Analyst, expired');
    expect(describeToken('opaque', new Date())).toBe('token set (not a JWT)');
    expect(describeToken('h.!!!.s', new Date())).toBe('token set (unreadable claims)');
  });

  it('reads a token whose name is beyond ASCII as the UTF-8 text it is, and one whose expiry no date can hold', () => {
    const token = (claims: object) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;
    expect(describeToken(token({ name: 'José Müller-Øster 😀' }), new Date())).toBe('token for José Müller-Øster 😀');
    for (const exp of [1e13, -1e13, 1e300]) expect(describeToken(token({ name: 'Ada', exp }), new Date())).toBe('token for Ada');
  });

  it('rounds costs to cents so that the rows shown add up to the total shown, each within a cent of its exact amount', () => {
    // 0.333…, 0.333…, 0.333… dollars: each rounds to 0.33, the total to 1.00; the largest remainder takes the cent.
    const third = '333333333333';
    expect(displayAmounts([third, third, '333333333334'], '1000000000000')).toEqual({ rows: ['0.33', '0.33', '0.34'], total: '1.00' });
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 10n ** 16n }), { minLength: 1, maxLength: 30 }), (values) => {
        const total = values.reduce((a, b) => a + b, 0n);
        const shown = displayAmounts(values.map(String), total.toString());
        const cents = (text: string) => BigInt(text.replace('.', ''));
        expect(shown.rows.reduce((a, r) => a + cents(r), 0n)).toBe(cents(shown.total));
        shown.rows.forEach((r, i) => expect(cents(r) * 10n ** 10n - values[i]! < 10n ** 10n && values[i]! - cents(r) * 10n ** 10n < 10n ** 10n).toBe(true));
      }),
    );
  });

  it('rounds rows on their own, half to even, when they are not the whole total (a filtered table)', () => {
    expect(displayAmounts(['5000000000', '15000000000'], '99000000000000')).toEqual({ rows: ['0.00', '0.02'], total: '99.00' });
    expect(picodollarsAmount('1500000')).toBe('0.000002');
    expect(picodollarsAmount('-2500000', 6)).toBe('-0.000002');
  });

  it('shows rates and drift as percentages', () => {
    expect(formatRate(0.01234)).toBe('1.23 %');
    expect(formatRate(null)).toBe('–');
    expect(formatPercent(-12.5)).toBe('-12.50 %');
  });

  it('gives date presets as UTC day ranges with an exclusive end that includes today', () => {
    const now = new Date('2026-03-05T23:59:00Z');
    expect(presetRange('this-month', now)).toEqual({ from: '2026-03-01', to: '2026-03-06' });
    expect(presetRange('last-month', now)).toEqual({ from: '2026-02-01', to: '2026-03-01' });
    expect(presetRange('last-30-days', now)).toEqual({ from: '2026-02-04', to: '2026-03-06' });
  });

  it('keeps a drill-down in the URL and refuses one that is not well formed', () => {
    const drill = { groupBy: 'identity' as const, key: 'sub:app-1', from: '2026-10-01', to: '2026-11-01', label: 'App <1>' };
    const query = drillToQuery(drill, new URLSearchParams({ from: '2026-10-01', to: '2026-11-01' }));
    expect(drillFromQuery(query)).toEqual(drill);
    expect(withoutDrill(query).toString()).toBe('from=2026-10-01&to=2026-11-01');
    expect(drillFromQuery(new URLSearchParams({ drill: 'region', key: 'x', dfrom: '2026-10-01', dto: '2026-10-02' }))).toBeNull();
    expect(drillFromQuery(new URLSearchParams({ drill: 'team', key: 'x', dfrom: '2026-10-02', dto: '2026-10-01' }))).toBeNull();
    expect(drillFromQuery(new URLSearchParams({ drill: 'team', dfrom: '2026-10-01', dto: '2026-10-02' }))).toBeNull();
  });

  it('asks for a trace under requests/ alone: the ids . and .., which every URL resolves away, are refused', () => {
    const base = new URL('https://tokenledger.example/api/');
    for (const id of ['.', '..']) {
      expect(traceRoute(id)).toEqual({ ok: false, reason: `request id ${JSON.stringify(id)} cannot be asked for through the API: a URL path cannot name "." or ".."` });
    }
    for (const id of ['...', '%2E%2E', '.%2e', '../directory', 'a/../..', '?x#y', 'req-1']) {
      const route = traceRoute(id);
      if (!route.ok) throw new Error(`refused ${id}`);
      const url = new URL(route.route, base);
      expect([url.pathname.startsWith('/api/requests/'), decodeURIComponent(url.pathname.slice('/api/requests/'.length)), url.search, url.hash]).toEqual([true, id, '', '']);
    }
  });

  it('opens a cell whose key is as long as the API takes in a filter (512 characters), and no longer', () => {
    const model = 'm'.repeat(512);
    const drill = { groupBy: 'model' as const, key: model, label: model, from: '2026-10-01', to: '2026-11-01' };
    expect(drillFromQuery(drillToQuery(drill, new URLSearchParams()))).toEqual(drill);
    expect(requestsQuerySchemaAt(new Date('2026-12-07T00:00:00Z')).safeParse({ model, from: '2026-10-01', to: '2026-11-01' }).success).toBe(true);
    expect(drillFromQuery(drillToQuery({ ...drill, key: `${model}m` }, new URLSearchParams()))).toBeNull();
  });

  it('reads a requests page and refuses one whose cost is not an exact amount', () => {
    const item = {
      id: 'r1', gatewayRequestId: 'G1', apimRequestId: null, time: '2026-10-15T05:00:00.000Z', identity: { key: 'oid:1', kind: 'user', via: 'token' }, displayName: null,
      team: 'Data', costCenter: 'CC1', model: 'gpt-4o', deployment: 'gpt-4o', region: 'eastus', tokenSource: 'gateway',
      tokens: { promptTokens: 10, cachedTokens: 0, completionTokens: 5, reasoningTokens: 0, audioPromptTokens: 0, audioCompletionTokens: 0 },
      basis: 'tokens', costPicodollars: '75000000', cost: '0.000075', currency: 'USD', priceVersion: 'p1', priceTable: 'abc',
    };
    const page = parseRequestsPage({ value: [item], nextLink: 'https://x/api/requests?$skipToken=a' });
    expect(page.rows.map((r) => [r.identity, r.costPicodollars, r.promptTokens])).toEqual([['oid:1', '75000000', 10]]);
    expect(page.nextLink).toBe('https://x/api/requests?$skipToken=a');
    expect(parseRequestsPage({ value: [] }).nextLink).toBeNull();
    expect(() => parseRequestsPage({ value: [{ ...item, costPicodollars: '7.5' }] })).toThrow(ShapeError);
  });
});
