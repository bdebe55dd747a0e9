import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMetricsFile } from '../../src/adapters/files/metrics-file.js';
import { temporaryFolder } from '../support/temporary-folder.js';

/** The shape of Azure Monitor's `GET …/providers/Microsoft.Insights/metrics` answer (and `az monitor metrics list -o json`), cut to what is read. */
function response(timeStamp: string, total: unknown): unknown {
  return {
    cost: 0,
    timespan: '2026-11-16T00:00:00Z/2026-11-16T02:00:00Z',
    interval: 'PT1H',
    value: [
      {
        name: { value: 'ProcessedPromptTokens', localizedValue: 'Processed Inference Tokens' },
        unit: 'Count',
        timeseries: [{ metadatavalues: [{ name: { value: 'modeldeploymentname' }, value: 'gpt-4o-prod' }], data: [{ timeStamp, total }] }],
      },
    ],
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
});
