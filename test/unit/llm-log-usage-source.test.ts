import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmLogExportUsageSource } from '../../src/adapters/files/llm-log-usage-source.js';

describe('LLM-log usage from an export file', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tokenledger-llm-usage-'));
    file = join(dir, 'llm-log.jsonl');
    const row = (id: string, time: string, prompt: number | null, completion: number | null, deployment: string) =>
      JSON.stringify({ TimeGenerated: time, CorrelationId: id, DeploymentName: deployment, ModelName: deployment ? 'gpt-4o' : '', PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt === null ? null : prompt + (completion ?? 0), IsStreamCompletion: true });
    await writeFile(
      file,
      [
        row('0F6E2A4C-8D1B-4C3E-9A7F-5B2D1E0C9A8B', '2026-11-20T09:41:09.152Z', null, null, ''),
        row('0F6E2A4C-8D1B-4C3E-9A7F-5B2D1E0C9A8B', '2026-11-20T09:41:09.152Z', 1834, 412, 'gpt-4o-prod'),
        row('7c1d3b5a-2e4f-4a6b-8c9d-0e1f2a3b9e2f', '2026-11-20T11:00:00.000Z', 300, 0, 'embeddings'),
      ].join('\n') + '\n',
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives each asked request its tokens once, from the row that has them, under the id as asked', async () => {
    const source = new LlmLogExportUsageSource(file);
    const range = { from: new Date('2026-11-20T00:00:00Z'), to: new Date('2026-11-21T00:00:00Z') };
    expect(await source.getUsage(['0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b', 'unknown', '0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b'], range)).toEqual([
      { gatewayRequestId: '0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b', promptTokens: 1834, completionTokens: 412, totalTokens: 2246 },
    ]);
  });

  it('gives nothing for a request logged outside the range', async () => {
    const source = new LlmLogExportUsageSource(file);
    expect(await source.getUsage(['7c1d3b5a-2e4f-4a6b-8c9d-0e1f2a3b9e2f'], { from: new Date('2026-11-20T00:00:00Z'), to: new Date('2026-11-20T10:00:00Z') })).toEqual([]);
  });
});
