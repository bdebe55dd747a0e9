import { Api, mapLimited, type ApiResult } from './api.js';
import { startSignIn, type SignIn } from './auth.js';
import { mountDirectoryEditor } from './directory-editor.js';
import { h, replaceChildren } from './dom.js';
import { RequestsView, TraceView } from './drilldown.js';
import { showAccessView } from './layout.js';
import {
  accessView,
  addDays,
  daysOf,
  defaultRange,
  describeToken,
  drillFromQuery,
  drillToQuery,
  filtersFromQuery,
  filtersToQuery,
  MAX_DAILY_SERIES_DAYS,
  operationsWindow,
  optionsFor,
  parseChargeback,
  parseInvoice,
  parseLatency,
  parseReconciliation,
  parseTraffic,
  parseWeights,
  presetRange,
  RANGE_PRESETS,
  rangeProblem,
  withoutDrill,
  type ChargebackReport,
  type Drill,
  type Filters,
  type RangePreset,
} from './model.js';
import {
  describeFailure,
  Panel,
  renderBypass,
  renderCached,
  renderIdentities,
  renderInvoice,
  renderLatency,
  renderModels,
  renderTeams,
  renderTopSpenders,
  renderUnattributed,
  renderWeights,
  showReconciliation,
  type DailyReport,
  type Drilling,
} from './panels.js';

/** The token lives in this tab only: gone when the tab closes, never in localStorage, a cookie or a URL. */
const TOKEN_KEY = 'tokenledger.bearerToken';
/** Per-day requests in flight at once (the API allows plenty; a browser keeps six connections per host). */
const DAILY_CONCURRENCY = 4;

function element<T extends HTMLElement>(testid: string): T {
  const found = document.querySelector<T>(`[data-testid="${testid}"]`);
  if (!found) throw new Error(`the page has no element ${testid}`);
  return found;
}

const ui = {
  tokenForm: element<HTMLFormElement>('token-form'),
  tokenInput: element<HTMLInputElement>('token-input'),
  tokenForget: element<HTMLButtonElement>('token-forget'),
  tokenStatus: element<HTMLElement>('token-status'),
  authStatus: element<HTMLElement>('auth-status'),
  filterForm: element<HTMLFormElement>('filter-form'),
  from: element<HTMLInputElement>('filter-from'),
  to: element<HTMLInputElement>('filter-to'),
  team: element<HTMLSelectElement>('filter-team'),
  deployment: element<HTMLSelectElement>('filter-deployment'),
  basis: element<HTMLSelectElement>('filter-basis'),
  filterProblem: element<HTMLElement>('filter-problem'),
  downloads: element<HTMLElement>('downloads'),
  downloadStatus: element<HTMLElement>('download-status'),
  downloadLabel: element<HTMLElement>('download-label'),
};

const panels = {
  teams: new Panel(element('panel-team')),
  invoice: new Panel(element('panel-invoice')),
  identities: new Panel(element('panel-identity')),
  topSpenders: new Panel(element('panel-top-spenders')),
  models: new Panel(element('panel-models')),
  cached: new Panel(element('panel-cached')),
  unattributed: new Panel(element('panel-unattributed')),
  bypass: new Panel(element('panel-bypass')),
  latency: new Panel(element('panel-latency')),
  weights: new Panel(element('panel-weights')),
  reconciliation: new Panel(element('panel-reconciliation')),
};

function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

let signIn: SignIn | null = null;

/** A pasted token (for scripts and tests) is used instead of the signed-in session until it is forgotten. */
function currentToken(): string | null {
  return storedToken() ?? signIn?.accessToken() ?? null;
}

function api(): Api {
  return new Api(new URL('../', document.baseURI), currentToken);
}

function showTokenStatus(): void {
  const token = currentToken();
  showAccessView(document.querySelector('main')!, token);
  ui.tokenStatus.textContent = token ? describeToken(token, new Date()) : 'No token: paste a bearer token for the TokenLedger API.';
  ui.tokenForget.disabled = storedToken() === null;
}

function setOptions(select: HTMLSelectElement, allLabel: string, values: readonly string[], current: string): void {
  replaceChildren(select, h('option', { value: '' }, allLabel), ...values.map((v) => h('option', { value: v }, v)));
  select.value = current;
}

function readFilters(): Filters {
  return { from: ui.from.value, to: ui.to.value, team: ui.team.value, deployment: ui.deployment.value, basis: ui.basis.value === 'invoice' ? 'invoice' : 'list' };
}

function writeFilters(filters: Filters): void {
  ui.from.value = filters.from;
  ui.to.value = filters.to;
  ui.basis.value = filters.basis;
  setOptions(ui.team, 'All teams', optionsFor([], filters.team), filters.team);
  setOptions(ui.deployment, 'All deployments', optionsFor([], filters.deployment), filters.deployment);
}

/** The drill-down and the trace live in the URL too, so they survive a reload and can be shared. */
function withView(query: URLSearchParams): URLSearchParams {
  const current = new URLSearchParams(location.search);
  const out = new URLSearchParams(query);
  for (const name of ['drill', 'key', 'label', 'dfrom', 'dto', 'trace']) {
    const value = current.get(name);
    if (value !== null) out.set(name, value);
  }
  return out;
}

const requestsPanel = new Panel(element('panel-requests'));
const tracePanel = new Panel(element('panel-trace'));

type View = 'drill' | 'trace';
const viewPanels: Readonly<Record<View, Panel>> = { drill: requestsPanel, trace: tracePanel };
/** The control each open view was opened from (a figure's link, a request id): focus goes back there when it closes. */
const openers: Partial<Record<View, HTMLElement>> = {};

/** A person opened a view: focus moves to its heading, so the next Tab goes through what just opened (WCAG 2.4.3). */
function focusOpened(view: View): void {
  const root = viewPanels[view].root;
  const from = document.activeElement;
  if (from instanceof HTMLElement && from !== document.body && !root.contains(from)) openers[view] = from;
  else delete openers[view];
  root.querySelector<HTMLElement>('h2')?.focus();
}

const focusable = (e: HTMLElement | undefined): e is HTMLElement => e !== undefined && e.isConnected && e.getClientRects().length > 0;

/** A view was closed: focus goes back to what opened it, else to the request list the trace came from. */
function focusClosed(view: View): void {
  const back = [openers[view], view === 'trace' ? (requestsPanel.root.querySelector<HTMLElement>('h2') ?? undefined) : undefined].find(focusable);
  delete openers[view];
  back?.focus();
}

const drilling: Drilling = {
  href: (drill: Drill) => `?${drillToQuery(drill, withoutTrace(new URLSearchParams(location.search))).toString()}`,
  open(drill: Drill) {
    history.pushState(null, '', this.href(drill));
    showViews();
    focusOpened('drill');
  },
  traceHref: (id: string) => {
    const query = new URLSearchParams(location.search);
    query.set('trace', id);
    return `?${query.toString()}`;
  },
  trace(id: string) {
    history.pushState(null, '', this.traceHref(id));
    showViews();
    focusOpened('trace');
  },
};
const requestsView = new RequestsView(requestsPanel, drilling);
const traceView = new TraceView(tracePanel);

function withoutTrace(query: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams(query);
  out.delete('trace');
  return out;
}

/** Shows the drill-down and the trace the URL names, if any. */
function showViews(): void {
  const query = new URLSearchParams(location.search);
  const drill = drillFromQuery(query);
  const trace = query.get('trace');
  const client = api();
  const work: Promise<void>[] = [];
  if (drill) work.push(requestsView.show(client, drill));
  else requestsView.hide();
  if (trace && trace.length <= 1024) work.push(traceView.show(client, trace));
  else traceView.hide();
  Promise.all(work).catch((error: unknown) => {
    ui.authStatus.textContent = `The dashboard failed: ${error instanceof Error ? error.message : String(error)}`;
  });
}

function closeView(names: readonly string[]): void {
  const query = names.includes('drill') ? withoutDrill(new URLSearchParams(location.search)) : new URLSearchParams(location.search);
  for (const name of names) query.delete(name);
  history.pushState(null, '', `?${query.toString()}`);
  showViews();
}

/** The filters of the panels on screen (the last range applied), which the downloads use; null before any. */
let shown: Filters | null = null;

/**
 * Saves a report file the API serves (CSV or FOCUS) for the period and basis the panels show, through the
 * browser's download: dates typed into From/To but not applied are not used.
 */
async function download(kind: string): Promise<void> {
  const filters = shown;
  if (filters === null) {
    ui.downloadStatus.textContent = 'Apply a range first.';
    return;
  }
  const [format, groupBy] = kind.split(':') as [string, string | undefined];
  ui.downloadStatus.textContent = 'Preparing the file…';
  const file = await api().download('chargeback', { from: filters.from, to: filters.to, format, groupBy: groupBy ?? '', basis: filters.basis === 'invoice' ? 'invoice' : '' });
  if (!file.ok) {
    ui.downloadStatus.textContent = `The download failed — ${describeFailure(file)}`;
    return;
  }
  const url = URL.createObjectURL(file.value.blob);
  const anchor = h('a', { href: url, download: file.value.filename, hidden: '' });
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  ui.downloadStatus.textContent = `Saved ${file.value.filename}.`;
}

let generation = 0;

/** Loads every report for the filters and renders the panels; a newer refresh makes an older one's results moot. */
async function refresh(): Promise<void> {
  const mine = ++generation;
  const filters = readFilters();
  const problem = rangeProblem(filters.from, filters.to);
  ui.filterProblem.textContent = problem ?? '';
  if (problem !== null) {
    document.body.dataset['state'] = 'invalid';
    return;
  }
  document.body.dataset['state'] = 'loading';
  shown = filters;
  ui.downloadLabel.textContent = `Download (${filters.basis === 'invoice' ? 'invoice allocation' : 'list-price estimate'})`;
  history.replaceState(null, '', `?${withView(filtersToQuery(filters)).toString()}`);
  const reader = accessView(currentToken());
  for (const panel of Object.values(panels)) {
    panel.readBy(reader);
    panel.loading();
  }
  ui.authStatus.textContent = '';
  delete ui.authStatus.dataset['status'];

  const client = api();
  const range = { from: filters.from, to: filters.to };
  const days = daysOf(filters.from, filters.to);
  const charted = days.length <= MAX_DAILY_SERIES_DAYS ? days : null;
  const chargeback = (groupBy: string, from = range.from, to = range.to) => client.get('chargeback', { from, to, groupBy }, parseChargeback);
  /** Per-day reports of one grouping; none when its range report already failed (the panel shows that failure). */
  const daily = (groupBy: string, whole: ApiResult<ChargebackReport>): Promise<DailyReport[]> =>
    charted === null || !whole.ok ? Promise.resolve([]) : mapLimited(charted, DAILY_CONCURRENCY, async (day) => ({ day, result: await chargeback(groupBy, day, addDays(day, 1)) }));

  const [team, identity, model, deployment] = await Promise.all(['team', 'identity', 'model', 'deployment'].map((g) => chargeback(g)));
  if (mine !== generation) return;
  showAuth(team!);
  fillFilterOptions(team!, deployment!, filters);

  const operations = operationsWindow(range);
  const operationsRange = { from: operations.from, to: operations.to };
  const traffic = client.get('traffic', operationsRange, parseTraffic);
  const invoice = filters.basis === 'invoice' ? client.get('chargeback', { ...range, groupBy: 'team', basis: 'invoice' }, parseInvoice) : Promise.resolve(null);
  const work: Promise<unknown>[] = [
    invoice.then((i) => mine === generation && renderInvoice(panels.invoice, filters, team!, i, drilling)),
    Promise.all([daily('team', team!), daily('identity', identity!)]).then(([teamDays, identityDays]) => {
      if (mine !== generation) return;
      renderTeams(panels.teams, team!, charted, teamDays, filters, drilling);
      renderIdentities(panels.identities, identity!, charted, identityDays, filters, drilling);
    }),
    traffic.then((t) => {
      if (mine !== generation) return;
      renderUnattributed(panels.unattributed, identity!, t, operations, filters, drilling);
      renderBypass(panels.bypass, t, operations);
    }),
    client.get('latency', { ...operationsRange, deployment: filters.deployment, groupBy: 'region' }, parseLatency).then((r) => mine === generation && renderLatency(panels.latency, r, operations, filters)),
    client.get('weights', { ...operationsRange, deployment: filters.deployment }, parseWeights).then((r) => mine === generation && renderWeights(panels.weights, r, operations, filters)),
    showReconciliation(
      panels.reconciliation,
      (status, limit, continuation) => client.get('reconciliation', { ...operationsRange, deployment: filters.deployment, status, limit: String(limit), continuation: continuation ?? '' }, parseReconciliation),
      () => mine === generation,
      operations,
      filters,
      drilling,
    ),
  ];
  renderTopSpenders(panels.topSpenders, identity!, filters, drilling);
  renderModels(panels.models, model!, filters, drilling);
  renderCached(panels.cached, { team: team!, deployment: deployment!, model: model! }, filters);
  await Promise.all(work);
  if (mine !== generation) return;
  document.body.dataset['state'] = 'ready';
  document.body.dataset['generation'] = String(mine);
}

function showAuth(result: ApiResult<ChargebackReport>): void {
  if (result.ok) {
    ui.authStatus.textContent = '';
    return;
  }
  ui.authStatus.dataset['status'] = String(result.status);
  ui.authStatus.textContent = result.status === 401 || result.status === 403 ? `The API refused the request — ${describeFailure(result)}` : describeFailure(result);
}

function fillFilterOptions(team: ApiResult<ChargebackReport>, deployment: ApiResult<ChargebackReport>, filters: Filters): void {
  setOptions(ui.team, 'All teams', optionsFor(team.ok ? team.value.rows.map((r) => r.key) : [], filters.team), filters.team);
  setOptions(ui.deployment, 'All deployments', optionsFor(deployment.ok ? deployment.value.rows.map((r) => r.key) : [], filters.deployment), filters.deployment);
}

/** A fault of the page itself (not of the API) is shown, not swallowed. */
function refreshSafely(): void {
  refresh().catch((error: unknown) => {
    document.body.dataset['state'] = 'failed';
    ui.authStatus.textContent = `The dashboard failed: ${error instanceof Error ? error.message : String(error)}`;
  });
}

/**
 * Another caller (a token pasted or forgotten, a sign-out): their reports, and the directory as they may see it.
 * The directory does not depend on the filters, so a filter change reloads the reports only.
 */
function callerChanged(): void {
  showTokenStatus();
  mountDirectoryEditor(element('panel-directory'), api(), refreshSafely);
  refreshSafely();
}

async function start(): Promise<void> {
  signIn = await startSignIn(ui.tokenForm, (change) => {
    if (change === 'signed-in') sessionStorage.removeItem(TOKEN_KEY);
    if (change === 'signed-out') callerChanged();
    else showTokenStatus();
  });
  writeFilters(filtersFromQuery(new URLSearchParams(location.search), defaultRange(new Date())));
  ui.tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = ui.tokenInput.value.trim().replace(/^Bearer\s+/i, '');
    ui.tokenInput.value = '';
    if (token === '') return;
    sessionStorage.setItem(TOKEN_KEY, token);
    callerChanged();
  });
  ui.tokenForget.addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    callerChanged();
  });
  for (const button of ui.filterForm.querySelectorAll<HTMLButtonElement>('button[data-preset]')) {
    button.addEventListener('click', () => {
      const preset = button.dataset['preset'] as RangePreset;
      if (!RANGE_PRESETS.includes(preset)) return;
      const range = presetRange(preset, new Date());
      ui.from.value = range.from;
      ui.to.value = range.to;
      refreshSafely();
    });
  }
  for (const button of ui.downloads.querySelectorAll<HTMLButtonElement>('button[data-download]')) {
    button.addEventListener('click', () => void download(button.dataset['download'] ?? ''));
  }
  element<HTMLButtonElement>('requests-close').addEventListener('click', () => {
    closeView(['drill', 'trace']);
    focusClosed('drill');
  });
  element<HTMLButtonElement>('trace-close').addEventListener('click', () => {
    closeView(['trace']);
    focusClosed('trace');
  });
  window.addEventListener('popstate', () => showViews());
  ui.filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    refreshSafely();
  });
  for (const select of [ui.team, ui.deployment, ui.basis]) select.addEventListener('change', () => refreshSafely());
  callerChanged();
  showViews();
}

void start();
