import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { ChargebackRow } from '../../src/domain/chargeback.js';
import { roundAmount } from '../../src/domain/invoice-comparison.js';
import { runKey } from '../../src/domain/run-order.js';
import { runDemo, type DemoSummary } from '../../src/local/demo.js';
import type { HttpHost } from '../../src/local/http-host.js';
import { startLocalApi } from '../../src/local/local-api.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { storeHourResults } from '../../src/services/reconcile-windows.js';
import { demoTokens } from '../../src/local/token-issuer.js';
import { requestsResult } from '../support/check-results.js';
import { parseCsv } from '../support/csv.js';
import { ARTIFACTS, dashboardReady, useTestBrowser } from '../support/chromium.js';

const DAY = '2026-10-15';
const RANGE = { from: '2026-10-15', to: '2026-10-16' };
const MARKUP_NAME = 'Mallory <img src=x onerror=alert(1)>';
const PANELS = [
  'panel-team',
  'panel-invoice',
  'panel-identity',
  'panel-top-spenders',
  'panel-models',
  'panel-cached',
  'panel-unattributed',
  'panel-bypass',
  'panel-latency',
  'panel-weights',
  'panel-reconciliation',
] as const;
const CHARGEBACK_PANELS = ['panel-team', 'panel-invoice', 'panel-identity', 'panel-top-spenders', 'panel-models', 'panel-cached', 'panel-unattributed'] as const;

const silent = { step: () => {}, bar: () => ({ increment: () => {}, stop: () => {} }) };

interface ApiReport {
  rows: { key: string; team: string | null; deployment: string | null; requests: number; cost: string; costPicodollars: string }[];
  totals: { requests: number; cost: string; costPicodollars: string };
}

const PICO_PER_CENT = 10n ** 10n;

/** Exact picodollars rounded half to even to cents, as the page shows a cost that stands alone. */
function cents(picodollars: string): string {
  const value = BigInt(picodollars);
  const quotient = value / PICO_PER_CENT;
  const twice = (value % PICO_PER_CENT) * 2n;
  const units = twice > PICO_PER_CENT || (twice === PICO_PER_CENT && quotient % 2n === 1n) ? quotient + 1n : quotient;
  return `${units / 100n}.${(units % 100n).toString().padStart(2, '0')}`;
}

/** An exact decimal amount in picodollars. */
const picodollarsOf = (amount: string): bigint => {
  const [whole, fraction = ''] = amount.split('.');
  return BigInt(`${whole}${fraction.padEnd(12, '0')}`);
};

const centsOfText = (shown: string) => BigInt(shown.replace('.', ''));

/** Exact picodollars (non-negative) as a decimal amount with all 12 decimals. */
const amountOfPicodollars = (picodollars: string): string => {
  const digits = picodollars.padStart(13, '0');
  return `${digits.slice(0, -12)}.${digits.slice(-12)}`;
};

/** Costs shown in cents for every row of a report: each within a cent of the exact amount, adding up to the shown total. */
function expectCentsAddUp(shown: readonly string[], exact: readonly string[], shownTotal: string, exactTotal: string): void {
  expect(shownTotal).toBe(cents(exactTotal));
  expect(shown.reduce((sum, s) => sum + centsOfText(s), 0n)).toBe(centsOfText(shownTotal));
  shown.forEach((s, i) => {
    const difference = centsOfText(s) * PICO_PER_CENT - BigInt(exact[i]!);
    expect({ row: i, withinACent: difference > -PICO_PER_CENT && difference < PICO_PER_CENT }).toEqual({ row: i, withinACent: true });
  });
}

/** What a person sees in a row of a dashboard table: its key and the text of each cell, by column. */
interface ShownRow {
  key: string;
  cells: Record<string, string>;
}

const count = (shown: string | null | undefined) => Number((shown ?? '').replace(/,/g, ''));

describe('dashboard in Chromium, on the local stack', () => {
  let stack: LocalStack;
  let api: HttpHost;
  let summary: DemoSummary;
  let tokens: { finance: string; operator: string };
  let renamed: ChargebackRow;
  const { faults, newTab } = useTestBrowser(
    async () => {
      stack = await startLocalStack();
      summary = await runDemo(stack, { requests: 2000, seed: 23, day: DAY }, silent);
      renamed = summary.chargeback.identity.rows.find((r) => r.identityKind !== 'unattributed' && r.team !== '(unmapped)' && r.costCenter !== '(unmapped)')!;
      await stack.directory.upsertRows([{ identity: renamed.key, displayName: MARKUP_NAME, team: renamed.team!, costCenter: renamed.costCenter! }]);
      api = await startLocalApi(stack);
      tokens = await demoTokens(stack.issuer);
    },
    async () => {
      await api?.stop();
      await stack?.stop();
    },
  );

  const report = async (groupBy: string, token?: string): Promise<{ status: number; body: ApiReport & { reason?: string } }> => {
    const response = await fetch(`${api.url}/api/chargeback?from=${RANGE.from}&to=${RANGE.to}&groupBy=${groupBy}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: response.status, body: (await response.json()) as ApiReport & { reason?: string } };
  };

  /**
   * Opens the dashboard in a new tab (its own sessionStorage), enters the token if any, and sets the range;
   * `before` prepares the tab before the page loads (routes that stand in for an API answer).
   */
  async function openDashboard(token: string | null, before?: (page: Page) => Promise<void>): Promise<Page> {
    const page = await newTab();
    if (before) await before(page);
    await page.goto(`${api.url}/api/dashboard/`);
    await dashboardReady(page);
    if (token !== null) {
      await page.getByTestId('token-input').fill(token);
      await page.getByTestId('token-save').click();
      await dashboardReady(page);
      await expect(page.getByTestId('token-input').inputValue()).resolves.toBe('');
    }
    await page.getByTestId('filter-from').fill(RANGE.from);
    await page.getByTestId('filter-to').fill(RANGE.to);
    await page.getByTestId('filter-apply').click();
    await dashboardReady(page);
    return page;
  }

  async function shownRows(page: Page, panel: string, rowTestid: string): Promise<ShownRow[]> {
    return page.getByTestId(panel).locator(`tbody [data-testid="${rowTestid}"]`).evaluateAll((rows) =>
      rows.map((row) => ({
        key: row.getAttribute('data-key') ?? '',
        cells: Object.fromEntries([...row.querySelectorAll('td[data-testid]')].map((td) => [td.getAttribute('data-testid')!, td.textContent ?? ''])),
      })),
    );
  }

  async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
    await page.screenshot({ path: join(ARTIFACTS, name), fullPage });
  }

  it('renders every panel for finance, with team totals equal to the API team report', async () => {
    const page = await openDashboard(tokens.finance);
    for (const panel of PANELS) {
      await expect(page.getByTestId(panel).isVisible()).resolves.toBe(true);
      const state = await page.getByTestId(panel).getAttribute('data-state');
      expect({ panel, state }).toEqual({ panel, state: expect.stringMatching(/^(ready|empty|unavailable)$/) });
    }
    for (const panel of CHARGEBACK_PANELS) expect({ panel, state: await page.getByTestId(panel).getAttribute('data-state') }).toEqual({ panel, state: 'ready' });
    for (const panel of ['panel-latency', 'panel-weights', 'panel-bypass', 'panel-reconciliation']) {
      if ((await page.getByTestId(panel).getAttribute('data-state')) === 'unavailable') {
        await expect(page.getByTestId(panel).getByTestId('panel-message').textContent()).resolves.toMatch(/^not available \(\d{3}\)/);
      }
    }

    const teams = await report('team', tokens.finance);
    expect(teams.body.rows.length).toBeGreaterThan(1);
    const shown = await shownRows(page, 'panel-team', 'team-row');
    expect(shown.map((r) => ({ key: r.key, team: r.cells['key'], requests: count(r.cells['requests']) }))).toEqual(teams.body.rows.map((r) => ({ key: r.key, team: r.key, requests: r.requests })));
    const total = page.getByTestId('panel-team').getByTestId('team-total');
    const shownTotal = (await total.getByTestId('cost').textContent()) ?? '';
    expectCentsAddUp(shown.map((r) => r.cells['cost']!), teams.body.rows.map((r) => r.costPicodollars), shownTotal, teams.body.totals.costPicodollars);
    await expect(total.getByTestId('requests').textContent().then(count)).resolves.toBe(teams.body.totals.requests);

    const daily = await shownRows(page, 'panel-team', 'team-daily-row');
    expect(daily).toHaveLength(1);
    await expect(page.getByTestId('team-daily-table').locator('tbody tr').first().locator('th').first().textContent()).resolves.toBe(DAY);

    const models = await report('model', tokens.finance);
    expect((await shownRows(page, 'panel-models', 'model-row')).map((r) => r.key)).toEqual(models.body.rows.map((r) => r.key));
    const identities = await report('identity', tokens.finance);
    const identityRows = await shownRows(page, 'panel-identity', 'identity-row');
    expect(identityRows.map((r) => r.key)).toEqual(identities.body.rows.map((r) => r.key));
    const identityTotal = (await page.getByTestId('panel-identity').getByTestId('identity-total').getByTestId('cost').textContent()) ?? '';
    expectCentsAddUp(identityRows.map((r) => r.cells['cost']!), identities.body.rows.map((r) => r.costPicodollars), identityTotal, identities.body.totals.costPicodollars);
    const top = await shownRows(page, 'panel-top-spenders', 'top-spender-row');
    expect(top).toHaveLength(Math.min(10, identities.body.rows.length));
    expect(top[0]!.key).toBe(summary.chargeback.identity.rows.reduce((a, b) => (b.costPico > a.costPico ? b : a)).key);

    for (const chart of ['chart-team', 'chart-identity', 'chart-models']) {
      const box = await page.locator(`canvas[data-testid="${chart}"]`).boundingBox();
      expect({ chart, drawn: (box?.width ?? 0) > 100 && (box?.height ?? 0) > 100 }).toEqual({ chart, drawn: true });
    }
    // Operations panels, where their endpoints answer: the same figures as the JSON.
    const ops = (route: string) => fetch(`${api.url}/api/${route}`, { headers: { authorization: `Bearer ${tokens.finance}` } });
    const latency = await ops(`latency?from=${RANGE.from}&to=${RANGE.to}&groupBy=region`);
    if (latency.status === 200) {
      const body = (await latency.json()) as { rows: { region: string; requests: number; p95Ms: number | null }[] };
      const shownLatency = await shownRows(page, 'panel-latency', 'latency-row');
      expect(shownLatency.map((r) => [r.key, count(r.cells['requests']), r.cells['p95']])).toEqual(body.rows.map((r) => [r.region, r.requests, r.p95Ms === null ? '–' : String(r.p95Ms)]));
    }
    const traffic = await ops(`traffic?from=${RANGE.from}&to=${RANGE.to}`);
    if (traffic.status === 200) {
      const body = (await traffic.json()) as { bypass: { entra: number; key: number }; join: { matched: number } };
      const bypass = page.getByTestId('panel-bypass');
      await expect(bypass.getByTestId('bypass-entra').textContent().then(count)).resolves.toBe(body.bypass.entra);
      await expect(bypass.getByTestId('bypass-key').textContent().then(count)).resolves.toBe(body.bypass.key);
      await expect(bypass.getByTestId('join-matched').textContent().then(count)).resolves.toBe(body.join.matched);
    }
    await screenshot(page, 'dashboard-finance.png');
    expect(faults).toEqual([]);
    await page.close();
  });

  it('narrows the team and identity panels to the team chosen in the team filter', async () => {
    const page = await openDashboard(tokens.finance);
    const teams = await report('team', tokens.finance);
    const team = teams.body.rows.map((r) => r.key).find((k) => k !== '(unmapped)')!;
    await page.getByTestId('filter-team').selectOption(team);
    await dashboardReady(page);

    expect((await shownRows(page, 'panel-team', 'team-row')).map((r) => [r.key, r.cells['cost']])).toEqual([[team, cents(teams.body.rows.find((r) => r.key === team)!.costPicodollars)]]);
    await expect(page.getByTestId('panel-team').getByTestId('team-total').count()).resolves.toBe(0);
    const identities = await report('identity', tokens.finance);
    const ofTeam = identities.body.rows.filter((r) => r.team === team);
    const shown = await shownRows(page, 'panel-identity', 'identity-row');
    expect(shown.map((r) => [r.key, r.cells['team'], r.cells['cost']])).toEqual(ofTeam.map((r) => [r.key, team, cents(r.costPicodollars)]));
    expect(shown.length).toBeLessThan(identities.body.rows.length);
    expect((await shownRows(page, 'panel-top-spenders', 'top-spender-row')).every((r) => r.cells['team'] === team)).toBe(true);
    expect(new URL(page.url()).searchParams.get('team')).toBe(team);
    await screenshot(page, 'dashboard-team-filter.png');
    expect(faults).toEqual([]);
    await page.close();
  });

  it('narrows the model mix to the models of the deployment chosen in the deployment filter', async () => {
    const page = await openDashboard(tokens.finance);
    const models = await report('model', tokens.finance);
    const deployment = models.body.rows.find((r) => r.deployment !== null)!.deployment!;
    await page.getByTestId('filter-deployment').selectOption(deployment);
    await dashboardReady(page);
    const shown = await shownRows(page, 'panel-models', 'model-row');
    expect(shown.map((r) => [r.key, r.cells['deployment'], r.cells['cost']])).toEqual(
      models.body.rows.filter((r) => r.deployment === deployment).map((r) => [r.key, deployment, cents(r.costPicodollars)]),
    );
    expect(shown.length).toBeLessThan(models.body.rows.length);
    await expect(page.getByTestId('panel-team').getByTestId('panel-scope').textContent()).resolves.toContain(`deployment ${deployment} is not applied`);
    expect(faults).toEqual([]);
    await page.close();
  });

  it('names a model that ran on several deployments as one the deployment filter cannot be applied to, instead of dropping it silently', async () => {
    // The demo serves each model from one deployment. The API answers a model that ran on several deployments with
    // one row for all of them and `deployment: null`: here gpt-4o-2024-… also runs on a second deployment.
    const models = await report('model', tokens.finance);
    const shared = models.body.rows.find((r) => r.deployment !== null && r.key.startsWith('gpt-4o-2024'))!;
    const deployment = shared.deployment!;
    const page = await openDashboard(tokens.finance, async (p) => {
      await p.route(/\/api\/chargeback\?.*groupBy=model/, async (route) => {
        const response = await route.fetch();
        if (response.status() !== 200) return route.fulfill({ response });
        const body = (await response.json()) as ApiReport;
        body.rows = body.rows.map((r) => (r.key === shared.key ? { ...r, deployment: null } : r));
        await route.fulfill({ response, json: body });
      });
    });
    await page.getByTestId('filter-deployment').selectOption(deployment);
    await dashboardReady(page);

    // The demo's own `(unknown)` model (requests whose model no event named) has no single deployment either.
    const several = models.body.rows.filter((r) => r.deployment === null || r.key === shared.key).map((r) => r.key);
    expect(several.length).toBeGreaterThan(1);
    const said = `Deployment ${deployment} cannot be applied to ${several.join(', ')}: they ran on several deployments and the API does not split their figures by deployment, so they are left out here.`;
    const panel = page.getByTestId('panel-models');
    await expect(panel.getByTestId('panel-scope').textContent()).resolves.toContain(said);
    // Its cost is that of every deployment it ran on: it is not shown as the chosen deployment's.
    const shown = await shownRows(page, 'panel-models', 'model-row');
    expect(shown.map((r) => r.key)).toEqual(models.body.rows.filter((r) => r.key !== shared.key && r.deployment === deployment).map((r) => r.key));
    await expect(page.getByTestId('panel-cached').getByTestId('panel-scope').textContent()).resolves.toContain(said);
    expect(faults).toEqual([]);
    await page.close();
  });

  it("switches the estimate-vs-invoice panel from list prices to Azure's invoice, with each team's difference as the API reports it", async () => {
    const page = await openDashboard(tokens.finance);
    const teams = await report('team', tokens.finance);
    const listed = await shownRows(page, 'panel-invoice', 'invoice-row');
    const teamCosts = await shownRows(page, 'panel-team', 'team-row');
    expect(listed.map((r) => [r.key, r.cells['estimate']])).toEqual(teams.body.rows.map((r) => [r.key, teamCosts.find((t) => t.key === r.key)!.cells['cost']]));

    await page.getByTestId('filter-basis').selectOption('invoice');
    await dashboardReady(page);
    expect(new URL(page.url()).searchParams.get('basis')).toBe('invoice');
    const response = await fetch(`${api.url}/api/chargeback?from=${RANGE.from}&to=${RANGE.to}&groupBy=team&basis=invoice`, { headers: { authorization: `Bearer ${tokens.finance}` } });
    const invoice = (await response.json()) as { teams: { team: string; estimate: string; billedCost: string; effectiveCost: string; billedDifference: string }[]; rows: { key: string; reasons: { reason: string; billedCost: string }[] | null }[] };
    expect(invoice.teams.map((t) => t.team)).toEqual(summary.invoice.teams.map((t) => t.team));
    const money = (amount: string) => roundAmount(amount, 2);
    const shown = await shownRows(page, 'panel-invoice', 'invoice-row');
    expect(shown.map((r) => [r.key, r.cells['estimate'], r.cells['billed'], r.cells['effective'], r.cells['difference']])).toEqual(
      invoice.teams.map((t) => [t.team, money(t.estimate), money(t.billedCost), money(t.effectiveCost), money(t.billedDifference)]),
    );
    expect(shown.every((r) => r.cells['difference']!.startsWith('-'))).toBe(true);
    const reasons = invoice.rows.find((r) => r.key === 'unallocated')!.reasons!;
    expect((await shownRows(page, 'panel-invoice', 'unallocated-row')).map((r) => [r.cells['reason'], r.cells['billed']])).toEqual(reasons.map((u) => [u.reason, money(u.billedCost)]));
    await screenshot(page, 'dashboard-invoice.png');
    expect(faults).toEqual([]);
    await page.close();
  });

  it('says on every cost panel that keeps list prices that the invoice allocation is not applied there', async () => {
    const page = await openDashboard(tokens.finance);
    await page.getByTestId('filter-basis').selectOption('invoice');
    await dashboardReady(page);
    const scopes: Record<string, string> = {};
    for (const panel of ['panel-team', 'panel-identity', 'panel-top-spenders', 'panel-models', 'panel-unattributed']) {
      scopes[panel] = (await page.getByTestId(panel).getByTestId('panel-scope').textContent()) ?? '';
    }
    const listPrices = expect.stringContaining('Costs are list-price estimates: the invoice allocation is not applied here');
    expect(scopes).toEqual({ 'panel-team': listPrices, 'panel-identity': listPrices, 'panel-top-spenders': listPrices, 'panel-models': listPrices, 'panel-unattributed': listPrices });
    expect(faults).toEqual([]);
    await page.close();
  });

  it("says beside the team table's list-price total that CSV by team downloads the invoice allocation, which it does", async () => {
    const page = await openDashboard(tokens.finance);
    await page.getByTestId('filter-basis').selectOption('invoice');
    await dashboardReady(page);
    const teams = await report('team', tokens.finance);
    await expect(page.getByTestId('panel-team').getByTestId('team-total').getByTestId('cost').textContent()).resolves.toBe(cents(teams.body.totals.costPicodollars));
    await expect(page.getByTestId('panel-team').getByTestId('panel-scope').textContent()).resolves.toContain('Costs are list-price estimates: the invoice allocation is not applied here; CSV by team downloads the invoice allocation.');
    await expect(page.getByTestId('download-label').textContent()).resolves.toBe('Download (invoice allocation)');

    const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-csv-team').click()]);
    const chunks: Buffer[] = [];
    for await (const chunk of await file.createReadStream()) chunks.push(chunk as Buffer);
    const lines = Buffer.concat(chunks).toString('utf8').trim().split('\r\n').map((l) => l.split(','));
    const header = lines[0]!;
    const total = lines.find((l) => l[0] === 'TOTAL')!;
    const response = await fetch(`${api.url}/api/chargeback?from=${RANGE.from}&to=${RANGE.to}&groupBy=team&basis=invoice`, { headers: { authorization: `Bearer ${tokens.finance}` } });
    const invoice = (await response.json()) as { totals: { billedCost: string } };
    expect(total[header.indexOf('billedCost')]).toBe(invoice.totals.billedCost);
    expect(faults).toEqual([]);
    await page.close();
  });

  it("shows the API's 401 reason when no token is entered", async () => {
    const page = await openDashboard(null);
    const refused = await report('team');
    expect(refused.status).toBe(401);
    const auth = page.getByTestId('auth-status');
    await expect(auth.getAttribute('data-status')).resolves.toBe('401');
    await expect(auth.textContent()).resolves.toContain(`401 Unauthorized: ${refused.body.reason}`);
    for (const panel of ['panel-team', 'panel-identity', 'panel-models']) {
      await expect(page.getByTestId(panel).getAttribute('data-state')).resolves.toBe('error');
      await expect(page.getByTestId(panel).getByTestId('panel-message').textContent()).resolves.toBe(`401 Unauthorized: ${refused.body.reason}`);
    }
    await expect(page.getByTestId('token-status').textContent()).resolves.toMatch(/No token/);
    await expect(page.locator('[data-testid="team-row"]').count()).resolves.toBe(0);
    await screenshot(page, 'dashboard-no-token.png');
    expect(faults).toEqual([]);
    await page.close();
  });

  it("shows the operator only the operator's own chargeback rows, which are none", async () => {
    const page = await openDashboard(tokens.operator);
    const own = await report('team', tokens.operator);
    expect(own.status).toBe(200);
    expect(own.body.rows).toEqual([]);
    await expect(page.getByTestId('token-status').textContent()).resolves.toContain('Demo Operator');
    for (const panel of ['panel-team', 'panel-identity', 'panel-top-spenders', 'panel-models']) {
      await expect(page.getByTestId(panel).getAttribute('data-state')).resolves.toBe('empty');
      await expect(page.getByTestId(panel).getByTestId('panel-message').textContent()).resolves.toBe('No chargeback rows are visible to you in this range.');
    }
    await expect(page.locator('[data-testid="team-row"], [data-testid="identity-row"], [data-testid="model-row"]').count()).resolves.toBe(0);
    await expect(page.getByTestId('auth-status').textContent()).resolves.toBe('');
    await screenshot(page, 'dashboard-operator.png');
    expect(faults).toEqual([]);
    await page.close();
  });

  it('shows a display name holding markup as text and creates no element from it', async () => {
    const page = await openDashboard(tokens.finance);
    const row = page.getByTestId('panel-identity').locator(`tbody [data-testid="identity-row"][data-key="${renamed.key}"]`);
    await expect(row.getByTestId('name').textContent()).resolves.toBe(MARKUP_NAME);
    await expect(page.locator('img').count()).resolves.toBe(0);
    await expect(page.locator('body').innerText()).resolves.toContain('<img src=x onerror=alert(1)>');
    await screenshot(page, 'dashboard-markup-name.png');
    expect(faults).toEqual([]);
    await page.close();
  });

  /** Follows every page of the open request list and reads what it loaded. */
  async function loadAllRequests(page: Page): Promise<{ requests: number; picodollars: string; verdict: string }> {
    const panel = page.getByTestId('panel-requests');
    await page.locator('[data-testid="panel-requests"][data-state="ready"]').waitFor({ timeout: 30_000 });
    if ((await panel.getByTestId('requests-all').count()) > 0) {
      await panel.getByTestId('requests-all').click();
      await panel.locator('[data-testid="requests-summary"][data-complete="true"]').waitFor({ timeout: 60_000 });
    }
    const summaryBox = panel.getByTestId('requests-summary');
    return {
      requests: Number(await summaryBox.getAttribute('data-loaded-requests')),
      picodollars: (await summaryBox.getAttribute('data-loaded-picodollars')) ?? '',
      verdict: (await panel.getByTestId('requests-verdict').textContent()) ?? '',
    };
  }

  it('shows the same cost for a figure and for its requests when they add up exactly, and says how both are rounded', async () => {
    const models = await report('model', tokens.finance);
    // A row whose display cost (rounded by largest remainder so that the report adds up) is not its exact amount
    // rounded half to even.
    const row = models.body.rows.find((r) => roundAmount(amountOfPicodollars(r.costPicodollars), 6) !== r.cost);
    expect(row, 'the demo day has a model row whose display cost differs from its exact amount rounded').toBeDefined();
    const page = await openDashboard(tokens.finance);
    await page.getByTestId('panel-models').locator(`tbody [data-testid="model-row"][data-key="${row!.key}"] [data-testid="cost"] a`).click();
    const loaded = await loadAllRequests(page);
    expect(loaded.verdict).toBe('These requests add up to the figure exactly.');
    const panel = page.getByTestId('panel-requests');
    const exact = roundAmount(amountOfPicodollars(row!.costPicodollars), 6);
    await expect(panel.getByTestId('requests-loaded-cost').textContent()).resolves.toBe(exact);
    await expect(panel.getByTestId('cell-cost').textContent()).resolves.toBe(exact);
    await expect(panel.getByTestId('requests-rounding').textContent()).resolves.toBe('Both costs are exact amounts in picodollars rounded half to even to 6 decimals; the verdict compares the picodollars themselves.');
    expect(faults).toEqual([]);
    await page.close();
  });

  it('leads from the three most expensive identities to exactly their requests and cost, page after page', async () => {
    const page = await openDashboard(tokens.finance);
    const identities = await report('identity', tokens.finance);
    const top3 = [...identities.body.rows].sort((a, b) => (BigInt(b.costPicodollars) > BigInt(a.costPicodollars) ? 1 : -1)).slice(0, 3);
    for (const row of top3) {
      await page.getByTestId('panel-identity').locator(`tbody [data-testid="identity-row"][data-key="${row.key}"] [data-testid="cost"] a`).click();
      const loaded = await loadAllRequests(page);
      expect({ key: row.key, requests: loaded.requests, picodollars: loaded.picodollars }).toEqual({ key: row.key, requests: row.requests, picodollars: row.costPicodollars });
      expect(loaded.verdict).toBe('These requests add up to the figure exactly.');
      const query = new URL(page.url()).searchParams;
      expect([query.get('drill'), query.get('key')]).toEqual(['identity', row.key]);
    }
    await screenshot(page, 'dashboard-requests.png', false);
    expect(faults).toEqual([]);
    await page.close();
  });

  it("drills from a bar of the team chart to that team's requests of the day, and from a request to its trace", async () => {
    const page = await openDashboard(tokens.finance);
    const canvas = page.locator('canvas[data-testid="chart-team"]');
    const box = (await canvas.boundingBox())!;
    // One day is one stacked bar in the middle of the plot: climb it until a click lands on a team's segment.
    for (let step = 1; step <= 20 && (await page.getByTestId('panel-requests').isHidden()); step++) {
      await canvas.click({ position: { x: box.width / 2, y: box.height * (1 - step / 24) } });
    }
    const query = new URL(page.url()).searchParams;
    expect([query.get('drill'), query.get('dfrom'), query.get('dto')]).toEqual(['team', RANGE.from, RANGE.to]);
    const team = query.get('key')!;
    const teams = await report('team', tokens.finance);
    const cell = teams.body.rows.find((r) => r.key === team)!;
    const loaded = await loadAllRequests(page);
    expect({ requests: loaded.requests, picodollars: loaded.picodollars }).toEqual({ requests: cell.requests, picodollars: cell.costPicodollars });
    const rows = await shownRows(page, 'panel-requests', 'request-row');
    expect(rows.every((r) => r.cells['team'] === team)).toBe(true);

    const first = page.getByTestId('panel-requests').locator('tbody [data-testid="request-row"]').first();
    const id = (await first.getAttribute('data-id'))!;
    const rowCost = (await first.getByTestId('cost').textContent())!;
    await first.getByTestId('trace-link').click();
    await page.locator('[data-testid="panel-trace"][data-state="ready"]').waitFor({ timeout: 30_000 });
    const trace = page.getByTestId('panel-trace');
    for (const part of ['trace-request', 'trace-diagnostics', 'trace-identity', 'trace-price']) await expect(trace.getByTestId(part).isVisible()).resolves.toBe(true);
    await expect(trace.getByTestId('trace-cost').textContent()).resolves.toBe(`${rowCost} USD`);
    const traced = (await (await fetch(`${api.url}/api/requests/${id}`, { headers: { authorization: `Bearer ${tokens.finance}` } })).json()) as { priceVersion: string | null };
    await expect(trace.getByTestId('trace-price-version').textContent()).resolves.toBe(traced.priceVersion ?? '–');
    expect(new URL(page.url()).searchParams.get('trace')).toBe(id);
    await screenshot(page, 'dashboard-trace.png', false);
    await page.getByTestId('trace-close').click();
    await expect(trace.isHidden()).resolves.toBe(true);
    expect(faults).toEqual([]);
    await page.close();
  });

  it("downloads the CSV and FOCUS reports of the range, whose totals equal the API's", async () => {
    const page = await openDashboard(tokens.finance);
    const teams = await report('team', tokens.finance);
    const saved = async (testid: string): Promise<{ name: string; text: string }> => {
      const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testid).click()]);
      const stream = await file.createReadStream();
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return { name: file.suggestedFilename(), text: Buffer.concat(chunks).toString('utf8') };
    };
    const csv = await saved('download-csv-team');
    expect(csv.name).toBe(`chargeback-team-${RANGE.from}.csv`);
    const lines = csv.text.trim().split('\r\n').map((line) => line.split(','));
    const header = lines[0]!;
    const totalLine = lines.find((l) => l[0] === 'TOTAL')!;
    expect([totalLine[header.indexOf('requests')], totalLine[header.indexOf('cost')]]).toEqual([String(teams.body.totals.requests), teams.body.totals.cost]);

    const focus = await saved('download-focus');
    const records = parseCsv(focus.text);
    const billed = records[0]!.indexOf('BilledCost');
    expect(billed).toBeGreaterThanOrEqual(0);
    const sum = records.slice(1).reduce((total, r) => total + picodollarsOf(r[billed]!), 0n);
    // FOCUS costs are exact to the picodollar: together they are the report's exact total.
    expect(sum).toBe(BigInt(teams.body.totals.costPicodollars));
    await expect(page.getByTestId('download-status').textContent()).resolves.toMatch(/^Saved /);
    expect(faults).toEqual([]);
    await page.close();
  });

  it('downloads the CSV of the period the panels show, not of a date typed but not applied', async () => {
    const page = await openDashboard(tokens.finance);
    await page.getByTestId('filter-from').fill('2026-10-01');
    const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-csv-team').click()]);
    const shownPeriod = new URL(page.url()).searchParams;
    expect([shownPeriod.get('from'), shownPeriod.get('to')]).toEqual([RANGE.from, RANGE.to]);
    expect(file.suggestedFilename()).toBe(`chargeback-team-${RANGE.from}.csv`);
    expect(faults).toEqual([]);
    await page.close();
  });

  it('sorts a table by a column and sets the range from a date preset', async () => {
    const page = await openDashboard(tokens.finance);
    const sortButton = page.getByTestId('panel-identity').getByTestId('sort-requests');
    await sortButton.click();
    const ascending = (await shownRows(page, 'panel-identity', 'identity-row')).map((r) => count(r.cells['requests']));
    expect(ascending).toEqual([...ascending].sort((a, b) => a - b));
    await sortButton.click();
    const descending = (await shownRows(page, 'panel-identity', 'identity-row')).map((r) => count(r.cells['requests']));
    expect(descending).toEqual([...ascending].sort((a, b) => b - a));

    await page.getByTestId('preset-last-30-days').click();
    await dashboardReady(page);
    const today = new Date().toISOString().slice(0, 10);
    const from = new Date(Date.parse(`${today}T00:00:00Z`) - 29 * 86_400_000).toISOString().slice(0, 10);
    const to = new Date(Date.parse(`${today}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    await expect(page.getByTestId('filter-from').inputValue()).resolves.toBe(from);
    await expect(page.getByTestId('filter-to').inputValue()).resolves.toBe(to);
    expect([new URL(page.url()).searchParams.get('from'), new URL(page.url()).searchParams.get('to')]).toEqual([from, to]);
    await page.getByTestId('preset-last-month').click();
    await dashboardReady(page);
    await expect(page.getByTestId('filter-from').inputValue()).resolves.toMatch(/^\d{4}-\d{2}-01$/);
    expect(faults).toEqual([]);
    await page.close();
  });

  it('lists the ids a reconciliation result saw on one side only, the ledger side leading to their trace', async () => {
    const requests = (await (await fetch(`${api.url}/api/requests?from=${RANGE.from}&to=${RANGE.to}&pageSize=2`, { headers: { authorization: `Bearer ${tokens.finance}` } })).json()) as { value: { id: string; gatewayRequestId: string; deployment: string }[] };
    const [a, b] = requests.value;
    await storeHourResults(stack.stores.reconciliation, `${DAY}T05`, runKey(new Date(), 'dashboard-test'), [
      { check: 'requests', window: `${DAY}T05`, deployment: a!.deployment, expected: 10, actual: 12, driftPct: 20, status: 'fail', gatewayOnly: [a!.gatewayRequestId, b!.gatewayRequestId], gatewayOnlyCount: 2, diagnosticsOnly: ['0f8fad5b-d9cb-469f-a165-70867728950e'], diagnosticsOnlyCount: 3 },
    ]);
    const page = await openDashboard(tokens.finance);
    const attention = page.getByTestId('reconciliation-attention').locator('[data-testid="reconciliation-row"]').filter({ hasText: `${DAY}T05` }).first();
    await attention.getByTestId('one-sided').locator('summary').click();
    await expect(attention.getByTestId('one-sided').locator('summary').textContent()).resolves.toBe('ledger only 2, Azure only 3');
    await expect(attention.getByTestId('azure-only-ids').textContent()).resolves.toContain('0f8fad5b-d9cb-469f-a165-70867728950e');
    await expect(attention.getByTestId('azure-only-ids').textContent()).resolves.toContain('and 2 more');
    await attention.getByTestId('ledger-only-ids').getByTestId('trace-link').first().click();
    await page.locator('[data-testid="panel-trace"][data-state="ready"]').waitFor({ timeout: 30_000 });
    await expect(page.getByTestId('panel-trace').getByTestId('panel-scope').textContent()).resolves.toBe(`Request ${a!.gatewayRequestId}`);
    await screenshot(page, 'dashboard-reconciliation-ids.png');
    expect(faults).toEqual([]);
    await page.close();
  });

  it('counts the results per check and status, lists the ones not ok failures first, and shows more of them on request rather than every result', async () => {
    const hour = `${DAY}T07`;
    const warned = Array.from({ length: 60 }, (_, i) => ({ ...requestsResult(hour, `load-more-${String(i).padStart(2, '0')}`, 10), status: 'warn' as const }));
    const before = await stack.stores.reconciliation.listResults({ from: new Date(`${hour}:00:00Z`), to: new Date(`${DAY}T08:00:00Z`) });
    expect(await storeHourResults(stack.stores.reconciliation, hour, runKey(new Date(), 'dashboard-load-more'), [...before, ...warned])).toBe(true);
    const reconciliation = async (query: string) =>
      (await (await fetch(`${api.url}/api/reconciliation?from=${RANGE.from}&to=${RANGE.to}&${query}`, { headers: { authorization: `Bearer ${tokens.finance}` } })).json()) as {
        summary: Record<string, Record<string, number>>;
        total: number;
        checks: { check: string; window: string; deployment: string; status: string }[];
      };
    const { summary, total, checks } = await reconciliation('status=fail,unavailable,warn');
    expect(total).toBeGreaterThan(60);
    const order = ['fail', 'unavailable', 'warn'];
    const expected = [...checks].sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status)).map((c) => `${c.check} ${c.window} ${c.deployment} ${c.status}`);

    const page = await openDashboard(tokens.finance);
    const panel = page.getByTestId('panel-reconciliation');
    const shownRows = () =>
      panel.getByTestId('reconciliation-attention').locator('[data-testid="reconciliation-row"]').evaluateAll((rows) =>
        rows.map((row) => ['check', 'window', 'deployment'].map((cell) => row.querySelector(`[data-testid="${cell}"]`)?.textContent ?? '').concat(row.getAttribute('data-status') ?? '').join(' ')),
      );
    await expect(shownRows()).resolves.toEqual(expected.slice(0, 50));
    await expect(panel.locator('#reconciliation-attention-title').textContent()).resolves.toBe(`Not ok: the first 50 of ${total}`);
    await expect(panel.getByTestId('reconciliation-table').count()).resolves.toBe(0);
    const ok = Object.values(summary).reduce((sum, counts) => sum + counts['ok']!, 0);
    await expect(panel.getByTestId('reconciliation-ok-note').textContent()).resolves.toBe(`The ${ok.toLocaleString('en-US')} ok results are counted above, not listed.`);
    const counted = await panel.getByTestId('reconciliation-summary-row').evaluateAll((rows) =>
      rows.map((row) => [row.getAttribute('data-key'), ['ok', 'warn', 'fail', 'unavailable'].map((status) => row.querySelector(`[data-testid="count-${status}"]`)?.textContent ?? '0').join('/')]),
    );
    expect(Object.fromEntries(counted)).toEqual(Object.fromEntries(Object.entries(summary).map(([check, n]) => [check, ['ok', 'warn', 'fail', 'unavailable'].map((status) => n[status]!.toLocaleString('en-US')).join('/')])));

    await panel.getByTestId('reconciliation-more').click();
    await expect.poll(() => shownRows().then((rows) => rows.length)).toBe(Math.min(100, total));
    while ((await panel.getByTestId('reconciliation-more').count()) > 0) {
      const shown = (await shownRows()).length;
      await panel.getByTestId('reconciliation-more').click();
      await expect.poll(() => shownRows().then((rows) => rows.length)).toBeGreaterThan(shown);
    }
    await expect(shownRows()).resolves.toEqual(expected);
    await expect(panel.locator('#reconciliation-attention-title').textContent()).resolves.toBe('Not ok');
    expect(faults).toEqual([]);
    await page.close();
  });

  describe('accessibility and consistent figures', () => {
    /** Sets the range in the filter form and applies it, as a person would. */
    async function applyRange(page: Page, from: string, to: string): Promise<void> {
      await page.getByTestId('filter-from').fill(from);
      await page.getByTestId('filter-to').fill(to);
      await page.getByTestId('filter-apply').click();
      await dashboardReady(page);
    }

    /** How far the page scrolls sideways, and the elements outside the scrolling table boxes that stick out. */
    const overflow = (page: Page) =>
      page.locator('body').evaluate((body) => {
        const clientWidth = body.ownerDocument.documentElement.clientWidth;
        const culprits = [...body.ownerDocument.querySelectorAll('body *')]
          .filter((e) => !e.parentElement?.closest('.content') && e.getClientRects().length > 0)
          // Its box sticks out of the viewport, or its text sticks out of its box (a word that cannot wrap).
          .filter((e) => e.getBoundingClientRect().right > clientWidth + 0.5 || (body.ownerDocument.defaultView.getComputedStyle(e).overflowX === 'visible' && e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1 && e.children.length === 0))
          .map((e) => `${e.tagName.toLowerCase()}${e.dataset['testid'] ? `[${e.dataset['testid']}]` : ''}.${e.className}`);
        return { culprits, scrollsSideways: body.ownerDocument.documentElement.scrollWidth > clientWidth };
      });

    /** Where keyboard focus is: the focused element's test id (or tag) and the panel it is in. */
    const focusOf = (page: Page) =>
      page.locator('body').evaluate((body) => {
        const e = body.ownerDocument.activeElement;
        return { element: e === null || e === body ? 'body' : (e.dataset['testid'] ?? e.tagName.toLowerCase()), panel: e?.closest('section')?.getAttribute('data-testid') ?? null };
      });

    // Azure OpenAI deployment names are up to 64 characters without spaces; Entra display names can hold none either.
    const LONG_DEPLOYMENT = 'contoso_prod_gpt_4o_2024_08_06_globalstandard_swedencentral_pool1';
    const LONG_NAME = 'svc_chargeback_ingestion_pipeline_production@contosofinance.onmicrosoft.com';

    // WCAG 1.4.10 Reflow: at 320 CSS px the page does not scroll sideways (tables scroll in their own box).
    it('fits a 320 px wide screen when a deployment has a 64-character name (the Deployment filter shrinks to fit)', async () => {
      const page = await openDashboard(tokens.finance, async (p) => {
        await p.setViewportSize({ width: 320, height: 900 });
        await p.route(/\/api\/chargeback\?.*groupBy=deployment/, async (route) => {
          const response = await route.fetch();
          if (response.status() !== 200) return route.fulfill({ response });
          const body = (await response.json()) as { rows: { key: string }[] };
          body.rows = [...body.rows, { ...body.rows[0]!, key: LONG_DEPLOYMENT }];
          await route.fulfill({ response, json: body });
        });
      });
      await expect(page.getByTestId('filter-deployment').locator('option', { hasText: LONG_DEPLOYMENT }).count()).resolves.toBe(1);
      expect(await overflow(page)).toEqual({ culprits: [], scrollsSideways: false });
      await page.close();
    });

    // WCAG 1.4.10 Reflow.
    it('fits a 320 px wide screen when the request list names an identity whose display name has no space', async () => {
      const identities = await report('identity', tokens.finance);
      const named = identities.body.rows.find((r) => r.key !== renamed.key && r.key !== 'unattributed')!;
      const page = await openDashboard(tokens.finance, async (p) => {
        await p.setViewportSize({ width: 320, height: 900 });
        await p.route(/\/api\/chargeback\?.*groupBy=identity/, async (route) => {
          const response = await route.fetch();
          if (response.status() !== 200) return route.fulfill({ response });
          const body = (await response.json()) as { rows: { key: string; displayName: string | null }[] };
          body.rows = body.rows.map((r) => (r.key === named.key ? { ...r, displayName: LONG_NAME } : r));
          await route.fulfill({ response, json: body });
        });
      });
      await page.getByTestId('panel-identity').locator(`tbody [data-testid="identity-row"][data-key="${named.key}"] [data-testid="requests"] a`).click();
      await page.locator('[data-testid="panel-requests"][data-state="ready"]').waitFor({ timeout: 30_000 });
      await expect(page.getByTestId('panel-requests').getByTestId('panel-scope').textContent()).resolves.toContain(LONG_NAME);
      expect(await overflow(page)).toEqual({ culprits: [], scrollsSideways: false });
      await page.close();
    });

    // WCAG 2.4.3 Focus Order: what a keyboard user opens takes focus, and closing it gives focus back.
    it('moves focus into the request list opened from a figure, and back to that figure when it is closed', async () => {
      const page = await openDashboard(tokens.finance);
      const link = page.getByTestId('panel-team').locator('tbody [data-testid="team-row"] [data-testid="cost"] a').first();
      const team = await link.evaluate((a) => a.closest('tr')!.getAttribute('data-key'));
      await link.focus();
      await page.keyboard.press('Enter');
      expect(await focusOf(page)).toEqual({ element: 'h2', panel: 'panel-requests' });
      await page.locator('[data-testid="panel-requests"][data-state="ready"]').waitFor({ timeout: 30_000 });
      await page.keyboard.press('Tab');
      expect((await focusOf(page)).panel).toBe('panel-requests');

      await page.getByTestId('requests-close').focus();
      await page.keyboard.press('Enter');
      await expect(page.getByTestId('panel-requests').isHidden()).resolves.toBe(true);
      const back = await page.locator('body').evaluate((body) => ({ testid: body.ownerDocument.activeElement.dataset['testid'], column: body.ownerDocument.activeElement?.closest('td')?.dataset['testid'], row: body.ownerDocument.activeElement?.closest('tr')?.dataset['key'] }));
      expect(back).toEqual({ testid: 'drill', column: 'cost', row: team });
      await page.close();
    });

    // WCAG 2.4.3 Focus Order.
    it('moves focus into the trace opened from the request list, and back to the request list when it is closed', async () => {
      const page = await openDashboard(tokens.finance);
      await page.getByTestId('panel-team').locator('tbody [data-testid="team-row"] [data-testid="requests"] a').first().click();
      await page.locator('[data-testid="panel-requests"][data-state="ready"]').waitFor({ timeout: 30_000 });
      await page.getByTestId('panel-requests').getByTestId('trace-link').first().focus();
      await page.keyboard.press('Enter');
      expect(await focusOf(page)).toEqual({ element: 'h2', panel: 'panel-trace' });
      await page.locator('[data-testid="panel-trace"][data-state="ready"]').waitFor({ timeout: 30_000 });
      await page.getByTestId('trace-close').focus();
      await page.keyboard.press('Enter');
      await expect(page.getByTestId('panel-trace').isHidden()).resolves.toBe(true);
      expect((await focusOf(page)).panel).toBe('panel-requests');
      await page.close();
    });

    // WCAG 2.1.1 Keyboard and 1.1.1 Non-text Content: what the identity and latency charts show, each day's figure
    // leading to its requests, is in tables too.
    it("reaches a charted identity's requests of one day from the keyboard, and gives the latency chart's values as text", async () => {
      const page = await openDashboard(tokens.finance);
      await applyRange(page, RANGE.from, '2026-10-17');
      const panel = page.getByTestId('panel-identity');
      await panel.locator('details.daily summary').focus();
      await page.keyboard.press('Enter');
      const daily = page.getByTestId('identity-daily-table');
      await expect(daily.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.querySelector('th')?.textContent))).resolves.toEqual([DAY, '2026-10-16']);
      const identities = await shownRows(page, 'panel-identity', 'identity-row');
      const headers = (await daily.locator('thead th').allTextContents()).slice(1);
      expect(headers.length).toBe(Math.min(8, identities.length));

      const perDay = await fetch(`${api.url}/api/chargeback?from=${DAY}&to=2026-10-16&groupBy=identity`, { headers: { authorization: `Bearer ${tokens.finance}` } });
      const dayRows = ((await perDay.json()) as ApiReport).rows;
      const link = daily.locator('tbody tr').first().locator('td a').first();
      const column = await link.evaluate((a) => [...a.closest('tr')!.children].indexOf(a.closest('td')!));
      const identity = identities.find((r) => r.cells['name'] === headers[column - 1])!;
      await link.focus();
      await page.keyboard.press('Enter');
      expect(await focusOf(page)).toEqual({ element: 'h2', panel: 'panel-requests' });
      const loaded = await loadAllRequests(page);
      await expect(page.getByTestId('panel-requests').getByTestId('panel-scope').textContent()).resolves.toContain(` on ${DAY}`);
      const dayRow = dayRows.find((r) => r.key === identity.key)!;
      expect({ requests: loaded.requests, picodollars: loaded.picodollars }).toEqual({ requests: dayRow.requests, picodollars: dayRow.costPicodollars });

      const latency = await fetch(`${api.url}/api/latency?from=${RANGE.from}&to=2026-10-17&groupBy=region`, { headers: { authorization: `Bearer ${tokens.finance}` } });
      expect(latency.status).toBe(200);
      const { series } = (await latency.json()) as { series: { windowStart: string; region: string; p95Ms: number | null; p50Ms: number | null }[] };
      expect(series.length).toBeGreaterThan(0);
      const shown = await page.getByTestId('latency-series-table').evaluate((table) => {
        const headers = [...table.tHead!.rows[0]!.cells].map((c) => c.textContent ?? '');
        return [...table.tBodies[0]!.rows].flatMap((row) => [...row.cells].slice(1).map((cell, i) => `${row.cells[0]!.textContent} ${headers[i + 1]} = ${cell.textContent}`));
      });
      const expected = [...series]
        .sort((a, b) => a.windowStart.localeCompare(b.windowStart) || a.region.localeCompare(b.region))
        .flatMap((p) => [`${p.windowStart.slice(0, 16).replace('T', ' ')} ${p.region} p95 (ms) = ${p.p95Ms ?? '–'}`, `${p.windowStart.slice(0, 16).replace('T', ' ')} ${p.region} p50 (ms) = ${p.p50Ms ?? '–'}`]);
      expect(shown.filter((line) => !line.endsWith('= –'))).toEqual(expected.filter((line) => !line.endsWith('= –')));
      await page.close();
    });

    // WCAG 1.3.1 Info and Relationships (H39, APG table pattern): every table has an accessible name.
    it('names every table on the page after its caption or a visible heading', async () => {
      const page = await openDashboard(tokens.finance);
      const unnamed = await page.locator('body').evaluate((body) =>
        [...body.ownerDocument.querySelectorAll('table')]
          .filter((t) => {
            const caption = t.caption?.textContent?.trim() ?? '';
            const by = (t.getAttribute('aria-labelledby') ?? '').split(/\s+/).filter(Boolean).map((id: string) => body.ownerDocument.getElementById(id)?.textContent?.trim() ?? '').join('');
            return caption === '' && by === '';
          })
          .map((t) => `${t.closest('section')?.getAttribute('data-testid')}/${t.getAttribute('data-testid')}`),
      );
      expect(unnamed).toEqual([]);
      await expect(page.getByTestId('team-table').getAttribute('aria-labelledby').then((id) => page.locator(`[id="${id}"]`).textContent())).resolves.toBe('Cost by team over time');
      await page.close();
    });

    // WCAG 1.3.1 Info and Relationships (H63): two-way tables mark their row headings, and a Total row its label.
    it('marks the days of "Daily cost per team", the checks of "Results per check and status" and the Total row as row headers', async () => {
      const page = await openDashboard(tokens.finance);
      await expect(page.getByTestId('panel-reconciliation').getAttribute('data-state')).resolves.toBe('ready');
      const firstCells = await page.locator('body').evaluate((body) =>
        [
          ['team-daily-table', 'tBodies'],
          ['reconciliation-summary', 'tBodies'],
          ['team-table', 'tFoot'],
        ].map(([testid, part]) => {
          const table = body.ownerDocument.querySelector(`table[data-testid="${testid}"]`);
          const section = part === 'tFoot' ? table?.tFoot : table?.tBodies[0];
          const rows = [...(section?.rows ?? [])];
          return { testid, rows: rows.length, rowHeaders: rows.filter((r) => r.cells[0]?.tagName === 'TH' && r.cells[0].getAttribute('scope') === 'row').length };
        }),
      );
      for (const t of firstCells) expect({ testid: t.testid, rows: t.rows > 0, allRowHeaders: t.rowHeaders === t.rows }).toEqual({ testid: t.testid, rows: true, allRowHeaders: true });
      await page.close();
    });

    // WCAG 1.4.11 Non-text Contrast: each identity's line (told apart by colour) has 3:1 against the white plot.
    it("draws the identity chart's lines in colours with at least 3:1 contrast against white", async () => {
      const page = await openDashboard(tokens.finance);
      await applyRange(page, RANGE.from, '2026-10-17');
      const canvas = page.locator('canvas[data-testid="chart-identity"]');
      await expect(canvas.count()).resolves.toBe(1);
      await page.waitForTimeout(300);
      const colours = await canvas.evaluate((c) => {
        const el = c;
        const data = el.getContext('2d')!.getImageData(0, 0, el.width, el.height).data;
        const counts = new Map<string, number>();
        for (let i = 0; i < data.length; i += 4) {
          const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
          if (a !== 255 || Math.max(r, g, b) - Math.min(r, g, b) < 40) continue; // opaque and not grey (axes, text)
          const key = `${r},${g},${b}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        // A series' own colour fills its legend box and its line; anti-aliased blends are scattered.
        return [...counts].filter(([, n]) => n >= 300).map(([k]) => k.split(',').map(Number));
      });
      const luminance = (rgb: number[]) => {
        const [r, g, b] = rgb.map((v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4));
        return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
      };
      const contrastOnWhite = (rgb: number[]) => 1.05 / (luminance(rgb) + 0.05);
      expect(colours.length).toBeGreaterThan(1);
      expect(colours.filter((rgb) => contrastOnWhite(rgb) < 3).map((rgb) => `rgb(${rgb.join(',')}) ${contrastOnWhite(rgb).toFixed(2)}:1`)).toEqual([]);
      await page.close();
    });

    // WCAG 1.4.13 Content on Hover or Focus: a tooltip is dismissible without moving the pointer.
    it('hides the team chart tooltip on Escape without the pointer moving', async () => {
      const page = await openDashboard(tokens.finance);
      const canvas = page.locator('canvas[data-testid="chart-team"]');
      const box = (await canvas.boundingBox())!;
      // Chart.js draws its tooltip as a dark box (black at 80 % over the plot); no series colour is that dark.
      const darkPixels = () =>
        canvas.evaluate((c) => {
          const el = c;
          const data = el.getContext('2d')!.getImageData(0, 0, el.width, el.height).data;
          let dark = 0;
          for (let i = 0; i < data.length; i += 4) if (data[i + 3] === 255 && Math.max(data[i]!, data[i + 1]!, data[i + 2]!) <= 70) dark++;
          return dark;
        });
      await page.mouse.move(box.x + 2, box.y + 2);
      const plain = await darkPixels();
      // Climb the one stacked bar in the middle until the pointer is over a segment and a tooltip is drawn.
      let hovered = plain;
      for (let step = 2; step <= 20 && hovered < plain + 1000; step++) {
        await page.mouse.move(box.x + box.width / 2, box.y + box.height * (1 - step / 24));
        hovered = await darkPixels();
      }
      expect({ tooltipDrawn: hovered >= plain + 1000 }).toEqual({ tooltipDrawn: true });
      await page.keyboard.press('Escape');
      await page.waitForTimeout(200);
      const after = await darkPixels();
      expect({ tooltipAfterEscape: after >= plain + 1000, darkPixels: { plain, hovered, after } }).toEqual({ tooltipAfterEscape: false, darkPixels: { plain, hovered, after } });
      await page.close();
    });

    // WCAG 3.2.4 Consistent Identification (nearest): costs in cents everywhere but the request list and the trace, as the footer says.
    it('shows every cost outside the request list and the trace in cents, as the footer says', async () => {
      const page = await openDashboard(tokens.finance);
      await expect(page.locator('footer').textContent()).resolves.toContain('Costs are shown in cents');
      const costs = await page.locator('body').evaluate((body) => {
        const texts = (selector: string) => [...body.ownerDocument.querySelectorAll(selector)].map((e) => (e.textContent ?? '').trim());
        return {
          'team table': texts('[data-testid="team-table"] tbody [data-testid="cost"]'),
          'daily cost per team': texts('[data-testid="team-daily-table"] tbody td.num'),
          'list-price estimate panel': texts('[data-testid="invoice-table"] tbody [data-testid="estimate"]'),
        };
      });
      const cents = /^-?\d{1,3}(,\d{3})*\.\d{2}$|^-?\d+\.\d{2}$/;
      for (const [where, shown] of Object.entries(costs)) expect({ where, shown: shown.length > 0, notCents: shown.filter((t) => !cents.test(t)) }).toEqual({ where, shown: true, notCents: [] });
      // One figure, one amount: the list-price estimate of a team is the team table's cost of it.
      const teamCosts = (await shownRows(page, 'panel-team', 'team-row')).map((r) => [r.key, r.cells['cost']]);
      expect((await shownRows(page, 'panel-invoice', 'invoice-row')).map((r) => [r.key, r.cells['estimate']])).toEqual(teamCosts);
      await page.close();
    });

    // WCAG 3.2.4 Consistent Identification (nearest): one number of decimals for every percentage.
    it('shows every percentage with the same number of decimals across the panels', async () => {
      const page = await openDashboard(tokens.finance);
      const decimals = await page.locator('body').evaluate((body) => {
        const out: Record<string, number[]> = {};
        for (const td of body.ownerDocument.querySelectorAll('td')) {
          const m = /^-?\d+(?:\.(\d+))? %$/.exec((td.textContent ?? '').trim());
          if (!m) continue;
          const key = `${td.closest('section')?.getAttribute('data-testid')}/${td.getAttribute('data-testid')}`;
          out[key] = [...new Set([...(out[key] ?? []), m[1]?.length ?? 0])];
        }
        return out;
      });
      expect(Object.keys(decimals)).toEqual(expect.arrayContaining(['panel-cached/cached-share', 'panel-latency/error-rate']));
      expect(new Set(Object.values(decimals).flat()).size, JSON.stringify(decimals)).toBe(1);
      await page.close();
    });

    // Usability (no WCAG criterion): an empty range reads as "no data", not as a permission problem, to a caller who may see every row.
    it('tells finance that a range without traffic has no requests, not that no rows are visible to them', async () => {
      const page = await openDashboard(tokens.finance);
      await applyRange(page, '2026-09-01', '2026-09-02');
      for (const panel of CHARGEBACK_PANELS.filter((p) => p !== 'panel-unattributed')) {
        await expect(page.getByTestId(panel).getAttribute('data-state')).resolves.toBe('empty');
        await expect(page.getByTestId(panel).getByTestId('panel-message').textContent()).resolves.toBe('No requests in this range.');
      }
      await page.close();
    });
  });
});
