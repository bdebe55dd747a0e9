import { access } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareAmounts } from '../../src/domain/invoice-comparison.js';
import { runDemo, type DemoSummary } from '../../src/local/demo.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';

const steps: string[] = [];
const recording = { step: (label: string) => void steps.push(label), bar: () => ({ increment: () => {}, stop: () => {} }) };

describe('demo on the local stack', () => {
  let stack: LocalStack;
  let summary: DemoSummary;
  beforeAll(async () => {
    stack = await startLocalStack();
    summary = await runDemo(stack, { requests: 4000, seed: 11, day: '2026-11-20', redeliveryRate: 0.2 }, recording);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('reports progress on the join, rollup and reconciliation steps with what each timer did', () => {
    expect(steps).toContainEqual(expect.stringMatching(/^ {2}join: [1-9]\d* records read \([1-9]\d* stored, /));
    // The second run stores nothing: a blob written in the second its listing began is read again, and changes nothing.
    expect(steps).toContainEqual(expect.stringMatching(/^ {2}join: \d+ records read \(0 stored, /));
    // The day's hours, and the next day's first where Azure stamped the records of the day's last responses.
    expect(steps).toContainEqual(expect.stringMatching(/^ {2}rollup: 2[45] hours and [12] days recomputed from [1-9]\d* ledger entries; 0 dirty hours left for the next run$/));
    expect(steps).toContainEqual('  reconciled 2026-11-20T00:00:00.000Z..2026-11-21T00:00:00.000Z: ' + summary.reconciliation.length + ' results');
    expect(steps).toContainEqual(expect.stringMatching(/^ {2}allocate: focus\/tokenledger-demo\/20261120-20261120\/\d+\/part_0_0001\.csv: [1-9]\d* Azure OpenAI cost rows of 2026-11 allocated/));
    expect(steps).toContainEqual('  allocate: 1 exports allocated, 0 unchanged, 0 failed');
  });

  it('removes the temporary folder of the simulated files when it ends', async () => {
    const folder = /into (\S+)$/.exec(steps.find((s) => s.startsWith('simulating')) ?? '')?.[1];
    expect(folder).toMatch(/tokenledger-demo-/);
    await expect(access(folder!)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(summary.outDir).toBeNull();
  });

  it('redelivers batches and still counts every duplicate once', () => {
    expect(summary.delivery.redeliveries).toBeGreaterThan(0);
    expect(summary.groundTruth.events.duplicates).toBeGreaterThan(0);
    expect(summary.ledgerEntries).toBe(summary.groundTruth.ledgerEntries);
  });

  it('ends every distinct event as exactly one ledger entry or one dead letter', () => {
    expect(summary.deadLetters).toBe(summary.groundTruth.deadLetters);
    expect(summary.ledgerEntries + summary.deadLetters + summary.groundTruth.events.llmLogLines + summary.groundTruth.events.diagnosticLines).toBe(summary.groundTruth.events.distinct);
  });

  it('sends every source mix through the event hub and counts each in the summary', () => {
    const s = summary.sources;
    for (const count of [s.v1, s.aiHubPayloads, s.aiHubUsageRecords, s.aiHubTwelveOClock, s.v1AndLlmLog, s.v1AndLlmLogInterrupted, s.llmLogRows, s.requestResponseOverEventHubs, s.interruptedStreams]) {
      expect(count).toBeGreaterThan(0);
    }
    expect(s.ledgerEntriesBySource).toEqual({ 'gateway-v1': s.v1 + s.v1AndLlmLog, 'ai-hub-gateway': s.aiHubPayloads + s.aiHubUsageRecords });
    // Streams cut short are charged what APIM's LLM log counted: from its rows on the hub, or from the export by the join.
    expect(s.requestsByTokenSource['llm-log']).toBe(s.interruptedStreams);
  });

  it('reconciles the fault-free day without a failing requests, LLM-log or metrics window', () => {
    expect(summary.reconciliation.filter((c) => c.check === 'llm-tokens').length).toBeGreaterThan(0);
    expect(summary.reconciliation.filter((c) => c.check !== 'bypass' && c.status === 'fail')).toEqual([]);
  });

  it("joins diagnostics with matched / no diagnostics / bypass counts equal to the simulator's ground truth", () => {
    expect(summary.join).toEqual(summary.groundTruth.join);
  });

  it("reports per-identity token totals equal to the simulator's ground truth", () => {
    const actual = summary.identities.map(({ identity, kind, requests, promptTokens, cachedTokens, completionTokens, reasoningTokens }) => ({
      identity,
      requests,
      promptTokens,
      cachedTokens,
      completionTokens,
      reasoningTokens,
      kind: kind === 'servicePrincipal' ? 'app' : kind,
    }));
    const expected = summary.groundTruth.identities.map((row) => ({
      ...row,
      // From token claims alone, managed and workload identities are apps; the directory tells them apart.
      kind: ['servicePrincipal', 'managedIdentity', 'workloadIdentity'].includes(row.kind) ? 'app' : row.kind,
    }));
    expect(actual).toEqual(expected);
    expect(summary.checks.every((c) => c.ok)).toBe(true);
  });

  it("sets each team's list-price estimate next to its share of the simulated invoice, the bill allocated in full", () => {
    const { invoice } = summary;
    expect(invoice.teams.map((t) => t.team)).toEqual(summary.chargeback.team.rows.map((r) => r.key).sort());
    expect(invoice.teams.every((t) => compareAmounts(t.estimate, '0') > 0 && compareAmounts(t.billedCost, '0') > 0)).toBe(true);
    // Billed is 3 % below list on what the gateway saw, so every team's billed share is below its estimate.
    expect(invoice.teams.every((t) => compareAmounts(t.billedDifference, '0') < 0)).toBe(true);
    expect(compareAmounts(invoice.totals.allocatedBilledCost, summary.groundTruth.invoice.billedCost)).toBe(0);
    expect(compareAmounts(invoice.totals.allocatedEffectiveCost, summary.groundTruth.invoice.effectiveCost)).toBe(0);
    expect(compareAmounts(invoice.totals.unallocatedBilledCost, invoice.bound.billedCost)).toBeLessThanOrEqual(0);
    expect(summary.checks.filter((c) => c.name.startsWith('invoice allocation:'))).toHaveLength(3);
    expect(summary.checks.find((c) => c.name.startsWith('invoice allocation stored by the allocate timer'))?.ok).toBe(true);
  });
});

describe('demo of a day of this week on the local stack', () => {
  it("joins today's simulated day whole, late records included, and passes every check", async () => {
    const stack = await startLocalStack();
    try {
      const today = new Date().toISOString().slice(0, 10);
      const summary = await runDemo(stack, { requests: 300, seed: 5, day: today }, recording);
      expect(summary.checks.filter((check) => !check.ok).map((check) => check.name)).toEqual([]);
      expect(summary.ok).toBe(true);
    } finally {
      await stack.stop();
    }
  });
});
