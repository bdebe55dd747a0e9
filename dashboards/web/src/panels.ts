import type { ApiResult } from './api.js';
import { chartBox, doughnut, lines, stackedBars, type Series } from './charts.js';
import { figureList, h, link, replaceChildren, table, titleId, type CellLink, type Child, type Column } from './dom.js';
import {
  addDays,
  cachedShare,
  displayAmounts,
  emptyLatencyMessage,
  formatPercent,
  formatRate,
  formatCount,
  formatFigure,
  IDENTITY_UNATTRIBUTED,
  identityLabel,
  noRowsMessage,
  roundAmount,
  rowsOfDeployment,
  rowsOfSeveralDeployments,
  rowsOfTeam,
  UNALLOCATED,
  topSpenders,
  type AccessView,
  type ChargebackFigures,
  type ChargebackReport,
  type ChargebackRow,
  type Drill,
  type Filters,
  type InvoiceReport,
  type InvoiceTeamLine,
  type LatencyReport,
  type OperationsWindow,
  type ReconciliationCheck,
  type ReconciliationReport,
  type TrafficReport,
  type WeightsRecommendation,
} from './model.js';

const STATUS_TEXT: Readonly<Record<number, string>> = {
  0: 'Network error',
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  429: 'Too many requests',
  500: 'Server error',
  503: 'Unavailable',
};

/** `401 Unauthorized: missing bearer token` */
export function describeFailure(result: { status: number; reason: string }): string {
  const label = STATUS_TEXT[result.status];
  return `${result.status}${label ? ` ${label}` : ''}: ${result.reason}`;
}

/** One dashboard panel: a `<section data-testid="panel-…" data-state="loading|ready|empty|error|unavailable">`. */
export class Panel {
  private readonly scope: HTMLElement;
  private readonly message: HTMLElement;
  private readonly content: HTMLElement;
  /** Who reads the panel (from the token's roles): what an empty report means depends on it. */
  private reader: AccessView | null = null;

  constructor(readonly root: HTMLElement) {
    this.scope = this.part('panel-scope', 'p', 'scope');
    this.message = this.part('panel-message', 'p', 'message');
    this.content = this.part('panel-content', 'div', 'content');
    this.message.setAttribute('role', 'status');
  }

  private part(testid: string, tag: 'p' | 'div', className: string): HTMLElement {
    const existing = this.root.querySelector<HTMLElement>(`[data-testid="${testid}"]`);
    if (existing) return existing;
    const created = h(tag, { class: className, testid });
    this.root.appendChild(created);
    return created;
  }

  private set(state: string, message: string, scope: string, children: readonly Child[], status?: number): void {
    this.root.dataset['state'] = state;
    if (status === undefined) delete this.root.dataset['status'];
    else this.root.dataset['status'] = String(status);
    this.message.textContent = message;
    this.scope.textContent = scope;
    replaceChildren(this.content, ...children);
  }

  /** The id of the panel's title, which names its main table. */
  get titleId(): string {
    return titleId(this.root);
  }

  readBy(view: AccessView | null): void {
    this.reader = view;
  }

  loading(): void {
    this.set('loading', 'Loading…', '', []);
  }

  /** A report the panel needs failed: its status and the API's reason. */
  failed(result: { status: number; reason: string }): void {
    this.set('error', describeFailure(result), '', [], result.status);
  }

  /** An optional report is not there (yet): `not available (404): …`. */
  unavailable(result: { status: number; reason: string }): void {
    this.set('unavailable', `not available (${result.status})${result.reason ? `: ${result.reason}` : ''}`, '', [], result.status);
  }

  empty(message: string, scope = ''): void {
    this.set('empty', message, scope, []);
  }

  /** A chargeback report without rows: no requests in the range, or none the reader may see. */
  noRows(scope = ''): void {
    this.empty(noRowsMessage(this.reader), scope);
  }

  ready(children: readonly Child[], scope = '', message = ''): void {
    this.set('ready', message, scope, children);
  }
}

/** Where a figure leads: the requests behind it (see renderRequests). */
export interface Drilling {
  href(drill: Drill): string;
  open(drill: Drill): void;
  /** One request end to end (`GET /api/requests/{id}`). */
  traceHref(id: string): string;
  trace(id: string): void;
}

const traceLink = (drilling: Drilling, id: string): HTMLAnchorElement => link(id, { href: drilling.traceHref(id), open: () => drilling.trace(id), title: 'This request end to end' }, 'trace-link');

const toLink = (drilling: Drilling, drill: Drill): CellLink => ({ href: drilling.href(drill), open: () => drilling.open(drill), title: `The requests behind ${drill.label}` });

/** Costs of the shown rows rounded to cents; with every row shown, the rows add up to the total shown. */
function shownCosts<T extends ChargebackFigures>(rows: readonly T[], totals: ChargebackFigures): { cost: (row: T) => string; total: string } {
  const { rows: shown, total } = displayAmounts(rows.map((r) => r.costPicodollars), totals.costPicodollars);
  const byRow = new Map(rows.map((r, i) => [r, shown[i]!]));
  return { cost: (row) => byRow.get(row) ?? '', total };
}

const figureColumns = <T extends ChargebackFigures>(currency: string, cost: (row: T) => string, drill?: (row: T) => CellLink | null): Column<T>[] => [
  { header: 'Requests', value: (r) => formatCount(r.requests), testid: 'requests', numeric: true, ...(drill ? { link: drill } : {}) },
  { header: 'Prompt tokens', value: (r) => formatCount(r.promptTokens), testid: 'prompt-tokens', numeric: true },
  { header: 'Cached tokens', value: (r) => formatCount(r.cachedTokens), testid: 'cached-tokens', numeric: true },
  { header: 'Completion tokens', value: (r) => formatCount(r.completionTokens), testid: 'completion-tokens', numeric: true },
  { header: `Cost (${currency})`, value: cost, testid: 'cost', numeric: true, ...(drill ? { link: drill } : {}) },
];

function totalsFooter(testid: string, label: string, leading: number, totals: ChargebackFigures, cost: string): { testid: string; cells: string[] } {
  return {
    testid,
    cells: [label, ...Array.from({ length: leading - 1 }, () => ''), formatCount(totals.requests), formatCount(totals.promptTokens), formatCount(totals.cachedTokens), formatCount(totals.completionTokens), cost],
  };
}

export interface DailyReport {
  readonly day: string;
  readonly result: ApiResult<ChargebackReport>;
}

/** The daily reports, or the first failure among them. */
function dailyRows(daily: readonly DailyReport[]): { ok: true; byDay: Map<string, ChargebackReport> } | { ok: false; failure: { status: number; reason: string } } {
  const byDay = new Map<string, ChargebackReport>();
  for (const { day, result } of daily) {
    if (!result.ok) return { ok: false, failure: result };
    byDay.set(day, result.value);
  }
  return { ok: true, byDay };
}

/** Each day's costs in cents by key, as that day's own table shows them (its rows add up to its total). */
function dailyCosts(byDay: Map<string, ChargebackReport>): Map<string, Map<string, string>> {
  return new Map(
    [...byDay].map(([day, report]) => {
      const shown = shownCosts(report.rows, report.totals);
      return [day, new Map(report.rows.map((r) => [r.key, shown.cost(r)]))];
    }),
  );
}

/** One series per key over the days; a day without the key's row had no requests from it (cost 0). */
function costSeries(keys: readonly { key: string; label: string }[], days: readonly string[], byDay: Map<string, ChargebackReport>): Series[] {
  const shown = dailyCosts(byDay);
  const currency = byDay.values().next().value?.currency ?? '';
  return keys.map(({ key, label }) => {
    const rows = days.map((day) => byDay.get(day)?.rows.find((r) => r.key === key) ?? null);
    const texts = days.map((day) => shown.get(day)?.get(key)).map((cost) => (cost === undefined ? 'no requests' : `${cost} ${currency}`));
    return { label, values: rows.map((r) => (r ? Number(r.cost) : 0)), texts };
  });
}

/**
 * A daily chart's figures as a table, a day a row and a column per key, each figure leading to that day's requests:
 * what the canvas shows, for the keyboard and for screen readers too (WCAG 2.2 SC 1.1.1, 2.1.1).
 */
function dailyTable(
  what: { readonly title: string; readonly testid: string },
  days: readonly string[],
  keys: readonly { key: string; label: string }[],
  byDay: Map<string, ChargebackReport>,
  drill: (key: string, day: string) => Drill,
  drilling: Drilling,
): HTMLElement {
  const dayCosts = dailyCosts(byDay);
  const title = `${what.testid}-title`;
  return h(
    'details',
    { class: 'daily' },
    h('summary', { id: title }, what.title),
    table(
      [
        { header: 'Day (UTC)', value: (day: string) => day },
        ...keys.map(({ key, label }) => ({
          header: label,
          numeric: true,
          value: (day: string) => dayCosts.get(day)?.get(key) ?? '0.00',
          link: (day: string) => (byDay.get(day)?.rows.some((x) => x.key === key) ? toLink(drilling, drill(key, day)) : null),
        })),
      ],
      days,
      { testid: `${what.testid}-table`, name: { labelledBy: title }, rowHeaders: true, rowTestid: `${what.testid}-row`, rowData: (day) => ({ day }) },
    ),
  );
}

function dailyNote(days: readonly string[] | null): string {
  return days === null ? 'Daily series are drawn for ranges of up to 62 days; the table holds the whole range.' : '';
}

function deploymentNote(filters: Filters): string {
  return filters.deployment ? `The chargeback API does not split this grouping by deployment: deployment ${filters.deployment} is not applied here.` : '';
}

/**
 * With the Costs switch on the invoice, a panel of the list-price reports says it keeps list prices (and, beside
 * a download of its grouping, that the download is the invoice allocation).
 */
function basisNote(filters: Filters, download = ''): string {
  if (filters.basis !== 'invoice') return '';
  return `Costs are list-price estimates: the invoice allocation is not applied here${download ? `; ${download} downloads the invoice allocation` : ''}.`;
}

/** Under a deployment filter, the models it cannot be applied to (they ran on several deployments), or ''. */
function severalDeploymentsNote(rows: readonly ChargebackRow[], filters: Filters): string {
  const several = rowsOfSeveralDeployments(rows, filters.deployment);
  if (several.length === 0) return '';
  const one = several.length === 1;
  return `Deployment ${filters.deployment} cannot be applied to ${several.map((r) => r.key).join(', ')}: ${one ? 'it ran' : 'they ran'} on several deployments and the API does not split ${one ? 'its' : 'their'} figures by deployment, so ${one ? 'it is' : 'they are'} left out here.`;
}

/** Cost by team over time, and the team totals of the range (the API's `groupBy=team` report); every figure leads to its requests. */
export function renderTeams(panel: Panel, report: ApiResult<ChargebackReport>, days: readonly string[] | null, daily: readonly DailyReport[], filters: Filters, drilling: Drilling): void {
  if (!report.ok) return panel.failed(report);
  const { value } = report;
  const rows = rowsOfTeam(value.rows, filters.team);
  const scope = [filters.team ? `Team ${filters.team}.` : '', deploymentNote(filters), basisNote(filters, 'CSV by team')].filter(Boolean).join(' ');
  if (rows.length === 0) return value.rows.length === 0 ? panel.noRows(scope) : panel.empty(`No requests from team ${filters.team} in this range.`, scope);
  const drill = (team: string, from = filters.from, to = filters.to) => teamDrill(team, from, to);

  const children: Child[] = [];
  if (days !== null) {
    const perDay = dailyRows(daily);
    if (!perDay.ok) return panel.failed(perDay.failure);
    const keys = rows.map((r) => ({ key: r.key, label: r.key }));
    const { box, canvas } = chartBox('chart-team', 'Cost by team per day; choose a bar for its requests');
    children.push(box);
    queueMicrotask(() =>
      stackedBars(canvas, days, costSeries(keys, days, perDay.byDay), value.currency, (series, index) => {
        const team = rows[series]?.key;
        const day = days[index];
        if (team !== undefined && day !== undefined) drilling.open(drill(team, day, addDays(day, 1)));
      }),
    );
    children.push(dailyTable({ title: 'Daily cost per team', testid: 'team-daily' }, days, keys, perDay.byDay, (team, day) => drill(team, day, addDays(day, 1)), drilling));
  }
  const costs = shownCosts(rows, value.totals);
  children.push(
    table<ChargebackRow>([{ header: 'Team', value: (r) => r.key, testid: 'key' }, ...figureColumns<ChargebackRow>(value.currency, costs.cost, (r) => toLink(drilling, drill(r.key)))], rows, {
      testid: 'team-table',
      name: { labelledBy: panel.titleId },
      rowTestid: 'team-row',
      rowData: (r) => ({ key: r.key }),
      ...(filters.team ? {} : { footer: totalsFooter('team-total', 'Total', 1, value.totals, costs.total) }),
    }),
  );
  panel.ready(children, scope, dailyNote(days));
}

/** Decimals the estimate-vs-invoice panel shows (cents, as every cost outside the request list); the API's amounts are exact. */
const INVOICE_DECIMALS = 2;

/**
 * The list-price estimate per team, or (basis `invoice`) the estimate next to Azure's invoice allocated to the same
 * teams and their difference, with the unallocated part by reason.
 */
export function renderInvoice(panel: Panel, filters: Filters, list: ApiResult<ChargebackReport>, invoice: ApiResult<InvoiceReport> | null, drilling: Drilling): void {
  const scope = filters.team ? `Team ${filters.team}.` : '';
  const money = (value: string) => roundAmount(value, INVOICE_DECIMALS);
  if (invoice === null) {
    if (!list.ok) return panel.failed(list);
    const rows = rowsOfTeam(list.value.rows, filters.team);
    if (rows.length === 0) return list.value.rows.length === 0 ? panel.noRows(scope) : panel.empty(`No requests from team ${filters.team} in this range.`, scope);
    const costs = shownCosts(rows, list.value.totals);
    const columns: Column<ChargebackRow>[] = [
      { header: 'Team', value: (r) => r.key, testid: 'key' },
      { header: `List-price estimate (${list.value.currency})`, value: costs.cost, testid: 'estimate', numeric: true, link: (r) => toLink(drilling, teamDrill(r.key, filters.from, filters.to)) },
    ];
    return panel.ready([table(columns, rows, { testid: 'invoice-table', name: { labelledBy: panel.titleId }, rowTestid: 'invoice-row', rowData: (r) => ({ key: r.key }) })], scope, "Basis: list-price estimate (the ledger's tokens at list prices). Choose the invoice to compare with Azure's bill.");
  }
  if (!invoice.ok) return panel.failed(invoice);
  const report = invoice.value;
  if (report.exports.length === 0) return panel.empty('No cost export has been allocated for this range yet: the invoice arrives with the Cost Management export.', scope);
  if (report.teams === null) return panel.empty(`The invoice is in ${report.currency}, the estimate in another currency: they cannot be compared.`, scope);
  const teams = report.teams.filter((t) => !filters.team || t.team === filters.team);
  const unallocated = filters.team ? [] : (report.rows.find((r) => r.key === UNALLOCATED)?.reasons ?? []);
  const c = report.currency;
  const children: Child[] = [
    table<InvoiceTeamLine>(
      [
        { header: 'Team', value: (t) => t.team, testid: 'key' },
        { header: `List-price estimate (${c})`, value: (t) => money(t.estimate), testid: 'estimate', numeric: true },
        { header: `Invoice, billed (${c})`, value: (t) => money(t.billedCost), testid: 'billed', numeric: true },
        { header: `Invoice, effective (${c})`, value: (t) => money(t.effectiveCost), testid: 'effective', numeric: true },
        { header: `Difference, billed − estimate (${c})`, value: (t) => money(t.billedDifference), testid: 'difference', numeric: true },
      ],
      teams,
      { testid: 'invoice-table', name: { labelledBy: panel.titleId }, rowTestid: 'invoice-row', rowData: (t) => ({ key: t.team }) },
    ),
  ];
  if (unallocated.length > 0) {
    children.push(
      table(
        [
          { header: 'Unallocated: reason', value: (u: (typeof unallocated)[number]) => u.reason, testid: 'reason' },
          { header: `Billed (${c})`, value: (u) => money(u.billedCost), testid: 'billed', numeric: true },
          { header: `Effective (${c})`, value: (u) => money(u.effectiveCost), testid: 'effective', numeric: true },
        ],
        unallocated,
        { testid: 'unallocated-table', name: { caption: 'Invoice not allocated to a team, by reason' }, rowTestid: 'unallocated-row' },
      ),
    );
  }
  panel.ready(children, scope, `Basis: invoice (${report.exports.length} cost export file${report.exports.length === 1 ? '' : 's'}), split by token share; amounts rounded half to even to cents.`);
}

const TOP_IDENTITIES_CHARTED = 8;

/** Cost by identity over time, and the identity rows of the range; every figure leads to its requests. */
export function renderIdentities(panel: Panel, report: ApiResult<ChargebackReport>, days: readonly string[] | null, daily: readonly DailyReport[], filters: Filters, drilling: Drilling): void {
  if (!report.ok) return panel.failed(report);
  const { value } = report;
  const rows = rowsOfTeam(value.rows, filters.team);
  const scope = [filters.team ? `Identities of team ${filters.team}.` : '', deploymentNote(filters), basisNote(filters, 'CSV by identity')].filter(Boolean).join(' ');
  if (rows.length === 0) return value.rows.length === 0 ? panel.noRows(scope) : panel.empty(`No identities of team ${filters.team} in this range.`, scope);

  const children: Child[] = [];
  if (days !== null) {
    const perDay = dailyRows(daily);
    if (!perDay.ok) return panel.failed(perDay.failure);
    const charted = topSpenders(rows, TOP_IDENTITIES_CHARTED);
    const { box, canvas } = chartBox('chart-identity', `Cost per day of the ${charted.length} most expensive identities; choose a point for its requests`);
    const keys = charted.map((r) => ({ key: r.key, label: identityLabel(r) }));
    children.push(h('p', { class: 'chart-title' }, `The ${charted.length} most expensive identities, per day`), box);
    queueMicrotask(() =>
      lines(canvas, days, costSeries(keys, days, perDay.byDay), value.currency, undefined, undefined, (series, index) => {
        const row = charted[series];
        const day = days[index];
        if (row !== undefined && day !== undefined) drilling.open(identityDrill(row, day, addDays(day, 1)));
      }),
    );
    const chartedRow = new Map(charted.map((r) => [r.key, r]));
    children.push(dailyTable({ title: `Daily cost of the ${charted.length} most expensive identities`, testid: 'identity-daily' }, days, keys, perDay.byDay, (key, day) => identityDrill(chartedRow.get(key)!, day, addDays(day, 1)), drilling));
  }
  const costs = shownCosts(rows, value.totals);
  children.push(
    table<ChargebackRow>(
      [
        { header: 'Identity', value: (r) => identityLabel(r), testid: 'name' },
        { header: 'Key', value: (r) => r.key, testid: 'key' },
        { header: 'Kind', value: (r) => r.identityKind ?? '–', testid: 'kind' },
        { header: 'Team', value: (r) => r.team ?? '–', testid: 'team' },
        ...figureColumns<ChargebackRow>(value.currency, costs.cost, (r) => toLink(drilling, identityDrill(r, filters.from, filters.to))),
      ],
      rows,
      { testid: 'identity-table', name: { labelledBy: panel.titleId }, rowTestid: 'identity-row', rowData: (r) => ({ key: r.key }), ...(filters.team ? {} : { footer: totalsFooter('identity-total', 'Total', 4, value.totals, costs.total) }) },
    ),
  );
  panel.ready(children, scope, dailyNote(days));
}

function teamDrill(team: string, from: string, to: string): Drill {
  return { groupBy: 'team', key: team, from, to, label: `team ${team}${from === addDays(to, -1) ? ` on ${from}` : ''}` };
}

function identityDrill(row: ChargebackRow, from: string, to: string): Drill {
  return { groupBy: 'identity', key: row.key, from, to, label: `${identityLabel(row)}${from === addDays(to, -1) ? ` on ${from}` : ''}` };
}

const TOP_SPENDERS = 10;

export function renderTopSpenders(panel: Panel, report: ApiResult<ChargebackReport>, filters: Filters, drilling: Drilling): void {
  if (!report.ok) return panel.failed(report);
  const { value } = report;
  const rows = topSpenders(rowsOfTeam(value.rows, filters.team), TOP_SPENDERS);
  const scope = [filters.team ? `Team ${filters.team}.` : '', deploymentNote(filters), basisNote(filters)].filter(Boolean).join(' ');
  if (rows.length === 0) return panel.noRows(scope);
  const costs = shownCosts(rows, value.totals);
  const drill = (r: ChargebackRow) => toLink(drilling, identityDrill(r, filters.from, filters.to));
  panel.ready(
    [
      table<ChargebackRow & { rank: number }>(
        [
          { header: '#', value: (r) => String(r.rank), numeric: true },
          { header: 'Identity', value: (r) => identityLabel(r), testid: 'name' },
          { header: 'Team', value: (r) => r.team ?? '–', testid: 'team' },
          { header: 'Requests', value: (r) => formatCount(r.requests), testid: 'requests', numeric: true, link: drill },
          { header: `Cost (${value.currency})`, value: (r) => costs.cost(rows[r.rank - 1]!), testid: 'cost', numeric: true, link: drill },
        ],
        rows.map((r, i) => ({ ...r, rank: i + 1 })),
        { testid: 'top-spenders-table', name: { labelledBy: panel.titleId }, rowTestid: 'top-spender-row', rowData: (r) => ({ key: r.key }) },
      ),
    ],
    scope,
  );
}

export function renderModels(panel: Panel, report: ApiResult<ChargebackReport>, filters: Filters, drilling: Drilling): void {
  if (!report.ok) return panel.failed(report);
  const { value } = report;
  const rows = rowsOfDeployment(value.rows, filters.deployment);
  const scope = [
    filters.deployment ? `Models of deployment ${filters.deployment}.` : '',
    severalDeploymentsNote(value.rows, filters),
    filters.team ? `The API's model grouping covers every team: team ${filters.team} is not applied here.` : '',
    basisNote(filters),
  ]
    .filter(Boolean)
    .join(' ');
  if (rows.length === 0) return value.rows.length === 0 ? panel.noRows(scope) : panel.empty(`No models served by deployment ${filters.deployment} alone in this range.`, scope);
  const drill = (r: ChargebackRow): Drill => ({ groupBy: 'model', key: r.key, from: filters.from, to: filters.to, label: `model ${r.key}` });
  const costs = shownCosts(rows, value.totals);
  const { box, canvas } = chartBox('chart-models', 'Cost by model; choose a slice for its requests');
  queueMicrotask(() =>
    doughnut(canvas, rows.map((r) => r.key), rows.map((r) => Number(r.cost)), rows.map((r) => `${costs.cost(r)} ${value.currency}`), (index) => {
      const row = rows[index];
      if (row) drilling.open(drill(row));
    }),
  );
  const linked = (r: ChargebackRow) => toLink(drilling, drill(r));
  panel.ready(
    [
      h(
        'div',
        { class: 'split' },
        box,
        table<ChargebackRow>(
          [
            { header: 'Model', value: (r) => r.key, testid: 'key' },
            { header: 'Deployment', value: (r) => r.deployment ?? 'several', testid: 'deployment' },
            { header: 'Requests', value: (r) => formatCount(r.requests), testid: 'requests', numeric: true, link: linked },
            { header: 'Prompt tokens', value: (r) => formatCount(r.promptTokens), testid: 'prompt-tokens', numeric: true },
            { header: 'Completion tokens', value: (r) => formatCount(r.completionTokens), testid: 'completion-tokens', numeric: true },
            { header: 'Reasoning tokens', value: (r) => formatCount(r.reasoningTokens), testid: 'reasoning-tokens', numeric: true },
            { header: `Cost (${value.currency})`, value: costs.cost, testid: 'cost', numeric: true, link: linked },
          ],
          rows,
          { testid: 'model-table', name: { labelledBy: panel.titleId }, rowTestid: 'model-row', rowData: (r) => ({ key: r.key }) },
        ),
      ),
    ],
    scope,
  );
}

interface CachedScope {
  readonly label: string;
  readonly figures: ChargebackFigures;
}

/**
 * Cached-token savings. Cached tokens are part of prompt tokens and billed at the lower cached-input price, so the
 * saving is cachedTokens × (input price − cached input price). The API reports tokens and costs but not the
 * prices, so the panel shows the cached tokens and their share of prompt tokens.
 */
export function renderCached(
  panel: Panel,
  reports: { team: ApiResult<ChargebackReport>; deployment: ApiResult<ChargebackReport>; model: ApiResult<ChargebackReport> },
  filters: Filters,
): void {
  const failed = [reports.team, reports.deployment, reports.model].find((r) => !r.ok);
  if (failed && !failed.ok) return panel.failed(failed);
  if (!reports.team.ok || !reports.deployment.ok || !reports.model.ok) return;
  const team = reports.team.value;
  if (team.rows.length === 0) return panel.noRows();
  const scopes: CachedScope[] = [{ label: 'All traffic', figures: team.totals }];
  if (filters.team) {
    const row = team.rows.find((r) => r.key === filters.team);
    if (row) scopes.push({ label: `Team ${filters.team}`, figures: row });
  }
  if (filters.deployment) {
    const row = reports.deployment.value.rows.find((r) => r.key === filters.deployment);
    if (row) scopes.push({ label: `Deployment ${filters.deployment}`, figures: row });
  }
  const shareColumns: Column<{ label: string; figures: ChargebackFigures }>[] = [
    { header: 'Prompt tokens', value: (s) => formatCount(s.figures.promptTokens), testid: 'prompt-tokens', numeric: true },
    { header: 'Cached tokens', value: (s) => formatCount(s.figures.cachedTokens), testid: 'cached-tokens', numeric: true },
    { header: 'Cached share', value: (s) => cachedShare(s.figures), testid: 'cached-share', numeric: true },
  ];
  const models = rowsOfDeployment(reports.model.value.rows, filters.deployment).filter((r) => r.promptTokens > 0);
  panel.ready(
    [
      table([{ header: 'Scope', value: (s) => s.label, testid: 'scope' }, ...shareColumns], scopes, { testid: 'cached-table', name: { labelledBy: panel.titleId }, rowTestid: 'cached-row' }),
      table(
        [{ header: 'Model', value: (s) => s.label, testid: 'key' }, ...shareColumns],
        models.map((r) => ({ label: r.key, figures: r })),
        { testid: 'cached-model-table', name: { caption: 'By model' }, rowTestid: 'cached-model-row', rowData: (s) => ({ key: s.label }) },
      ),
    ],
    [filters.deployment ? `Models of deployment ${filters.deployment}.` : '', severalDeploymentsNote(reports.model.value.rows, filters)].filter(Boolean).join(' '),
    'Cached tokens are part of prompt tokens and billed at the lower cached-input price; saving = cached tokens × (input price − cached input price). The API does not expose prices, so the saving is shown in tokens.',
  );
}

export function renderUnattributed(panel: Panel, report: ApiResult<ChargebackReport>, traffic: ApiResult<TrafficReport>, operations: OperationsWindow, filters: Filters, drilling: Drilling): void {
  if (!report.ok) return panel.failed(report);
  const { value } = report;
  const row = value.rows.find((r) => r.key === IDENTITY_UNATTRIBUTED);
  const children: Child[] = [];
  if (row) {
    const requests = toLink(drilling, { groupBy: 'identity', key: row.key, from: filters.from, to: filters.to, label: 'unattributed traffic' });
    children.push(
      figureList(
        [
          { label: 'Requests', value: formatCount(row.requests), testid: 'unattributed-requests', link: requests },
          { label: 'Prompt tokens', value: formatCount(row.promptTokens), testid: 'unattributed-prompt-tokens' },
          { label: 'Completion tokens', value: formatCount(row.completionTokens), testid: 'unattributed-completion-tokens' },
          { label: `Cost (${value.currency})`, value: shownCosts(value.rows, value.totals).cost(row), testid: 'unattributed-cost', link: requests },
        ],
        'unattributed-chargeback',
      ),
    );
  } else if (value.rows.length > 0) {
    children.push(h('p', { testid: 'unattributed-none' }, 'Every request in this range is attributed to an identity.'));
  }
  if (traffic.ok) {
    const u = traffic.value.unattributed;
    children.push(
      h('p', { class: 'subhead' }, 'In the ledger (traffic report)'),
      operations.note ? h('p', { class: 'note', testid: 'traffic-window' }, operations.note) : null,
      figureList(
        [
          { label: 'Requests', value: formatCount(u.requests), testid: 'traffic-unattributed-requests' },
          { label: 'Prompt tokens', value: formatCount(u.promptTokens), testid: 'traffic-unattributed-prompt-tokens' },
          { label: 'Completion tokens', value: formatCount(u.completionTokens), testid: 'traffic-unattributed-completion-tokens' },
        ],
        'unattributed-traffic',
      ),
    );
  } else {
    children.push(h('p', { class: 'note', testid: 'traffic-unavailable' }, `Traffic report not available (${traffic.status})`));
  }
  if (!row && value.rows.length === 0 && !traffic.ok) return panel.noRows();
  panel.ready(children, ['Requests no identity could be charged for (no token, subscription or diagnostic identity). Team filter not applied: these belong to no team.', basisNote(filters)].filter(Boolean).join(' '));
}

export function renderBypass(panel: Panel, traffic: ApiResult<TrafficReport>, operations: OperationsWindow): void {
  if (!traffic.ok) return panel.unavailable(traffic);
  const t = traffic.value;
  panel.ready(
    [
      figureList(
        [
          { label: 'Bypass calls with an Entra ID token', value: formatCount(t.bypass.entra), testid: 'bypass-entra' },
          { label: 'Bypass calls with an account key', value: formatCount(t.bypass.key), testid: 'bypass-key' },
        ],
        'bypass-figures',
      ),
      h('p', { class: 'subhead' }, 'Join of gateway requests and Azure OpenAI diagnostics'),
      figureList(
        [
          { label: 'Matched', value: formatCount(t.join.matched), testid: 'join-matched' },
          { label: 'Gateway requests without diagnostics', value: formatCount(t.join.noDiagnostics), testid: 'join-no-diagnostics' },
          { label: 'Diagnostics without a gateway request (bypass)', value: formatCount(t.join.bypass), testid: 'join-bypass' },
        ],
        'join-figures',
      ),
    ],
    withWindow('Calls that reached Azure OpenAI without going through the gateway: they appear in no chargeback.', operations),
  );
}

const ms = (value: number | null): string => formatFigure(value);

/** A panel's scope, followed by the days an operations report covers when they are not the whole range. */
function withWindow(scope: string, operations: OperationsWindow): string {
  return [scope, operations.note].filter(Boolean).join(' ');
}

export function renderLatency(panel: Panel, latency: ApiResult<LatencyReport>, operations: OperationsWindow, filters: Filters): void {
  if (!latency.ok) return panel.unavailable(latency);
  const { rows, series } = latency.value;
  const scope = withWindow(filters.deployment ? `Deployment ${filters.deployment}.` : 'All deployments.', operations);
  if (rows.length === 0) return panel.empty(emptyLatencyMessage(latency.value), scope);
  const windows = [...new Set(series.map((p) => p.windowStart))].sort();
  const regions = [...new Set(series.map((p) => p.region))].sort();
  const children: Child[] = [];
  if (windows.length > 0) {
    const at = new Map(series.map((p) => [`${p.windowStart}\u0000${p.region}`, p]));
    const chartSeries: Series[] = [];
    for (const region of regions) {
      for (const q of ['p95Ms', 'p50Ms'] as const) {
        const points = windows.map((w) => at.get(`${w}\u0000${region}`)?.[q] ?? null);
        chartSeries.push({ label: `${region} ${q === 'p95Ms' ? 'p95' : 'p50'}`, values: points, texts: points.map((v) => (v === null ? 'no data' : `${v} ms`)) });
      }
    }
    const labels = windows.map((w) => w.slice(5, 16).replace('T', ' '));
    const { box, canvas } = chartBox('chart-latency', 'Latency percentiles per region over time');
    children.push(h('p', { class: 'chart-title' }, 'p95 per region over time (p50, dashed, can be shown from the legend)'), box);
    queueMicrotask(() => lines(canvas, labels, chartSeries, 'ms', (i) => i % 2 === 1, (i) => i % 2 === 1));
    // What the canvas shows, as text (WCAG 2.2 SC 1.1.1): a window a row, p95 and p50 of each region.
    children.push(
      h(
        'details',
        { class: 'daily' },
        h('summary', { id: 'latency-series-title' }, 'p95 and p50 per region, per window'),
        table(
          [{ header: 'Window start (UTC)', value: (i: number) => windows[i]!.slice(0, 16).replace('T', ' ') }, ...chartSeries.map((one) => ({ header: `${one.label} (ms)`, numeric: true, value: (i: number) => (one.values[i] === null ? '–' : String(one.values[i])) }))],
          windows.map((_, i) => i),
          { testid: 'latency-series-table', name: { labelledBy: 'latency-series-title' }, rowHeaders: true, rowTestid: 'latency-series-row', rowData: (i) => ({ window: windows[i]! }) },
        ),
      ),
    );
  }
  children.push(
    table(
      [
        { header: 'Region', value: (r) => r.region, testid: 'region' },
        { header: 'Requests', value: (r) => formatCount(r.requests), testid: 'requests', numeric: true },
        { header: 'Errors', value: (r) => formatCount(r.errors), testid: 'errors', numeric: true },
        { header: 'Throttled (429)', value: (r) => formatCount(r.throttled), testid: 'throttled', numeric: true },
        { header: 'Error rate', value: (r) => formatRate(r.errorRate), testid: 'error-rate', numeric: true },
        { header: 'Throttle rate', value: (r) => formatRate(r.throttleRate), testid: 'throttle-rate', numeric: true },
        { header: 'p50 ms', value: (r) => ms(r.p50Ms), testid: 'p50', numeric: true },
        { header: 'p90 ms', value: (r) => ms(r.p90Ms), testid: 'p90', numeric: true },
        { header: 'p95 ms', value: (r) => ms(r.p95Ms), testid: 'p95', numeric: true },
        { header: 'p99 ms', value: (r) => ms(r.p99Ms), testid: 'p99', numeric: true },
      ],
      rows,
      { testid: 'latency-table', name: { labelledBy: panel.titleId }, rowTestid: 'latency-row', rowData: (r) => ({ key: r.region }) },
    ),
  );
  panel.ready(children, scope);
}

export function renderWeights(panel: Panel, weights: ApiResult<readonly WeightsRecommendation[]>, operations: OperationsWindow, filters: Filters): void {
  if (!weights.ok) return panel.unavailable(weights);
  const recommendations = weights.value.filter((r) => !filters.deployment || r.deployment === filters.deployment);
  const scope = withWindow(filters.deployment ? `Deployment ${filters.deployment}.` : 'All deployments.', operations);
  if (recommendations.length === 0) return panel.empty('No recommendation for this range.', scope);
  panel.ready(
    recommendations.map((r, i) =>
      h(
        'article',
        { class: 'recommendation', testid: 'weights-recommendation' },
        h('h3', { testid: 'deployment', id: `weights-title-${i}` }, r.deployment),
        h('p', { class: 'note', testid: 'basis' }, `Basis: ${r.basis ?? 'none (no latency figures)'}`),
        h('p', { testid: 'explanation' }, r.explanation),
        table(
          [
            { header: 'Backend', value: (w) => w.backendId, testid: 'backend' },
            { header: 'Region', value: (w) => w.regionCode ?? '–', testid: 'region' },
            { header: 'Weight', value: (w) => String(w.weight), testid: 'weight', numeric: true },
            { header: 'Why', value: (w) => w.reason, testid: 'reason' },
          ],
          r.weights,
          { testid: 'weights-table', name: { labelledBy: `weights-title-${i}` }, rowTestid: 'weight-row', rowData: (w) => ({ key: w.backendId }) },
        ),
      ),
    ),
    scope,
  );
}

// A check that could not be read hides whatever drift it would have found: it comes right after the failures.
const STATUS_ORDER = ['fail', 'unavailable', 'warn', 'ok'];
const byStatus = (a: string, b: string) => (STATUS_ORDER.indexOf(a) + 1 || 99) - (STATUS_ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b);
/** Non-ok results listed at first, and read at each "Show more". */
const MAX_ATTENTION_ROWS = 50;

/** The ids a result saw on one side only: the ledger's lead to their trace, Azure's are listed to look up in Log Analytics. */
function oneSided(c: ReconciliationCheck, drilling: Drilling): Child {
  if (c.gatewayOnlyCount === 0 && c.diagnosticsOnlyCount === 0) return '–';
  const more = (shown: number, total: number) => (total > shown ? h('li', { class: 'note' }, `and ${formatCount(total - shown)} more`) : null);
  return h(
    'details',
    { class: 'one-sided', testid: 'one-sided' },
    h('summary', {}, `ledger only ${formatCount(c.gatewayOnlyCount)}, Azure only ${formatCount(c.diagnosticsOnlyCount)}`),
    c.gatewayOnly.length > 0
      ? h('ul', { testid: 'ledger-only-ids', 'aria-label': 'Only in the ledger' }, ...c.gatewayOnly.map((id) => h('li', {}, traceLink(drilling, id))), more(c.gatewayOnly.length, c.gatewayOnlyCount))
      : null,
    c.diagnosticsOnly.length > 0
      ? h('ul', { testid: 'azure-only-ids', 'aria-label': "Only in Azure's logs" }, ...c.diagnosticsOnly.map((id) => h('li', {}, h('code', {}, id))), more(c.diagnosticsOnly.length, c.diagnosticsOnlyCount))
      : null,
  );
}

function checksTable(checks: readonly ReconciliationCheck[], testid: string, labelledBy: string, drilling: Drilling): HTMLTableElement {
  return table(
    [
      { header: 'Check', value: (c) => c.check, testid: 'check' },
      { header: 'Window (UTC hour)', value: (c) => c.window, testid: 'window' },
      { header: 'Deployment', value: (c) => c.deployment ?? 'all', testid: 'deployment' },
      { header: 'Expected (Azure)', value: (c) => formatFigure(c.expected), testid: 'expected', numeric: true },
      { header: 'Actual (ledger)', value: (c) => formatFigure(c.actual), testid: 'actual', numeric: true },
      { header: 'Drift', value: (c) => formatPercent(c.driftPct), testid: 'drift', numeric: true },
      { header: 'Status', value: (c) => c.status, cell: (c) => (c.reason === null ? c.status : h('span', {}, c.status, h('span', { class: 'reason', testid: 'reason' }, c.reason))), testid: 'status' },
      { header: 'Seen on one side only', value: (c) => String(c.gatewayOnlyCount + c.diagnosticsOnlyCount), cell: (c) => oneSided(c, drilling), testid: 'one-sided-ids', numeric: true },
    ],
    checks,
    { testid, name: { labelledBy }, rowTestid: 'reconciliation-row', rowData: (c) => ({ status: c.status }) },
  );
}

/** A page of the window's reconciliation results of one status, after `continuation` (null: from the first). */
export type ReconciliationPages = (status: string, limit: number, continuation: string | null) => Promise<ApiResult<ReconciliationReport>>;

const NOT_OK = STATUS_ORDER.filter((status) => status !== 'ok');

type CheckCounts = ReconciliationReport['summary'][number];

/**
 * The results that are not ok, failures first: each status's results in the API's order (hour, check, deployment),
 * one status after another, read a page at a time as far as they are shown.
 */
class NotOkResults {
  readonly rows: ReconciliationCheck[] = [];
  private readonly statuses: string[];
  private continuation: string | null = null;

  constructor(
    private readonly pages: ReconciliationPages,
    /** The first page of the first status of `NOT_OK`. */
    first: ReconciliationReport,
    private readonly counts: ReadonlyMap<string, number>,
  ) {
    this.statuses = NOT_OK.filter((status, i) => i === 0 || (counts.get(status) ?? 0) > 0);
    this.take(first);
  }

  get total(): number {
    return NOT_OK.reduce((sum, status) => sum + (this.counts.get(status) ?? 0), 0);
  }

  get complete(): boolean {
    return this.statuses.length === 0;
  }

  private take(page: ReconciliationReport): void {
    this.rows.push(...page.checks);
    this.continuation = page.continuation;
    if (this.continuation === null) this.statuses.shift();
  }

  /** Reads up to `count` more results; the failure of a page, or null. */
  async read(count: number): Promise<{ status: number; reason: string } | null> {
    const target = this.rows.length + count;
    while (this.rows.length < target && !this.complete) {
      const page = await this.pages(this.statuses[0]!, target - this.rows.length, this.continuation);
      if (!page.ok) return page;
      this.take(page.value);
    }
    return null;
  }
}

/**
 * Reconciliation results (one per check, hour and deployment, so thousands a week): how many results of each check
 * have each status, and the results that are not ok, failures first, `MAX_ATTENTION_ROWS` at a time. Ok results are
 * counted, not listed: a window of 93 days holds hundreds of thousands.
 */
export async function showReconciliation(panel: Panel, pages: ReconciliationPages, current: () => boolean, operations: OperationsWindow, filters: Filters, drilling: Drilling): Promise<void> {
  const first = await pages(NOT_OK[0]!, MAX_ATTENTION_ROWS, null);
  if (!current()) return;
  if (!first.ok) return panel.unavailable(first);
  const scope = withWindow(filters.deployment ? `Deployment ${filters.deployment}.` : '', operations);
  const counts = new Map<string, number>();
  for (const { counts: perStatus } of first.value.summary) for (const [status, n] of perStatus) counts.set(status, (counts.get(status) ?? 0) + n);
  const results = [...counts.values()].reduce((sum, n) => sum + n, 0);
  if (results === 0) return panel.empty('No reconciliation results for this range.', scope);

  const statuses = [...counts].filter(([, n]) => n > 0).map(([status]) => status).sort(byStatus);
  const summary = table(
    [{ header: 'Check', value: (row: CheckCounts) => row.check, testid: 'check' }, ...statuses.map((status) => ({ header: status, numeric: true, testid: `count-${status}`, value: (row: CheckCounts) => formatCount(row.counts.get(status) ?? 0) }))],
    [...first.value.summary].sort((a, b) => a.check.localeCompare(b.check)),
    { testid: 'reconciliation-summary', name: { caption: 'Results per check and status' }, rowHeaders: true, rowTestid: 'reconciliation-summary-row', rowData: (row) => ({ key: row.check }) },
  );
  const notOk = new NotOkResults(pages, first.value, counts);
  const failed = await notOk.read(MAX_ATTENTION_ROWS - notOk.rows.length);
  if (!current()) return;
  const ok = counts.get('ok') ?? 0;
  const render = (note: string, focusMore: boolean): void => {
    const children: Child[] = [summary];
    if (notOk.rows.length > 0) {
      const title = notOk.complete ? 'Not ok' : `Not ok: the first ${formatCount(notOk.rows.length)} of ${formatCount(notOk.total)}`;
      children.push(h('p', { class: 'subhead', id: 'reconciliation-attention-title' }, title));
      children.push(checksTable(notOk.rows, 'reconciliation-attention', 'reconciliation-attention-title', drilling));
    }
    if (!notOk.complete) {
      const next = Math.min(MAX_ATTENTION_ROWS, notOk.total - notOk.rows.length);
      const more = h('button', { type: 'button', testid: 'reconciliation-more' }, next > 0 ? `Show ${formatCount(next)} more` : 'Show more');
      more.addEventListener('click', () => {
        more.setAttribute('disabled', '');
        void notOk.read(MAX_ATTENTION_ROWS).then((failure) => current() && render(failure ? `The next results failed: ${describeFailure(failure)}` : '', true));
      });
      children.push(h('p', { class: 'actions' }, more));
    }
    if (ok > 0 && notOk.rows.length > 0) children.push(h('p', { class: 'note', testid: 'reconciliation-ok-note' }, `The ${formatCount(ok)} ok results are counted above, not listed.`));
    panel.ready(children, scope, note || (notOk.total === 0 ? `All ${formatCount(results)} results are ok.` : ''));
    if (focusMore) panel.root.querySelector<HTMLElement>('[data-testid="reconciliation-more"]')?.focus();
  };
  render(failed ? `The results that are not ok failed: ${describeFailure(failed)}` : '', false);
}
