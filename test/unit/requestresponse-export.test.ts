import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseArchiveBlob } from '../../src/adapters/archive/archive-diagnostics-source.js';
import type { ExportReadOptions } from '../../src/adapters/files/log-analytics-export.js';
import { readRequestResponseExport } from '../../src/adapters/files/requestresponse-export.js';
import { parseRequestResponse } from '../../src/domain/diagnostic-parsing.js';
import { azureDiagnosticsCells } from '../support/fake-log-analytics.js';
import { temporaryFile } from '../support/temporary-folder.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const ARCHIVE = fixture('aoai-requestresponse.archive.jsonl');

/** The records an export saved as `text` in a file named `file` gives, as they come. */
async function exported(text: string, file = 'export', options: ExportReadOptions = {}) {
  const records = [];
  for await (const record of readRequestResponseExport(await temporaryFile(file, text), options)) records.push(record);
  return records;
}

/** The records an export gives, checked as the archive's lines are. */
async function recordsOf(text: string, file = 'export', options: ExportReadOptions = {}) {
  return (await exported(text, file, options))
    .filter((raw) => raw !== null)
    .map((raw) => {
      const parsed = parseRequestResponse(raw);
      if (!parsed.ok) throw new Error(parsed.reason);
      return parsed.record;
    });
}

describe('RequestResponse records exported from Log Analytics', () => {
  it.each(['query-api.json', 'az-cli.json', 'portal.csv'])('reads %s into the records the archive holds', async (name) => {
    const archive = parseArchiveBlob('archive', ARCHIVE);
    expect(archive.rejected).toEqual([]);
    expect(await recordsOf(fixture(`requestresponse-exports/${name}`))).toEqual(archive.records);
  });

  it('reads JSON lines of the whole table, leaving out rows of other categories and resource providers', async () => {
    const rows = ARCHIVE.trim()
      .split('\n')
      .map((line) => ({ Category: 'RequestResponse', ResourceProvider: 'MICROSOFT.COGNITIVESERVICES', ...azureDiagnosticsCells(JSON.parse(line) as Record<string, unknown>) }));
    const audit = { ...rows[0]!, Category: 'Audit' };
    const other = { ...rows[1]!, ResourceProvider: 'MICROSOFT.APIMANAGEMENT' };
    const text = [rows[0], audit, rows[1], other, rows[2]].map((row) => JSON.stringify(row)).join('\n');
    expect((await exported(text)).filter((record) => record === null)).toHaveLength(2);
    expect(await recordsOf(text)).toEqual(parseArchiveBlob('archive', ARCHIVE).records);
  });

  it("takes one blob of the archive given as the file: the archive's own records, other categories left out", async () => {
    const audit = JSON.stringify({ ...(JSON.parse(ARCHIVE.split('\n')[0]!) as object), category: 'Audit' });
    const text = `${audit}\n${ARCHIVE}`;
    expect((await exported(text)).filter((record) => record === null)).toHaveLength(1);
    expect(await recordsOf(text)).toEqual(parseArchiveBlob('archive', ARCHIVE).records);
  });

  it('takes the envelopes a diagnostic setting streams to Event Hubs, saved as they came: their records are the archive\'s', async () => {
    const records = ARCHIVE.trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const text = [JSON.stringify({ records: records.slice(0, 2) }), JSON.stringify({ records: [{ ...records[0], category: 'Audit' }, records[2], 7] })].join('\n');
    const all = await exported(text);
    expect(all.filter((record) => record === null)).toHaveLength(1);
    // The 7 is kept as a record the check refuses: counted, not lost.
    expect(all.filter((record) => record !== null && !parseRequestResponse(record).ok)).toEqual([{}]);
    expect(all.filter((record) => record !== null && parseRequestResponse(record).ok).map((record) => (parseRequestResponse(record) as { record: unknown }).record)).toEqual(parseArchiveBlob('archive', ARCHIVE).records);
  });

  it('keeps a row whose values the record check refuses, for that check to count, and stops at a file that is no export', async () => {
    const row = { ...azureDiagnosticsCells(JSON.parse(ARCHIVE.split('\n')[0]!) as Record<string, unknown>), TimeGenerated: 'yesterday', CorrelationId: 'None' };
    const records = await exported(JSON.stringify([row]));
    expect(records).toHaveLength(1);
    const parsed = parseRequestResponse(records[0]);
    expect(parsed.ok).toBe(false);
    await expect(exported('Name,Value\r\na,1\r\n', 'rows.csv')).rejects.toThrow('rows.csv line 1: not an AzureDiagnostics RequestResponse export (no CorrelationId column');
    await expect(exported('[1, 2]', 'numbers.json')).rejects.toThrow('numbers.json line 1: row 1 of the JSON array: expected a row object, found 1');
  });

  it('reads JSON lines as they come, whatever their size, and refuses a document too large to read whole with what to do', async () => {
    const pretty = fixture('requestresponse-exports/query-api.json');
    const api = JSON.stringify(JSON.parse(pretty));
    const rows = ARCHIVE.trim()
      .split('\n')
      .map((line) => JSON.stringify(azureDiagnosticsCells(JSON.parse(line) as Record<string, unknown>)));
    const read = (text: string) => recordsOf(text, 'export.json', { maxDocumentBytes: 1_000 });
    const expected = parseArchiveBlob('archive', ARCHIVE).records;
    // Far beyond the size a document may have: each line is read by itself.
    expect((rows.join('\n') + '\n').length).toBeGreaterThan(1_000);
    expect(await read(rows.join('\n'))).toEqual(expected);
    // Query API responses saved a line each (several exports in one file): each line's rows in turn.
    expect(await read(`${api}\n${api}\n`)).toEqual([...expected, ...expected]);
    expect(pretty.length).toBeGreaterThan(1_000);
    await expect(read(pretty)).rejects.toThrow(`export.json: ${Buffer.byteLength(pretty).toLocaleString('en-US')} bytes, and a query API response, az output or CSV is read whole, at most 1,000 bytes`);
  });

  it('names the line of JSON lines that is not JSON, and reads on no further', async () => {
    const line = ARCHIVE.split('\n')[0]!;
    await expect(exported(`${line}\n${line.slice(0, 40)}\n${line}\n`, 'cut.jsonl')).rejects.toThrow('cut.jsonl line 2: not JSON (expected one row object per line)');
  });
});
