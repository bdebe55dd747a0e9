import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo, type DemoSummary } from '../../src/local/demo.js';
import type { HttpHost } from '../../src/local/http-host.js';
import { startLocalApi } from '../../src/local/local-api.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { demoTokens } from '../../src/local/token-issuer.js';

const run = promisify(execFile);
const silent = { step: () => {}, bar: () => ({ increment: () => {}, stop: () => {} }) };

describe('chargeback API and CLI on the local stack', () => {
  let stack: LocalStack;
  let api: HttpHost;
  let summary: DemoSummary;
  let tokens: { finance: string; operator: string };
  const get = (query: string, token?: string) => fetch(`${api.url}/api/chargeback?${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

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
  });

  it('answers 400 with the reason for bad parameters', async () => {
    const response = await get('month=2026-13&groupBy=planet', tokens.finance);
    expect(response.status).toBe(400);
    const { reason } = (await response.json()) as { reason: string };
    expect(reason).toMatch(/month/);
    expect(reason).toMatch(/groupBy/);
  });

  it('serves FOCUS rows whose BilledCost sums to the report total', async () => {
    const text = await (await get('month=2026-10&format=focus', tokens.finance)).text();
    const [header, ...rows] = text.trimEnd().split('\r\n');
    expect(header!.split(',').slice(0, 5)).toEqual(['BilledCost', 'EffectiveCost', 'ListCost', 'ContractedCost', 'BillingCurrency']);
    const micros = rows.reduce((sum, row) => sum + BigInt(row.split(',')[0]!.replace('.', '')), 0n);
    expect(micros.toString()).toBe(summary.chargeback.identity.totals.cost.replace('.', '').replace(/^0+/, ''));
  });
});
