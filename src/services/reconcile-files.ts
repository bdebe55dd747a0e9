import { readLlmLogExport } from '../adapters/files/llm-log-export.js';
import { readMetricsFile } from '../adapters/files/metrics-file.js';
import { withLlmUsage } from './join-diagnostics.js';
import type { ReasonCount } from '../domain/dead-letter-reasons.js';
import { reconcile, type CheckResult, type Thresholds } from '../domain/reconciliation.js';
import { readArchiveFolder, readEventsFile } from './analyze-files.js';

export interface ReconcileFilesInput {
  readonly eventsFile: string;
  readonly diagnosticsDir: string;
  readonly llmLogFile?: string;
  readonly metricsFile?: string;
  readonly gatewayObjectIds: ReadonlySet<string>;
  readonly thresholds?: Partial<Record<'requests' | 'llm-tokens' | 'metrics-tokens', Thresholds>>;
  readonly maxSample?: number;
}

/**
 * The reconciliation checks over files: gateway events, the RequestResponse archive, and optionally the APIM
 * LLM log export and an Azure Monitor metrics response. Streamed requests without usage take their tokens from
 * the LLM log first, as the join does in the pipeline. The events file's dead letters are no requests of the checks:
 * their reasons come back beside them.
 */
export async function reconcileFiles(input: ReconcileFilesInput): Promise<{ checks: CheckResult[]; deadLetterReasons: ReasonCount[] }> {
  const [{ entries, deadLetterReasons }, { records }] = await Promise.all([readEventsFile(input.eventsFile), readArchiveFolder(input.diagnosticsDir)]);
  const llmUsage = input.llmLogFile ? await readLlmLogExport(input.llmLogFile) : undefined;
  const metrics = input.metricsFile ? await readMetricsFile(input.metricsFile) : undefined;
  const usageById = new Map((llmUsage ?? []).map((row) => [row.gatewayRequestId, { gatewayRequestId: row.gatewayRequestId, promptTokens: row.promptTokens, completionTokens: row.completionTokens, totalTokens: row.promptTokens + row.completionTokens }]));
  const ledger = [...entries.values()].map((entry) => withLlmUsage(entry, usageById.get(entry.gatewayRequestId)) ?? entry);
  const checks = reconcile({
    entries: ledger,
    records,
    ...(llmUsage ? { llmUsage } : {}),
    ...(metrics ? { metrics: metrics.tokens, ...(metrics.hours ? { metricsHours: metrics.hours } : {}) } : {}),
    gatewayObjectIds: input.gatewayObjectIds,
    ...(input.thresholds ? { thresholds: input.thresholds } : {}),
    ...(input.maxSample !== undefined ? { maxSample: input.maxSample } : {}),
  });
  return { checks, deadLetterReasons };
}
