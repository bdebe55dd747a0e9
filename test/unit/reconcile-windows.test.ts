import { RestError } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import type { DiagnosticRecord } from '../../src/contracts/diagnostic-record.js';
import { checkResultSchema } from '../../src/contracts/reconciliation-result.js';
import type { CheckResult, MetricTokens } from '../../src/domain/reconciliation.js';
import { MissingTableError } from '../../src/ports/diagnostics-source.js';
import { TransientStoreError } from '../../src/ports/ledger-store.js';
import { namedRunResults, runKey } from '../../src/domain/run-order.js';
import type { ReconciliationSources, TimeWindow } from '../../src/ports/reconciliation.js';
import { reconcileWindow, runReconciliation, storeHourResults } from '../../src/services/reconcile-windows.js';
import { requestsResult } from '../support/check-results.js';
import { diagnosticRecord } from '../support/diagnostic-records.js';
import { ledgerEntry } from '../support/ledger-entries.js';
import { MemoryLedgerStore, MemoryReconciliationStore, MemoryWatermarkStore } from '../support/memory-stores.js';
import { pausedAt } from '../support/paused-calls.js';

const record = (id: string, time: string): DiagnosticRecord => ({
  correlationId: id,
  time,
  resourceId: '/SUBSCRIPTIONS/S/RESOURCEGROUPS/R/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/A',
  account: 'a',
  regionCode: 'eastus',
  operationName: 'ChatCompletions_Create',
  durationMs: 100,
  status: 200,
  objectId: 'gateway',
  streamType: 'Non-Streaming',
  modelDeploymentName: 'gpt-4o-prod',
  modelName: 'gpt-4o',
  modelVersion: '2024-08-06',
});

/** What a source logged inside a window, as Log Analytics answers a time range. */
const within = <T extends { time: string }>(items: readonly T[], window: TimeWindow) => items.filter((item) => Date.parse(item.time) >= window.from.getTime() && Date.parse(item.time) < window.to.getTime());

describe('scheduled reconciliation runs (in-memory fake stores and sources)', () => {
  it('does not advance the watermark when a source fails, resumes there, and re-running a window replaces its results', async () => {
    let failNext = true;
    const asked: TimeWindow[] = [];
    const sources: ReconciliationSources = {
      records: async (window) => {
        asked.push(window);
        if (failNext) {
          failNext = false;
          throw new Error('429 from Log Analytics after retries');
        }
        return [record('lost-1', '2026-10-15T03:10:00.000Z')];
      },
    };
    const watermarks = new MemoryWatermarkStore();
    const results = new MemoryReconciliationStore();
    const ports = { ledger: new MemoryLedgerStore(), sources, results, watermarks };
    const options = { now: new Date('2026-10-15T08:30:00Z'), watermarkName: 'reconcile', gatewayObjectIds: new Set(['gateway']), initialLookbackInMs: 6 * 3_600_000, regradeInMs: 0 }; // hours checked again: see below

    await expect(runReconciliation(ports, options)).rejects.toThrow(/429/);
    expect(await watermarks.get('reconcile')).toBeNull();

    const run = await runReconciliation(ports, options);
    expect(run.window).toEqual({ from: new Date('2026-10-15T00:00:00Z'), to: new Date('2026-10-15T06:00:00Z') });
    expect(asked[1]).toEqual(asked[0]);
    expect(await watermarks.get('reconcile')).toBe('2026-10-15T06:00:00.000Z');
    const first = results.current();
    expect(first.map((r) => [r.check, r.window, r.diagnosticsOnly])).toEqual([['requests', '2026-10-15T03', ['lost-1']]]);

    expect(await runReconciliation(ports, options)).toEqual({ window: null, results: 0, superseded: 0, regraded: 0 });
    await watermarks.set('reconcile', '2026-10-15T00:00:00.000Z');
    await runReconciliation(ports, options);
    expect(results.current()).toEqual(first);
  });
});

describe('a run behind by many hours', () => {
  it('reconciles hour by hour, storing each hour and advancing the watermark before it reads the next; a failed hour is where the next run resumes', async () => {
    const asked: string[] = [];
    const events: string[] = [];
    const sources: ReconciliationSources = {
      records: async (window) => {
        asked.push(`${window.from.toISOString().slice(11, 16)}-${window.to.toISOString().slice(11, 16)}`);
        if (window.from.toISOString() === '2026-10-15T04:00:00.000Z' && asked.length < 6) throw new Error('429 from Log Analytics after retries');
        return window.from.toISOString() === '2026-10-15T03:00:00.000Z' ? [record('lost-1', '2026-10-15T03:10:00.000Z')] : [];
      },
    };
    const watermarks = new MemoryWatermarkStore();
    const results = new MemoryReconciliationStore();
    const ports = {
      ledger: new MemoryLedgerStore(),
      sources,
      results: new Proxy(results, {
        get: (target, property) =>
          property === 'putResults'
            ? (hour: string, run: string, r: readonly CheckResult[]) => (events.push(`results ${r.length}`), target.putResults(hour, run, r))
            : (Reflect.get(target, property) as (...args: unknown[]) => unknown).bind(target),
      }),
      watermarks: { get: (name: string) => watermarks.get(name), set: async (name: string, w: string) => (events.push(`watermark ${w.slice(11, 16)}`), watermarks.set(name, w)) },
    };
    const options = { now: new Date('2026-10-15T08:30:00Z'), watermarkName: 'reconcile', gatewayObjectIds: new Set(['gateway']), initialLookbackInMs: 6 * 3_600_000, regradeInMs: 0 }; // hours checked again: see below

    await expect(runReconciliation(ports, options)).rejects.toThrow(/429/);
    // Records are read an hour past each hour: Azure writes one when its response ends.
    expect(asked).toEqual(['00:00-02:00', '01:00-03:00', '02:00-04:00', '03:00-05:00', '04:00-06:00']);
    expect(events).toEqual(['results 0', 'watermark 01:00', 'results 0', 'watermark 02:00', 'results 0', 'watermark 03:00', 'results 1', 'watermark 04:00']);
    expect(results.current().map((r) => [r.check, r.window, r.diagnosticsOnly])).toEqual([['requests', '2026-10-15T03', ['lost-1']]]);

    const run = await runReconciliation(ports, options);
    expect(run).toEqual({ window: { from: new Date('2026-10-15T04:00:00Z'), to: new Date('2026-10-15T06:00:00Z') }, results: 0, superseded: 0, regraded: 0 });
    expect(asked.slice(5)).toEqual(['04:00-06:00', '05:00-07:00']);
    expect(await watermarks.get('reconcile')).toBe('2026-10-15T06:00:00.000Z');
  });
});

describe('a request that began before the end of an hour and whose record Azure wrote after it', () => {
  it('counts its record in the hour it began, and the next hour neither fails for it nor counts it again', async () => {
    const ledger = new MemoryLedgerStore();
    // The record's time is its response's end plus the few seconds Azure takes to write it.
    await ledger.createEntries([
      ledgerEntry({ id: 'req-1', apimRequestId: 'req-1', gatewayRequestId: 'gw-1', time: '2026-10-15T03:59:58.000Z', deployment: 'gpt-4o-prod' }),
      ledgerEntry({ id: 'req-2', apimRequestId: 'req-2', gatewayRequestId: 'gw-2', time: '2026-10-15T04:20:00.000Z', deployment: 'gpt-4o-prod' }),
    ]);
    const logged = [record('req-1', '2026-10-15T04:00:04.000Z'), record('req-2', '2026-10-15T04:20:03.000Z'), record('lost-1', '2026-10-15T04:30:00.000Z')];
    const sources: ReconciliationSources = {
      records: async (window) => within(logged, window),
    };
    const results = new MemoryReconciliationStore();
    const ports = { ledger, sources, results, watermarks: new MemoryWatermarkStore() };

    await runReconciliation(ports, { now: new Date('2026-10-15T07:00:00Z'), watermarkName: 'reconcile', gatewayObjectIds: new Set(['gateway']), initialLookbackInMs: 2 * 3_600_000 });

    expect(results.current().map((r) => [r.window, r.expected, r.actual, r.status, r.gatewayOnly, r.diagnosticsOnly])).toEqual([
      ['2026-10-15T03', 1, 1, 'ok', [], []],
      ['2026-10-15T04', 2, 1, 'fail', [], ['lost-1']],
    ]);
  });
});

describe('the LLM-log rows of a window', () => {
  const tokens = { source: 'gateway' as const, promptTokens: 900, cachedTokens: 0, completionTokens: 100, reasoningTokens: 0 };
  const row = (gatewayRequestId: string, time: string) => ({ gatewayRequestId, time, deployment: 'chat-prod', promptTokens: 900, completionTokens: 100 });

  it("finds the row of a request that began in the window and ended after it, and leaves an earlier window's row to that window", async () => {
    const ledger = new MemoryLedgerStore();
    // Began at 23:59:58, logged by APIM when the response ended, after midnight.
    const lateEnding = ledgerEntry({ id: 'late', apimRequestId: 'late', gatewayRequestId: 'gw-late', time: '2026-10-15T23:59:58.000Z', tokens });
    // Began in the day before; its row was logged inside this window.
    const fromBefore = ledgerEntry({ id: 'before', apimRequestId: 'before', gatewayRequestId: 'gw-before', time: '2026-10-14T23:59:59.000Z', tokens });
    await ledger.createEntries([lateEnding, fromBefore]);
    const asked: TimeWindow[] = [];
    const sources: ReconciliationSources = {
      records: async () => [],
      llmUsage: async (window) => {
        asked.push(window);
        return [row('gw-late', '2026-10-16T00:00:03.000Z'), row('gw-before', '2026-10-15T00:00:02.000Z'), row('gw-lost', '2026-10-15T12:00:00.000Z'), row('gw-next', '2026-10-16T00:10:00.000Z')];
      },
    };
    const window = { from: new Date('2026-10-15T00:00:00Z'), to: new Date('2026-10-16T00:00:00Z') };
    const results = (await reconcileWindow({ ledger, sources }, window, { gatewayObjectIds: new Set(['gateway']) })).filter((c) => c.check === 'llm-tokens');
    expect(asked).toEqual([{ from: window.from, to: new Date('2026-10-16T01:00:00Z') }]);
    expect(results.map((c) => [c.window, c.expected, c.actual, c.diagnosticsOnly, c.gatewayOnly, c.status])).toEqual([
      ['2026-10-15T12', 1000, 0, ['gw-lost'], [], 'fail'],
      ['2026-10-15T23', 1000, 1000, [], [], 'ok'],
    ]);
  });
});

describe('a window whose Azure Monitor metrics cannot be read', () => {
  const tokens = { source: 'gateway' as const, promptTokens: 900, cachedTokens: 0, completionTokens: 100, reasoningTokens: 0 };
  const options = { now: new Date('2026-10-15T08:30:00Z'), watermarkName: 'reconcile', gatewayObjectIds: new Set(['gateway']), initialLookbackInMs: 6 * 3_600_000 };
  const denied = () =>
    new RestError(
      "The client 'reconciler' with object id '1b9f0c52-0d4e-4f3a-9a51-6c8e2f7d3a10' does not have authorization to perform action 'Microsoft.Insights/metrics/read' over scope '/subscriptions/6f1c2b7e-3d4a-4b8e-9c0d-1a2b3c4d5e6f' or the scope is invalid.",
      { code: 'AuthorizationFailed', statusCode: 403 },
    );

  async function portsWith(metrics: () => Promise<MetricTokens[]>) {
    const ledger = new MemoryLedgerStore();
    await ledger.createEntries([ledgerEntry({ id: 'req-1', apimRequestId: 'req-1', gatewayRequestId: 'gw-1', time: '2026-10-15T03:10:00.000Z', deployment: 'gpt-4o-prod', tokens })]);
    const sources: ReconciliationSources = {
      records: async (window) => within([record('req-1', '2026-10-15T03:10:01.000Z')], window),
      llmUsage: async (window) => within([{ gatewayRequestId: 'gw-1', time: '2026-10-15T03:10:02.000Z', deployment: 'gpt-4o-prod', promptTokens: 900, completionTokens: 100 }], window),
      metrics,
    };
    return { ledger, sources, results: new MemoryReconciliationStore(), watermarks: new MemoryWatermarkStore() };
  }

  it('stores the requests and llm-tokens results, a metrics-tokens result that says why the metrics were unavailable, and advances the watermark when the metrics answer 403', async () => {
    const ports = await portsWith(async () => {
      throw denied();
    });
    const run = await runReconciliation(ports, options);

    expect(run.window).toEqual({ from: new Date('2026-10-15T00:00:00Z'), to: new Date('2026-10-15T06:00:00Z') });
    expect(await ports.watermarks.get('reconcile')).toBe('2026-10-15T06:00:00.000Z');
    const stored = ports.results.current();
    expect(stored.filter((r) => r.check !== 'metrics-tokens').map((r) => [r.check, r.window, r.deployment, r.status])).toEqual([
      ['requests', '2026-10-15T03', 'gpt-4o-prod', 'ok'],
      ['llm-tokens', '2026-10-15T03', 'gpt-4o-prod', 'ok'],
    ]);
    const metrics = stored.filter((r) => r.check === 'metrics-tokens');
    expect(metrics.length).toBeGreaterThan(0);
    for (const result of metrics) {
      expect(result.status).toBe('unavailable');
      expect(result.reason).toMatch(/^HTTP 403 AuthorizationFailed: The client 'reconciler' .* does not have authorization/);
    }
    expect(metrics.find((r) => r.window === '2026-10-15T03' && r.deployment === 'gpt-4o-prod')).toMatchObject({ expected: null, actual: 1000, driftPct: null });
    for (const result of stored) expect(checkResultSchema.parse(result)).toEqual(result);
    expect(run.unavailable).toEqual([expect.stringMatching(/^metrics-tokens: HTTP 403 AuthorizationFailed: /)]);
  });

  it('stores requests results that say the workspace holds no AzureDiagnostics table yet, grades the LLM log, and moves on; any other lasting failure of the records fails the run', async () => {
    const given = await portsWith(async () => {
      throw denied();
    });
    const ports = { ...given, sources: { ...given.sources, records: async () => Promise.reject(new MissingTableError('AzureDiagnostics')) } };

    const run = await runReconciliation(ports, options);

    expect(await ports.watermarks.get('reconcile')).toBe('2026-10-15T06:00:00.000Z');
    const stored = ports.results.current().filter((r) => r.check !== 'metrics-tokens');
    expect(stored.map((r) => [r.check, r.window, r.deployment, r.status, r.expected, r.actual])).toEqual([
      ['requests', '2026-10-15T03', 'gpt-4o-prod', 'unavailable', null, 1],
      ['llm-tokens', '2026-10-15T03', 'gpt-4o-prod', 'ok', 1000, 1000],
    ]);
    expect(stored[0]!.reason).toMatch(/^the workspace holds no AzureDiagnostics table yet/);
    for (const result of stored) expect(checkResultSchema.parse(result)).toEqual(result);
    expect(run.unavailable).toEqual([expect.stringMatching(/^requests: the workspace holds no AzureDiagnostics table yet/), expect.stringMatching(/^metrics-tokens: HTTP 403/)]);

    const fresh = await portsWith(async () => []);
    const refused = { ...fresh, sources: { ...fresh.sources, records: async () => Promise.reject(denied()) } };
    await expect(runReconciliation(refused, options)).rejects.toMatchObject({ statusCode: 403 });
    expect(await refused.watermarks.get('reconcile')).toBeNull();
  });

  it('says why the metrics were unavailable even when the ledger has no hour in the window to mark', async () => {
    const ports = await portsWith(async () => {
      throw denied();
    });
    ports.ledger.entries.clear();

    const run = await runReconciliation(ports, options);

    expect(await ports.watermarks.get('reconcile')).toBe('2026-10-15T06:00:00.000Z');
    expect(ports.results.current().filter((r) => r.check === 'metrics-tokens')).toEqual([]);
    expect(run.unavailable).toEqual([expect.stringMatching(/^metrics-tokens: HTTP 403 AuthorizationFailed: /)]);
  });

  it.each([
    ['retries exhausted on the metrics source', () => new TransientStoreError('Azure Monitor metrics: 429 after 4 attempts')],
    ['a 503 from Azure Monitor', () => new RestError('Service Unavailable', { code: 'ServiceUnavailable', statusCode: 503 })],
  ])('fails the run and leaves the watermark on %s, so the next run retries the window', async (_, error) => {
    const ports = await portsWith(async () => {
      throw error();
    });

    await expect(runReconciliation(ports, options)).rejects.toThrow(error().message);
    expect(await ports.watermarks.get('reconcile')).toBeNull();
    expect(ports.results.current()).toEqual([]);
  });
});

describe('two runs reconciling one hour at once', () => {
  const HOUR = '2026-10-15T03';
  const result = (deployment: string, actual: number) => requestsResult(HOUR, deployment, actual);
  const older = runKey(new Date('2026-10-15T08:30:00Z'), 'a');
  const newer = runKey(new Date('2026-10-15T08:35:00Z'), 'b');

  it("keeps the newer run's results when the older run comes to name the hour last, and drops the older run's", async () => {
    const store = new MemoryReconciliationStore();
    // The older run has written its results and waits before it names the hour; the newer one stores its own meanwhile.
    const paused = pausedAt(store, 'getHourRun');
    const olderRun = storeHourResults(paused.store, HOUR, older, [result('gpt-4o', 9), result('gpt-35', 5)]);
    await paused.reached;
    expect(await storeHourResults(store, HOUR, newer, [result('gpt-4o', 10)])).toBe(true);
    paused.release();
    expect(await olderRun).toBe(false);
    expect(store.current()).toEqual([result('gpt-4o', 10)]);
    expect([...store.stored.values()].map((r) => r.run)).toEqual([newer]);
  });

  it("replaces an older run's results of the hour as a whole, a deployment only the older run found included", async () => {
    const store = new MemoryReconciliationStore();
    expect(await storeHourResults(store, HOUR, older, [result('gpt-4o', 9), result('gpt-35', 5)])).toBe(true);
    expect(store.current()).toEqual([result('gpt-4o', 9), result('gpt-35', 5)]);
    expect(await storeHourResults(store, HOUR, newer, [result('gpt-4o', 10)])).toBe(true);
    expect(store.current()).toEqual([result('gpt-4o', 10)]);
    expect([...store.stored.values()].map((r) => r.run)).toEqual([newer]);
  });

  it('removes the results a run wrote when it fails before the hour names it, so none stay unread', async () => {
    const store = new MemoryReconciliationStore();
    const getHourRun = store.getHourRun.bind(store);
    store.getHourRun = () => Promise.reject(new TransientStoreError('read recon-hour: 503 Service Unavailable'));
    await expect(storeHourResults(store, HOUR, newer, [result('gpt-4o', 10)])).rejects.toThrow(/503/);
    expect([...store.stored.values()]).toEqual([]);
    store.getHourRun = getHourRun;
    expect(await storeHourResults(store, HOUR, older, [result('gpt-4o', 9)])).toBe(true);
    expect(store.current()).toEqual([result('gpt-4o', 9)]);
  });

  it('reads an hour whose named run has not all its results there as incomplete, to be read again', () => {
    const stored = [{ ...result('gpt-4o', 10), run: newer }, { ...result('gpt-35', 5), run: older }];
    const named = new Map([[HOUR, { run: newer, results: 2 }]]);
    expect(namedRunResults(stored, (r) => r.window, named)).toEqual({ results: [stored[0]], incomplete: [HOUR] });
    expect(namedRunResults(stored, (r) => r.window, new Map([[HOUR, { run: newer, results: 1 }]])).incomplete).toEqual([]);
  });

  it('tells the run how many hours a newer run had stored first', async () => {
    const store = new MemoryReconciliationStore();
    const ports = { ledger: new MemoryLedgerStore(), sources: { records: async () => [] }, results: store, watermarks: new MemoryWatermarkStore() };
    const options = { now: new Date('2026-10-15T05:30:00Z'), watermarkName: 'reconcile', gatewayObjectIds: new Set(['gateway']), initialLookbackInMs: 2 * 3_600_000 };
    await storeHourResults(store, '2026-10-15T02', runKey(new Date('2026-10-15T06:00:00Z'), 'later'), []);
    expect(await runReconciliation(ports, options)).toMatchObject({ results: 0, superseded: 1 });
  });
});

// Learn, "Log data ingestion time in Azure Monitor": "The average latency to ingest log data is between 20 seconds and
// 3 minutes. The specific latency for any particular data will vary depending on several factors".
describe('an hour whose RequestResponse records reached Log Analytics late', () => {
  it('is graded again by a later run once the records are queryable, and an hour graded ok is not read again', async () => {
    const ledger = new MemoryLedgerStore();
    const ids = Array.from({ length: 20 }, (_, i) => `req-${i}`);
    const at = (i: number, seconds: string) => `2026-10-15T03:${String(10 + i).padStart(2, '0')}:${seconds}.000Z`;
    await ledger.createEntries(ids.map((id, i) => ledgerEntry({ id, apimRequestId: id, gatewayRequestId: `gw-${i}`, time: at(i, '00'), deployment: 'gpt-4o-prod' })));
    // Written at 03:1x, but the workspace answers them only from 08:00 on (ingested five hours late).
    const ingested = Date.parse('2026-10-15T08:00:00Z');
    let now = new Date('2026-10-15T06:10:00Z');
    const reads: string[] = [];
    const sources: ReconciliationSources = {
      records: async (window) => {
        reads.push(window.from.toISOString().slice(0, 13));
        return now.getTime() < ingested ? [] : within(ids.map((id, i) => record(id, at(i, '03'))), window);
      },
    };
    const results = new MemoryReconciliationStore();
    const ports = { ledger, sources, results, watermarks: new MemoryWatermarkStore() };
    const options = { watermarkName: 'reconcile', gatewayObjectIds: new Set(['gateway']), initialLookbackInMs: 2 * 3_600_000 };
    const verdict = () => results.current().find((r) => r.check === 'requests' && r.window === '2026-10-15T03')?.status;

    await runReconciliation(ports, { ...options, now });
    expect(verdict()).toBe('fail');
    now = new Date('2026-10-15T07:10:00Z');
    expect(await runReconciliation(ports, { ...options, now })).toMatchObject({ regraded: 1 });
    expect(verdict()).toBe('fail');
    now = new Date('2026-10-15T09:10:00Z');
    reads.length = 0;
    expect(await runReconciliation(ports, { ...options, now })).toMatchObject({ regraded: 1 });
    expect(verdict()).toBe('ok');
    // The hours of this run's window, and the one hour checked again; hour 02 (no requests, graded ok) is not.
    expect(reads).toEqual(['2026-10-15T05', '2026-10-15T06', '2026-10-15T03']);
  });

  it('checks again at most six failed hours a run, drawn by its random numbers, so every failed hour comes up over the next runs', async () => {
    const ledger = new MemoryLedgerStore();
    // Ten hours, each with twenty requests whose records never reach the workspace.
    await ledger.createEntries(
      Array.from({ length: 200 }, (_, i) => ledgerEntry({ id: `req-${i}`, apimRequestId: `req-${i}`, gatewayRequestId: `gw-${i}`, time: `2026-10-15T${String(Math.floor(i / 20)).padStart(2, '0')}:${String(i % 20 + 10)}:00.000Z`, deployment: 'gpt-4o-prod' })),
    );
    const reads: string[] = [];
    const sources: ReconciliationSources = { records: async (window) => (reads.push(window.from.toISOString().slice(11, 13)), []) };
    const ports = { ledger, sources, results: new MemoryReconciliationStore(), watermarks: new MemoryWatermarkStore() };
    // A Lehmer generator: the same draws on every test run.
    let seed = 7;
    const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    const options = { watermarkName: 'reconcile', gatewayObjectIds: new Set(['gateway']), initialLookbackInMs: 10 * 3_600_000, random };
    await runReconciliation(ports, { ...options, now: new Date('2026-10-15T12:10:00Z') });
    const regraded = new Set<string>();
    for (const now of ['2026-10-15T13:10:00Z', '2026-10-15T14:10:00Z', '2026-10-15T15:10:00Z', '2026-10-15T16:10:00Z']) {
      reads.length = 0;
      expect(await runReconciliation(ports, { ...options, now: new Date(now) })).toMatchObject({ regraded: 6 });
      // The run's own new hour first, then six distinct failed hours it checks again.
      expect(reads).toHaveLength(7);
      expect(new Set(reads.slice(1)).size).toBe(6);
      for (const hour of reads.slice(1)) regraded.add(hour);
    }
    expect([...regraded].sort()).toEqual(['00', '01', '02', '03', '04', '05', '06', '07', '08', '09']);
  });
  it('checks again an hour graded fail only because its records came late, among hours failing every other hour for good', async () => {
    // Even hours have twenty requests each whose records never reach the workspace; 13:00 of Oct 17 has twenty whose
    // records were ingested four hours late. A turn taken by the clock locked in phase with the failed hours as
    // they slid: its slices fell on the even hours run after run, and 13:00 was never read again.
    const HOUR = 3_600_000;
    const hourOf = (t: number) => new Date(t).toISOString().slice(0, 13);
    const start = Date.parse('2026-10-16T00:00:00Z');
    const late = Date.parse('2026-10-17T13:00:00Z');
    const entries = [];
    for (let h = start; h < late + 28 * HOUR; h += HOUR) {
      if (new Date(h).getUTCHours() % 2 !== 0 && h !== late) continue;
      for (let i = 0; i < 20; i++) {
        const id = `req-${hourOf(h).toLowerCase()}-${i}`;
        entries.push(ledgerEntry({ id, apimRequestId: id, gatewayRequestId: `gw-${hourOf(h)}-${i}`, time: new Date(h + (10 + i) * 60_000).toISOString(), deployment: 'gpt-4o-prod' }));
      }
    }
    const ledger = new MemoryLedgerStore();
    await ledger.createEntries(entries);
    const lateRecords = entries
      .filter((e) => e.time.startsWith(hourOf(late)))
      .map((e) => diagnosticRecord({ correlationId: e.id, time: new Date(Date.parse(e.time) + 3_000).toISOString(), objectId: 'gateway', modelDeploymentName: 'gpt-4o-prod' }));
    let now = new Date(start);
    const sources: ReconciliationSources = {
      records: async (window) => (now.getTime() < late + 4 * HOUR ? [] : lateRecords.filter((r) => Date.parse(r.time) >= window.from.getTime() && Date.parse(r.time) < window.to.getTime())),
    };
    const results = new MemoryReconciliationStore();
    const ports = { ledger, sources, results, watermarks: new MemoryWatermarkStore() };
    let seed = 11;
    const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    const options = { watermarkName: 'reconcile', gatewayObjectIds: new Set(['gateway']), initialLookbackInMs: HOUR, random };
    const verdict = () => results.current().find((r) => r.check === 'requests' && r.window === hourOf(late))?.status;
    // Hourly runs at :15 until the late hour has left the 24 hours they look back over.
    for (let run = start + 3 * HOUR + 15 * 60_000; run <= late + 27 * HOUR + 15 * 60_000; run += HOUR) {
      now = new Date(run);
      await runReconciliation(ports, { ...options, now });
      if (run === late + 3 * HOUR + 15 * 60_000) expect(verdict()).toBe('fail');
    }
    expect(verdict()).toBe('ok');
  });
});
