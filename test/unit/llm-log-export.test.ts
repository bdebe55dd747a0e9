import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLlmLogExport } from '../../src/adapters/files/llm-log-export.js';
import { exportInstant } from '../../src/contracts/reconciliation-inputs.js';
import { temporaryFile, temporaryFolder } from '../support/temporary-folder.js';

/** Built from each producer's documented or coded format; provenance in test/fixtures/llm-log-exports/README.md. */
const fixture = (name: string) => readFileSync(new URL(`../fixtures/llm-log-exports/${name}`, import.meta.url), 'utf8');

/** The usage an export saved as `text` in a file named `name` gives. */
const usageOf = async (text: string, name: string) => readLlmLogExport(await temporaryFile(name, text));

/** Two requests, one usage each: the counts of the row that has them, never the sum of the rows. */
const EXPECTED = [
  { gatewayRequestId: '0f6e2a4c-8d1b-4c3e-9a7f-5b2d1e0c9a8b', time: '2026-11-20T09:41:09.152Z', deployment: 'gpt-4o-prod', promptTokens: 1834, completionTokens: 412 },
  { gatewayRequestId: '7c1d9e3f-2a4b-4d6c-8e0f-1a3b5c7d9e2f', time: '2026-11-20T09:42:30.008Z', deployment: 'text-embedding-3-small', promptTokens: 96, completionTokens: 0 },
];

describe('reconcile --llm-log: ApiManagementGatewayLlmLog exports', () => {
  it.each(['query-api.json', 'az-cli.json', 'portal.csv'])('reads %s into one usage per request', async (name) => {
    expect(await usageOf(fixture(name), name)).toEqual(EXPECTED);
  });

  it('reads JSON lines, the format the simulator writes, by the same rules', async () => {
    const lines = (JSON.parse(fixture('az-cli.json')) as Record<string, string>[]).map((row) => JSON.stringify(row)).join('\n');
    expect(await usageOf(`${lines}\n`, 'rows.jsonl')).toEqual(EXPECTED);
  });

  it('counts a row repeated in an export once', async () => {
    const api = JSON.parse(fixture('query-api.json')) as { tables: { rows: unknown[][] }[] };
    api.tables[0]!.rows.push(api.tables[0]!.rows[0]!);
    expect(await usageOf(JSON.stringify(api), 'twice.json')).toEqual(EXPECTED);
  });

  it('names the file and line (or row) of a bad value', async () => {
    const csv = fixture('portal.csv').replace('1834,412', '1834,lots');
    await expect(usageOf(csv, 'export.csv')).rejects.toThrow(/\/export\.csv line 2: invalid ApiManagementGatewayLlmLog row: CompletionTokens: expected a token count/);
    const az = fixture('az-cli.json').replace('"2026-11-20 09:42:30.008000+00:00"', '"yesterday"');
    await expect(usageOf(az, 'az.json')).rejects.toThrow(/\/az\.json: row 4 of the JSON array: invalid ApiManagementGatewayLlmLog row: TimeGenerated: "yesterday" is not a time/);
    const api = JSON.parse(fixture('query-api.json')) as { tables: { rows: unknown[][] }[] };
    api.tables[0]!.rows[2] = api.tables[0]!.rows[2]!.slice(0, 3);
    await expect(usageOf(JSON.stringify(api), 'api.json')).rejects.toThrow('api.json line 1: tables[0].rows[2]: expected 9 values, one per column');
    await expect(usageOf('{"CorrelationId":"a","TimeGenerated":"2026-11-20T09:41:09Z"}\n{oops\n', 'l.jsonl')).rejects.toThrow('l.jsonl line 2: not JSON (expected one row object per line)');
    await expect(usageOf('identity,team\nx,y\n', 'wrong.csv')).rejects.toThrow(/\/wrong\.csv line 1: not an ApiManagementGatewayLlmLog export \(no CorrelationId column/);
    await expect(usageOf('[{"CorrelationId":"a"', 'cut.json')).rejects.toThrow(/\/cut\.json: not JSON/);
  });

  it('names a file it cannot read, and what it was to hold', async () => {
    const missing = join(await temporaryFolder('tokenledger-llm-log-'), 'missing.jsonl');
    await expect(readLlmLogExport(missing)).rejects.toThrow(`${missing}: cannot read the LLM log export (ENOENT)`);
  });

  it('reads the time forms of the three exports, and refuses an impossible one', () => {
    expect(exportInstant('2026-11-20T09:41:09.152Z')).toBe('2026-11-20T09:41:09.152Z');
    expect(exportInstant('2026-11-20 09:41:09.152000+00:00')).toBe('2026-11-20T09:41:09.152Z');
    expect(exportInstant('2026-11-20 09:41:09+00:00')).toBe('2026-11-20T09:41:09.000Z');
    expect(exportInstant('11/20/2026, 12:05:00.5 AM')).toBe('2026-11-20T00:05:00.500Z');
    expect(exportInstant('11/20/2026, 12:05:00.000 PM')).toBe('2026-11-20T12:05:00.000Z');
    expect(exportInstant('2/30/2026, 1:00:00.000 PM')).toBeNull();
    expect(exportInstant('11/20/2026 13:05:00 PM')).toBeNull();
    // Every form names a real day: none is rolled over into the next day or month.
    expect(exportInstant('2026-02-30T10:00:00.1234567Z')).toBeNull();
    expect(exportInstant('2026-02-30 10:00:00.123456+00:00')).toBeNull();
    expect(exportInstant('2026-11-15T24:00:00Z')).toBeNull();
  });

  it('cuts a time to the millisecond in every form, so a row stays in the hour and day it was written in', () => {
    expect(exportInstant('2026-11-15T22:59:59.9999999Z')).toBe('2026-11-15T22:59:59.999Z');
    expect(exportInstant('2026-11-15 22:59:59.999999+00:00')).toBe('2026-11-15T22:59:59.999Z');
    expect(exportInstant('11/15/2026, 10:59:59.9999999 PM')).toBe('2026-11-15T22:59:59.999Z');
    expect(exportInstant('11/30/2026, 11:59:59.9999999 PM')).toBe('2026-11-30T23:59:59.999Z');
  });
});
