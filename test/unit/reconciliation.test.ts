import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DiagnosticRecord } from '../../src/contracts/diagnostic-record.js';
import { DEFAULT_THRESHOLDS, describeThresholds, limitOf, reconcile, type CheckResult, type Thresholds } from '../../src/domain/reconciliation.js';
import { reconcileFiles } from '../../src/services/reconcile-files.js';
import { SIMULATION_FILES, writeSimulation } from '../../src/simulator/files.js';
import { simulateDay, type GroundTruth } from '../../src/simulator/traffic.js';
import { ledgerEntry } from '../support/ledger-entries.js';

function diagnosticRecord(correlationId: string): DiagnosticRecord {
  return {
    correlationId,
    time: '2026-10-15T10:00:01.000Z',
    resourceId: '/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/CONTOSO-AOAI-EASTUS',
    account: 'contoso-aoai-eastus',
    regionCode: 'eastus',
    operationName: 'ChatCompletions_Create',
    durationMs: 900,
    status: 200,
    objectId: null,
    streamType: 'Non-Streaming',
    modelDeploymentName: 'gpt-4o-prod',
    modelName: 'gpt-4o',
    modelVersion: '2024-08-06',
  };
}

/** `reconcile` over the files of a simulated day (20,000 requests), as the CLI runs it; the folder is removed afterwards. */
async function reconcileSimulatedDay(options: { faults: boolean; maxSample?: number }): Promise<{ checks: CheckResult[]; truth: GroundTruth['reconciliation']; deadLetters: { told: number; truth: number } }> {
  const day = simulateDay({ requests: 20_000, seed: 77, day: '2026-10-15', faults: options.faults });
  const truth = day.groundTruth.reconciliation;
  const dir = await mkdtemp(join(tmpdir(), 'tokenledger-reconcile-'));
  try {
    await writeSimulation(dir, day);
    const { checks, deadLetterReasons } = await reconcileFiles({
      eventsFile: join(dir, SIMULATION_FILES.events),
      diagnosticsDir: join(dir, SIMULATION_FILES.diagnostics),
      llmLogFile: join(dir, SIMULATION_FILES.llmLog),
      metricsFile: join(dir, SIMULATION_FILES.metrics),
      gatewayObjectIds: new Set([truth.gatewayObjectId]),
      ...(options.maxSample === undefined ? {} : { maxSample: options.maxSample }),
    });
    return { checks, truth, deadLetters: { told: deadLetterReasons.reduce((sum, r) => sum + r.deadLetters, 0), truth: day.groundTruth.deadLetters } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("reconciliation over the simulator's files with injected faults", () => {
  let checks: CheckResult[];
  let truth: GroundTruth['reconciliation'];
  const notOk = (check: string) => checks.filter((c) => c.check === check && c.status !== 'ok');
  const ids = (rows: CheckResult[], side: 'gatewayOnly' | 'diagnosticsOnly') => rows.flatMap((r) => r[side]).sort();

  beforeAll(async () => {
    ({ checks, truth } = await reconcileSimulatedDay({ faults: true, maxSample: 10_000 }));
  });

  it('injects every kind of fault', () => {
    expect(truth.lostEvents.length).toBeGreaterThan(0);
    expect(truth.missingDiagnostics.length).toBeGreaterThan(0);
    expect(truth.keyBased.length).toBeGreaterThan(0);
    expect(truth.tokenDrift).not.toBeNull();
  });

  it('requests: fails exactly the windows with lost gateway events, and lists the requests whose diagnostics are missing', () => {
    const failed = checks.filter((c) => c.check === 'requests' && c.status === 'fail');
    expect(ids(failed, 'diagnosticsOnly')).toEqual([...truth.lostEvents].sort());
    expect(failed.every((c) => c.diagnosticsOnly.length > 0)).toBe(true);
    const all = checks.filter((c) => c.check === 'requests');
    expect(ids(all, 'gatewayOnly')).toEqual([...truth.missingDiagnostics].sort());
    // About 1 % of records are missing, inside the tolerance: no window fails for that alone (a window of 150
    // requests misses more than the 5 that warn about once in 300, so a day may hold a warning).
    expect(all.filter((c) => c.status === 'fail' && c.diagnosticsOnly.length === 0)).toEqual([]);
    expect(all.filter((c) => c.status !== 'ok' && c.diagnosticsOnly.length === 0).every((c) => c.gatewayOnlyCount > limitOf(DEFAULT_THRESHOLDS.requests, 2, c.actual))).toBe(true);
  });

  it('bypass: lists exactly the direct calls, failing the hours with key-based ones', () => {
    const rows = checks.filter((c) => c.check === 'bypass');
    expect(ids(rows, 'diagnosticsOnly')).toEqual([...truth.bypass].sort());
    const keyBased = new Set(truth.keyBased);
    for (const row of rows) expect(row.status).toBe(row.diagnosticsOnly.some((id) => keyBased.has(id)) ? 'fail' : 'warn');
  });

  it('llm-tokens: only the lost events differ, and the tokens of every request on both sides agree', () => {
    const all = checks.filter((c) => c.check === 'llm-tokens');
    expect(ids(all, 'diagnosticsOnly')).toEqual([...truth.lostGatewayRequestIds].sort());
    expect(ids(all, 'gatewayOnly')).toEqual([]);
    expect(notOk('llm-tokens').every((c) => c.diagnosticsOnly.length > 0)).toBe(true);
    expect(all.filter((c) => c.diagnosticsOnly.length === 0).every((c) => c.expected === c.actual && c.status === 'ok')).toBe(true);
  });

  it('metrics-tokens: fails exactly the drifted hour and deployment', () => {
    expect(notOk('metrics-tokens').map((c) => [c.window, c.deployment, c.status])).toEqual([[truth.tokenDrift!.hour, truth.tokenDrift!.deployment, 'fail']]);
    const drifted = notOk('metrics-tokens')[0]!;
    expect(drifted.driftPct!).toBeLessThan(-25);
  });
});

describe('reconciliation of a fault-free simulated day', () => {
  let checks: CheckResult[];
  let deadLetters: { told: number; truth: number };

  beforeAll(async () => {
    ({ checks, deadLetters } = await reconcileSimulatedDay({ faults: false }));
  });

  it("tells why the events file's malformed lines are no requests of the checks", () => {
    expect(deadLetters.truth).toBeGreaterThan(0);
    expect(deadLetters.told).toBe(deadLetters.truth);
  });

  it('fails no requests, LLM-log or metrics window, though some records are missing and some hours are quiet', () => {
    const requests = checks.filter((c) => c.check === 'requests');
    expect(requests.some((c) => c.gatewayOnlyCount > 0)).toBe(true);
    expect(requests.some((c) => c.expected !== null && c.expected < 100)).toBe(true);
    expect(checks.filter((c) => c.check !== 'bypass' && c.status === 'fail')).toEqual([]);
  });
});

describe('reconciliation thresholds', () => {
  const entries = (n: number) => Array.from({ length: n }, (_, i) => ledgerEntry({ id: `r-${i}`, apimRequestId: `r-${i}`, gatewayRequestId: `g-${i}`, time: '2026-10-15T10:00:00.000Z', deployment: 'gpt-4o-prod' }));
  const records = (ids: readonly string[], objectId = 'gateway') =>
    ids.map((id) => ({ ...diagnosticRecord(id), objectId }));
  const requestsStatus = (ledger: number, recorded: readonly string[], thresholds?: Thresholds) =>
    reconcile({ entries: entries(ledger), records: records(recorded), gatewayObjectIds: new Set(['gateway']), ...(thresholds ? { thresholds: { requests: thresholds } } : {}) }).find((c) => c.check === 'requests')!.status;
  const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `r-${from + i}`);

  it('takes percentages of at least minCount, and tolerates an absolute difference', () => {
    // One missing record in a 5-request hour: 20 %, yet within the absolute tolerance.
    expect(requestsStatus(5, ids(0, 4))).toBe('ok');
    // Ten requests and no record at all: more than 5 requests and more than 5 % of 100.
    expect(requestsStatus(10, [])).toBe('fail');
    // 1,000 requests: 20 missing is 2 % (ok), 21 warns, 50 is 5 % (warn), 51 fails.
    expect(requestsStatus(1000, ids(0, 980))).toBe('ok');
    expect(requestsStatus(1000, ids(0, 979))).toBe('warn');
    expect(requestsStatus(1000, ids(0, 950))).toBe('warn');
    expect(requestsStatus(1000, ids(0, 949))).toBe('fail');
  });

  it("matches a record to its request whatever the case of its id's letters, as the join does", () => {
    const guids = Array.from({ length: 20 }, (_, i) => `c4a1e7d2-5b3f-4e8a-9c6d-${String(i).padStart(12, '0')}ab`);
    const checks = reconcile({
      entries: guids.map((id, i) => ledgerEntry({ id, apimRequestId: id, gatewayRequestId: `g-${i}`, time: '2026-10-15T10:00:00.000Z', deployment: 'gpt-4o-prod' })),
      records: records(guids.map((id) => id.toUpperCase())),
      gatewayObjectIds: new Set(['gateway']),
    });
    expect(checks.filter((c) => c.check === 'requests').map((c) => [c.status, c.expected, c.actual, c.gatewayOnlyCount, c.diagnosticsOnlyCount])).toEqual([['ok', 20, 20, 0, 0]]);
  });

  it('fails any gateway request missing from the ledger, unless told to tolerate some', () => {
    const recorded = [...ids(0, 1000), 'lost-1'];
    expect(requestsStatus(1000, recorded)).toBe('fail');
    expect(requestsStatus(1000, recorded, { ...DEFAULT_THRESHOLDS.requests, maxLostRequests: 1 })).toBe('ok');
  });

  it("takes a failed call of the gateway's identity that no request names for an attempt its retry policy repeated, not a lost request", () => {
    // APIM's retry policy sends each attempt to Azure OpenAI, which logs each; the gateway's event names the last.
    const retried = [...records(ids(0, 100)), { ...diagnosticRecord('attempt-1'), objectId: 'gateway', status: 429 }, { ...diagnosticRecord('attempt-2'), objectId: 'gateway', status: 503 }];
    const checks = reconcile({ entries: entries(100), records: retried, gatewayObjectIds: new Set(['gateway']) });
    expect(checks.filter((c) => c.check === 'requests').map((c) => [c.status, c.expected, c.diagnosticsOnly])).toEqual([['ok', 100, []]]);
    expect(checks.filter((c) => c.check === 'bypass')).toEqual([]);
    // An answered one is a request the ledger lost.
    const lost = reconcile({ entries: entries(100), records: [...retried, { ...diagnosticRecord('lost-1'), objectId: 'gateway', status: 200 }], gatewayObjectIds: new Set(['gateway']) });
    expect(lost.filter((c) => c.check === 'requests').map((c) => [c.status, c.diagnosticsOnly])).toEqual([['fail', ['lost-1']]]);
  });

  it('llm-tokens leaves out requests an AI Hub Gateway payload told: the LLM log cannot hold their ids', () => {
    const tokens = { source: 'gateway' as const, promptTokens: 900, cachedTokens: 0, completionTokens: 100, reasoningTokens: 0 };
    const v1 = ledgerEntry({ id: 'r-1', apimRequestId: 'r-1', gatewayRequestId: 'g-1', time: '2026-10-15T10:00:00.000Z', deployment: 'gpt-4o-prod', tokens });
    const aiHub = ledgerEntry({ id: 'h-1', source: 'ai-hub-gateway', apimRequestId: null, gatewayRequestId: 'chatcmpl-1', time: '2026-10-15T10:00:00.000Z', deployment: 'gpt-4o-prod', tokens });
    const llmUsage = [{ gatewayRequestId: 'g-1', time: '2026-10-15T10:00:01.000Z', deployment: 'gpt-4o-prod', promptTokens: 900, completionTokens: 100 }];
    const llm = (entries: typeof v1[]) => reconcile({ entries, llmUsage, gatewayObjectIds: new Set(['gateway']) }).filter((c) => c.check === 'llm-tokens');
    expect(llm([v1, aiHub]).map((c) => [c.expected, c.actual, c.gatewayOnly, c.status])).toEqual([[1000, 1000, [], 'ok']]);
    // A v1 request the log lacks is still counted against it.
    expect(llm([v1, { ...v1, id: 'r-2', apimRequestId: 'r-2', gatewayRequestId: 'g-2' }]).map((c) => [c.actual, c.gatewayOnly, c.status])).toEqual([[2000, ['g-2'], 'fail']]);
  });

  it('says what each threshold means', () => {
    const text = describeThresholds();
    expect(text.requests).toBe(
      'ledger requests without a RequestResponse record: warn above max(5 requests, 2 % of max(ledger requests, 100)), fail above max(5 requests, 5 % of max(ledger requests, 100)); gateway requests missing from the ledger: fail above 0',
    );
    expect(limitOf(DEFAULT_THRESHOLDS.requests, 5, 5)).toBe(5);
    expect(limitOf(DEFAULT_THRESHOLDS.requests, 5, 1000)).toBe(50);
  });
});

describe('metrics-tokens when the metrics cannot be read', () => {
  const tokens = (prompt: number, completion: number) => ({ source: 'gateway' as const, promptTokens: prompt, cachedTokens: 0, completionTokens: completion, reasoningTokens: 0 });
  const entries = [
    ledgerEntry({ id: 'a', apimRequestId: 'a', gatewayRequestId: 'gw-a', time: '2026-10-15T10:05:00.000Z', deployment: 'gpt-4o-prod', tokens: tokens(900, 100) }),
    ledgerEntry({ id: 'b', apimRequestId: 'b', gatewayRequestId: 'gw-b', time: '2026-10-15T10:50:00.000Z', deployment: 'gpt-4o-prod', tokens: tokens(50, 50) }),
    ledgerEntry({ id: 'c', apimRequestId: 'c', gatewayRequestId: 'gw-c', time: '2026-10-15T11:10:00.000Z', deployment: 'o3-mini', tokens: tokens(10, 0) }),
  ];

  it("is unavailable for every hour and deployment of the ledger, with the ledger's tokens, no expectation and the reason", () => {
    const results = reconcile({ entries, metricsUnavailable: 'HTTP 403 AuthorizationFailed: denied', gatewayObjectIds: new Set() });
    expect(results.map((c) => [c.check, c.window, c.deployment, c.expected, c.actual, c.driftPct, c.status, c.reason])).toEqual([
      ['metrics-tokens', '2026-10-15T10', 'gpt-4o-prod', null, 1100, null, 'unavailable', 'HTTP 403 AuthorizationFailed: denied'],
      ['metrics-tokens', '2026-10-15T11', 'o3-mini', null, 10, null, 'unavailable', 'HTTP 403 AuthorizationFailed: denied'],
    ]);
  });

  it('grades metrics that were read, and gives no reason', () => {
    const metrics = [{ hour: '2026-10-15T10', deployment: 'gpt-4o-prod', promptTokens: 950, generatedTokens: 150 }];
    const results = reconcile({ entries: entries.slice(0, 2), metrics, gatewayObjectIds: new Set() });
    expect(results.map((c) => [c.status, c.reason])).toEqual([['ok', undefined]]);
  });

  it('checks only the hours the metrics were asked for: a ledger hour outside them is no hour without tokens', () => {
    const metrics = [{ hour: '2026-10-15T10', deployment: 'gpt-4o-prod', promptTokens: 950, generatedTokens: 150 }];
    const results = reconcile({ entries, metrics, metricsHours: { from: '2026-10-15T10', to: '2026-10-15T11' }, gatewayObjectIds: new Set() });
    expect(results.map((c) => [c.window, c.deployment, c.status])).toEqual([['2026-10-15T10', 'gpt-4o-prod', 'ok']]);
  });
});
