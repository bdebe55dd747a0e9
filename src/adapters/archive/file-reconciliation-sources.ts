import type { DiagnosticRecord } from '../../contracts/diagnostic-record.js';
import { readLlmLogExport } from '../files/llm-log-export.js';
import { readMetricsFile, type MetricsFile } from '../files/metrics-file.js';
import type { LlmUsageRow, MetricTokens } from '../../domain/reconciliation.js';
import type { DiagnosticsStore } from '../../ports/diagnostics-store.js';
import type { ReconciliationSources, TimeWindow } from '../../ports/reconciliation.js';

const inWindow = (time: string, window: TimeWindow) => {
  const t = Date.parse(time);
  return t >= window.from.getTime() && t < window.to.getTime();
};

/**
 * Azure's side read from what the pipeline already stored (RequestResponse records pulled by the join) and from
 * exports on disk: an `ApiManagementGatewayLlmLog` export (see `readLlmLogExport`) and an Azure Monitor metrics response.
 * The local stack uses it; in Azure, AzureReconciliationSources queries Log Analytics and Azure Monitor.
 */
export class StoredAndFileReconciliationSources implements ReconciliationSources {
  // Each export is read once: a run reconciles hour by hour, and the files do not change under it.
  private llmRows: Promise<LlmUsageRow[]> | undefined;
  private metricRows: Promise<MetricsFile> | undefined;

  constructor(
    private readonly diagnostics: Pick<DiagnosticsStore, 'listRecords'>,
    private readonly files: { readonly llmLog?: string; readonly metrics?: string },
  ) {}

  async records(window: TimeWindow): Promise<DiagnosticRecord[]> {
    const records: DiagnosticRecord[] = [];
    for await (const page of this.diagnostics.listRecords(window)) records.push(...page);
    return records;
  }

  async llmUsage(window: TimeWindow): Promise<LlmUsageRow[]> {
    if (!this.files.llmLog) return [];
    return (await (this.llmRows ??= readLlmLogExport(this.files.llmLog))).filter((row) => inWindow(row.time, window));
  }

  /** Fails for a window the file was not asked for: its hours are not hours without tokens. */
  async metrics(window: TimeWindow): Promise<MetricTokens[]> {
    if (!this.files.metrics) return [];
    const { tokens, hours } = await (this.metricRows ??= readMetricsFile(this.files.metrics));
    if (hours && (Date.parse(`${hours.from}:00:00Z`) > window.from.getTime() || Date.parse(`${hours.to}:00:00Z`) < window.to.getTime())) {
      throw new Error(`${this.files.metrics} holds the metrics of ${hours.from}:00Z to ${hours.to}:00Z, not of ${window.from.toISOString()} to ${window.to.toISOString()}`);
    }
    return tokens.filter((m) => inWindow(`${m.hour}:00:00Z`, window));
  }
}
