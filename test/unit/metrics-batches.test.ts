import { MetricsClient } from '@azure/monitor-query-metrics';
import { describe, expect, it } from 'vitest';
import { AzureReconciliationSources } from '../../src/adapters/log-analytics/log-analytics-reconciliation-sources.js';
import { loadSettings } from '../../src/config/settings.js';
import { reconcileWindow } from '../../src/services/reconcile-windows.js';
import { MAX_RESOURCES_PER_BATCH, parseMetricsResources, planMetricsBatches, type MetricsResource } from '../../src/domain/metrics-batches.js';
import { FakeMetricsBatch, fakeCredential, type FakeAccount } from '../support/fake-metrics-batch.js';
import { ledgerEntry } from '../support/ledger-entries.js';
import { MemoryLedgerStore } from '../support/memory-stores.js';

const SUB_A = '6f1c2b7e-3d4a-4b8e-9c0d-1a2b3c4d5e6f';
const SUB_B = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const account = (subscription: string, name: string) => `/subscriptions/${subscription}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/${name}`;

const ACCOUNTS: FakeAccount[] = [
  { resourceId: account(SUB_A, 'aoai-eastus'), region: 'eastus', prompt: { 'gpt-4o-prod': 1000 }, generated: { 'gpt-4o-prod': 100 } },
  { resourceId: account(SUB_A, 'aoai-eastus-2'), region: 'eastus', prompt: { 'gpt-4o-prod': 2000 }, generated: { 'gpt-4o-prod': 200 } },
  { resourceId: account(SUB_A, 'aoai-swedencentral'), region: 'swedencentral', prompt: { 'gpt-4o-prod': 300, 'o3-mini': 40 }, generated: { 'gpt-4o-prod': 30, 'o3-mini': 4 } },
  { resourceId: account(SUB_B, 'aoai-eastus-other'), region: 'eastus', prompt: { 'gpt-4o-prod': 5 }, generated: { 'gpt-4o-prod': 1 } },
];
const WINDOW = { from: new Date('2026-10-15T10:00:00Z'), to: new Date('2026-10-15T11:00:00Z') };

function sourcesOn(fake: FakeMetricsBatch, resources: readonly MetricsResource[]) {
  return new AzureReconciliationSources({
    logs: { queryWorkspace: async () => { throw new Error('not used'); } } as never,
    workspaceId: 'unused',
    metrics: { clientFor: (endpoint) => new MetricsClient(endpoint, fakeCredential, { httpClient: fake, retryOptions: { maxRetries: 0 } }), resources },
  });
}

describe('metrics reconciliation on a fake metrics:getBatch that takes one region and one subscription per call', () => {
  it('calls each region and subscription at its regional endpoint, and adds every account up per hour and deployment', async () => {
    const fake = new FakeMetricsBatch(ACCOUNTS);
    const tokens = await sourcesOn(fake, ACCOUNTS.map(({ resourceId, region }) => ({ resourceId, region }))).metrics!(WINDOW);
    expect(fake.calls.map((c) => [c.host, c.subscriptionId, c.resourceIds.length, c.status])).toEqual([
      ['eastus.metrics.monitor.azure.com', SUB_B, 1, 200],
      ['eastus.metrics.monitor.azure.com', SUB_A, 2, 200],
      ['swedencentral.metrics.monitor.azure.com', SUB_A, 1, 200],
    ]);
    const byDeployment = Object.fromEntries(tokens.map((t) => [`${t.hour} ${t.deployment}`, [t.promptTokens, t.generatedTokens]]));
    expect(byDeployment).toEqual({ '2026-10-15T10 gpt-4o-prod': [3305, 331], '2026-10-15T10 o3-mini': [40, 4] });
  });

  it('is refused by the fake when one call mixes regions, as the service refuses it', async () => {
    const fake = new FakeMetricsBatch(ACCOUNTS);
    const client = new MetricsClient('https://eastus.metrics.monitor.azure.com', fakeCredential, { httpClient: fake, retryOptions: { maxRetries: 0 } });
    await expect(client.queryResources([ACCOUNTS[0]!.resourceId, ACCOUNTS[2]!.resourceId], ['ProcessedPromptTokens'], 'Microsoft.CognitiveServices/accounts', { startTime: WINDOW.from, endTime: WINDOW.to })).rejects.toThrow(/not in this endpoint's region/);
    // A wrong region in the configuration gets the same answer instead of silently missing metrics.
    const misplaced = sourcesOn(fake, [{ resourceId: ACCOUNTS[2]!.resourceId, region: 'eastus' }]);
    await expect(misplaced.metrics!(WINDOW)).rejects.toThrow(/swedencentral, not in this endpoint's region eastus/);
  });

  it("marks the window's metrics-tokens check unavailable, with the service's status and code, when one subscription denies the read", async () => {
    const fake = new FakeMetricsBatch(ACCOUNTS, [SUB_B]);
    const metrics = sourcesOn(fake, ACCOUNTS.map(({ resourceId, region }) => ({ resourceId, region })));
    const ledger = new MemoryLedgerStore();
    const tokens = { source: 'gateway' as const, promptTokens: 3000, cachedTokens: 0, completionTokens: 300, reasoningTokens: 0 };
    await ledger.createEntries([ledgerEntry({ time: '2026-10-15T10:20:00.000Z', deployment: 'gpt-4o-prod', tokens })]);
    const sources = { records: async () => [], metrics: (window: typeof WINDOW) => metrics.metrics!(window) };

    const checks = (await reconcileWindow({ ledger, sources }, WINDOW, { gatewayObjectIds: new Set() })).filter((c) => c.check === 'metrics-tokens');

    expect(fake.calls.map((c) => c.status)).toContain(403);
    expect(checks.map((c) => [c.check, c.window, c.deployment, c.status])).toEqual([['metrics-tokens', '2026-10-15T10', 'gpt-4o-prod', 'unavailable']]);
    expect(checks[0]!.reason).toMatch(new RegExp(`^HTTP 403 AuthorizationFailed: .*/subscriptions/${SUB_B}`));
  });

  it('reads every deployment of an account with more than the 10 time series getBatch answers by default', async () => {
    const deployments = Array.from({ length: 12 }, (_, i) => `deployment-${String(i).padStart(2, '0')}`);
    const busy: FakeAccount = { resourceId: account(SUB_A, 'aoai-busy'), region: 'eastus', prompt: Object.fromEntries(deployments.map((d) => [d, 1000])), generated: Object.fromEntries(deployments.map((d) => [d, 100])) };
    const fake = new FakeMetricsBatch([busy]);
    const client = new MetricsClient('https://eastus.metrics.monitor.azure.com', fakeCredential, { httpClient: fake, retryOptions: { maxRetries: 0 } });
    const [unbounded] = await client.queryResources([busy.resourceId], ['ProcessedPromptTokens'], 'Microsoft.CognitiveServices/accounts', { startTime: WINDOW.from, endTime: WINDOW.to, filter: "ModelDeploymentName eq '*'" });
    expect(unbounded!.metrics[0]!.timeseries).toHaveLength(10);
    const tokens = await sourcesOn(fake, [{ resourceId: busy.resourceId, region: 'eastus' }]).metrics!(WINDOW);
    expect(tokens.map((t) => [t.deployment, t.promptTokens, t.generatedTokens])).toEqual(deployments.map((d) => [d, 1000, 100]));
  });

  it('reads an account once whatever the case its resource id is spelled in', async () => {
    const [eastus] = ACCOUNTS;
    const fake = new FakeMetricsBatch([eastus!]);
    const spellings = [eastus!.resourceId, eastus!.resourceId.toLowerCase(), eastus!.resourceId.replace('resourceGroups', 'resourcegroups').replace(SUB_A, SUB_A.toUpperCase())];
    const tokens = await sourcesOn(fake, spellings.map((resourceId) => ({ resourceId, region: 'eastus' }))).metrics!(WINDOW);
    expect(fake.calls.map((c) => c.resourceIds)).toEqual([[eastus!.resourceId]]);
    expect(tokens.map((t) => [t.deployment, t.promptTokens, t.generatedTokens])).toEqual([['gpt-4o-prod', 1000, 100]]);
  });

  it('queries the subscription of an account whose resource id is written in the upper case Log Analytics uses', async () => {
    const [eastus] = ACCOUNTS;
    const fake = new FakeMetricsBatch([eastus!]);
    const tokens = await sourcesOn(fake, parseMetricsResources(`eastus=${eastus!.resourceId.toUpperCase()}`)).metrics!(WINDOW);
    expect(fake.calls.map((c) => [c.subscriptionId, c.status])).toEqual([[SUB_A, 200]]);
    expect(tokens.map((t) => [t.deployment, t.promptTokens, t.generatedTokens])).toEqual([['gpt-4o-prod', 1000, 100]]);
  });

  it("marks the window's metrics-tokens check unavailable, naming Azure's error, when an account's metrics failed inside a 200 answer", async () => {
    const failure = { code: 'InternalServerError', message: 'Error occurred while querying metric ProcessedPromptTokens.' };
    const accounts = [ACCOUNTS[0]!, { ...ACCOUNTS[1]!, failure }];
    const metrics = sourcesOn(new FakeMetricsBatch(accounts), accounts.map(({ resourceId, region }) => ({ resourceId, region })));
    const ledger = new MemoryLedgerStore();
    const tokens = { source: 'gateway' as const, promptTokens: 3000, cachedTokens: 0, completionTokens: 300, reasoningTokens: 0 };
    await ledger.createEntries([ledgerEntry({ time: '2026-10-15T10:20:00.000Z', deployment: 'gpt-4o-prod', tokens })]);
    const sources = { records: async () => [], metrics: (window: typeof WINDOW) => metrics.metrics!(window) };

    const checks = (await reconcileWindow({ ledger, sources }, WINDOW, { gatewayObjectIds: new Set() })).filter((c) => c.check === 'metrics-tokens');

    // Not graded against the one account that answered (1,000 of the ledger's 3,000 prompt tokens).
    expect(checks.map((c) => [c.deployment, c.status, c.expected])).toEqual([['gpt-4o-prod', 'unavailable', null]]);
    expect(checks[0]!.reason).toContain(`Azure Monitor could not read ${ACCOUNTS[1]!.resourceId}/providers/Microsoft.Insights/metrics/ProcessedPromptTokens: InternalServerError: Error occurred`);
  });

  it('has no metrics check when no account is configured, rather than grading the ledger against zero tokens', async () => {
    const unconfigured = new AzureReconciliationSources({ logs: {} as never, workspaceId: 'unused', metrics: { clientFor: () => { throw new Error('never asked'); }, resources: [] } });
    expect(unconfigured.metrics).toBeUndefined();
    const ledger = new MemoryLedgerStore();
    const tokens = { source: 'gateway' as const, promptTokens: 40_000, cachedTokens: 0, completionTokens: 2_000, reasoningTokens: 0 };
    await ledger.createEntries([ledgerEntry({ time: '2026-10-15T10:20:00.000Z', deployment: 'gpt-4o-prod', tokens })]);
    const sources = { records: async () => [], ...(unconfigured.metrics ? { metrics: unconfigured.metrics } : {}) };
    const checks = await reconcileWindow({ ledger, sources }, WINDOW, { gatewayObjectIds: new Set() });
    expect(checks.filter((c) => c.check === 'metrics-tokens')).toEqual([]);
  });

  it("passes the run's abort signal to Azure Monitor: a cancelled run's metrics read stops", async () => {
    const fake = new FakeMetricsBatch(ACCOUNTS.slice(0, 1));
    const cancelled = AbortSignal.abort();
    const read = sourcesOn(fake, ACCOUNTS.slice(0, 1).map(({ resourceId, region }) => ({ resourceId, region }))).metrics!(WINDOW, { abortSignal: cancelled });
    await expect(read).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('splits a region and subscription into calls of at most 50 resources', () => {
    const many = Array.from({ length: 120 }, (_, i) => ({ resourceId: account(SUB_A, `aoai-${String(i).padStart(3, '0')}`), region: 'westeurope' }));
    const batches = planMetricsBatches([...many, ...many.slice(0, 5)]);
    expect(batches.map((b) => b.resourceIds.length)).toEqual([MAX_RESOURCES_PER_BATCH, MAX_RESOURCES_PER_BATCH, 20]);
    expect(new Set(batches.flatMap((b) => b.resourceIds)).size).toBe(120);
    expect(batches.every((b) => b.endpoint === 'https://westeurope.metrics.monitor.azure.com' && b.subscriptionId === SUB_A)).toBe(true);
  });
});

describe('metrics account configuration', () => {
  it('reads <region>=<resource id> entries and refuses an entry without its region', () => {
    const setting = `eastus=${ACCOUNTS[0]!.resourceId}, SwedenCentral=${ACCOUNTS[2]!.resourceId}`;
    expect(parseMetricsResources(setting)).toEqual([
      { resourceId: ACCOUNTS[0]!.resourceId, region: 'eastus' },
      { resourceId: ACCOUNTS[2]!.resourceId, region: 'swedencentral' },
    ]);
    expect(() => parseMetricsResources(ACCOUNTS[0]!.resourceId)).toThrow(/expected <region>=<resource id>/);
    expect(() => parseMetricsResources('eastus=/subscriptions/x/accounts/y')).toThrow(/not an Azure OpenAI account resource id/);
    expect(() => loadSettings({ AZURE_OPENAI_RESOURCE_IDS: ACCOUNTS[0]!.resourceId })).toThrow(/AZURE_OPENAI_RESOURCE_IDS/);
  });
});
