import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareAmounts, roundAmount } from '../../src/domain/invoice-comparison.js';
import { sumAmounts } from '../../src/domain/invoice-allocation.js';
import { formatPicodollars } from '../../src/domain/money.js';
import { runDemo, type DemoSummary } from '../../src/local/demo.js';
import type { HttpHost } from '../../src/local/http-host.js';
import { startLocalApi } from '../../src/local/local-api.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { demoTokens } from '../../src/local/token-issuer.js';
import { markRangeDirty, rollupChargeback } from '../../src/services/rollup-chargeback.js';
import { checkFocusExport, sameAmount, sumExact } from '../support/focus-conformance.js';
import { ledgerEntry } from '../support/ledger-entries.js';

const run = promisify(execFile);
const silent = { step: () => {}, bar: () => ({ increment: () => {}, stop: () => {} }) };

describe('chargeback API and CLI on the local stack', () => {
  let stack: LocalStack;
  let api: HttpHost;
  let summary: DemoSummary;
  let tokens: { finance: string; operator: string };
  const get = (query: string, token?: string) => fetch(`${api.url}/api/chargeback?${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  /** The reason of a finance caller's request that must answer 400. */
  const reason = async (query: string) => {
    const response = await get(query, tokens.finance);
    expect(response.status).toBe(400);
    return ((await response.json()) as { reason: string }).reason;
  };

  beforeAll(async () => {
    stack = await startLocalStack();
    summary = await runDemo(stack, { requests: 2500, seed: 31, day: '2026-10-15' }, silent);
    api = await startLocalApi(stack);
    tokens = await demoTokens(stack.issuer);
  });
  afterAll(async () => {
    await api?.stop();
    await stack?.stop();
  });

  it('answers 401 with a reason and a WWW-Authenticate challenge without a token', async () => {
    const response = await get('month=2026-10');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await response.json()) as { reason: string }).reason).toBeTruthy();
  });

  it("gives finance the month's report with the same exact total as the demo's tiles", async () => {
    const response = await get('month=2026-10&groupBy=team', tokens.finance);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { rows: { key: string }[]; totals: { costPicodollars: string; cost: string } };
    expect(body.totals.costPicodollars).toBe(summary.chargeback.team.totals.costPico.toString());
    expect(body.rows.map((r) => r.key)).toEqual(summary.chargeback.team.rows.map((r) => r.key));
  });

  it("gives finance last month's CSV with one HTTP call, its TOTAL line equal to the report total", async () => {
    const response = await get('month=2026-10&groupBy=identity&format=csv', tokens.finance);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await response.text()).trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^key,identity,identityKind,displayName,team,costCenter,model,deployment,requests/);
    expect(lines.at(-1)).toContain(`,${summary.chargeback.identity.totals.cost},USD,`);
    expect(lines).toHaveLength(summary.chargeback.identity.rows.length + 2);
  });

  it('gives the same CSV to one CLI command', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'report', 'chargeback', '--api', api.url, '--token', tokens.finance, '--month', '2026-10', '--format', 'csv'],
      { cwd: new URL('../..', import.meta.url).pathname },
    );
    expect(stdout).toBe(await (await get('month=2026-10&groupBy=identity&format=csv', tokens.finance)).text());
  });

  it('shows a caller without Chargeback.ReadAll only their own rows', async () => {
    const response = await get('month=2026-10', tokens.operator);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { rows: unknown[]; totals: { costPicodollars: string } };
    expect(body.rows).toEqual([]);
    expect(body.totals.costPicodollars).toBe('0');
    const focus = checkFocusExport(await (await get('month=2026-10&format=focus', tokens.operator)).text());
    expect(focus.rows).toEqual([]);
    expect(focus.problems).toEqual([]);
  });

  it('answers a request without a period with the current month to date, and names the period it used', async () => {
    const before = new Date();
    const response = await get('groupBy=team', tokens.finance);
    const after = new Date();
    expect(response.status).toBe(200);
    const body = (await response.json()) as { from: string; to: string };
    const monthStart = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)).toISOString();
    const hourEnd = (d: Date) => new Date(Math.floor(d.getTime() / 3_600_000) * 3_600_000 + 3_600_000).toISOString();
    expect([monthStart(before), monthStart(after)]).toContain(body.from);
    expect([hourEnd(before), hourEnd(after)]).toContain(body.to);
    expect(response.headers.get('tokenledger-period')).toBe(`${body.from}/${body.to}`);
    const csv = await get('month=2026-10&format=csv', tokens.finance);
    expect(csv.headers.get('tokenledger-period')).toBe('2026-10-01T00:00:00.000Z/2026-11-01T00:00:00.000Z');
  });

  it('refuses a typo year, an impossible day and a half-hour period with the expected format in the reason', async () => {
    expect(await reason('month=0099-12')).toBe('invalid report parameters: month: the year is before 2000 (expected a month such as 2026-11)');
    expect(await reason('from=2026-02-30&to=2026-03-02')).toMatch(/^invalid report parameters: from: 2026-02-30 is not a day of the calendar/);
    expect(await reason('from=yesterday&to=2026-11-02')).toMatch(/from: expected a UTC date such as 2026-11-01 or an instant with an offset/);
    expect(await reason('from=2026-10-15T10:30:00Z&to=2026-10-15T12:00:00Z')).toMatch(/from: 2026-10-15T10:30:00.000Z is inside an hour: reports count whole UTC hours, so use 2026-10-15T10:00Z or 2026-10-15T11:00Z/);
  });

  it('refuses a month or a range reaching 10000-01-01, naming the parameter, instead of answering for a period it cannot write', async () => {
    expect(await reason('month=9999-12')).toBe('invalid report parameters: month: the month must end before 10000-01-01, so 9999-11 is the last (expected a month such as 2026-11)');
    expect(await reason('from=9999-12-01&to=9999-12-31T23:00:00-01:00')).toMatch(/^invalid report parameters: to: "9999-12-31T23:00:00-01:00" is 10000-01-01T00:00Z or later in UTC: a period must end before 10000-01-01$/);
    const last = await get('month=9999-11&format=csv', tokens.finance);
    expect(last.status).toBe(200);
    expect(last.headers.get('tokenledger-period')).toBe('9999-11-01T00:00:00.000Z/9999-12-01T00:00:00.000Z');
  });

  it('has the CLI say which period it used when none was given', async () => {
    const { stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'report', 'chargeback', '--api', api.url, '--token', tokens.finance, '--format', 'json'],
      { cwd: new URL('../..', import.meta.url).pathname },
    );
    expect(stderr).toMatch(/^chargeback from \d{4}-\d{2}-01T00:00Z to \d{4}-\d{2}-\d{2}T\d{2}:00Z \(the current month to date, UTC\)\n$/);
  });

  it('has the CLI table name on stderr the requests no price covered, as analyze does', async () => {
    await stack.stores.ledger.createEntries([
      ledgerEntry({ id: 'unpriced-cli', gatewayRequestId: 'unpriced-cli', apimRequestId: 'unpriced-cli', time: '2026-09-10T09:15:00.000Z', model: 'contoso-finetune-2026-09-01', deployment: 'lab', tokens: { source: 'gateway', promptTokens: 500, cachedTokens: 0, completionTokens: 20, reasoningTokens: 0 } }),
    ]);
    await markRangeDirty(stack.stores.aggregates, { from: new Date('2026-09-10T00:00:00Z'), to: new Date('2026-09-11T00:00:00Z') });
    await rollupChargeback({ ledger: stack.stores.ledger, aggregates: stack.stores.aggregates, diagnostics: stack.stores.diagnostics });
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'report', 'chargeback', '--api', api.url, '--token', tokens.finance, '--month', '2026-09', '--format', 'table'],
      { cwd: new URL('../..', import.meta.url).pathname },
    );
    expect(stderr).toContain('1 request of model contoso-finetune-2026-09-01 (deployment lab) not priced');
    expect(stdout).toContain('TOTAL');
  });

  it('answers 400 with the reason for bad parameters', async () => {
    const response = await get('month=2026-13&groupBy=planet', tokens.finance);
    expect(response.status).toBe(400);
    const { reason } = (await response.json()) as { reason: string };
    expect(reason).toMatch(/month/);
    expect(reason).toMatch(/groupBy/);
  });

  it("gives finance Azure's invoice per team, as the allocate timer stored it: the offline allocation's figures and each team's difference to the estimate", async () => {
    const response = await get('month=2026-10&groupBy=team&basis=invoice', tokens.finance);
    expect(response.status).toBe(200);
    expect(response.headers.get('tokenledger-basis')).toBe('invoice');
    const body = (await response.json()) as {
      basis: string;
      currency: string;
      rows: { key: string; billedCost: string; effectiveCost: string; reasons: { reason: string; billedCost: string; effectiveCost: string }[] | null }[];
      totals: { billedCost: string; effectiveCost: string };
      teams: { team: string; estimate: string; billedCost: string; billedDifference: string }[];
      exports: string[];
    };
    expect(body.basis).toBe('invoice');
    expect(body.exports).toHaveLength(1);
    const { invoice } = summary;
    const teamRows = body.rows.filter((r) => r.key !== 'unallocated');
    expect(teamRows.map((r) => r.key)).toEqual(invoice.teams.map((t) => t.team));
    for (const [i, team] of invoice.teams.entries()) {
      expect(compareAmounts(teamRows[i]!.billedCost, team.billedCost), team.team).toBe(0);
      expect(compareAmounts(teamRows[i]!.effectiveCost, team.effectiveCost), team.team).toBe(0);
    }
    expect(body.teams).toEqual(invoice.teams);
    expect(body.rows.at(-1)).toMatchObject({ key: 'unallocated', reasons: invoice.unallocated });
    expect(compareAmounts(body.totals.billedCost, invoice.totals.billedCost)).toBe(0);
    expect(compareAmounts(body.totals.effectiveCost, invoice.totals.effectiveCost)).toBe(0);
  });

  it('answers which basis a report is on, and refuses to group the invoice by deployment', async () => {
    expect(((await (await get('month=2026-10&groupBy=team', tokens.finance)).json()) as { basis: string }).basis).toBe('list');
    const byIdentity = (await (await get('month=2026-10&basis=invoice', tokens.finance)).json()) as { rows: { key: string; billedCost: string }[]; totals: { billedCost: string } };
    expect(byIdentity.rows.length).toBeGreaterThan(summary.invoice.teams.length);
    const response = await get('month=2026-10&groupBy=deployment&basis=invoice', tokens.finance);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { reason: string }).reason).toMatch(/groupBy: basis=invoice groups by identity, team, costCenter/);
  });

  it("prints the invoice per team, and each team's estimate and difference, with one CLI command", async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'report', 'chargeback', '--api', api.url, '--token', tokens.finance, '--month', '2026-10', '--group-by', 'team', '--basis', 'invoice'],
      { cwd: new URL('../..', import.meta.url).pathname },
    );
    const lines = stdout.split('\n');
    const comparison = lines.indexOf('List-price estimate vs invoice per team (USD)');
    expect(comparison).toBeGreaterThan(0);
    // The rows of the first table are rounded so that they add up to its TOTAL line, each within a step of its amount.
    const rows = lines.slice(2, lines.findIndex((l) => l.startsWith('TOTAL'))).map((l) => l.trim().split(/\s{2,}/));
    const total = lines.find((l) => l.startsWith('TOTAL'))!.trim().split(/\s{2,}/);
    expect(sumAmounts(rows.map((r) => r[1]!))).toBe(total[1]);
    expect(sumAmounts(rows.map((r) => r[2]!))).toBe(total[2]);
    // Each team's invoice is shown as its row shows it, and its difference is invoice − estimate as shown.
    const teamLines = lines.slice(comparison + 3).filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s{2,}/));
    for (const team of summary.invoice.teams) {
      const row = rows.find((r) => r[0] === team.team)!;
      const micros = (amount: string) => Math.round(Number(amount) * 1e6);
      expect(Math.abs(micros(row[1]!) - micros(roundAmount(team.billedCost, 6)))).toBeLessThanOrEqual(1);
      const [, estimate, invoice, difference] = teamLines.find((l) => l[0] === team.team)!;
      expect([estimate, invoice]).toEqual([roundAmount(team.estimate, 6), row[1]]);
      expect(difference).toBe(roundAmount(sumAmounts([invoice!, `-${estimate}`]), 6));
    }
    expect(lines.some((l) => /^unallocated [\d.]+ billed: /.test(l))).toBe(true);
  });

  it("shows a caller without Chargeback.ReadAll none of the invoice but their own identity's parts, and not the unallocated", async () => {
    const response = await get('month=2026-10&groupBy=team&basis=invoice', tokens.operator);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { rows: unknown[]; totals: { billedCost: string }; teams: unknown[] };
    expect(body.rows).toEqual([]);
    expect(body.teams).toEqual([]);
    expect(compareAmounts(body.totals.billedCost, '0')).toBe(0);
    const focus = await (await get('month=2026-10&basis=invoice&format=focus', tokens.operator)).text();
    expect(focus.trimEnd().split('\r\n')).toHaveLength(1);
  });

  it('serves FOCUS 1.2 rows at list prices that pass the column test, their BilledCost summing exactly to the report total', async () => {
    const response = await get('month=2026-10&format=focus', tokens.finance);
    expect(response.status).toBe(200);
    const check = checkFocusExport(await response.text());
    expect(check.problems).toEqual([]);
    expect(check.rows.length).toBeGreaterThan(summary.chargeback.identity.rows.length);
    expect(sameAmount(sumExact(check.rows.map((r) => r.BilledCost!)), formatPicodollars(summary.chargeback.identity.totals.costPico, 12))).toBe(true);
    expect([...new Set(check.rows.map((r) => r.x_PriceComponent))]).toEqual(expect.arrayContaining(['input', 'cached input', 'output']));
    // Sweden Central has one account, East US two: a row names the account only where its region does.
    const sweden = check.rows.filter((r) => r.RegionId === 'swedencentral');
    expect(sweden.length).toBeGreaterThan(0);
    expect(sweden.every((r) => /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[^/]+\/providers\/Microsoft\.CognitiveServices\/accounts\/contoso-aoai-swedencentral$/.test(r.ResourceId!) && r.SubAccountId!.startsWith('/subscriptions/'))).toBe(true);
    expect(check.rows.filter((r) => r.RegionId === 'eastus').every((r) => r.ResourceId === '')).toBe(true);
  });

  it("serves the invoice's FOCUS 1.2 rows that pass the column test, their BilledCost and EffectiveCost summing to the invoice's", async () => {
    const response = await get('month=2026-10&basis=invoice&format=focus', tokens.finance);
    expect(response.status).toBe(200);
    const check = checkFocusExport(await response.text());
    expect(check.problems).toEqual([]);
    expect(sameAmount(sumExact(check.rows.map((r) => r.BilledCost!)), summary.invoice.totals.billedCost)).toBe(true);
    expect(sameAmount(sumExact(check.rows.map((r) => r.EffectiveCost!)), summary.invoice.totals.effectiveCost)).toBe(true);
    expect(check.rows.every((r) => r.ResourceId!.includes('/providers/Microsoft.CognitiveServices/accounts/'))).toBe(true);
  });
});
