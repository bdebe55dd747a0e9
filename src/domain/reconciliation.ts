import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import { joinKey } from './join.js';

/**
 * Reconciliation: the ledger against Azure's own records, per UTC hour × deployment.
 * - `requests`: RequestResponse records vs ledger requests (by `apim-request-id`), ids seen on one side only;
 * - `bypass`: records with no gateway request whose caller is not the gateway's identity (key-based ones fail);
 * - `llm-tokens`: APIM `ApiManagementGatewayLlmLog` tokens vs ledger tokens, by gateway request id;
 * - `metrics-tokens`: Azure Monitor `ProcessedPromptTokens` + `GeneratedTokens` vs ledger tokens. Metrics also
 *   count traffic the ledger cannot see (bypass calls, lost events), hence the wider default tolerance.
 * `expected` is Azure's side, `actual` the ledger's; drift is (actual − expected) / expected in percent.
 */
export const CHECKS = ['requests', 'bypass', 'llm-tokens', 'metrics-tokens'] as const;
export type CheckName = (typeof CHECKS)[number];
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  readonly check: CheckName;
  /** `YYYY-MM-DDTHH` (UTC). */
  readonly window: string;
  readonly deployment: string;
  readonly expected: number;
  readonly actual: number;
  readonly driftPct: number | null;
  readonly status: CheckStatus;
  /** Ids only the ledger has (a sample of at most `maxSample`); the counts are exact. */
  readonly gatewayOnly: readonly string[];
  readonly gatewayOnlyCount: number;
  /** Ids only Azure's side has. */
  readonly diagnosticsOnly: readonly string[];
  readonly diagnosticsOnlyCount: number;
}

export interface Thresholds {
  readonly warnPct: number;
  readonly failPct: number;
  /** A difference this small (in the check's unit) is ok whatever its percentage: a quiet hour is not an alarm. */
  readonly minAbsolute?: number;
}

export const DEFAULT_THRESHOLDS: Readonly<Record<Exclude<CheckName, 'bypass'>, Thresholds>> = {
  requests: { warnPct: 0, failPct: 1 },
  'llm-tokens': { warnPct: 0.5, failPct: 2 },
  'metrics-tokens': { warnPct: 20, failPct: 40, minAbsolute: 10_000 },
};

export interface LlmUsageRow {
  readonly gatewayRequestId: string;
  readonly time: string;
  readonly deployment: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface MetricTokens {
  readonly hour: string;
  readonly deployment: string;
  readonly promptTokens: number;
  readonly generatedTokens: number;
}

export interface ReconciliationInput {
  readonly entries: readonly LedgerEntry[];
  readonly records?: readonly DiagnosticRecord[];
  readonly llmUsage?: readonly LlmUsageRow[];
  readonly metrics?: readonly MetricTokens[];
  /** The gateway's managed identities: an unmatched record with one of them is a lost gateway event, not a bypass. */
  readonly gatewayObjectIds: ReadonlySet<string>;
  readonly thresholds?: Partial<typeof DEFAULT_THRESHOLDS>;
  readonly maxSample?: number;
}

const hourOf = (time: string) => new Date(time).toISOString().slice(0, 13);
const UNKNOWN = '(unknown)';

class Cells {
  private readonly cells = new Map<string, { window: string; deployment: string; expected: number; actual: number; gatewayOnly: string[]; diagnosticsOnly: string[] }>();

  at(window: string, deployment: string | null) {
    const key = `${window}\u0000${deployment ?? UNKNOWN}`;
    let cell = this.cells.get(key);
    if (!cell) {
      cell = { window, deployment: deployment ?? UNKNOWN, expected: 0, actual: 0, gatewayOnly: [], diagnosticsOnly: [] };
      this.cells.set(key, cell);
    }
    return cell;
  }

  results(check: CheckName, status: (cell: { expected: number; actual: number; driftPct: number | null; gatewayOnly: string[]; diagnosticsOnly: string[] }) => CheckStatus, maxSample: number): CheckResult[] {
    return [...this.cells.values()]
      .sort((a, b) => (a.window < b.window ? -1 : a.window > b.window ? 1 : a.deployment < b.deployment ? -1 : 1))
      .map((cell) => {
        const driftPct = cell.expected === 0 ? (cell.actual === 0 ? 0 : null) : ((cell.actual - cell.expected) / cell.expected) * 100;
        const sorted = { gatewayOnly: cell.gatewayOnly.sort(), diagnosticsOnly: cell.diagnosticsOnly.sort() };
        return {
          check,
          window: cell.window,
          deployment: cell.deployment,
          expected: cell.expected,
          actual: cell.actual,
          driftPct,
          status: status({ ...cell, driftPct, ...sorted }),
          gatewayOnly: sorted.gatewayOnly.slice(0, maxSample),
          gatewayOnlyCount: sorted.gatewayOnly.length,
          diagnosticsOnly: sorted.diagnosticsOnly.slice(0, maxSample),
          diagnosticsOnlyCount: sorted.diagnosticsOnly.length,
        };
      });
  }
}

function graded(thresholds: Thresholds) {
  return (cell: { expected: number; actual: number; driftPct: number | null; gatewayOnly: string[]; diagnosticsOnly: string[] }): CheckStatus => {
    const oneSided = cell.gatewayOnly.length > 0 || cell.diagnosticsOnly.length > 0;
    if (!oneSided && Math.abs(cell.actual - cell.expected) <= (thresholds.minAbsolute ?? 0)) return 'ok';
    const drift = cell.driftPct === null ? Infinity : Math.abs(cell.driftPct);
    if (drift > thresholds.failPct) return 'fail';
    if (drift > thresholds.warnPct || cell.gatewayOnly.length > 0 || cell.diagnosticsOnly.length > 0) return 'warn';
    return 'ok';
  };
}

/** Runs every check whose Azure-side input is given, over one set of ledger entries. */
export function reconcile(input: ReconciliationInput): CheckResult[] {
  const thresholds = { ...DEFAULT_THRESHOLDS, ...input.thresholds };
  const maxSample = input.maxSample ?? 100;
  const results: CheckResult[] = [];
  const byJoinKey = new Map<string, LedgerEntry>();
  for (const entry of input.entries) {
    const key = joinKey(entry);
    if (key) byJoinKey.set(key, entry);
  }

  if (input.records) {
    const requests = new Cells();
    const bypass = new Cells();
    const keyBased = new Set<string>();
    const seen = new Set<string>();
    for (const record of input.records) {
      if (seen.has(record.correlationId)) continue;
      seen.add(record.correlationId);
      const entry = byJoinKey.get(record.correlationId);
      if (entry) {
        const cell = requests.at(hourOf(entry.time), entry.deployment);
        cell.expected++;
        cell.actual++;
      } else if (record.objectId !== null && input.gatewayObjectIds.has(record.objectId)) {
        const cell = requests.at(hourOf(record.time), record.modelDeploymentName);
        cell.expected++;
        cell.diagnosticsOnly.push(record.correlationId);
      } else {
        const cell = bypass.at(hourOf(record.time), record.modelDeploymentName);
        cell.actual++;
        cell.diagnosticsOnly.push(record.correlationId);
        if (!record.objectId) keyBased.add(record.correlationId);
      }
    }
    for (const [key, entry] of byJoinKey) {
      if (seen.has(key)) continue;
      const cell = requests.at(hourOf(entry.time), entry.deployment);
      cell.actual++;
      cell.gatewayOnly.push(key);
    }
    results.push(...requests.results('requests', graded(thresholds.requests), maxSample));
    // Any direct call is worth a look; one made with an account key means keys are still enabled.
    results.push(...bypass.results('bypass', (cell) => (cell.diagnosticsOnly.some((id) => keyBased.has(id)) ? 'fail' : 'warn'), maxSample));
  }

  if (input.llmUsage) {
    const cells = new Cells();
    const byGatewayId = new Map(input.entries.map((e) => [e.gatewayRequestId, e]));
    const logged = new Set<string>();
    for (const row of input.llmUsage) {
      logged.add(row.gatewayRequestId);
      const entry = byGatewayId.get(row.gatewayRequestId);
      if (entry) {
        const cell = cells.at(hourOf(entry.time), entry.deployment);
        cell.expected += row.promptTokens + row.completionTokens;
        cell.actual += entry.tokens.promptTokens + entry.tokens.completionTokens;
      } else {
        const cell = cells.at(hourOf(row.time), row.deployment);
        cell.expected += row.promptTokens + row.completionTokens;
        cell.diagnosticsOnly.push(row.gatewayRequestId);
      }
    }
    for (const entry of input.entries) {
      const tokens = entry.tokens.promptTokens + entry.tokens.completionTokens;
      if (tokens === 0 || logged.has(entry.gatewayRequestId)) continue;
      const cell = cells.at(hourOf(entry.time), entry.deployment);
      cell.actual += tokens;
      cell.gatewayOnly.push(entry.gatewayRequestId);
    }
    results.push(...cells.results('llm-tokens', graded(thresholds['llm-tokens']), maxSample));
  }

  if (input.metrics) {
    const cells = new Cells();
    for (const m of input.metrics) cells.at(m.hour, m.deployment).expected += m.promptTokens + m.generatedTokens;
    for (const entry of input.entries) cells.at(hourOf(entry.time), entry.deployment).actual += entry.tokens.promptTokens + entry.tokens.completionTokens;
    results.push(...cells.results('metrics-tokens', graded(thresholds['metrics-tokens']), maxSample));
  }
  return results;
}
