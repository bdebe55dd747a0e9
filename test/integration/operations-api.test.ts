import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderArchive } from '../../src/adapters/archive/folder-archive.js';
import { parseArchiveBlob } from '../../src/adapters/archive/archive-diagnostics-source.js';
import { apimBackendPoolSchema } from '../../src/contracts/apim-backend-pool.js';
import { runDemo, type DemoSummary } from '../../src/local/demo.js';
import type { HttpHost } from '../../src/local/http-host.js';
import { startLocalApi } from '../../src/local/local-api.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { demoTokens } from '../../src/local/token-issuer.js';
import type { LatencyReport } from '../../src/services/latency-report.js';

const silent = { step: () => {}, bar: () => ({ increment: () => {}, stop: () => {} }) };
const DAY = '2026-10-15';
const RANGE = `from=${DAY}&to=2026-10-16`;

describe('latency, weights and traffic API on the local stack', () => {
  let stack: LocalStack;
  let api: HttpHost;
  let summary: DemoSummary;
  let operator: string;
  const get = async (path: string, token: string | undefined = operator) =>
    fetch(`${api.url}/api/${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  beforeAll(async () => {
    stack = await startLocalStack();
    summary = await runDemo(stack, { requests: 4000, seed: 5, day: DAY }, silent);
    api = await startLocalApi(stack);
    operator = (await demoTokens(stack.issuer)).operator;
  });
  afterAll(async () => {
    await api?.stop();
    await stack?.stop();
  });

  it('reports every region percentile within 1 % of the exact percentile of the diagnostic records', async () => {
    const report = (await (await get(`latency?${RANGE}`)).json()) as LatencyReport;
    const archive = new FolderArchive(join(summary.outDir, 'diagnostics'));
    const durations = new Map<string, number[]>();
    for (const path of await archive.list()) {
      for (const r of parseArchiveBlob(path, await archive.read(path)).records) {
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

  it('gives the slow region the lowest weight and the throttled region less than a healthy one, in a valid APIM pool', async () => {
    const body = (await (await get(`weights?${RANGE}`)).json()) as { recommendations: { deployment: string; weights: { backendId: string; weight: number; reason: string }[] }[] };
    expect(body.recommendations.length).toBeGreaterThanOrEqual(4);
    for (const rec of body.recommendations) {
      const weight = Object.fromEntries(rec.weights.map((w) => [w.backendId, w.weight]));
      expect(Math.min(...Object.values(weight))).toBe(weight['japaneast']);
      expect(weight['francecentral']).toBeLessThan(weight['swedencentral']!);
      expect(rec.weights.every((w) => w.reason.length > 0)).toBe(true);
    }
    const pools = (await (await get(`weights?${RANGE}&format=apim`)).json()) as unknown[];
    for (const pool of pools) expect(apimBackendPoolSchema.safeParse(pool).success).toBe(true);
  });

  it('answers the same recommendation when asked again for the same window', async () => {
    const first = await (await get(`weights?${RANGE}`)).text();
    expect(await (await get(`weights?${RANGE}`)).text()).toBe(first);
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

  it('answers 403 to a caller without Operations.Read and 401 without a token', async () => {
    const noRole = await stack.issuer.issue({ oid: '00000000-0000-4000-8000-000000000abc', roles: [] });
    expect((await get(`latency?${RANGE}`, noRole)).status).toBe(403);
    expect((await get(`weights?${RANGE}`, '')).status).toBe(401);
  });
});
