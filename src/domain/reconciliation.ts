import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import { isGatewayIdentity } from './identity.js';
import { joinKey } from './join.js';
import { isAnswered } from './latency-tile.js';
import { mayHaveCounterparts } from './ledger.js';
export { CHECKS, CHECK_STATUSES, type CheckName, type CheckStatus } from '../contracts/reconciliation-result.js';
import type { CheckName, CheckStatus } from '../contracts/reconciliation-result.js';
import type { HourSpan, LlmUsageRow, MetricTokens } from '../contracts/reconciliation-inputs.js';
export type { HourSpan, LlmUsageRow, MetricTokens } from '../contracts/reconciliation-inputs.js';

/**
 * Reconciliation: the ledger against Azure's own records, per UTC hour × deployment.
 * - `requests`: RequestResponse records vs ledger requests (by `apim-request-id`), ids seen on one side only;
 * - `bypass`: records with no gateway request whose caller is not the gateway's identity (key-based ones fail);
 * - `llm-tokens`: APIM `ApiManagementGatewayLlmLog` tokens vs ledger tokens, by gateway request id (requests
 *   told by an AI Hub Gateway payload, which carries no APIM request id, are left out);
 * - `metrics-tokens`: Azure Monitor `ProcessedPromptTokens` + `GeneratedTokens` vs ledger tokens. Metrics also
 *   count traffic the ledger cannot see (bypass calls, lost events), hence the wider default tolerance.
 * `expected` is Azure's side, `actual` the ledger's; drift is (actual − expected) / expected in percent. When
 * Azure's side of a check cannot be read for good, its results are `unavailable`, with the reason.
 *
 * Grading does not cry wolf over small numbers: a difference fails only when it exceeds both an absolute
 * tolerance and a percentage, and the percentage is taken of at least `minCount` (one missing record in a
 * 5-request hour is not "20 %"). See `Thresholds` and `describeThresholds`.
 */
export interface CheckResult {
  readonly check: CheckName;
  /** `YYYY-MM-DDTHH` (UTC). */
  readonly window: string;
  readonly deployment: string;
  /** Null when Azure's side is unavailable. */
  readonly expected: number | null;
  readonly actual: number;
  readonly driftPct: number | null;
  readonly status: CheckStatus;
  /** Only with status `unavailable`: why Azure's side could not be read. */
  readonly reason?: string;
  /** Ids only the ledger has (a sample of at most `maxSample`); the counts are exact. */
  readonly gatewayOnly: readonly string[];
  readonly gatewayOnlyCount: number;
  /** Ids only Azure's side has. */
  readonly diagnosticsOnly: readonly string[];
  readonly diagnosticsOnlyCount: number;
}

/**
 * When a window's difference (in the check's unit) warns or fails: above `max(absolute, pct % of
 * max(base, minCount))` for `warnPct` and `failPct`, where the base is Azure's count for the token checks and
 * the ledger's requests for `requests`. At or below both limits the window is ok, even with ids
 * on one side only (they are still listed).
 *
 * For `requests` the difference is the number of ledger requests without a `RequestResponse` record (diagnostic
 * logs are best effort: records arrive late or not at all), and a separate rule applies to the other side:
 * more than `maxLostRequests` records of the gateway's own identity without a ledger request (gateway events
 * lost before the ledger: usage nobody is charged for) fail the window. For the token checks the difference
 * is |ledger − Azure| in tokens.
 */
export interface Thresholds {
  readonly warnPct: number;
  readonly failPct: number;
  /** A difference this small (in the check's unit) is ok whatever its percentage. */
  readonly absolute: number;
  /** Percentages are taken of at least this many (requests or tokens): a quiet hour is not an alarm. */
  readonly minCount: number;
  /** `requests` only: gateway requests missing from the ledger that a window tolerates. */
  readonly maxLostRequests?: number;
}

export type GradedCheck = Exclude<CheckName, 'bypass'>;

export const DEFAULT_THRESHOLDS: Readonly<Record<GradedCheck, Thresholds>> = {
  // A fault-free simulated day misses about 1 % of records, so a window of n requests misses about Poisson(n/100):
  // more than max(5, 5 % of max(n, 100)) happens about once in 10,000 windows, while a window whose
  // diagnostics stopped still fails from 6 requests on.
  requests: { warnPct: 2, failPct: 5, absolute: 5, minCount: 100, maxLostRequests: 0 },
  'llm-tokens': { warnPct: 0.5, failPct: 2, absolute: 0, minCount: 0 },
  // Metrics also count calls the ledger cannot see (bypass calls, lost events), hence the wider band.
  'metrics-tokens': { warnPct: 10, failPct: 25, absolute: 10_000, minCount: 0 },
};

/** The thresholds as reports show them: each graded check's numbers and the sentence that explains them. */
export function thresholdsReport(thresholds: Readonly<Record<GradedCheck, Thresholds>> = DEFAULT_THRESHOLDS): Record<GradedCheck, Thresholds & { readonly rule: string }> {
  const rules = describeThresholds(thresholds);
  return {
    requests: { ...thresholds.requests, rule: rules.requests },
    'llm-tokens': { ...thresholds['llm-tokens'], rule: rules['llm-tokens'] },
    'metrics-tokens': { ...thresholds['metrics-tokens'], rule: rules['metrics-tokens'] },
  };
}

/** The limit a difference must exceed to reach `pct` of `base` (see `Thresholds`). */
export function limitOf(thresholds: Thresholds, pct: number, base: number): number {
  return Math.max(thresholds.absolute, (pct / 100) * Math.max(base, thresholds.minCount));
}

/** One sentence per graded check saying when it warns and fails, for reports. */
export function describeThresholds(thresholds: Readonly<Record<GradedCheck, Thresholds>> = DEFAULT_THRESHOLDS): Record<GradedCheck, string> {
  const band = (t: Thresholds, unit: string, base: string) =>
    `warn above max(${t.absolute} ${unit}, ${t.warnPct} % of max(${base}, ${t.minCount})), fail above max(${t.absolute} ${unit}, ${t.failPct} % of max(${base}, ${t.minCount}))`;
  const r = thresholds.requests;
  return {
    requests: `ledger requests without a RequestResponse record: ${band(r, 'requests', 'ledger requests')}; gateway requests missing from the ledger: fail above ${r.maxLostRequests ?? 0}`,
    'llm-tokens': `|ledger - APIM LLM log| tokens: ${band(thresholds['llm-tokens'], 'tokens', 'LLM log tokens')}`,
    'metrics-tokens': `|ledger - Azure Monitor| tokens: ${band(thresholds['metrics-tokens'], 'tokens', 'metric tokens')}`,
  };
}

export interface ReconciliationInput {
  readonly entries: readonly LedgerEntry[];
  readonly records?: readonly DiagnosticRecord[];
  readonly llmUsage?: readonly LlmUsageRow[];
  readonly metrics?: readonly MetricTokens[];
  /** The hours the metrics were asked for: the ledger's other hours are not checked against them. */
  readonly metricsHours?: HourSpan;
  /**
   * Why the metrics could not be read (as `failureReason` words it: one line, secrets masked), instead of
   * `metrics`: every hour × deployment of the ledger gets an `unavailable` metrics-tokens result carrying it, with
   * the ledger's tokens and no expectation.
   */
  readonly metricsUnavailable?: string;
  /** Why the APIM LLM log could not be read, instead of `llmUsage`: the llm-tokens results are `unavailable`, as for metrics. */
  readonly llmUsageUnavailable?: string;
  /** Why the `RequestResponse` records could not be read, instead of `records`: the requests results are `unavailable`. */
  readonly recordsUnavailable?: string;
  /** The gateway's managed identities: an unmatched record with one of them is a lost gateway event, not a bypass. */
  readonly gatewayObjectIds: ReadonlySet<string>;
  readonly thresholds?: Partial<Record<GradedCheck, Thresholds>>;
  readonly maxSample?: number;
}

const hourOf = (time: string) => new Date(time).toISOString().slice(0, 13);

/** A result whose Azure side could not be read: nothing expected, and no id seen on one side only. */
const UNCOMPARED = { expected: null, driftPct: null, gatewayOnly: [], gatewayOnlyCount: 0, diagnosticsOnly: [], diagnosticsOnlyCount: 0 } as const;
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

  results(check: CheckName, status: (cell: GradedCell) => CheckStatus, maxSample: number): CheckResult[] {
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

type GradedCell = { expected: number; actual: number; driftPct: number | null; gatewayOnly: string[]; diagnosticsOnly: string[] };

function band(thresholds: Thresholds, difference: number, base: number): CheckStatus {
  if (difference > limitOf(thresholds, thresholds.failPct, base)) return 'fail';
  if (difference > limitOf(thresholds, thresholds.warnPct, base)) return 'warn';
  return 'ok';
}

/** Token checks: the net difference between the ledger and Azure's count. */
function graded(thresholds: Thresholds) {
  return (cell: GradedCell): CheckStatus => band(thresholds, Math.abs(cell.actual - cell.expected), cell.expected);
}

/** `requests`: records missing (best effort on Azure's side) in the band; requests lost by the ledger strictly. */
function gradedRequests(thresholds: Thresholds) {
  return (cell: GradedCell): CheckStatus => {
    if (cell.diagnosticsOnly.length > (thresholds.maxLostRequests ?? 0)) return 'fail';
    return band(thresholds, cell.gatewayOnly.length, cell.actual);
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

  if (input.records || input.recordsUnavailable !== undefined) {
    const requests = new Cells();
    const bypass = new Cells();
    const keyBased = new Set<string>();
    const seen = new Set<string>();
    for (const record of input.records ?? []) {
      // Matched as the join matches them (`joinKey`): a GUID's letters in either case name the same request.
      const key = record.correlationId.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      const entry = byJoinKey.get(key);
      if (entry) {
        const cell = requests.at(hourOf(entry.time), entry.deployment);
        cell.expected++;
        cell.actual++;
      } else if (isGatewayIdentity(record.objectId, input)) {
        // A failed call of the gateway's own identity that no request names is an attempt its retry policy repeated
        // (each attempt is logged; the event names the last): it billed nothing, and no request was lost.
        if (!isAnswered(record.status)) continue;
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
    const reason = input.records ? undefined : input.recordsUnavailable;
    if (reason === undefined) results.push(...requests.results('requests', gradedRequests(thresholds.requests), maxSample));
    else results.push(...requests.results('requests', () => 'unavailable', maxSample).map((r) => ({ ...r, ...UNCOMPARED, reason })));
    // Any direct call is worth a look; one made with an account key means keys are still enabled.
    results.push(...bypass.results('bypass', (cell) => (cell.diagnosticsOnly.some((id) => keyBased.has(id)) ? 'fail' : 'warn'), maxSample));
  }

  if (input.llmUsage || input.llmUsageUnavailable !== undefined) {
    const cells = new Cells();
    const byGatewayId = new Map(input.entries.map((e) => [e.gatewayRequestId, e]));
    const logged = new Set<string>();
    for (const row of input.llmUsage ?? []) {
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
      // An AI Hub Gateway payload's id is the response body's, never APIM's request id, so the LLM log cannot
      // hold it: such requests are left out here (metrics still count them).
      if (tokens === 0 || logged.has(entry.gatewayRequestId) || !mayHaveCounterparts(entry)) continue;
      const cell = cells.at(hourOf(entry.time), entry.deployment);
      cell.actual += tokens;
      cell.gatewayOnly.push(entry.gatewayRequestId);
    }
    const reason = input.llmUsage ? undefined : input.llmUsageUnavailable;
    if (reason === undefined) results.push(...cells.results('llm-tokens', graded(thresholds['llm-tokens']), maxSample));
    else results.push(...cells.results('llm-tokens', () => 'unavailable', maxSample).map((r) => ({ ...r, ...UNCOMPARED, reason })));
  }

  if (input.metrics || input.metricsUnavailable !== undefined) {
    const cells = new Cells();
    const span = input.metricsHours;
    const asked = (hour: string) => !span || (hour >= span.from && hour < span.to);
    for (const m of input.metrics ?? []) if (asked(m.hour)) cells.at(m.hour, m.deployment).expected += m.promptTokens + m.generatedTokens;
    for (const entry of input.entries) {
      const hour = hourOf(entry.time);
      if (asked(hour)) cells.at(hour, entry.deployment).actual += entry.tokens.promptTokens + entry.tokens.completionTokens;
    }
    const reason = input.metrics ? undefined : input.metricsUnavailable;
    if (reason === undefined) results.push(...cells.results('metrics-tokens', graded(thresholds['metrics-tokens']), maxSample));
    else results.push(...cells.results('metrics-tokens', () => 'unavailable', maxSample).map((r) => ({ ...r, ...UNCOMPARED, reason })));
  }
  return results;
}
