import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
      expect(await readMetricsFile(file)).toEqual([{ hour: '2026-11-16T01', deployment: 'gpt-4o-prod', promptTokens: 1234, generatedTokens: 0 }]);
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
    expect(await readMetricsFile(file)).toEqual([
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
    expect(await readMetricsFile(await saved(JSON.stringify(response('2026-11-16T01:00:00+00:00', 1234, '1:00:00'))))).toEqual([
      { hour: '2026-11-16T01', deployment: 'gpt-4o-prod', promptTokens: 1234, generatedTokens: 0 },
    ]);
    expect(await readMetricsFile(await saved(JSON.stringify(response('2026-11-16T12:55:00+00:00', 60, '0:05:00'))))).toEqual([
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
    expect(await readMetricsFile(await saved(JSON.stringify(response('2026-11-16T12:45:00Z', 60, 'PT15M'))))).toEqual([
      { hour: '2026-11-16T12', deployment: 'gpt-4o-prod', promptTokens: 60, generatedTokens: 0 },
    ]);
  });

  it("refuses a metric Azure Monitor failed to read instead of reading it as no tokens", async () => {
    const body = batchResponse(['aoai-eastus', '2026-11-16T01:00:00Z', 1234]) as { values: { value: Record<string, unknown>[] }[] };
    Object.assign(body.values[0]!.value[0]!, { errorCode: 'InternalServerError', errorMessage: 'Error occurred while querying metric.', timeseries: [] });
    await expect(readMetricsFile(await saved(JSON.stringify(body)))).rejects.toThrow(
      /metrics\.json: Azure Monitor could not read \/subscriptions\/.*\/accounts\/aoai-eastus\/providers\/Microsoft\.Insights\/metrics\/ProcessedPromptTokens: InternalServerError: Error occurred/,
    );
  });
});
