import { exportInstant, noValue } from '../../contracts/reconciliation-inputs.js';
import { fromAzureDiagnosticsRow } from '../../domain/diagnostic-parsing.js';
import { readLogAnalyticsExport, type ExportReadOptions, type ExportRow } from './log-analytics-export.js';

/** A line of the archive itself (one `PT1H.json` blob given as the file): already a record, `correlationId` and all. */
function isArchiveRecord(row: object): boolean {
  return 'correlationId' in row && !('CorrelationId' in row);
}

/** A record in the archive's shape as it is, null for another category's; a value that is no object as an empty record, which the record check refuses and counts. */
function archiveRecord(record: unknown): Record<string, unknown> | null {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return {};
  const category = (record as { category?: unknown }).category;
  return category === undefined || category === 'RequestResponse' ? (record as Record<string, unknown>) : null;
}

const REQUEST_RESPONSE_EXPORT = { column: 'CorrelationId', table: 'AzureDiagnostics RequestResponse' } as const;

/**
 * Azure OpenAI `RequestResponse` records exported from Log Analytics: the rows of `AzureDiagnostics` (the columns
 * `queries/requestresponse-window.kql` projects, or every column), saved in any form `readLogAnalyticsExport`
 * reads. Each row becomes the archive record the pipeline's Log Analytics source makes of it
 * (`fromAzureDiagnosticsRow`), in the export's order, one at a time; the records are then checked as the archive's
 * are, one by one. A row of another category or resource provider (an export of the whole table) gives null. A
 * file of the archive's own records (one blob of it, or the `{"records":[…]}` bodies a diagnostic setting streams
 * to Event Hubs) gives them as they are.
 */
export async function* readRequestResponseExport(path: string, options: ExportReadOptions = {}): AsyncGenerator<Record<string, unknown> | null> {
  for await (const row of readLogAnalyticsExport(path, REQUEST_RESPONSE_EXPORT, options)) yield* rowRecords(row);
}

function* rowRecords({ row, where }: ExportRow): Generator<Record<string, unknown> | null> {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new Error(`${where}: expected a row object, found ${Array.isArray(row) ? 'an array' : JSON.stringify(row)?.slice(0, 40)}`);
  const envelope = (row as { records?: unknown }).records;
  if (Array.isArray(envelope) && !('CorrelationId' in row)) {
    // The envelope a diagnostic setting streams to Event Hubs, saved as it came: its records are the archive's.
    for (const record of envelope) yield archiveRecord(record);
    return;
  }
  if (isArchiveRecord(row)) {
    yield archiveRecord(row);
    return;
  }
  const values = Object.fromEntries(Object.entries(row).map(([column, value]) => [column, noValue(value)]));
  const category = values['Category'];
  const provider = values['ResourceProvider'];
  if ((category !== undefined && category !== null && category !== 'RequestResponse') || (typeof provider === 'string' && provider.toUpperCase() !== 'MICROSOFT.COGNITIVESERVICES')) {
    yield null;
    return;
  }
  // az and the portal write times in forms of their own: as ISO-8601 where they are one, else left for the record's check to refuse.
  const time = values['TimeGenerated'];
  if (typeof time === 'string') values['TimeGenerated'] = exportInstant(time) ?? time;
  yield fromAzureDiagnosticsRow(values);
}
