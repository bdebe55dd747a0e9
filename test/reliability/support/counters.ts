import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { inject } from 'vitest';

/** What one reliability test file proved, summed over the suite by the global setup. */
export interface ReliabilityCounts {
  /** Expected outcomes (ledger entries, dead letters, records, token totals) that are missing. */
  lost: number;
  /** Outcomes present more often than once, or present without being expected. */
  doubled: number;
  /**
   * Unexpected exceptions (anything but a transient store error or an injected crash), and broken invariants that
   * are neither loss nor duplication (an invalid entry in the ledger, a dead letter without a reason).
   */
  crashes: number;
  /** Distinct events proven end to end against the simulator's ground truth. */
  events: number;
  /** Faults injected (proxy faults, Log Analytics faults, injected worker crashes). */
  faults: number;
  /** Hostile or malformed inputs checked (corpus, generated inputs, tokens, injection strings). */
  inputs: number;
  /**
   * Forced interleavings of concurrent writers (two rollups, ingest between a rollup's read and delete, two workers
   * merging halves of one request) run to the end and checked against ground truth.
   */
  races: number;
  /** Dead letters found stored with their payload in Blob storage (too large for a Cosmos DB item). */
  oversize: number;
  /** Trigger batches found quarantined in Blob storage (they kept failing; the partition moved on). */
  poison: number;
}

/** In the order of the summary line, which ends with the three that must be 0. */
export const COUNTER_NAMES = ['events', 'faults', 'inputs', 'races', 'oversize', 'poison', 'lost', 'doubled', 'crashes'] as const satisfies readonly (keyof ReliabilityCounts)[];

declare module 'vitest' {
  export interface ProvidedContext {
    /** Folder the global setup of vitest.reliability.config.ts made for the files' counters; absent under other configs. */
    reliabilityResultsDir?: string;
  }
}

/** The folder for counters, or undefined when the suite runs outside vitest.reliability.config.ts. */
export function resultsDir(): string | undefined {
  return inject('reliabilityResultsDir');
}

/** Counters of one test file, with a breakdown by kind printed by the global setup. */
export class FileCounters {
  readonly counts: ReliabilityCounts = { lost: 0, doubled: 0, crashes: 0, events: 0, faults: 0, inputs: 0, races: 0, oversize: 0, poison: 0 };
  /** `faults.throttle`, `inputs.fuzz.json`, …: what the totals are made of. */
  readonly detail: Record<string, number> = {};

  constructor(private readonly file: string) {}

  add(counter: keyof ReliabilityCounts, n: number, kind?: string): void {
    this.counts[counter] += n;
    if (kind !== undefined) this.detail[`${counter}.${kind}`] = (this.detail[`${counter}.${kind}`] ?? 0) + n;
  }

  /** A detail line that adds to no counter (e.g. failed deliveries by error type). */
  note(key: string, n: number): void {
    this.detail[key] = (this.detail[key] ?? 0) + n;
  }

  /** Writes this file's counters for the global setup; called from `afterAll`, whatever the tests' outcome. */
  save(): void {
    const dir = resultsDir();
    if (dir === undefined) return;
    const name = `${basename(this.file).replace(/[^A-Za-z0-9.-]/g, '_')}-${randomUUID()}.json`;
    writeFileSync(join(dir, name), JSON.stringify({ file: basename(this.file), counts: this.counts, detail: this.detail }));
  }
}
