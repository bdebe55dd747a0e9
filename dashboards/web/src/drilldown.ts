import type { Api, ApiResult } from './api.js';
import { figureList, h, link, table, type Child } from './dom.js';
import {
  formatCount,
  parseChargeback,
  parseRequestsPage,
  parseTrace,
  picodollarsAmount,
  sumPicodollars,
  traceRoute,
  type ChargebackReport,
  type Drill,
  type RequestRow,
  type RequestsPage,
  type RequestTrace,
} from './model.js';
import { Panel, type Drilling } from './panels.js';

/** The API's largest page: fewest round trips for a chain. */
const PAGE_SIZE = '1000';
/** Pages "Load all" follows at most before it stops and says so (a cell of 100,000 requests is a report, not a list). */
const MAX_PAGES = 100;
/** Decimals of the costs compared in the summary (the API's own precision for a cost). */
const COST_DECIMALS = 6;

/** The request list's filter for a cell: the grouping's own parameter. */
function filterOf(drill: Drill): Record<string, string> {
  return { from: drill.from, to: drill.to, [drill.groupBy]: drill.key, pageSize: PAGE_SIZE };
}

/**
 * The requests behind one report figure (`GET /api/requests`, page after page), next to the figure itself (the
 * chargeback report of the same grouping and period): a person sees whether the requests add up to it exactly.
 */
export class RequestsView {
  private generation = 0;

  constructor(
    private readonly panel: Panel,
    private readonly drilling: Drilling,
  ) {}

  hide(): void {
    this.generation++;
    this.panel.root.hidden = true;
  }

  async show(api: Api, drill: Drill): Promise<void> {
    const mine = ++this.generation;
    this.panel.root.hidden = false;
    this.panel.loading();
    const [cell, first] = await Promise.all([
      api.get('chargeback', { from: drill.from, to: drill.to, groupBy: drill.groupBy }, parseChargeback),
      api.get('requests', filterOf(drill), parseRequestsPage),
    ]);
    if (mine !== this.generation) return;
    if (!first.ok) return this.panel.failed(first);
    const rows: RequestRow[] = [...first.value.rows];
    let next = first.value.nextLink;
    const render = (note = ''): void => {
      const more = async (all: boolean) => {
        let pages = 0;
        while (next !== null && pages < (all ? MAX_PAGES : 1)) {
          const page: ApiResult<RequestsPage> = await api.getUrl(new URL(next), parseRequestsPage);
          if (mine !== this.generation) return;
          if (!page.ok) return render(`The next page failed: ${page.status} ${page.reason}`);
          rows.push(...page.value.rows);
          next = page.value.nextLink;
          pages++;
        }
        render(next !== null && all ? `Stopped after ${MAX_PAGES} pages; load more to go on.` : '');
      };
      this.panel.ready(this.content(drill, cell, rows, next, more), period(drill), note);
    };
    render();
    this.panel.root.scrollIntoView({ block: 'start' });
  }

  private content(drill: Drill, cell: ApiResult<ChargebackReport>, rows: readonly RequestRow[], next: string | null, more: (all: boolean) => Promise<void>): Child[] {
    const loaded = sumPicodollars(rows.map((r) => r.costPicodollars));
    const row = cell.ok ? cell.value.rows.find((r) => r.key === drill.key) : undefined;
    const currency = cell.ok ? cell.value.currency : '';
    const summary = h(
      'div',
      { testid: 'requests-summary', 'data-loaded-requests': String(rows.length), 'data-loaded-picodollars': loaded, 'data-complete': String(next === null) },
      figureList([
        { label: 'Requests loaded', value: formatCount(rows.length), testid: 'requests-loaded' },
        { label: `Their cost (${currency || 'exact'})`, value: picodollarsAmount(loaded, COST_DECIMALS), testid: 'requests-loaded-cost' },
        { label: 'The figure: requests', value: row ? formatCount(row.requests) : '–', testid: 'cell-requests' },
        // From the row's exact picodollars, rounded as their cost is: the report's own `cost` is rounded so that its
        // rows add up, and can differ from it in the last decimal though both are the same picodollars.
        { label: `The figure: cost (${currency})`, value: row ? picodollarsAmount(row.costPicodollars, COST_DECIMALS) : '–', testid: 'cell-cost' },
      ]),
      h('p', { testid: 'requests-rounding', class: 'note' }, `Both costs are exact amounts in picodollars rounded half to even to ${COST_DECIMALS} decimals; the verdict compares the picodollars themselves.`),
      h('p', { testid: 'requests-verdict', class: 'note' }, verdict(rows.length, loaded, next === null, row)),
    );
    const buttons: Child[] =
      next === null
        ? []
        : [
            h('button', { type: 'button', testid: 'requests-more' }, 'Load the next page'),
            h('button', { type: 'button', testid: 'requests-all' }, 'Load all pages'),
          ];
    const actions = h('p', { class: 'actions' }, ...buttons);
    actions.querySelector('[data-testid="requests-more"]')?.addEventListener('click', () => void more(false));
    actions.querySelector('[data-testid="requests-all"]')?.addEventListener('click', () => void more(true));
    return [
      summary,
      actions,
      table<RequestRow>(
        [
          { header: 'Time (UTC)', value: (r) => r.time.slice(0, 19).replace('T', ' '), testid: 'time' },
          { header: 'Request', value: (r) => r.gatewayRequestId, cell: (r) => link(r.gatewayRequestId, { href: this.drilling.traceHref(r.id), open: () => this.drilling.trace(r.id), title: 'This request end to end' }, 'trace-link'), testid: 'request' },
          { header: 'Identity', value: (r) => r.displayName ?? r.identity, testid: 'identity' },
          { header: 'Team', value: (r) => r.team, testid: 'team' },
          { header: 'Model', value: (r) => r.model, testid: 'model' },
          { header: 'Deployment', value: (r) => r.deployment, testid: 'deployment' },
          { header: 'Region', value: (r) => r.region, testid: 'region' },
          { header: 'Tokens from', value: (r) => r.tokenSource, testid: 'token-source' },
          { header: 'Prompt', value: (r) => formatCount(r.promptTokens), testid: 'prompt-tokens', numeric: true },
          { header: 'Cached', value: (r) => formatCount(r.cachedTokens), testid: 'cached-tokens', numeric: true },
          { header: 'Completion', value: (r) => formatCount(r.completionTokens), testid: 'completion-tokens', numeric: true },
          { header: `Cost (${currency})`, value: (r) => r.cost, testid: 'cost', numeric: true },
          { header: 'Price', value: (r) => r.priceVersion ?? '–', testid: 'price-version' },
        ],
        rows,
        { testid: 'requests-table', name: { labelledBy: this.panel.titleId }, rowTestid: 'request-row', rowData: (r) => ({ id: r.id, picodollars: r.costPicodollars }) },
      ),
    ];
  }
}

function period(drill: Drill): string {
  return drill.label.endsWith(` on ${drill.from}`) ? `${drill.label} (UTC day).` : `${drill.label}, ${drill.from} to ${drill.to} (UTC, end exclusive).`;
}

function verdict(loaded: number, picodollars: string, complete: boolean, row: { requests: number; costPicodollars: string } | undefined): string {
  if (!complete) return 'More pages to load: the figure is compared once every page is in.';
  if (!row) return 'The report has no such figure for this period to compare with.';
  if (loaded === row.requests && picodollars === row.costPicodollars) return 'These requests add up to the figure exactly.';
  return `These requests do not add up to the figure: ${formatCount(loaded)} requests and ${picodollars} picodollars against ${formatCount(row.requests)} and ${row.costPicodollars}.`;
}

/** One request end to end (`GET /api/requests/{id}`): the four parts `tokenledger trace` prints. */
export class TraceView {
  private generation = 0;

  constructor(private readonly panel: Panel) {}

  hide(): void {
    this.generation++;
    this.panel.root.hidden = true;
  }

  async show(api: Api, id: string): Promise<void> {
    const mine = ++this.generation;
    this.panel.root.hidden = false;
    const route = traceRoute(id);
    if (!route.ok) return this.panel.failed({ status: 400, reason: route.reason });
    this.panel.loading();
    const trace = await api.get(route.route, {}, parseTrace);
    if (mine !== this.generation) return;
    if (!trace.ok) return this.panel.failed(trace);
    this.panel.ready(traceParts(trace.value), `Request ${id}`);
    this.panel.root.scrollIntoView({ block: 'start' });
  }
}

function part(title: string, testid: string, value: unknown): HTMLElement {
  return h('section', { class: 'trace-part', testid }, h('h3', {}, title), h('pre', {}, JSON.stringify(value, null, 2)));
}

function traceParts(trace: RequestTrace): Child[] {
  const cost = trace.cost;
  return [
    figureList([
      { label: 'Cost', value: `${String(cost['cost'] ?? '–')} ${String(cost['currency'] ?? '')}`, testid: 'trace-cost' },
      { label: 'Price version', value: trace.priceVersion ?? '–', testid: 'trace-price-version' },
      { label: 'Price table', value: trace.priceTable, testid: 'trace-price-table' },
    ]),
    part('Gateway event(s) and ledger entry', 'trace-request', trace.request),
    part('Joined diagnostic record', 'trace-diagnostics', trace.diagnostics ?? 'none joined'),
    part('Identity resolution', 'trace-identity', trace.identity),
    part('Price entry and cost', 'trace-price', cost),
  ];
}
