import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { COUNTER_NAMES, type ReliabilityCounts } from './counters.js';

interface FileReport {
  readonly file: string;
  readonly counts: ReliabilityCounts;
  readonly detail: Record<string, number>;
}

/** Every file of the suite, so the acceptance thresholds are checked only when the whole suite ran. */
const SUITE_FILES = [
  'exactly-once.test.ts',
  'cosmos-faults.test.ts',
  'log-analytics-faults.test.ts',
  'bad-input.test.ts',
  'access.test.ts',
  'poison-and-oversize.test.ts',
  'ledger-races.test.ts',
  'rollup-races.test.ts',
];
const ACCEPTANCE = { events: 100_000, faults: 1_000, inputs: 10_000, races: 6, oversize: 1, poison: 1 } as const;

/**
 * Global setup of vitest.reliability.config.ts: gives the test files a fresh folder for their counters and,
 * after the run, prints the breakdown and then one summary line to stdout (written directly, so it shows
 * whatever reporter CI uses): `events=N faults=N inputs=N races=N oversize=N poison=N lost=N doubled=N crashes=N`. When
 * every file of the suite reported, the run fails unless lost = doubled = crashes = 0 and the other counters reach
 * the acceptance thresholds (oversize and poison: the suite saw at least one of each and counted it from the stores).
 */
export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'tokenledger-reliability-'));
  project.provide('reliabilityResultsDir', dir);
  return () => {
    const reports: FileReport[] = readdirSync(dir)
      .filter((name) => name.endsWith('.json'))
      .map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as FileReport);
    rmSync(dir, { recursive: true, force: true });
    const totals = Object.fromEntries(COUNTER_NAMES.map((name) => [name, reports.reduce((sum, r) => sum + (r.counts[name] ?? 0), 0)])) as unknown as ReliabilityCounts;
    const detail = new Map<string, number>();
    for (const report of reports) for (const [key, n] of Object.entries(report.detail)) detail.set(key, (detail.get(key) ?? 0) + n);
    const lines = [...detail.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, n]) => `  ${key}=${n}`);
    const summary = COUNTER_NAMES.map((name) => `${name}=${totals[name]}`).join(' ');
    const reported = new Set(reports.map((r) => r.file));
    const complete = SUITE_FILES.every((file) => reported.has(file));
    const failures = !complete
      ? []
      : [
          ...(['lost', 'doubled', 'crashes'] as const).filter((name) => totals[name] !== 0).map((name) => `${name}=${totals[name]} (must be 0)`),
          ...(Object.entries(ACCEPTANCE) as [keyof typeof ACCEPTANCE, number][]).filter(([name, min]) => totals[name] < min).map(([name, min]) => `${name}=${totals[name]} (must be at least ${min})`),
        ];
    const files = reports.map((r) => r.file).sort().join(', ') || 'no files reported';
    const verdict = !complete ? 'acceptance not checked: only part of the suite ran' : failures.length > 0 ? `acceptance FAILED: ${failures.join(', ')}` : 'acceptance met';
    // The summary line comes last, so CI logs end with it.
    process.stdout.write(`\nreliability breakdown (${files}):\n${lines.join('\n')}\n${verdict}\n${summary}\n`);
    if (failures.length > 0) process.exitCode = 1;
  };
}
