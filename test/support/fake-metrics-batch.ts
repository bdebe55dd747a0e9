import { createHttpHeaders, type HttpClient, type PipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/core-auth';

/**
 * A fake of Azure Monitor's `metrics:getBatch` behind `MetricsClient`'s HTTP transport, speaking the documented
 * wire format (Metrics Batch REST reference and "How to migrate from the metrics API to the getBatch API"):
 * `POST https://<region>.metrics.monitor.azure.com/subscriptions/<subscription>/metrics:getBatch?metricnamespace=…
 * &metricnames=…&api-version=…` with body `{"resourceids": [...]}`, answered with `{"values": [{ starttime,
 * endtime, interval, namespace, resourceregion, resourceid, value: [metric…] }]}`.
 *
 * It is no more lenient than the service: every resource of a call must be in the endpoint's region and in the
 * path's subscription, at most 50 resources a call; otherwise it answers 400 with an `error` body. With a `filter`,
 * each metric of a resource has at most `top` time series, 10 when `top` is not given (`top`: "Valid only if
 * filter is specified. Defaults to 10", MetricsBatch optional parameters), and the others are left out without a word.
 */
export interface FakeAccount {
  readonly resourceId: string;
  readonly region: string;
  /** Tokens per deployment, reported in the first hour of the query. */
  readonly prompt: Readonly<Record<string, number>>;
  readonly generated: Readonly<Record<string, number>>;
  /**
   * The service failed to read this account's metrics: each is answered in the 200 response with this `errorCode`
   * and `errorMessage` and no time series (`Metric`: "'Success' or the error details on query failures for this
   * metric", Metrics Batch REST reference 2024-02-01).
   */
  readonly failure?: { readonly code: string; readonly message: string };
}

export interface FakeCall {
  readonly host: string;
  readonly subscriptionId: string;
  readonly resourceIds: readonly string[];
  readonly status: number;
}

export const fakeCredential: TokenCredential = { getToken: async () => ({ token: 'fake-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

const LOCALIZED: Readonly<Record<string, string>> = { ProcessedPromptTokens: 'Processed Prompt Tokens', GeneratedTokens: 'Generated Completion Tokens' };

export class FakeMetricsBatch implements HttpClient {
  readonly calls: FakeCall[] = [];
  private readonly accounts: Map<string, FakeAccount>;

  /** `deniedSubscriptions`: where the caller lacks Monitoring Reader, answered 403 `AuthorizationFailed` as ARM does. */
  constructor(accounts: readonly FakeAccount[], private readonly deniedSubscriptions: readonly string[] = []) {
    this.accounts = new Map(accounts.map((a) => [a.resourceId.toLowerCase(), a]));
  }

  async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
    const url = new URL(request.url);
    const match = /^\/subscriptions\/([^/]+)\/metrics:getBatch$/.exec(url.pathname);
    const region = /^([a-z0-9]+)\.metrics\.monitor\.azure\.com$/.exec(url.host)?.[1];
    const body = JSON.parse(typeof request.body === 'string' ? request.body : '{}') as { resourceids?: string[] };
    const ids = body.resourceids ?? [];
    const answer = (status: number, json: unknown): PipelineResponse => {
      this.calls.push({ host: url.host, subscriptionId: match?.[1] ?? '', resourceIds: ids, status });
      return { request, status, headers: createHttpHeaders({ 'content-type': 'application/json' }), bodyAsText: JSON.stringify(json) };
    };
    const bad = (message: string) => answer(400, { error: { code: 'BadRequest', message } });
    if (request.method !== 'POST' || !match || !region) return bad(`unexpected ${request.method} ${url.host}${url.pathname}`);
    if (!request.headers.get('authorization')?.startsWith('Bearer ')) return answer(401, { error: { code: 'AuthenticationFailed', message: 'no bearer token' } });
    if (this.deniedSubscriptions.includes(match[1]!.toLowerCase())) {
      const message = `The client 'reconciler' with object id '1b9f0c52-0d4e-4f3a-9a51-6c8e2f7d3a10' does not have authorization to perform action 'Microsoft.Insights/metrics/read' over scope '/subscriptions/${match[1]}' or the scope is invalid. If access was recently granted, please refresh your credentials.`;
      return answer(403, { error: { code: 'AuthorizationFailed', message } });
    }
    if (!url.searchParams.get('api-version') || !url.searchParams.get('metricnamespace') || !url.searchParams.get('metricnames')) return bad('api-version, metricnamespace and metricnames are required');
    if (ids.length === 0 || ids.length > 50) return bad('a batch holds 1 to 50 resource ids');
    for (const id of ids) {
      const account = this.accounts.get(id.toLowerCase());
      if (!account) return bad(`unknown resource ${id}`);
      if (id.split('/')[2]!.toLowerCase() !== match[1]!.toLowerCase()) return bad(`resource ${id} is not in subscription ${match[1]}`);
      if (account.region !== region) return bad(`resource ${id} is in ${account.region}, not in this endpoint's region ${region}`);
    }
    const top = url.searchParams.get('filter') === null ? Infinity : Number(url.searchParams.get('top') ?? 10);
    const start = url.searchParams.get('starttime')!;
    const names = url.searchParams.get('metricnames')!.split(',');
    const values = ids.map((id) => {
      const account = this.accounts.get(id.toLowerCase())!;
      return {
        starttime: start,
        endtime: url.searchParams.get('endtime'),
        interval: url.searchParams.get('interval'),
        namespace: url.searchParams.get('metricnamespace'),
        resourceregion: account.region,
        resourceid: id,
        value: names.map((name) => ({
          id: `${id}/providers/Microsoft.Insights/metrics/${name}`,
          type: 'Microsoft.Insights/metrics',
          name: { value: name, localizedValue: LOCALIZED[name] ?? name },
          displayDescription: '',
          ...(account.failure ? { errorCode: account.failure.code, errorMessage: account.failure.message } : { errorCode: 'Success' }),
          unit: 'Count',
          timeseries: account.failure ? [] : Object.entries(name === 'ProcessedPromptTokens' ? account.prompt : account.generated).slice(0, top).map(([deployment, total]) => ({
            metadatavalues: [{ name: { value: 'modeldeploymentname', localizedValue: 'modeldeploymentname' }, value: deployment }],
            data: [{ timeStamp: start, total }],
          })),
        })),
      };
    });
    return answer(200, { values });
  }
}
