import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoredAndFileReconciliationSources } from '../../src/adapters/archive/file-reconciliation-sources.js';
import { readMetricsFile } from '../../src/adapters/files/metrics-file.js';
import { temporaryFolder } from '../support/temporary-folder.js';

/** The shape of Azure Monitor's `GET …/providers/Microsoft.Insights/metrics` answer (and `az monitor metrics list -o json`), cut to what is read. */
function response(timeStamp: string, total: unknown, interval = 'PT1H'): unknown {
  return {
    cost: 0,
    timespan: '2026-11-16T00:00:00Z/2026-11-16T02:00:00Z',
    interval,
    value: [
      {
        name: { value: 'ProcessedPromptTokens', localizedValue: 'Processed Prompt Tokens' },
        unit: 'Count',
        timeseries: [{ metadatavalues: [{ name: { value: 'modeldeploymentname' }, value: 'gpt-4o-prod' }], data: [{ timeStamp, total }] }],
      },
    ],
  };
}

/**
 * A `metrics:getBatch` body as Microsoft documents it ("How to migrate from the metrics API to the getBatch API",
 * response format): under `values`, one metrics response per resource, each with `resourceid` and `resourceregion`.
 */
function batchResponse(...accounts: [account: string, timeStamp: string, total: number][]): unknown {
  return {
    values: accounts.map(([account, timeStamp, total]) => {
      const resourceid = `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/${account}`;
      const single = response(timeStamp, total) as { value: Record<string, unknown>[] };
      return {
        starttime: '2026-11-16T00:00:00Z',
        endtime: '2026-11-16T02:00:00Z',
        interval: 'PT1H',
        value: single.value.map((metric) => ({ id: `${resourceid}/providers/Microsoft.Insights/metrics/ProcessedPromptTokens`, type: 'Microsoft.Insights/metrics', errorCode: 'Success', ...metric })),
        namespace: 'microsoft.cognitiveservices/accounts',
        resourceregion: 'eastus',
        resourceid,
      };
    }),
  };
}

async function saved(text: string): Promise<string> {
  const file = join(await temporaryFolder('tokenledger-metrics-'), 'metrics.json');
  await writeFile(file, text);
  return file;
}

describe('an Azure Monitor metrics response read from a file', () => {
  it('gives the prompt tokens per hour and deployment, with or without a byte order mark', async () => {
    const text = JSON.stringify(response('2026-11-16T01:00:00Z', 1234));
    for (const file of [await saved(text), await saved(`\ufeff${text}`)]) {
      expect((await readMetricsFile(file)).tokens).toEqual([{ hour: '2026-11-16T01', deployment: 'gpt-4o-prod', promptTokens: 1234, generatedTokens: 0 }]);
    }
  });

  it('names the file, and the line and column of a JSON syntax error', async () => {
    const file = await saved('{\n  "value": [\n    {"name": }\n  ]\n}\n');
    await expect(readMetricsFile(file)).rejects.toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not JSON: line 3, column \\d+`));
  });

  it('names the file and the field of a response of another shape, or a time that is not one', async () => {
    await expect(readMetricsFile(await saved('{}'))).rejects.toThrow(/metrics\.json: invalid Azure Monitor metrics response: value: /);
    await expect(readMetricsFile(await saved(JSON.stringify(response('yesterday', 5))))).rejects.toThrow(
      /metrics\.json: invalid Azure Monitor metrics response: value\.0\.timeseries\.0\.data\.0\.timeStamp: /,
    );
    await expect(readMetricsFile(await saved(JSON.stringify(response('2026-11-16T01:00:00Z', -1))))).rejects.toThrow(/data\.0\.total: /);
  });

  it('adds up the resources of a metrics:getBatch body, per hour and deployment', async () => {
    const file = await saved(JSON.stringify(batchResponse(['aoai-eastus', '2026-11-16T01:00:00Z', 1234], ['aoai-eastus-2', '2026-11-16T01:00:00Z', 66], ['aoai-eastus-2', '2026-11-16T00:00:00Z', 7])));
    expect((await readMetricsFile(file)).tokens).toEqual([
      { hour: '2026-11-16T01', deployment: 'gpt-4o-prod', promptTokens: 1300, generatedTokens: 0 },
      { hour: '2026-11-16T00', deployment: 'gpt-4o-prod', promptTokens: 7, generatedTokens: 0 },
    ]);
  });

  it('names the resource and field of a metrics:getBatch body that is not one', async () => {
    await expect(readMetricsFile(await saved(JSON.stringify(batchResponse(['aoai-eastus', 'yesterday', 5]))))).rejects.toThrow(
      /metrics\.json: invalid Azure Monitor metrics:getBatch response: values\.0\.value\.0\.timeseries\.0\.data\.0\.timeStamp: /,
    );
    await expect(readMetricsFile(await saved('{"values": {}}'))).rejects.toThrow(/metrics:getBatch response: values: /);
  });

  it('reads the interval as the Azure CLI prints it (timedelta: "1:00:00", "0:05:00"), and refuses a day as it does P1D', async () => {
    // Microsoft Learn, "Estimating Consumption plan costs" (Azure CLI): `az monitor metrics list … --interval PT1H`
    // "returns a JSON payload" with "interval": "1:00:00".
    expect((await readMetricsFile(await saved(JSON.stringify(response('2026-11-16T01:00:00+00:00', 1234, '1:00:00'))))).tokens).toEqual([
      { hour: '2026-11-16T01', deployment: 'gpt-4o-prod', promptTokens: 1234, generatedTokens: 0 },
    ]);
    expect((await readMetricsFile(await saved(JSON.stringify(response('2026-11-16T12:55:00+00:00', 60, '0:05:00'))))).tokens).toEqual([
      { hour: '2026-11-16T12', deployment: 'gpt-4o-prod', promptTokens: 60, generatedTokens: 0 },
    ]);
    await expect(readMetricsFile(await saved(JSON.stringify(response('2026-11-16T00:00:00+00:00', 60, '1 day, 0:00:00'))))).rejects.toThrow(/cannot be checked by the hour/);
  });

  it('refuses buckets that do not lie within one UTC hour, naming the interval or the point', async () => {
    // The service starts buckets at the query's start time: a response Microsoft published ("timespan":
    // "2024-09-30T12:09:00Z/…", "interval": "P1D", points at …T12:09:00Z) shows both day-long and off-hour buckets.
    await expect(readMetricsFile(await saved(JSON.stringify(response('2026-11-16T00:00:00Z', 240_000, 'P1D'))))).rejects.toThrow(
      /metrics\.json: metrics of interval "P1D" cannot be checked by the hour: ask for PT1H or a shorter interval/,
    );
    await expect(readMetricsFile(await saved(JSON.stringify(response('2026-11-16T12:09:00Z', 60_000))))).rejects.toThrow(
      /metrics\.json: data point 2026-11-16T12:09:00Z starts a PT1H bucket that is not within one UTC hour/,
    );
    expect((await readMetricsFile(await saved(JSON.stringify(response('2026-11-16T12:45:00Z', 60, 'PT15M'))))).tokens).toEqual([
      { hour: '2026-11-16T12', deployment: 'gpt-4o-prod', promptTokens: 60, generatedTokens: 0 },
    ]);
  });

  it('refuses points asked without the Total aggregation (an average and a count, no total) rather than reading no tokens', async () => {
    // A point carries only the aggregations asked for; `az monitor metrics list --aggregation Average` prints the others null.
    const body = response('2026-11-16T01:00:00Z', null) as { value: { timeseries: { data: Record<string, unknown>[] }[] }[] };
    Object.assign(body.value[0]!.timeseries[0]!.data[0]!, { average: 617, count: 2, minimum: null, maximum: null });
    await expect(readMetricsFile(await saved(JSON.stringify(body)))).rejects.toThrow(
      /metrics\.json: ProcessedPromptTokens at 2026-11-16T01:00:00Z has average, count but no total: ask for the Total aggregation/,
    );
    expect((await readMetricsFile(await saved(JSON.stringify(response('2026-11-16T01:00:00Z', null))))).tokens).toEqual([]);
  });

  it('refuses a series with tokens that is not split by deployment, naming the filter to ask with', async () => {
    // Asked without `ModelDeploymentName eq '*'`, Azure Monitor answers one series for the account, without metadata.
    const body = response('2026-11-16T01:00:00Z', 50_000) as { value: { timeseries: { metadatavalues: unknown[] }[] }[] };
    body.value[0]!.timeseries[0]!.metadatavalues = [];
    await expect(readMetricsFile(await saved(JSON.stringify(body)))).rejects.toThrow(/ProcessedPromptTokens is not split by deployment: ask with the filter "ModelDeploymentName eq '\*'"/);
  });

  it('gives the whole hours the response was asked for: its timespan, or the span all resources of a getBatch body share', async () => {
    expect((await readMetricsFile(await saved(JSON.stringify(response('2026-11-16T01:00:00Z', 1))))).hours).toEqual({ from: '2026-11-16T00', to: '2026-11-16T02' });
    const cut = { ...(response('2026-11-16T01:00:00Z', 1) as object), timespan: '2026-11-16T00:30:00Z/2026-11-16T03:10:00Z' };
    expect((await readMetricsFile(await saved(JSON.stringify(cut)))).hours).toEqual({ from: '2026-11-16T01', to: '2026-11-16T03' });
    const day = { ...(response('2026-11-16T01:00:00Z', 1) as object), timespan: '2026-11-16T00:00:00Z/2026-11-16T23:59:59Z' };
    expect((await readMetricsFile(await saved(JSON.stringify(day)))).hours).toEqual({ from: '2026-11-16T00', to: '2026-11-17T00' });
    const batch = batchResponse(['aoai-eastus', '2026-11-16T01:00:00Z', 1], ['aoai-westus', '2026-11-16T01:00:00Z', 1]) as { values: Record<string, unknown>[] };
    batch.values[1]!['starttime'] = '2026-11-16T01:00:00Z';
    expect((await readMetricsFile(await saved(JSON.stringify(batch)))).hours).toEqual({ from: '2026-11-16T01', to: '2026-11-16T02' });
    const { timespan: _none, ...without } = response('2026-11-16T01:00:00Z', 1) as { timespan: string };
    expect((await readMetricsFile(await saved(JSON.stringify(without)))).hours).toBeNull();
  });

  it("refuses a metric Azure Monitor failed to read instead of reading it as no tokens", async () => {
    const body = batchResponse(['aoai-eastus', '2026-11-16T01:00:00Z', 1234]) as { values: { value: Record<string, unknown>[] }[] };
    Object.assign(body.values[0]!.value[0]!, { errorCode: 'InternalServerError', errorMessage: 'Error occurred while querying metric.', timeseries: [] });
    await expect(readMetricsFile(await saved(JSON.stringify(body)))).rejects.toThrow(
      /metrics\.json: Azure Monitor could not read \/subscriptions\/.*\/accounts\/aoai-eastus\/providers\/Microsoft\.Insights\/metrics\/ProcessedPromptTokens: InternalServerError: Error occurred/,
    );
  });
});

describe('the metrics file as the local stack reconciles with it', () => {
  const sources = async () => new StoredAndFileReconciliationSources({ listRecords: async function* () {} }, { metrics: await saved(JSON.stringify(response('2026-11-16T01:00:00Z', 1234))) });

  it("gives a window's tokens from the file", async () => {
    const window = { from: new Date('2026-11-16T01:00:00Z'), to: new Date('2026-11-16T02:00:00Z') };
    expect(await (await sources()).metrics(window)).toEqual([{ hour: '2026-11-16T01', deployment: 'gpt-4o-prod', promptTokens: 1234, generatedTokens: 0 }]);
  });

  it('fails for a window the file was not asked for, which makes its check unavailable rather than graded against no tokens', async () => {
    const window = { from: new Date('2026-11-16T05:00:00Z'), to: new Date('2026-11-16T06:00:00Z') };
    await expect((await sources()).metrics(window)).rejects.toThrow(/metrics\.json holds the metrics of 2026-11-16T00:00Z to 2026-11-16T02:00Z, not of 2026-11-16T05:00:00\.000Z to 2026-11-16T06:00:00\.000Z/);
  });
});
