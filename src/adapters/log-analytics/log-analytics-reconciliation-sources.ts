import type { MetricsClient } from '@azure/monitor-query-metrics';
import type { DiagnosticRecord } from '../../contracts/diagnostic-record.js';
import { metricsResponseSchema, toMetricTokens } from '../../contracts/reconciliation-inputs.js';
import { parseRequestResponse } from '../../domain/diagnostic-parsing.js';
import { bindQuery, kqlDatetime } from '../../domain/kql.js';
import type { LlmUsageRow, MetricTokens } from '../../domain/reconciliation.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import type { ReconciliationSources, TimeWindow } from '../../ports/reconciliation.js';
import { QueryRunner, readQueryFile, rowObjects, toRawRecord, tokenCount, type LogsQuerier, type RetrySettings } from './log-analytics-diagnostics-source.js';

export interface AzureReconciliationOptions extends RetrySettings {
  readonly logs: LogsQuerier;
  readonly workspaceId: string;
  /** Azure Monitor metrics of the Azure OpenAI accounts (their resource ids); omitted: no metrics check. */
  readonly metrics?: { readonly client: Pick<MetricsClient, 'queryResources'>; readonly resourceIds: readonly string[] };
}

/**
 * Azure's side of the reconciliation: `queries/reconcile-*.kql` against Log Analytics (one query per window,
 * with the Log Analytics retry and limit handling of QueryRunner) and Azure Monitor metrics at PT1H grain.
 */
export class AzureReconciliationSources implements ReconciliationSources {
  private readonly runner: QueryRunner;
  private readonly recordsQuery = readQueryFile('reconcile-requestresponse.kql');
  private readonly usageQuery = readQueryFile('reconcile-llm-usage.kql');

  constructor(private readonly options: AzureReconciliationOptions) {
    this.runner = new QueryRunner(options.logs, options.workspaceId, options);
  }

  async records(window: TimeWindow, options?: StoreOptions): Promise<DiagnosticRecord[]> {
    const query = bindQuery(this.recordsQuery, { from: kqlDatetime(window.from), to: kqlDatetime(window.to) });
    const table = await this.runner.run('RequestResponse records', query, { startTime: window.from, endTime: window.to }, options);
    const records: DiagnosticRecord[] = [];
    for (const row of rowObjects(table)) {
      const parsed = parseRequestResponse(toRawRecord(row));
      if (parsed.ok) records.push(parsed.record);
    }
    return records;
  }

  async llmUsage(window: TimeWindow, options?: StoreOptions): Promise<LlmUsageRow[]> {
    const query = bindQuery(this.usageQuery, { from: kqlDatetime(window.from), to: kqlDatetime(window.to) });
    const table = await this.runner.run('LLM usage', query, { startTime: window.from, endTime: window.to }, options);
    return rowObjects(table).map((row) => ({
      gatewayRequestId: String(row['CorrelationId']),
      time: new Date(row['TimeGenerated'] as string | Date).toISOString(),
      deployment: String(row['DeploymentName'] ?? '(unknown)'),
      promptTokens: tokenCount(row, 'PromptTokens'),
      completionTokens: tokenCount(row, 'CompletionTokens'),
    }));
  }

  async metrics(window: TimeWindow): Promise<MetricTokens[]> {
    if (!this.options.metrics || this.options.metrics.resourceIds.length === 0) return [];
    const results = await this.options.metrics.client.queryResources(
      [...this.options.metrics.resourceIds],
      ['ProcessedPromptTokens', 'GeneratedTokens'],
      'Microsoft.CognitiveServices/accounts',
      { startTime: window.from, endTime: window.to, interval: 'PT1H', aggregation: 'Total', filter: "ModelDeploymentName eq '*'" },
    );
    // The SDK's models carry names as strings; map them onto the REST response shape the domain reads.
    const rest = {
      value: results.flatMap((result) =>
        result.metrics.map((metric) => ({
          name: { value: metric.name },
          timeseries: (metric.timeseries ?? []).map((series) => ({
            metadatavalues: (series.metadatavalues ?? []).map((m) => ({ name: { value: m.name ?? '' }, value: m.value ?? '' })),
            data: (series.data ?? []).map((point) => ({ timeStamp: new Date(point.timeStamp).toISOString(), total: point.total ?? 0 })),
          })),
        })),
      ),
    };
    return toMetricTokens(metricsResponseSchema.parse(rest));
  }
}
