import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPrices } from '../../src/config/core-options.js';
import type { RequestItem } from '../../src/domain/request-drilldown.js';
import { pricingOf } from '../../src/domain/usage-pricing.js';
import { runDemo } from '../../src/local/demo.js';
import type { HttpHost } from '../../src/local/http-host.js';
import { startLocalApi } from '../../src/local/local-api.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { demoTokens } from '../../src/local/token-issuer.js';
import { chargebackReportFor, type ChargebackReportResult } from '../../src/services/chargeback-report.js';

const run = promisify(execFile);
const silent = { step: () => {}, bar: () => ({ increment: () => {}, stop: () => {} }) };
const DAY = 'from=2026-10-15&to=2026-10-16';

describe('request drill-down API and trace on the local stack', () => {
  let stack: LocalStack;
  let api: HttpHost;
  let finance: string;
  let report: (groupBy: 'identity' | 'team' | 'model') => Promise<ChargebackReportResult>;
  const get = (path: string, token?: string) => fetch(path.startsWith('http') ? path : `${api.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  /** Follows nextLink to the end, checking every page's shape on the way. */
  async function chain(query: string, token: string): Promise<{ items: RequestItem[]; pages: number }> {
    const items: RequestItem[] = [];
    let next: string | undefined = `/api/requests?${query}`;
    let pages = 0;
    while (next !== undefined) {
      const response = await get(next, token);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { value: RequestItem[]; nextLink?: string };
      expect(body.value.length).toBeLessThanOrEqual(40);
      items.push(...body.value);
      next = body.nextLink;
      pages += 1;
      expect(pages).toBeLessThan(500);
    }
    return { items, pages };
  }
  const sum = (items: readonly RequestItem[]) => items.reduce((total, item) => total + BigInt(item.costPicodollars), 0n);

  beforeAll(async () => {
    stack = await startLocalStack();
    await runDemo(stack, { requests: 1500, seed: 44, day: '2026-10-15' }, silent);
    api = await startLocalApi(stack);
    finance = (await demoTokens(stack.issuer)).finance;
    const directory = await stack.directory.getAll();
    const prices = loadPrices(stack.settings);
    const range = { from: new Date('2026-10-15T00:00:00Z'), to: new Date('2026-10-16T00:00:00Z') };
    report = (groupBy) => chargebackReportFor({ aggregates: stack.stores.aggregates, directory, pricing: pricingOf(prices) }, { ...range, groupBy, scope: 'all' }, prices.currency);
  }, 240_000);
  afterAll(async () => {
    await api?.stop();
    await stack?.stop();
  });

  it("adds up, over the whole page chain, to the report's cell exactly for the three most expensive identities", async () => {
    const rows = [...(await report('identity')).rows].sort((a, b) => (a.costPico < b.costPico ? 1 : a.costPico > b.costPico ? -1 : 0)).slice(0, 3);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      const { items, pages } = await chain(`${DAY}&identity=${encodeURIComponent(row.key)}&pageSize=40`, finance);
      expect(pages).toBeGreaterThan(1);
      expect(items.length).toBe(row.requests);
      expect(new Set(items.map((i) => i.id)).size).toBe(items.length);
      expect(items.every((i) => i.identity.key === row.key && i.team === row.team)).toBe(true);
      expect(sum(items)).toBe(row.costPico);
    }
  });

  it("adds up to the report's cells exactly for a team and for a model", async () => {
    const team = (await report('team')).rows.find((r) => r.key !== '(unmapped)')!;
    const teamItems = (await chain(`${DAY}&team=${encodeURIComponent(team.key)}&pageSize=40`, finance)).items;
    expect(teamItems.length).toBe(team.requests);
    expect(sum(teamItems)).toBe(team.costPico);
    const model = (await report('model')).rows[0]!;
    const modelItems = (await chain(`${DAY}&model=${encodeURIComponent(model.key)}&pageSize=40`, finance)).items;
    expect(modelItems.length).toBe(model.requests);
    expect(sum(modelItems)).toBe(model.costPico);
  });

  it('prices every item with its price entry and names the price table, with an exact and a rounded cost', async () => {
    const response = await get(`/api/requests?${DAY}&pageSize=5`, finance);
    const body = (await response.json()) as { value: RequestItem[]; nextLink: string };
    expect(body.value).toHaveLength(5);
    expect(new URL(body.nextLink).searchParams.get('$skipToken')).toBeTruthy();
    const priceTable = pricingOf(loadPrices(stack.settings)).version;
    for (const item of body.value) {
      expect(item.priceTable).toBe(priceTable);
      expect(item.costPicodollars).toMatch(/^\d+$/);
      expect(item.cost).toMatch(/^\d+\.\d{6}$/);
      if (item.basis === 'per-token') expect(item.priceVersion).toBeTruthy();
    }
  });

  it('shows a caller without Chargeback.ReadAll only their own requests, adding up to their own cell', async () => {
    const row = (await report('identity')).rows.find((r) => r.identityKind === 'user' && r.requests > 0)!;
    const own = await stack.issuer.issue({ oid: row.key, roles: [] });
    const { items } = await chain(`${DAY}&pageSize=40`, own);
    expect(items.length).toBe(row.requests);
    expect(items.every((i) => i.identity.key === row.key)).toBe(true);
    expect(sum(items)).toBe(row.costPico);
    const other = (await report('identity')).rows.find((r) => r.key !== row.key && r.requests > 0)!;
    expect((await chain(`${DAY}&identity=${encodeURIComponent(other.key)}`, own)).items).toEqual([]);
    const othersRequest = (await chain(`${DAY}&identity=${encodeURIComponent(other.key)}&pageSize=1`, finance)).items[0]!;
    expect((await get(`/api/requests/${othersRequest.gatewayRequestId}`, own)).status).toBe(404);
    expect((await get(`/api/requests/${items[0]!.gatewayRequestId}`, own)).status).toBe(200);
  });

  it('refuses a month or a range reaching 10000-01-01, naming the parameter, rather than answer with a nextLink it would refuse', async () => {
    for (const [query, parameter] of [['month=9999-12&pageSize=1', 'month'], ['from=9999-12-31T22:00:00Z&to=9999-12-31T20:00:00-04:00&pageSize=1', 'to']] as const) {
      const response = await get(`/api/requests?${query}`, finance);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { reason: string }).reason).toMatch(new RegExp(`: ${parameter}: .*before 10000-01-01`));
    }
  });

  it('refuses a continuation of another filter, a forged one and an unknown parameter', async () => {
    const first = (await (await get(`/api/requests?${DAY}&pageSize=2`, finance)).json()) as { nextLink: string };
    const token = new URL(first.nextLink).searchParams.get('$skipToken')!;
    const reason = async (query: string) => {
      const response = await get(`/api/requests?${query}`, finance);
      expect(response.status).toBe(400);
      return ((await response.json()) as { reason: string }).reason;
    };
    expect(await reason(`${DAY}&model=gpt-4o&$skipToken=${token}`)).toMatch(/another period or filter/);
    expect(await reason(`${DAY}&$skipToken=${Buffer.from('{"v":1,"pk":"zz","id":"x","q":"0"}').toString('base64url')}`)).toMatch(/not a continuation/);
    expect(await reason(`${DAY}&identiy=x`)).toMatch(/identiy/);
    expect(await reason(`${DAY}&pageSize=5000`)).toMatch(/pageSize/);
  });

  it('answers 404 for a request id no document id can be (a /, \\, ? or #, or over 1,023 bytes), as for any unknown id', async () => {
    for (const id of ['a/b', 'a\\b', 'a?b', 'a#b', 'é'.repeat(600)]) {
      const response = await get(`/api/requests/${encodeURIComponent(id)}`, finance);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: 'not_found', reason: 'no request with this id that you may see' });
    }
  });

  it('traces one request by its gateway request id or its apim-request-id, and the CLI prints it', async () => {
    const { value: items } = (await (await get(`/api/requests?${DAY}&pageSize=200`, finance)).json()) as { value: RequestItem[] };
    const item = items.find((i) => i.apimRequestId !== null && i.basis === 'per-token')!;
    const byGateway = (await (await get(`/api/requests/${encodeURIComponent(item.gatewayRequestId)}`, finance)).json()) as {
      request: { id: string; apimRequestId: string };
      diagnostics: { correlationId: string } | null;
      identity: { key: string; via: string };
      cost: { costPicodollars: string; price: { priceVersion: string } };
      priceVersion: string;
      priceTable: string;
    };
    expect(byGateway.request.id).toBe(item.id);
    expect(byGateway.identity.key).toBe(item.identity.key);
    expect(byGateway.identity.via).toBe(item.identity.via);
    expect(byGateway.cost.costPicodollars).toBe(item.costPicodollars);
    expect(byGateway.cost.price.priceVersion).toBe(item.priceVersion);
    expect(byGateway.priceTable).toBe(item.priceTable);
    if (byGateway.diagnostics) expect(byGateway.diagnostics.correlationId).toBe(item.apimRequestId);
    const byApim = (await (await get(`/api/requests/${encodeURIComponent(item.apimRequestId!.toUpperCase())}`, finance)).json()) as { request: { id: string } };
    expect(byApim.request.id).toBe(item.id);
    expect((await get('/api/requests/no-such-request', finance)).status).toBe(404);

    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'trace', item.gatewayRequestId, '--api', api.url, '--token', finance, '--format', 'json'], {
      cwd: new URL('../..', import.meta.url).pathname,
    });
    const printed = JSON.parse(stdout) as Record<string, unknown>;
    expect(Object.keys(printed)).toEqual(expect.arrayContaining(['request', 'diagnostics', 'cost', 'priceVersion']));
    expect(printed).toEqual(byGateway);
  });
});
