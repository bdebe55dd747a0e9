import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RESULT_SIZE } from '../../src/adapters/log-analytics/log-analytics-diagnostics-source.js';
import { bindQuery, kqlDatetime, kqlString, kqlStringList, type KqlLiteral } from '../../src/domain/kql.js';
import { kqlErrors } from '../support/kusto-language.js';

/** Errors (not warnings or suggestions) the language service reports against the declared schemas. */
function errorsOf(query: string): string[] {
  return kqlErrors(query).map((d) => `${d.Code} at ${d.Start}: ${d.Message}`);
}

/** Sample values for every placeholder our templates use; a new placeholder needs a sample here. */
const SAMPLES: Readonly<Record<string, KqlLiteral>> = {
  from: kqlDatetime(new Date('2026-11-20T10:00:00Z')),
  to: kqlDatetime(new Date('2026-11-20T11:00:00Z')),
  ids: kqlStringList(['0f8fad5b-d9cb-469f-a165-70867728950e', '7c9e6679-7425-40de-944b-e07fc1f90ae7']),
  id: kqlString('0f8fad5b-d9cb-469f-a165-70867728950e'),
  // Workbook parameter (dashboards/workbooks/bypass-traffic): a multi-select dropdown the workbook expands to quoted,
  // comma-separated ids inside `in (…)`; a dynamic list stands in for it.
  GatewayObjectId: kqlStringList(['5b2c9e4f-8d3a-4f56-b0e2-7a1b2c3d4e5f']),
};

function bindSamples(template: string): string {
  const names = new Set([...template.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!));
  const params: Record<string, KqlLiteral> = {};
  for (const name of names) if (SAMPLES[name] !== undefined) params[name] = SAMPLES[name];
  return bindQuery(template, params);
}

const root = fileURLToPath(new URL('../../', import.meta.url));

function filesUnder(dir: string, extension: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(extension))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** Every `query` of a workbook item whose `queryType` is 0 (Log Analytics), wherever it sits in the JSON. */
function workbookQueries(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(workbookQueries);
  if (value === null || typeof value !== 'object') return [];
  const item = value as Record<string, unknown>;
  const own = item['queryType'] === 0 && typeof item['query'] === 'string' ? [item['query']] : [];
  return [...own, ...Object.values(item).flatMap(workbookQueries)];
}

const kqlFiles = filesUnder(join(root, 'queries'), '.kql').map((file) => [relative(root, file), readFileSync(file, 'utf8')] as const);
const dashboardQueries = filesUnder(join(root, 'dashboards'), '.json').flatMap((file) =>
  workbookQueries(JSON.parse(readFileSync(file, 'utf8'))).map((query, i) => [`${relative(root, file)} query ${i + 1}`, query] as const),
);

describe('KQL in queries/ and dashboards/ analysed by the Kusto language service against the declared table schemas', () => {
  it('finds the query files the adapters read', () => {
    expect(kqlFiles.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        join('queries', 'gateway-llm-usage.kql'),
        join('queries', 'reconcile-llm-usage.kql'),
        join('queries', 'reconcile-requestresponse.kql'),
        join('queries', 'requestresponse-window.kql'),
      ]),
    );
  });

  it.each(kqlFiles)('%s has a header comment and analyses without errors', (_name, text) => {
    expect(text.startsWith('//')).toBe(true);
    expect(errorsOf(bindSamples(text))).toEqual([]);
  });

  it.each(kqlFiles)('%s with the size of its result appended analyses without errors', (_name, text) => {
    expect(errorsOf(bindSamples(text) + RESULT_SIZE)).toEqual([]);
  });

  it('every Log Analytics query of the workbooks in dashboards/ analyses without errors', () => {
    const failures = dashboardQueries.map(([name, query]) => ({ name, errors: errorsOf(bindSamples(query)) })).filter((f) => f.errors.length > 0);
    expect(failures).toEqual([]);
  });

  it('catches an unknown column, an unknown table and a type error', () => {
    expect(errorsOf('AzureDiagnostics | project CorrelationId, TokenCount')).toEqual([expect.stringContaining("'TokenCount'")]);
    expect(errorsOf('AzureDiagnostic | count')).toEqual([expect.stringContaining("'AzureDiagnostic'")]);
    expect(errorsOf('ApiManagementGatewayLlmLog | where PromptTokens > "many"')).not.toEqual([]);
    expect(errorsOf('AzureDiagnostics | summarize Bytes = sum(estimate_size(*))')).toEqual([expect.stringContaining("'estimate_size'")]);
  });

  it('analyses AzureDiagnostics against the columns every workspace has: one a service adds later (location_s) is an error, AdditionalFields is not', () => {
    expect(errorsOf('AzureDiagnostics | project location_s')).toEqual([expect.stringContaining("'location_s'")]);
    expect(errorsOf('AzureDiagnostics | project Region = coalesce(column_ifexists("location_s", ""), tostring(AdditionalFields.location))')).toEqual([]);
  });

  it("reads from AdditionalFields only the record's own field names, location and Tenant: the type suffix (_s) belongs to columns", () => {
    // Azure Monitor Logs reference, AzureDiagnostics, "AdditionalFields column": a new field becomes the column
    // `NewInfo1_s` while the table has room, and the property `{"NewInfo2":"789"}` of AdditionalFields once it has
    // 500 columns. The RequestResponse record names the fields `location` and `Tenant` (the archive sample).
    const record = JSON.parse(readFileSync(join(root, 'test/fixtures/aoai-requestresponse.archive.jsonl'), 'utf8').split('\n')[0]!) as Record<string, unknown>;
    const reads = [...kqlFiles, ...dashboardQueries].flatMap(([name, query]) => [...query.matchAll(/AdditionalFields\.(\w+)/g)].map((m) => `${name}: ${m[1]!}`));
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.filter((read) => !(read.split(': ')[1]! in record))).toEqual([]);
    expect(new Set(reads.map((read) => read.split(': ')[1]))).toEqual(new Set(['location', 'Tenant']));
  });

  it('times only answered calls in the latency workbook, as the latency tiles do: every percentile is of Answered, DurationMs of a 2xx/3xx or unknown status', () => {
    const latency = dashboardQueries.filter(([name]) => name.includes('latency-by-region'));
    const percentiles = latency.flatMap(([, query]) => [...query.matchAll(/percentile\(([^,]+),/g)].map((m) => m[1]));
    expect(percentiles.length).toBeGreaterThanOrEqual(4);
    expect(new Set(percentiles)).toEqual(new Set(['Answered']));
    for (const [, query] of latency.filter(([, query]) => query.includes('percentile('))) {
      expect(query).toContain('| extend Answered = iff(isnull(Status) or Status between (200 .. 399), todouble(DurationMs), real(null))');
    }
  });

  it('catches a column that exists in one table but is used on another', () => {
    expect(errorsOf('ApiManagementGatewayLlmLog | project properties_s')).not.toEqual([]);
    expect(errorsOf('AzureDiagnostics | summarize sum(PromptTokens)')).not.toEqual([]);
  });

  it('finds workbook queries of queryType 0 at any depth and ignores other query types', () => {
    const workbook = {
      items: [
        { type: 3, content: { query: 'AzureDiagnostics | count', queryType: 0 } },
        { type: 12, content: { items: [{ type: 3, content: { query: 'ApiManagementGatewayLogs | count', queryType: 0 } }] } },
        { type: 3, content: { query: 'resources | count', queryType: 1 } },
      ],
    };
    expect(workbookQueries(workbook)).toEqual(['AzureDiagnostics | count', 'ApiManagementGatewayLogs | count']);
  });
});
