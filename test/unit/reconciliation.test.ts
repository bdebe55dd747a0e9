import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/domain/reconciliation.js';
import { reconcileFiles } from '../../src/services/reconcile-files.js';
import { SIMULATION_FILES, writeSimulation } from '../../src/simulator/files.js';
import { simulateDay, type GroundTruth } from '../../src/simulator/traffic.js';

describe("reconciliation over the simulator's files with injected faults", () => {
  let checks: CheckResult[];
  let truth: GroundTruth['reconciliation'];
  const notOk = (check: string) => checks.filter((c) => c.check === check && c.status !== 'ok');
  const ids = (rows: CheckResult[], side: 'gatewayOnly' | 'diagnosticsOnly') => rows.flatMap((r) => r[side]).sort();

  beforeAll(async () => {
    const day = simulateDay({ requests: 20_000, seed: 77, day: '2026-10-15', faults: true });
    truth = day.groundTruth.reconciliation;
    const dir = await mkdtemp(join(tmpdir(), 'tokenledger-reconcile-'));
    await writeSimulation(dir, day);
    checks = await reconcileFiles({
      eventsFile: join(dir, SIMULATION_FILES.events),
      diagnosticsDir: join(dir, SIMULATION_FILES.diagnostics),
      llmLogFile: join(dir, SIMULATION_FILES.llmLog),
      metricsFile: join(dir, SIMULATION_FILES.metrics),
      gatewayObjectIds: new Set([truth.gatewayObjectId]),
      maxSample: 10_000,
    });
  });

  it('injects every kind of fault', () => {
    expect(truth.lostEvents.length).toBeGreaterThan(0);
    expect(truth.missingDiagnostics.length).toBeGreaterThan(0);
    expect(truth.keyBased.length).toBeGreaterThan(0);
    expect(truth.tokenDrift).not.toBeNull();
  });

  it('requests: lists exactly the lost gateway events and the requests whose diagnostics are missing', () => {
    expect(ids(notOk('requests'), 'diagnosticsOnly')).toEqual([...truth.lostEvents].sort());
    expect(ids(notOk('requests'), 'gatewayOnly')).toEqual([...truth.missingDiagnostics].sort());
    expect(checks.filter((c) => c.check === 'requests' && c.status === 'ok').every((c) => c.expected === c.actual)).toBe(true);
  });

  it('bypass: lists exactly the direct calls, failing the hours with key-based ones', () => {
    const rows = checks.filter((c) => c.check === 'bypass');
    expect(ids(rows, 'diagnosticsOnly')).toEqual([...truth.bypass].sort());
    const keyBased = new Set(truth.keyBased);
    for (const row of rows) expect(row.status).toBe(row.diagnosticsOnly.some((id) => keyBased.has(id)) ? 'fail' : 'warn');
  });

  it('llm-tokens: only the lost events differ, and the tokens of every request on both sides agree', () => {
    expect(ids(notOk('llm-tokens'), 'diagnosticsOnly')).toEqual([...truth.lostGatewayRequestIds].sort());
    expect(ids(notOk('llm-tokens'), 'gatewayOnly')).toEqual([]);
    expect(notOk('llm-tokens').every((c) => c.diagnosticsOnly.length > 0)).toBe(true);
  });

  it('metrics-tokens: fails exactly the drifted hour and deployment', () => {
    expect(notOk('metrics-tokens').map((c) => [c.window, c.deployment, c.status])).toEqual([[truth.tokenDrift!.hour, truth.tokenDrift!.deployment, 'fail']]);
    const drifted = notOk('metrics-tokens')[0]!;
    expect(drifted.driftPct!).toBeLessThan(-25);
  });
});
