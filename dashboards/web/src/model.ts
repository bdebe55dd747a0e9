/**
 * The dashboard's pure logic: the shapes the API answers with (checked, never trusted), date ranges, filters and
 * the few figures the page derives. No DOM here, so unit tests run it under Node.
 */

export class ShapeError extends Error {
  override readonly name = 'ShapeError';
}

type Json = Record<string, unknown>;

function object(value: unknown, what: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ShapeError(`${what} is not an object`);
  return value as Json;
}
function array(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new ShapeError(`${what} is not a list`);
  return value;
}
function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new ShapeError(`${what} is not text`);
  return value;
}
function textOrNull(value: unknown, what: string): string | null {
  return value === null || value === undefined ? null : text(value, what);
}
function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new ShapeError(`${what} is not a count`);
  return value;
}
function num(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ShapeError(`${what} is not a number`);
  return value;
}
function numOrNull(value: unknown, what: string): number | null {
  return value === null || value === undefined ? null : num(value, what);
}
/** An exact decimal amount as the API prints it (`"6.294533"`). */
function amount(value: unknown, what: string): string {
  const s = text(value, what);
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw new ShapeError(`${what} is not a decimal amount`);
  return s;
}
function picodollars(value: unknown, what: string): string {
  const s = text(value, what);
  if (!/^-?\d+$/.test(s)) throw new ShapeError(`${what} is not an integer amount`);
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// Chargeback: GET /api/chargeback?from&to&groupBy

export const IDENTITY_UNATTRIBUTED = 'unattributed';

export interface ChargebackFigures {
  readonly requests: number;
  readonly promptTokens: number;
  readonly cachedTokens: number;
  readonly completionTokens: number;
  readonly reasoningTokens: number;
  /** Rounded for display by the API; the rows' costs sum exactly to the total's. */
  readonly cost: string;
  /** Exact, as an integer string. */
  readonly costPicodollars: string;
}

export interface ChargebackRow extends ChargebackFigures {
  readonly key: string;
  readonly identity: string | null;
  readonly identityKind: string | null;
  readonly displayName: string | null;
  readonly team: string | null;
  readonly costCenter: string | null;
  readonly model: string | null;
  readonly deployment: string | null;
}

export interface ChargebackReport {
  readonly currency: string;
  readonly groupBy: string;
  readonly rows: readonly ChargebackRow[];
  readonly totals: ChargebackFigures;
}

function figures(value: unknown, what: string): ChargebackFigures {
  const o = object(value, what);
  return {
    requests: count(o['requests'], `${what}.requests`),
    promptTokens: count(o['promptTokens'], `${what}.promptTokens`),
    cachedTokens: count(o['cachedTokens'], `${what}.cachedTokens`),
    completionTokens: count(o['completionTokens'], `${what}.completionTokens`),
    reasoningTokens: count(o['reasoningTokens'], `${what}.reasoningTokens`),
    cost: amount(o['cost'], `${what}.cost`),
    costPicodollars: picodollars(o['costPicodollars'], `${what}.costPicodollars`),
  };
}

export function parseChargeback(body: unknown): ChargebackReport {
  const o = object(body, 'chargeback report');
  return {
    currency: text(o['currency'], 'currency'),
    groupBy: text(o['groupBy'], 'groupBy'),
    rows: array(o['rows'], 'rows').map((value, i) => {
      const what = `rows[${i}]`;
      const row = object(value, what);
      return {
        ...figures(row, what),
        key: text(row['key'], `${what}.key`),
        identity: textOrNull(row['identity'], `${what}.identity`),
        identityKind: textOrNull(row['identityKind'], `${what}.identityKind`),
        displayName: textOrNull(row['displayName'], `${what}.displayName`),
        team: textOrNull(row['team'], `${what}.team`),
        costCenter: textOrNull(row['costCenter'], `${what}.costCenter`),
        model: textOrNull(row['model'], `${what}.model`),
        deployment: textOrNull(row['deployment'], `${what}.deployment`),
      };
    }),
    totals: figures(o['totals'], 'totals'),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Invoice: GET /api/chargeback?from&to&groupBy=team&basis=invoice

export type Basis = 'list' | 'invoice';

export const UNALLOCATED = 'unallocated';

export interface InvoiceTeamLine {
  readonly team: string;
  /** The list-price estimate (exact). */
  readonly estimate: string;
  readonly billedCost: string;
  readonly effectiveCost: string;
  /** `billedCost − estimate`. */
  readonly billedDifference: string;
  readonly effectiveDifference: string;
}

export interface InvoiceReport {
  readonly currency: string;
  readonly rows: readonly {
    readonly key: string;
    readonly billedCost: string;
    readonly effectiveCost: string;
    readonly reasons: readonly { readonly reason: string; readonly billedCost: string; readonly effectiveCost: string }[] | null;
  }[];
  readonly totals: { readonly billedCost: string; readonly effectiveCost: string };
  /** Null when the invoice is in another currency than the estimate. */
  readonly teams: readonly InvoiceTeamLine[] | null;
  /** The cost export files the figures come from. */
  readonly exports: readonly string[];
}

export function parseInvoice(body: unknown): InvoiceReport {
  const o = object(body, 'invoice report');
  if (o['basis'] !== 'invoice') throw new ShapeError('the report is not on the invoice basis');
  const totals = object(o['totals'], 'totals');
  return {
    currency: text(o['currency'], 'currency'),
    rows: array(o['rows'], 'rows').map((value, i) => {
      const what = `rows[${i}]`;
      const row = object(value, what);
      const reasons = row['reasons'] === null || row['reasons'] === undefined ? null : array(row['reasons'], `${what}.reasons`);
      return {
        key: text(row['key'], `${what}.key`),
        billedCost: amount(row['billedCost'], `${what}.billedCost`),
        effectiveCost: amount(row['effectiveCost'], `${what}.effectiveCost`),
        reasons:
          reasons?.map((r, k) => {
            const reason = object(r, `${what}.reasons[${k}]`);
            return { reason: text(reason['reason'], `${what}.reasons[${k}].reason`), billedCost: amount(reason['billedCost'], `${what}.reasons[${k}].billedCost`), effectiveCost: amount(reason['effectiveCost'], `${what}.reasons[${k}].effectiveCost`) };
          }) ?? null,
      };
    }),
    totals: { billedCost: amount(totals['billedCost'], 'totals.billedCost'), effectiveCost: amount(totals['effectiveCost'], 'totals.effectiveCost') },
    teams:
      o['teams'] === null
        ? null
        : array(o['teams'], 'teams').map((value, i) => {
            const what = `teams[${i}]`;
            const t = object(value, what);
            return {
              team: text(t['team'], `${what}.team`),
              estimate: amount(t['estimate'], `${what}.estimate`),
              billedCost: amount(t['billedCost'], `${what}.billedCost`),
              effectiveCost: amount(t['effectiveCost'], `${what}.effectiveCost`),
              billedDifference: amount(t['billedDifference'], `${what}.billedDifference`),
              effectiveDifference: amount(t['effectiveDifference'], `${what}.effectiveDifference`),
            };
          }),
    exports: array(o['exports'], 'exports').map((e, i) => text(e, `exports[${i}]`)),
  };
}

/** An exact decimal amount rounded half to even at `decimals` decimals, for display (`-0.0000005` → `-0.000000`). */
export function roundAmount(value: string, decimals: number): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value);
  if (!match) throw new ShapeError(`${value} is not a decimal amount`);
  const fraction = match[3] ?? '';
  const scale = fraction.length;
  let units = BigInt(`${match[2]}${fraction}`);
  if (scale > decimals) {
    const divisor = 10n ** BigInt(scale - decimals);
    const quotient = units / divisor;
    const remainder = units % divisor;
    units = remainder * 2n > divisor || (remainder * 2n === divisor && quotient % 2n === 1n) ? quotient + 1n : quotient;
  } else {
    units *= 10n ** BigInt(decimals - scale);
  }
  const digits = units.toString().padStart(decimals + 1, '0');
  const shown = decimals === 0 ? digits : `${digits.slice(0, digits.length - decimals)}.${digits.slice(digits.length - decimals)}`;
  return units === 0n || match[1] === '' ? shown : `-${shown}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Operations: latency, weights, traffic, reconciliation

export interface LatencyRow {
  readonly region: string;
  readonly requests: number;
  readonly errors: number;
  readonly throttled: number;
  readonly errorRate: number;
  readonly throttleRate: number;
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
}
export interface LatencyPoint {
  readonly windowStart: string;
  readonly region: string;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly requests: number;
}
export interface LatencyReport {
  readonly rows: readonly LatencyRow[];
  readonly series: readonly LatencyPoint[];
  /** Start of the latest UTC hour with latency data anywhere, or null when there is none. */
  readonly latestDataHour: string | null;
}

/** What the latency panel says when the range has no figures: where the data is, if there is any. */
export function emptyLatencyMessage(report: Pick<LatencyReport, 'latestDataHour'>): string {
  if (report.latestDataHour === null) return 'No latency figures in this range, and none at all yet.';
  const hour = report.latestDataHour.slice(0, 16).replace('T', ' ');
  return `No latency figures in this range. The latest data is in the hour from ${hour} UTC.`;
}

export function parseLatency(body: unknown): LatencyReport {
  const o = object(body, 'latency report');
  return {
    latestDataHour: textOrNull(o['latestDataHour'], 'latestDataHour'),
    rows: array(o['rows'], 'rows').map((value, i) => {
      const w = `rows[${i}]`;
      const r = object(value, w);
      return {
        region: text(r['region'], `${w}.region`),
        requests: count(r['requests'], `${w}.requests`),
        errors: count(r['errors'], `${w}.errors`),
        throttled: count(r['throttled'], `${w}.throttled`),
        errorRate: num(r['errorRate'], `${w}.errorRate`),
        throttleRate: num(r['throttleRate'], `${w}.throttleRate`),
        p50Ms: numOrNull(r['p50Ms'], `${w}.p50Ms`),
        p90Ms: numOrNull(r['p90Ms'], `${w}.p90Ms`),
        p95Ms: numOrNull(r['p95Ms'], `${w}.p95Ms`),
        p99Ms: numOrNull(r['p99Ms'], `${w}.p99Ms`),
      };
    }),
    series: array(o['series'] ?? [], 'series').map((value, i) => {
      const w = `series[${i}]`;
      const p = object(value, w);
      return {
        windowStart: text(p['windowStart'], `${w}.windowStart`),
        region: text(p['region'], `${w}.region`),
        p50Ms: numOrNull(p['p50Ms'], `${w}.p50Ms`),
        p95Ms: numOrNull(p['p95Ms'], `${w}.p95Ms`),
        requests: count(p['requests'], `${w}.requests`),
      };
    }),
  };
}

export interface BackendWeight {
  readonly backendId: string;
  readonly regionCode: string | null;
  readonly weight: number;
  readonly reason: string;
}
export interface WeightsRecommendation {
  readonly deployment: string;
  readonly basis: string | null;
  readonly explanation: string;
  readonly weights: readonly BackendWeight[];
}

export function parseWeights(body: unknown): readonly WeightsRecommendation[] {
  const o = object(body, 'weights report');
  return array(o['recommendations'], 'recommendations').map((value, i) => {
    const w = `recommendations[${i}]`;
    const r = object(value, w);
    return {
      deployment: text(r['deployment'], `${w}.deployment`),
      basis: textOrNull(r['basis'], `${w}.basis`),
      explanation: text(r['explanation'], `${w}.explanation`),
      weights: array(r['weights'], `${w}.weights`).map((item, j) => {
        const wj = `${w}.weights[${j}]`;
        const b = object(item, wj);
        return {
          backendId: text(b['backendId'], `${wj}.backendId`),
          regionCode: textOrNull(b['regionCode'], `${wj}.regionCode`),
          weight: num(b['weight'], `${wj}.weight`),
          reason: text(b['reason'], `${wj}.reason`),
        };
      }),
    };
  });
}

export interface TrafficReport {
  readonly join: { readonly matched: number; readonly noDiagnostics: number; readonly bypass: number };
  readonly bypass: { readonly entra: number; readonly key: number };
  readonly unattributed: { readonly requests: number; readonly promptTokens: number; readonly completionTokens: number };
}

export function parseTraffic(body: unknown): TrafficReport {
  const o = object(body, 'traffic report');
  const join = object(o['join'], 'join');
  const bypass = object(o['bypass'], 'bypass');
  const unattributed = object(o['unattributed'], 'unattributed');
  return {
    join: { matched: count(join['matched'], 'join.matched'), noDiagnostics: count(join['noDiagnostics'], 'join.noDiagnostics'), bypass: count(join['bypass'], 'join.bypass') },
    bypass: { entra: count(bypass['entra'], 'bypass.entra'), key: count(bypass['key'], 'bypass.key') },
    unattributed: {
      requests: count(unattributed['requests'], 'unattributed.requests'),
      promptTokens: count(unattributed['promptTokens'], 'unattributed.promptTokens'),
      completionTokens: count(unattributed['completionTokens'], 'unattributed.completionTokens'),
    },
  };
}

export interface ReconciliationCheck {
  readonly check: string;
  readonly window: string;
  readonly deployment: string | null;
  readonly expected: number | string | null;
  readonly actual: number | string | null;
  readonly driftPct: number | null;
  /** `ok`, `warn`, `fail`, or `unavailable` when Azure's side could not be read (then `reason` says why). */
  readonly status: string;
  readonly reason: string | null;
  /** Ids only the ledger has (a sample) and how many there are. */
  readonly gatewayOnly: readonly string[];
  readonly gatewayOnlyCount: number;
  /** Ids only Azure's side has (a sample) and how many there are. */
  readonly diagnosticsOnly: readonly string[];
  readonly diagnosticsOnlyCount: number;
}

function figure(value: unknown, what: string): number | string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') return value;
  throw new ShapeError(`${what} is not a figure`);
}

/** One page of `GET /api/reconciliation`. */
export interface ReconciliationReport {
  /** Per check, how many results have each status: the whole window's, whatever the statuses asked for. */
  readonly summary: readonly { readonly check: string; readonly counts: ReadonlyMap<string, number> }[];
  /** How many results have a status asked for. */
  readonly total: number;
  /** Results of the statuses asked for, a page of them, by hour, check and deployment. */
  readonly checks: readonly ReconciliationCheck[];
  /** Asks for the next page; null on the last. */
  readonly continuation: string | null;
}

function parseCheck(value: unknown, w: string): ReconciliationCheck {
  const c = object(value, w);
  return {
    check: text(c['check'], `${w}.check`),
    window: text(c['window'], `${w}.window`),
    deployment: textOrNull(c['deployment'], `${w}.deployment`),
    expected: figure(c['expected'], `${w}.expected`),
    actual: figure(c['actual'], `${w}.actual`),
    driftPct: numOrNull(c['driftPct'], `${w}.driftPct`),
    status: text(c['status'], `${w}.status`),
    reason: textOrNull(c['reason'], `${w}.reason`),
    gatewayOnly: array(c['gatewayOnly'] ?? [], `${w}.gatewayOnly`).map((id, j) => text(id, `${w}.gatewayOnly[${j}]`)),
    gatewayOnlyCount: count(c['gatewayOnlyCount'] ?? 0, `${w}.gatewayOnlyCount`),
    diagnosticsOnly: array(c['diagnosticsOnly'] ?? [], `${w}.diagnosticsOnly`).map((id, j) => text(id, `${w}.diagnosticsOnly[${j}]`)),
    diagnosticsOnlyCount: count(c['diagnosticsOnlyCount'] ?? 0, `${w}.diagnosticsOnlyCount`),
  };
}

export function parseReconciliation(body: unknown): ReconciliationReport {
  const o = object(body, 'reconciliation report');
  const summary = Object.entries(object(o['summary'], 'summary')).map(([check, counts]) => ({
    check,
    counts: new Map(Object.entries(object(counts, `summary.${check}`)).map(([status, n]) => [status, count(n, `summary.${check}.${status}`)] as const)),
  }));
  return {
    summary,
    total: count(o['total'], 'total'),
    checks: array(o['checks'], 'checks').map((value, i) => parseCheck(value, `checks[${i}]`)),
    continuation: o['continuation'] === null ? null : text(o['continuation'], 'continuation'),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Ranges and filters

export interface Filters {
  /** `YYYY-MM-DD`, UTC, inclusive. */
  readonly from: string;
  /** `YYYY-MM-DD`, UTC, exclusive (as the API's `to`). */
  readonly to: string;
  /** Empty: every team. */
  readonly team: string;
  /** Empty: every deployment. */
  readonly deployment: string;
  /** What the estimate-vs-invoice panel shows: the list-price estimate, or Azure's invoice allocated by token share. */
  readonly basis: Basis;
}

const DAY_MS = 86_400_000;
/** The API's own limit for one chargeback request. */
export const MAX_RANGE_DAYS = 400;
/** The first day the API reports on. */
const FIRST_DAY = '2000-01-01';
/** Daily series cost two requests per day; longer ranges show totals only. */
export const MAX_DAILY_SERIES_DAYS = 62;

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function dayMs(day: string): number {
  return DATE.test(day) ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
}

export function isDay(value: string): boolean {
  const t = dayMs(value);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === value;
}

export function addDays(day: string, days: number): string {
  return new Date(dayMs(day) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Every UTC day in [from, to). */
export function daysOf(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = dayMs(from); t < dayMs(to); t += DAY_MS) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

/** Last calendar month, the range finance asks about most: [1st of last month, 1st of this month). */
export function defaultRange(now: Date): { from: string; to: string } {
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
}

/** The API's own limit for one operations report (latency, weights, traffic, reconciliation). */
export const MAX_OPERATIONS_DAYS = 93;

/** The days the operations panels show, and what their panels say about them ('' when it is the whole range). */
export interface OperationsWindow {
  /** `YYYY-MM-DD`, UTC, inclusive. */
  readonly from: string;
  /** `YYYY-MM-DD`, UTC, exclusive: the range's own end. */
  readonly to: string;
  readonly note: string;
}

/**
 * The window of the operations reports for a range: the range itself, or its last 93 days when it is longer (the
 * chargeback takes up to 400), the recent days being the ones an operator looks at.
 */
export function operationsWindow(range: { from: string; to: string }): OperationsWindow {
  if (dayMs(range.to) - dayMs(range.from) <= MAX_OPERATIONS_DAYS * DAY_MS) return { from: range.from, to: range.to, note: '' };
  const from = addDays(range.to, -MAX_OPERATIONS_DAYS);
  return {
    from,
    to: range.to,
    note: `The last ${MAX_OPERATIONS_DAYS} days of the range, ${from} to ${range.to} (To exclusive): operations reports cover at most ${MAX_OPERATIONS_DAYS} days.`,
  };
}

/** Why a range cannot be asked for, or null. */
export function rangeProblem(from: string, to: string): string | null {
  if (!isDay(from)) return 'From must be a date (YYYY-MM-DD).';
  if (!isDay(to)) return 'To must be a date (YYYY-MM-DD).';
  // The API reads no year before 2000 (such a year is a typo: no Azure OpenAI data is that old).
  if (from < FIRST_DAY) return `From must be ${FIRST_DAY} or later.`;
  if (dayMs(to) <= dayMs(from)) return 'To must be after From (To is exclusive).';
  if (dayMs(to) - dayMs(from) > MAX_RANGE_DAYS * DAY_MS) return `The range may span at most ${MAX_RANGE_DAYS} days.`;
  return null;
}

/** Filters from a URL query (`?from&to&team&deployment`), falling back to `fallback` for a missing or bad range. */
export function filtersFromQuery(query: URLSearchParams, fallback: { from: string; to: string }): Filters {
  const from = query.get('from') ?? '';
  const to = query.get('to') ?? '';
  const range = rangeProblem(from, to) === null ? { from, to } : fallback;
  return { ...range, team: query.get('team') ?? '', deployment: query.get('deployment') ?? '', basis: query.get('basis') === 'invoice' ? 'invoice' : 'list' };
}

export function filtersToQuery(filters: Filters): URLSearchParams {
  const query = new URLSearchParams({ from: filters.from, to: filters.to });
  if (filters.team) query.set('team', filters.team);
  if (filters.deployment) query.set('deployment', filters.deployment);
  if (filters.basis === 'invoice') query.set('basis', 'invoice');
  return query;
}

/** Rows of the selected team (identity rows carry their team, team rows are keyed by it); all rows without a filter. */
export function rowsOfTeam(rows: readonly ChargebackRow[], team: string): ChargebackRow[] {
  if (!team) return [...rows];
  return rows.filter((row) => (row.identity !== null ? row.team === team : row.key === team));
}

/** Rows of the selected deployment (rows whose lines all have that deployment); all rows without a filter. */
export function rowsOfDeployment(rows: readonly ChargebackRow[], deployment: string): ChargebackRow[] {
  if (!deployment) return [...rows];
  return rows.filter((row) => row.deployment === deployment);
}

/**
 * Under a deployment filter, the rows the filter cannot be applied to: a row of several deployments (`deployment`
 * null) may include the chosen one's requests, but its figures are those of all of them. None without a filter.
 */
export function rowsOfSeveralDeployments(rows: readonly ChargebackRow[], deployment: string): ChargebackRow[] {
  if (!deployment) return [];
  return rows.filter((row) => row.deployment === null);
}

/** Exact comparison on picodollars: most expensive first, then by key. */
export function byCostDescending(a: ChargebackFigures & { key: string }, b: ChargebackFigures & { key: string }): number {
  const x = BigInt(a.costPicodollars);
  const y = BigInt(b.costPicodollars);
  if (x !== y) return x > y ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

export function topSpenders(rows: readonly ChargebackRow[], n: number): ChargebackRow[] {
  return [...rows].sort(byCostDescending).slice(0, n);
}

/** The name a person reads: the directory's display name, else the key. */
export function identityLabel(row: Pick<ChargebackRow, 'key' | 'displayName'>): string {
  return row.displayName ?? row.key;
}

/** Cached tokens as a share of prompt tokens (they are part of them), e.g. `14.17 %`; `–` without prompt tokens. */
export function cachedShare(figures: Pick<ChargebackFigures, 'cachedTokens' | 'promptTokens'>): string {
  return formatPercent(figures.promptTokens === 0 ? null : (figures.cachedTokens * 100) / figures.promptTokens);
}

/** Integers as people read them (`2,296,594`); the digits are the API's. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 0 });
}

/** A figure the API gave, shown as given (`null` → `–`). */
export function formatFigure(value: number | string | null): string {
  if (value === null) return '–';
  return typeof value === 'number' ? String(value) : value;
}

/** Distinct, sorted option values for a filter, keeping the current choice even when the data no longer has it. */
export function optionsFor(values: Iterable<string | null>, current: string): string[] {
  const set = new Set<string>();
  for (const v of values) if (v) set.add(v);
  if (current) set.add(current);
  return [...set].sort((a, b) => a.localeCompare(b));
}

/** A JWT's payload, or null when the token is not a JWT or its payload is not a JSON object. Signature unchecked. */
export function tokenClaims(token: string): Json | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const bytes = Uint8Array.from(atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '=')), (c) => c.charCodeAt(0));
    // The payload is UTF-8 JSON (RFC 7519): a name such as "José" is two bytes for é, which atob alone leaves as two characters.
    return object(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)), 'claims');
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Money for display

const PICO_PER_UNIT = 10n ** 12n;

function roundHalfEven(value: bigint, divisor: bigint): bigint {
  const quotient = value / divisor;
  const remainder = value % divisor;
  const twice = (remainder < 0n ? -remainder : remainder) * 2n;
  const away = value < 0n ? quotient - 1n : quotient + 1n;
  return twice > divisor || (twice === divisor && quotient % 2n !== 0n) ? away : quotient;
}

function floorDiv(value: bigint, divisor: bigint): bigint {
  const quotient = value / divisor;
  return value % divisor !== 0n && value < 0n ? quotient - 1n : quotient;
}

function unitsText(units: bigint, decimals: number): string {
  const digits = (units < 0n ? -units : units).toString().padStart(decimals + 1, '0');
  const shown = decimals === 0 ? digits : `${digits.slice(0, digits.length - decimals)}.${digits.slice(digits.length - decimals)}`;
  return units < 0n ? `-${shown}` : shown;
}

/** Exact picodollars (an integer string) as an amount rounded half to even at `decimals` (`1500000` → `0.000002`). */
export function picodollarsAmount(picodollars: string, decimals = 6): string {
  return unitsText(roundHalfEven(BigInt(picodollars), PICO_PER_UNIT / 10n ** BigInt(decimals)), decimals);
}

/**
 * Exact picodollar amounts rounded for display so that the shown rows add up to the shown total: the total is
 * rounded half to even, each row is floored, and the cents still missing go to the rows with the largest remainders
 * (largest-remainder method). Rows that do not make up the whole total (a filtered table) are rounded on their own.
 */
export function displayAmounts(rowsPicodollars: readonly string[], totalPicodollars: string, decimals = 2): { rows: string[]; total: string } {
  const unit = PICO_PER_UNIT / 10n ** BigInt(decimals);
  const values = rowsPicodollars.map((v) => BigInt(v));
  const total = BigInt(totalPicodollars);
  const totalUnits = roundHalfEven(total, unit);
  if (values.reduce((a, b) => a + b, 0n) !== total) return { rows: values.map((v) => unitsText(roundHalfEven(v, unit), decimals)), total: unitsText(totalUnits, decimals) };
  const floors = values.map((v) => floorDiv(v, unit));
  let missing = totalUnits - floors.reduce((a, b) => a + b, 0n);
  const order = values.map((v, i) => ({ i, remainder: v - floors[i]! * unit })).sort((a, b) => (a.remainder === b.remainder ? a.i - b.i : a.remainder > b.remainder ? -1 : 1));
  for (const { i } of order) {
    if (missing <= 0n) break;
    floors[i]! += 1n;
    missing -= 1n;
  }
  return { rows: floors.map((u) => unitsText(u, decimals)), total: unitsText(totalUnits, decimals) };
}

/** Decimals of every percentage the page shows (cached share, error and throttle rates, drift), so they compare. */
const PERCENT_DECIMALS = 2;

/** A percentage (`-12.5` → `-12.50 %`): the one formatter of every percentage on the page. */
export function formatPercent(value: number | null): string {
  return value === null ? '–' : `${value.toFixed(PERCENT_DECIMALS)} %`;
}

/** A rate (0.0123) as a percentage (`1.23 %`). */
export function formatRate(rate: number | null): string {
  return formatPercent(rate === null ? null : rate * 100);
}

// ---------------------------------------------------------------------------------------------------------------
// Date presets

export const RANGE_PRESETS = ['this-month', 'last-month', 'last-30-days'] as const;
export type RangePreset = (typeof RANGE_PRESETS)[number];

/** [from, to) of a preset in UTC days; `to` is exclusive, so "this month" and "last 30 days" include today. */
export function presetRange(preset: RangePreset, now: Date): { from: string; to: string } {
  const today = now.toISOString().slice(0, 10);
  const tomorrow = addDays(today, 1);
  if (preset === 'this-month') return { from: `${today.slice(0, 8)}01`, to: tomorrow };
  if (preset === 'last-30-days') return { from: addDays(today, -29), to: tomorrow };
  return defaultRange(now);
}

// ---------------------------------------------------------------------------------------------------------------
// Drill-down: GET /api/requests and GET /api/requests/{id}

/** The report cell a person drilled into: one grouping key (and optionally one day) of a period. */
export interface Drill {
  readonly from: string;
  readonly to: string;
  /** The chargeback grouping the cell comes from and its key. */
  readonly groupBy: 'team' | 'identity' | 'model';
  readonly key: string;
  /** What the cell is, as the page names it. */
  readonly label: string;
}

const DRILL_GROUPS = ['team', 'identity', 'model'] as const;
/** The longest filter `GET /api/requests` takes: a name as long as the ledger keeps one (src/contracts/report-query.ts). */
const MAX_KEY_LENGTH = 512;

/** The drill in the page's URL (`drill=team&key=…&dfrom&dto`), so a drill-down can be bookmarked and shared. */
export function drillFromQuery(query: URLSearchParams): Drill | null {
  const groupBy = query.get('drill');
  const key = query.get('key');
  const from = query.get('dfrom') ?? '';
  const to = query.get('dto') ?? '';
  if (!DRILL_GROUPS.includes(groupBy as Drill['groupBy']) || !key || key.length > MAX_KEY_LENGTH || rangeProblem(from, to) !== null) return null;
  return { groupBy: groupBy as Drill['groupBy'], key, from, to, label: query.get('label')?.slice(0, MAX_KEY_LENGTH) || key };
}

export function drillToQuery(drill: Drill, query: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams(query);
  out.set('drill', drill.groupBy);
  out.set('key', drill.key);
  out.set('label', drill.label);
  out.set('dfrom', drill.from);
  out.set('dto', drill.to);
  return out;
}

export function withoutDrill(query: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams(query);
  for (const name of ['drill', 'key', 'label', 'dfrom', 'dto']) out.delete(name);
  return out;
}

export interface RequestRow {
  readonly id: string;
  readonly gatewayRequestId: string;
  readonly apimRequestId: string | null;
  readonly time: string;
  readonly identity: string;
  readonly displayName: string | null;
  readonly team: string;
  readonly model: string;
  readonly deployment: string;
  readonly region: string;
  readonly tokenSource: string;
  readonly promptTokens: number;
  readonly cachedTokens: number;
  readonly completionTokens: number;
  readonly costPicodollars: string;
  readonly cost: string;
  readonly priceVersion: string | null;
}

export interface RequestsPage {
  readonly rows: readonly RequestRow[];
  /** The next page's URL, or null at the end of the chain. */
  readonly nextLink: string | null;
}

export function parseRequestsPage(body: unknown): RequestsPage {
  const o = object(body, 'requests page');
  const nextLink = o['nextLink'] === undefined ? null : text(o['nextLink'], 'nextLink');
  return {
    nextLink,
    rows: array(o['value'], 'value').map((value, i) => {
      const w = `value[${i}]`;
      const r = object(value, w);
      const identity = object(r['identity'], `${w}.identity`);
      const tokens = object(r['tokens'], `${w}.tokens`);
      return {
        id: text(r['id'], `${w}.id`),
        gatewayRequestId: text(r['gatewayRequestId'], `${w}.gatewayRequestId`),
        apimRequestId: textOrNull(r['apimRequestId'], `${w}.apimRequestId`),
        time: text(r['time'], `${w}.time`),
        identity: text(identity['key'], `${w}.identity.key`),
        displayName: textOrNull(r['displayName'], `${w}.displayName`),
        team: text(r['team'], `${w}.team`),
        model: text(r['model'], `${w}.model`),
        deployment: text(r['deployment'], `${w}.deployment`),
        region: text(r['region'], `${w}.region`),
        tokenSource: text(r['tokenSource'], `${w}.tokenSource`),
        promptTokens: count(tokens['promptTokens'], `${w}.tokens.promptTokens`),
        cachedTokens: count(tokens['cachedTokens'], `${w}.tokens.cachedTokens`),
        completionTokens: count(tokens['completionTokens'], `${w}.tokens.completionTokens`),
        costPicodollars: picodollars(r['costPicodollars'], `${w}.costPicodollars`),
        cost: amount(r['cost'], `${w}.cost`),
        priceVersion: textOrNull(r['priceVersion'], `${w}.priceVersion`),
      };
    }),
  };
}

/** Sum of exact picodollar strings. */
export function sumPicodollars(values: Iterable<string>): string {
  let sum = 0n;
  for (const v of values) sum += BigInt(v);
  return sum.toString();
}

/**
 * The API route of one request's trace, or why the page cannot ask for it. Every URL resolves the path segments `.`
 * and `..` away, `%2E%2E` included (WHATWG URL Standard, "double-dot URL path segment"), so `requests/..` would ask
 * `api/` and show its answer as the request's. `tokenledger trace` and the API refuse the same two ids.
 */
export function traceRoute(id: string): { readonly ok: true; readonly route: string } | { readonly ok: false; readonly reason: string } {
  if (id === '.' || id === '..') return { ok: false, reason: `request id ${JSON.stringify(id)} cannot be asked for through the API: a URL path cannot name "." or ".."` };
  return { ok: true, route: `requests/${encodeURIComponent(id)}` };
}

/** A request's trace as the API returns it: shown as given (JSON), after a check that it is one. */
export interface RequestTrace {
  readonly request: Record<string, unknown>;
  readonly diagnostics: Record<string, unknown> | null;
  readonly identity: Record<string, unknown>;
  readonly cost: Record<string, unknown>;
  readonly priceVersion: string | null;
  readonly priceTable: string;
}

export function parseTrace(body: unknown): RequestTrace {
  const o = object(body, 'request trace');
  return {
    request: object(o['request'], 'request'),
    diagnostics: o['diagnostics'] === null ? null : object(o['diagnostics'], 'diagnostics'),
    identity: object(o['identity'], 'identity'),
    cost: object(o['cost'], 'cost'),
    priceVersion: textOrNull(o['priceVersion'], 'priceVersion'),
    priceTable: text(o['priceTable'], 'priceTable'),
  };
}

/** The claims a person wants to see about a pasted token (never used for any decision: the API decides). */
export function describeToken(token: string, now: Date): string {
  if (!token.split('.')[1]) return 'token set (not a JWT)';
  const claims = tokenClaims(token);
  if (claims === null) return 'token set (unreadable claims)';
  const who = typeof claims['name'] === 'string' ? claims['name'] : typeof claims['oid'] === 'string' ? claims['oid'] : 'unknown caller';
  const expiry = typeof claims['exp'] === 'number' ? new Date(claims['exp'] * 1000) : null;
  // An exp outside the dates JavaScript can hold (1e13, 1e300) says nothing readable.
  const exp = expiry !== null && Number.isFinite(expiry.getTime()) ? expiry : null;
  const when = exp === null ? '' : exp < now ? ', expired' : `, expires ${exp.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `token for ${who}${when}`;
}

/** The API's app roles (src/contracts/access.ts) that shape the page. */
export const CHARGEBACK_READ_ALL = 'Chargeback.ReadAll';
export const OPERATIONS_READ = 'Operations.Read';

/**
 * Which panels lead, from the token's `roles` claim (layout only: the API decides what each caller may read).
 * `finance`: every identity's costs; `operations`: an operator without `Chargeback.ReadAll`; `own`: neither role,
 * so only the caller's own usage. Null without a readable token.
 */
export type AccessView = 'finance' | 'operations' | 'own';

export function accessView(token: string | null): AccessView | null {
  const claims = token === null ? null : tokenClaims(token);
  if (claims === null) return null;
  const roles = Array.isArray(claims['roles']) ? claims['roles'].filter((r): r is string => typeof r === 'string') : [];
  if (roles.includes(CHARGEBACK_READ_ALL)) return 'finance';
  return roles.includes(OPERATIONS_READ) ? 'operations' : 'own';
}

/**
 * What a panel says when a chargeback report has no rows: for a caller who may see every row (finance) the range
 * has no requests; for anyone else it may only have none of theirs.
 */
export function noRowsMessage(view: AccessView | null): string {
  return view === 'finance' ? 'No requests in this range.' : 'No chargeback rows are visible to you in this range.';
}

/** The plain sentence for a caller who sees only their own identity's usage, or null for finance. */
export function accessNotice(view: AccessView | null): string | null {
  if (view === null || view === 'finance') return null;
  return `You see only your own identity's usage: your account does not have the ${CHARGEBACK_READ_ALL} role.`;
}

/** The public settings the page signs in with (`config.json` beside the page). */
export interface SignInSettings {
  readonly authority: string;
  readonly clientId: string;
  readonly scope: string;
}

/** `config.json`'s `signIn`: null when the deployment has no dashboard app registration (pasted tokens only). */
export function parseSignInSettings(body: unknown): SignInSettings | null {
  const signIn = body !== null && typeof body === 'object' ? (body as Record<string, unknown>)['signIn'] : undefined;
  if (signIn === null) return null;
  if (signIn === undefined || typeof signIn !== 'object') throw new ShapeError('config.json has no signIn object');
  const { authority, clientId, scope } = signIn as Record<string, unknown>;
  if (typeof authority !== 'string' || !/^https?:\/\//.test(authority)) throw new ShapeError('config.json: signIn.authority must be an http(s) URL');
  if (typeof clientId !== 'string' || clientId === '') throw new ShapeError('config.json: signIn.clientId is missing');
  if (typeof scope !== 'string' || scope === '') throw new ShapeError('config.json: signIn.scope is missing');
  return { authority, clientId, scope };
}
