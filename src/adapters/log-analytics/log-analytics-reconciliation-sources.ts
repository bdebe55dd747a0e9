import type { MetricsClient } from '@azure/monitor-query-metrics';
import type { DiagnosticRecord } from '../../contracts/diagnostic-record.js';
import { metricsResponseSchema, toMetricTokens } from '../../contracts/reconciliation-inputs.js';
import { fromAzureDiagnosticsRow, parseRequestResponse } from '../../domain/diagnostic-parsing.js';
import { bindQuery, kqlDatetime } from '../../domain/kql.js';
import { planMetricsBatches, type MetricsResource } from '../../domain/metrics-batches.js';
import type { LlmUsageRow, MetricTokens } from '../../domain/reconciliation.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import type { ReconciliationSources, TimeWindow } from '../../ports/reconciliation.js';
import { QueryRunner, readQueryFile, rowObjects, tokenCount, type LogsQuerier, type RetrySettings } from './log-analytics-diagnostics-source.js';

export interface AzureReconciliationOptions extends RetrySettings {
  readonly logs: LogsQuerier;
  readonly workspaceId: string;
  /**
   * Azure Monitor metrics of the Azure OpenAI accounts (resource id and region each); omitted: no metrics check.
   * `clientFor` gives the client of one regional endpoint (`https://<region>.metrics.monitor.azure.com`).
   */
  readonly metrics?: { readonly clientFor: (endpoint: string) => Pick<MetricsClient, 'queryResources'>; readonly resources: readonly MetricsResource[] };
}

const METRIC_NAMES = ['ProcessedPromptTokens', 'GeneratedTokens'];

function metricName(metric: { readonly id?: string; readonly name: string }): string {
  const fromId = metric.id?.split('/').at(-1);
  return fromId && METRIC_NAMES.includes(fromId) ? fromId : metric.name;
}

/**
 * Azure's side of the reconciliation: `queries/reconcile-*.kql` against Log Analytics (one query per window,
 * with the Log Analytics retry and limit handling of QueryRunner) and Azure Monitor metrics at PT1H grain, one
 * `metrics:getBatch` call per region and subscription at that region's endpoint (see `planMetricsBatches`).
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
      const parsed = parseRequestResponse(fromAzureDiagnosticsRow(row));
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
    const metrics = this.options.metrics;
    if (!metrics || metrics.resources.length === 0) return [];
    const clients = new Map<string, Pick<MetricsClient, 'queryResources'>>();
    const results = [];
    for (const batch of planMetricsBatches(metrics.resources)) {
      let client = clients.get(batch.endpoint);
      if (!client) clients.set(batch.endpoint, (client = metrics.clientFor(batch.endpoint)));
      results.push(
        ...(await client.queryResources([...batch.resourceIds], METRIC_NAMES, 'Microsoft.CognitiveServices/accounts', {
          startTime: window.from,
          endTime: window.to,
          interval: 'PT1H',
          aggregation: 'Total',
          filter: "ModelDeploymentName eq '*'",
        })),
      );
    }
    // The SDK's models carry names as strings; map them onto the REST response shape the domain reads. The SDK
    // gives the localized name when there is one ("Processed Inference Tokens"), so the metric's own name is
    // taken from its id (`…/providers/Microsoft.Insights/metrics/ProcessedPromptTokens`).
    const rest = {
      value: results.flatMap((result) =>
        result.metrics.map((metric) => ({
          name: { value: metricName(metric) },
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
