import type { MetricsClient, MetricsQueryResourcesOptions } from '@azure/monitor-query-metrics';
import type { DiagnosticRecord } from '../../contracts/diagnostic-record.js';
import { metricsResponseSchema, toLlmUsageRows, toMetricTokens } from '../../contracts/reconciliation-inputs.js';
import { fromAzureDiagnosticsRow, parseRequestResponse } from '../../domain/diagnostic-parsing.js';
import { bindQuery, kqlDatetime } from '../../domain/kql.js';
import { planMetricsBatches, type MetricsResource } from '../../domain/metrics-batches.js';
import type { LlmUsageRow, MetricTokens } from '../../domain/reconciliation.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import type { ReconciliationSources, TimeWindow } from '../../ports/reconciliation.js';
import {
  QueryRunner,
  readQueryFile,
  resultLimits,
  rowObjects,
  tokenCount,
  type LogsQuerier,
  type RangeQuery,
  type ResultLimits,
  type RetrySettings,
} from './log-analytics-diagnostics-source.js';

export interface AzureReconciliationOptions extends RetrySettings, ResultLimits {
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

/** A query of `queries/` over [from, to) by `TimeGenerated`. */
function timeGeneratedQuery(file: string, what: string, table?: string): RangeQuery {
  const text = readQueryFile(file);
  return {
    text: (from, to) => bindQuery(text, { from: kqlDatetime(new Date(from)), to: kqlDatetime(new Date(to)) }),
    timespan: (from, to) => ({ startTime: new Date(from), endTime: new Date(to) }),
    label: (from, to) => `${what} [${new Date(from).toISOString()}, ${new Date(to).toISOString()})`,
    ...(table === undefined ? {} : { table }),
  };
}

/**
 * Time series per resource and metric a getBatch call answers: one per deployment. With a filter, Azure answers at
 * most `top` of them, 10 when it is not given, and drops the others without a word (MetricsBatch optional
 * parameters); an account holds far fewer deployments than this.
 */
const MAX_SERIES_PER_METRIC = 1_000;

/**
 * Azure's side of the reconciliation: `queries/reconcile-*.kql` against Log Analytics (with the Log Analytics
 * retry of QueryRunner, a window read in as many parts as one query result's limits need) and Azure Monitor
 * metrics at PT1H grain, one `metrics:getBatch` call per region and subscription at that region's endpoint (see
 * `planMetricsBatches`).
 */
export class AzureReconciliationSources implements ReconciliationSources {
  private readonly runner: QueryRunner;
  private readonly recordsQuery = timeGeneratedQuery('reconcile-requestresponse.kql', 'RequestResponse records', 'AzureDiagnostics');
  private readonly usageQuery = timeGeneratedQuery('reconcile-llm-usage.kql', 'LLM usage');
  private readonly limits: Required<ResultLimits>;

  /** Absent when no account is configured: Azure Monitor is then never asked, and there is no metrics check. */
  readonly metrics?: (window: TimeWindow, options?: StoreOptions) => Promise<MetricTokens[]>;

  constructor(options: AzureReconciliationOptions) {
    this.runner = new QueryRunner(options.logs, options.workspaceId, options);
    this.limits = resultLimits(options);
    const metrics = options.metrics;
    if (metrics && metrics.resources.length > 0) this.metrics = (window, storeOptions) => readMetrics(metrics, window, storeOptions);
  }

  async records(window: TimeWindow, options?: StoreOptions): Promise<DiagnosticRecord[]> {
    const records: DiagnosticRecord[] = [];
    for (const table of await this.runner.runInParts(this.recordsQuery, window.from.getTime(), window.to.getTime(), this.limits, options)) {
      for (const row of rowObjects(table)) {
        const parsed = parseRequestResponse(fromAzureDiagnosticsRow(row));
        if (parsed.ok) records.push(parsed.record);
      }
    }
    return records;
  }

  async llmUsage(window: TimeWindow, options?: StoreOptions): Promise<LlmUsageRow[]> {
    const tables = await this.runner.runInParts(this.usageQuery, window.from.getTime(), window.to.getTime(), this.limits, options);
    // A range read in parts gives a request whose rows straddle a cut once per part: merged as the query merges rows.
    return toLlmUsageRows(
      tables.flatMap((table) =>
        rowObjects(table).map((row) => ({
          CorrelationId: String(row['CorrelationId']),
          TimeGenerated: new Date(row['TimeGenerated'] as string | Date).toISOString(),
          DeploymentName: typeof row['DeploymentName'] === 'string' && row['DeploymentName'] !== '' ? row['DeploymentName'] : null,
          PromptTokens: tokenCount(row, 'PromptTokens'),
          CompletionTokens: tokenCount(row, 'CompletionTokens'),
        })),
      ),
    );
  }
}

/** The accounts' token metrics of the window, one `metrics:getBatch` call per region and subscription. */
async function readMetrics(metrics: NonNullable<AzureReconciliationOptions['metrics']>, window: TimeWindow, options: StoreOptions = {}): Promise<MetricTokens[]> {
  const clients = new Map<string, Pick<MetricsClient, 'queryResources'>>();
  // The client hands its options on to the request whole, so the run's signal cancels the call; their type does not name it.
  const query: MetricsQueryResourcesOptions & { abortSignal?: AbortSignal } = {
    startTime: window.from,
    endTime: window.to,
    interval: 'PT1H',
    aggregation: 'Total',
    filter: "ModelDeploymentName eq '*'",
    top: MAX_SERIES_PER_METRIC,
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  };
  const results = [];
  for (const batch of planMetricsBatches(metrics.resources)) {
    let client = clients.get(batch.endpoint);
    if (!client) clients.set(batch.endpoint, (client = metrics.clientFor(batch.endpoint)));
    results.push(...(await client.queryResources([...batch.resourceIds], METRIC_NAMES, 'Microsoft.CognitiveServices/accounts', query)));
  }
  // The SDK's models carry names as strings; map them onto the REST response shape the domain reads. The SDK
  // gives the localized name when there is one ("Processed Prompt Tokens"), so the metric's own name is
  // taken from its id (`…/providers/Microsoft.Insights/metrics/ProcessedPromptTokens`).
  const responses = results.map((result) =>
    metricsResponseSchema.parse({
      interval: result.granularity,
      value: result.metrics.map((metric) => ({
        id: metric.id,
        name: { value: metricName(metric) },
        errorCode: metric.errorCode,
        errorMessage: metric.errorMessage,
        timeseries: (metric.timeseries ?? []).map((series) => ({
          metadatavalues: (series.metadatavalues ?? []).map((m) => ({ name: { value: m.name ?? '' }, value: m.value ?? '' })),
          data: (series.data ?? []).map((point) => ({ timeStamp: new Date(point.timeStamp).toISOString(), total: point.total ?? 0 })),
        })),
      })),
    }),
  );
  return toMetricTokens(...responses);
}
