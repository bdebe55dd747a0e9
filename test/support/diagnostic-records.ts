import { readFileSync } from 'node:fs';
import type { DiagnosticRecord } from '../../src/contracts/diagnostic-record.js';

/** A complete Azure OpenAI `RequestResponse` record of one answered chat completion in East US. */
export function diagnosticRecord(overrides: Partial<DiagnosticRecord> = {}): DiagnosticRecord {
  return {
    correlationId: 'c4a1e7d2-5b3f-4e8a-9c6d-000000000001',
    time: '2026-11-20T10:15:00.000Z',
    resourceId: '/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/AOAI-EASTUS',
    account: 'aoai-eastus',
    regionCode: 'eastus',
    operationName: 'ChatCompletions_Create',
    durationMs: 840,
    status: 200,
    objectId: null,
    streamType: 'Non-Streaming',
    modelDeploymentName: 'gpt-4o',
    modelName: 'gpt-4o',
    modelVersion: '2024-08-06',
    ...overrides,
  };
}

/** The records of the real archive sample (`test/fixtures/aoai-requestresponse.archive.jsonl`), as Azure wrote them. */
export function archiveRecords(): Record<string, unknown>[] {
  return readFileSync(new URL('../fixtures/aoai-requestresponse.archive.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
