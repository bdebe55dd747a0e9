import { describe, expect, it } from 'vitest';
import type { DiagnosticRecord } from '../../src/contracts/diagnostic-record.js';
import type { CheckResult } from '../../src/domain/reconciliation.js';
import type { ReconciliationSources, ReconciliationStore, TimeWindow } from '../../src/ports/reconciliation.js';
import { runReconciliation } from '../../src/services/reconcile-windows.js';
import { reconcileWindow } from '../../src/services/reconcile-windows.js';
import { ledgerEntry } from '../support/ledger-entries.js';
import { MemoryLedgerStore, MemoryWatermarkStore } from '../support/memory-stores.js';

/** In-memory fake of the results store, keyed like the Cosmos adapter by (check, hour, deployment). */
class MemoryResults implements ReconciliationStore {
  readonly results = new Map<string, CheckResult>();
  async upsertResults(results: readonly CheckResult[]): Promise<void> {
    for (const r of results) this.results.set(`${r.check}|${r.window}|${r.deployment}`, r);
  }
  async listResults(window: TimeWindow): Promise<CheckResult[]> {
    return [...this.results.values()].filter((r) => r.window >= window.from.toISOString().slice(0, 13) && r.window < window.to.toISOString().slice(0, 13));
  }
}

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
    const results = new MemoryResults();
    const ports = { ledger: new MemoryLedgerStore(), sources, results, watermarks };
    const options = { now: new Date('2026-10-15T08:30:00Z'), watermarkName: 'reconcile', gatewayObjectIds: new Set(['gateway']), initialLookbackInMs: 6 * 3_600_000 };

    await expect(runReconciliation(ports, options)).rejects.toThrow(/429/);
    expect(await watermarks.get('reconcile')).toBeNull();

    const run = await runReconciliation(ports, options);
    expect(run.window).toEqual({ from: new Date('2026-10-15T00:00:00Z'), to: new Date('2026-10-15T06:00:00Z') });
    expect(asked[1]).toEqual(asked[0]);
    expect(await watermarks.get('reconcile')).toBe('2026-10-15T06:00:00.000Z');
    const first = [...results.results.values()];
    expect(first.map((r) => [r.check, r.window, r.diagnosticsOnly])).toEqual([['requests', '2026-10-15T03', ['lost-1']]]);

    expect(await runReconciliation(ports, options)).toEqual({ window: null, results: 0 });
    await watermarks.set('reconcile', '2026-10-15T00:00:00.000Z');
    await runReconciliation(ports, options);
    expect([...results.results.values()]).toEqual(first);
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
