import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderArchive } from '../../src/adapters/archive/folder-archive.js';
import { readArchiveBlob } from '../../src/adapters/archive/archive-diagnostics-source.js';
import { createWeightsTimerHandler } from '../../functions/handlers/weights.js';
import { apimBackendPoolSchema } from '../../src/contracts/apim-backend-pool.js';
import { BACKENDS } from '../../src/simulator/population.js';
import { runDemo, type DemoSummary } from '../../src/local/demo.js';
import type { HttpHost } from '../../src/local/http-host.js';
import { startLocalApi } from '../../src/local/local-api.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { fireTimer } from '../../src/local/timer-runner.js';
import { demoTokens } from '../../src/local/token-issuer.js';
import type { LatencyReport } from '../../src/services/latency-report.js';

const run = promisify(execFile);
const silent = { step: () => {}, bar: () => ({ increment: () => {}, stop: () => {} }) };
const DAY = '2026-10-15';
const RANGE = `from=${DAY}&to=2026-10-16`;

describe('latency, weights and traffic API on the local stack', () => {
  let stack: LocalStack;
  let api: HttpHost;
  let summary: DemoSummary;
  let operator: string;
  let outDir: string;
  const get = async (path: string, token: string | undefined = operator) =>
    fetch(`${api.url}/api/${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  beforeAll(async () => {
    stack = await startLocalStack();
    outDir = await mkdtemp(join(tmpdir(), 'tokenledger-operations-'));
    summary = await runDemo(stack, { requests: 4000, seed: 5, day: DAY, outDir }, silent);
    api = await startLocalApi(stack);
    operator = (await demoTokens(stack.issuer)).operator;
  });
  afterAll(async () => {
    await api?.stop();
    await stack?.stop();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('reports every region percentile within 1 % of the exact percentile of the diagnostic records', async () => {
    const report = (await (await get(`latency?${RANGE}`)).json()) as LatencyReport;
    const archive = new FolderArchive(join(outDir, 'diagnostics'));
    const durations = new Map<string, number[]>();
    for (const path of await archive.paths()) {
      for (const r of (await readArchiveBlob(archive, path)).records) {
        if (!r.time.startsWith(DAY) || r.status !== 200 || !r.regionCode || r.durationMs === null) continue;
        durations.set(r.regionCode, [...(durations.get(r.regionCode) ?? []), r.durationMs]);
      }
    }
    expect(report.rows.map((r) => r.region).sort()).toEqual([...durations.keys()].sort());
    for (const row of report.rows) {
      const sorted = durations.get(row.region)!.sort((a, b) => a - b);
      for (const [q, reported] of [[0.5, row.p50Ms], [0.9, row.p90Ms], [0.95, row.p95Ms], [0.99, row.p99Ms]] as const) {
        const exact = sorted[Math.floor(q * (sorted.length - 1))]!;
        expect(Math.abs(reported! - exact) / exact).toBeLessThanOrEqual(0.01);
      }
    }
  });

  it('gives the slow backend the lowest weight and the throttled one less than a healthy one, in deployable APIM pools', async () => {
    const body = (await (await get(`weights?${RANGE}`)).json()) as { recommendations: { deployment: string; weights: { backendId: string; weight: number; reason: string }[] }[] };
    expect(body.recommendations.length).toBeGreaterThanOrEqual(4);
    for (const rec of body.recommendations) {
      const weight = Object.fromEntries(rec.weights.map((w) => [w.backendId, w.weight]));
      expect(Math.min(...Object.values(weight))).toBe(weight['aoai-japaneast']);
      expect(weight['aoai-francecentral']).toBeLessThan(weight['aoai-swedencentral']!);
      expect(Object.keys(weight).sort()).toEqual(BACKENDS.map((b) => b.backendId).sort());
      expect(rec.weights.every((w) => w.reason.length > 0)).toBe(true);
    }
    const template = (await (await get(`weights?${RANGE}&format=apim&apimService=contoso-ai-gateway`)).json()) as { resources: { name: string }[] };
    expect(template.resources.map((r) => r.name)).toEqual(body.recommendations.map((r) => `contoso-ai-gateway/${r.deployment}-pool`));
    for (const pool of template.resources) expect(apimBackendPoolSchema.safeParse(pool).success).toBe(true);
    const bicep = await (await get(`weights?${RANGE}&format=bicep&apimService=contoso-ai-gateway`)).text();
    expect(bicep).toContain("existing = {\n  name: 'contoso-ai-gateway'\n}");
  });

  it('refuses format=apim or bicep without a valid apimService, saying why', async () => {
    for (const query of ['format=apim', 'format=bicep', 'format=apim&apimService=not%20a%20name']) {
      const response = await get(`weights?${RANGE}&${query}`);
      expect(response.status, query).toBe(400);
      expect(((await response.json()) as { reason: string }).reason).toMatch(/apimService/);
    }
  });

  it('answers the same recommendation when asked again for the same window', async () => {
    const first = await (await get(`weights?${RANGE}`)).text();
    expect(await (await get(`weights?${RANGE}`)).text()).toBe(first);
  });

  it('stores weights only from the timer, once per window in Cosmos DB, and the API answers them without writing', async () => {
    const answered = await (await get(`weights?${RANGE}`)).text();
    const { recommendations } = JSON.parse(answered) as { recommendations: { deployment: string; weights: { backendId: string; weight: number }[] }[] };
    const windowEnd = '2026-10-16T00:00:00.000Z';
    for (const rec of recommendations) expect(await stack.stores.aggregates.latestWeights(rec.deployment, windowEnd)).toBeNull();
    const clock = () => new Date('2026-10-16T00:10:00Z');
    const timer = createWeightsTimerHandler(() => stack.stores.aggregates, clock);
    await Promise.all([fireTimer('weights', timer, clock()), fireTimer('weights', timer, clock())]);
    for (const rec of recommendations) {
      const stored = await stack.stores.aggregates.latestWeights(rec.deployment, windowEnd);
      expect(stored).toMatchObject({ windowEnd, weights: Object.fromEntries(rec.weights.map((w) => [w.backendId, w.weight])) });
      expect(await stack.stores.aggregates.createWeights(stored!)).toBe(false);
    }
    expect(await (await get(`weights?${RANGE}`)).text()).toBe(answered);
  });

  it('stores the weights of a deployment whose name no document id can hold (an API client names it), once per window', async () => {
    for (const deployment of ['gpt-4o/x?y#z\\', 'é'.repeat(512)]) {
      const weights = { deployment, windowEnd: '2026-09-01T00:00:00.000Z', weights: { 'aoai-eastus': 100 }, basedOn: null };
      expect(await stack.stores.aggregates.createWeights(weights)).toBe(true);
      expect(await stack.stores.aggregates.createWeights({ ...weights, weights: { 'aoai-eastus': 50 } })).toBe(false);
      expect(await stack.stores.aggregates.latestWeights(deployment, '2026-09-02T00:00:00.000Z')).toEqual(weights);
    }
  });

  it('counts bypass traffic by credential and matches the join', async () => {
    const body = (await (await get(`traffic?${RANGE}`)).json()) as { join: unknown; bypass: { entra: number; key: number } };
    expect(body.join).toEqual(summary.groundTruth.join);
    expect(body.bypass.entra + body.bypass.key).toBe(summary.groundTruth.join.bypass);
    expect(body.bypass.entra).toBeGreaterThan(0);
    expect(body.bypass.key).toBeGreaterThan(0);
  });

  it('serves the reconciliation results the timer stored for the day, flagging the missing diagnostics and bypass calls', async () => {
    const body = (await (await get(`reconciliation?${RANGE}`)).json()) as { checks: { check: string; status: string; gatewayOnlyCount: number; diagnosticsOnlyCount: number }[] };
    expect(body.checks).toEqual(summary.reconciliation.map((c) => expect.objectContaining({ check: c.check, status: c.status })));
    const count = (check: string, side: 'gatewayOnlyCount' | 'diagnosticsOnlyCount') => body.checks.filter((c) => c.check === check).reduce((sum, c) => sum + c[side], 0);
    expect(count('requests', 'gatewayOnlyCount')).toBe(summary.groundTruth.reconciliation.missingDiagnostics.length);
    expect(count('requests', 'diagnosticsOnlyCount')).toBe(0);
    expect(count('bypass', 'diagnosticsOnlyCount')).toBe(summary.groundTruth.reconciliation.bypass.length);
    expect(body.checks.filter((c) => c.check === 'metrics-tokens').every((c) => c.status === 'ok')).toBe(true);
    // The demo's join has no LLM log source, so interrupted streams keep no tokens: only the LLM check sees them.
    expect(body.checks.filter((c) => c.check === 'llm-tokens' && c.status !== 'ok').every((c) => c.gatewayOnlyCount === 0 && c.diagnosticsOnlyCount === 0)).toBe(true);
  });

  it('pages the stored reconciliation results of the day from Cosmos DB, the pages adding up to the whole day and its counts', async () => {
    type Page = { summary: Record<string, Record<string, number>>; total: number; checks: { check: string; window: string; deployment: string; status: string }[]; continuation: string | null };
    const key = (c: Page['checks'][number]) => `${c.window} ${c.check} ${c.deployment} ${c.status}`;
    const pages: Page[] = [(await (await get(`reconciliation?${RANGE}&limit=100`)).json()) as Page];
    while (pages.at(-1)!.continuation !== null) pages.push((await (await get(`reconciliation?${RANGE}&limit=100&continuation=${pages.at(-1)!.continuation!}`)).json()) as Page);
    expect(summary.reconciliation.length).toBeGreaterThan(100);
    expect(pages.length).toBe(Math.ceil(summary.reconciliation.length / 100));
    expect(pages.flatMap((p) => p.checks).map(key)).toEqual(summary.reconciliation.map(key));
    const counts: Record<string, Record<string, number>> = {};
    for (const c of summary.reconciliation) (counts[c.check] ??= { ok: 0, warn: 0, fail: 0, unavailable: 0 })[c.status]!++;
    for (const page of pages) expect({ total: page.total, summary: page.summary }).toEqual({ total: summary.reconciliation.length, summary: counts });
  });

  it('tells the start of the latest hour with data, so an empty range can say where to look', async () => {
    const report = (await (await get(`latency?${RANGE}`)).json()) as LatencyReport;
    const latest = report.series.map((p) => p.windowStart).reduce((a, b) => (a > b ? a : b));
    expect(report.latestDataHour).toBe(latest);
    const empty = (await (await get('latency?from=2026-10-20&to=2026-10-21')).json()) as LatencyReport;
    expect(empty.rows).toEqual([]);
    expect(empty.latestDataHour).toBe(latest);
    const weights = (await (await get('weights?from=2026-10-20&to=2026-10-21')).json()) as { recommendations: unknown[]; latestDataHour: string | null };
    expect(weights).toMatchObject({ recommendations: [], latestDataHour: latest });
    const unknown = (await (await get('latency?from=2026-10-20&to=2026-10-21&deployment=no-such-deployment')).json()) as LatencyReport;
    expect(unknown.latestDataHour).toBeNull();
  });

  it('answers a request without a range with the last 24 whole hours', async () => {
    const response = await get('latency');
    expect(response.status).toBe(200);
    const body = (await response.json()) as LatencyReport;
    expect(Date.parse(body.to) - Date.parse(body.from)).toBe(24 * 3_600_000);
    expect(Date.parse(body.to) % 3_600_000).toBe(0);
  });

  it('has the CLI say there is no data in the range, where the latest data is and a range that has it', async () => {
    const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args, '--api', api.url, '--token', operator], { cwd: new URL('../..', import.meta.url).pathname });
    const expected =
      'no data between 2026-10-20T00:00Z and 2026-10-21T00:00Z; latest data at 2026-10-15T23:00Z (the hour up to 2026-10-16T00:00Z)\n' +
      'try --from 2026-10-15T00:00Z --to 2026-10-16T00:00Z\n';
    expect((await cli('report', 'latency', '--from', '2026-10-20', '--to', '2026-10-21')).stdout).toBe(expected);
    expect((await cli('weights', '--from', '2026-10-20', '--to', '2026-10-21')).stdout).toBe(expected);
    const { stdout } = await cli('report', 'latency', '--from', '2026-10-15T00:00Z', '--to', '2026-10-16T00:00Z');
    expect(stdout).toMatch(/^region +requests/);
  });

  it('refuses a window ending at 10000-01-01 or later in UTC in every operations endpoint, naming to', async () => {
    for (const path of ['latency', 'weights', 'traffic', 'reconciliation']) {
      const response = await get(`${path}?from=9999-12-31&to=9999-12-31T23:00:00-01:00`);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { reason: string }).reason).toMatch(/to: "9999-12-31T23:00:00-01:00" is 10000-01-01T00:00Z or later in UTC: a period must end before 10000-01-01/);
    }
  });

  it('answers 403 to a caller without Operations.Read and 401 without a token', async () => {
    const noRole = await stack.issuer.issue({ oid: '00000000-0000-4000-8000-000000000abc', roles: [] });
    expect((await get(`latency?${RANGE}`, noRole)).status).toBe(403);
    expect((await get(`weights?${RANGE}`, '')).status).toBe(401);
  });
});
