import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseArchiveBlob } from '../../src/adapters/archive/archive-diagnostics-source.js';
import { requestResponseExportRecords } from '../../src/adapters/files/requestresponse-export.js';
import { parseRequestResponse } from '../../src/domain/diagnostic-parsing.js';
import { azureDiagnosticsCells } from '../support/fake-log-analytics.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const ARCHIVE = fixture('aoai-requestresponse.archive.jsonl');

/** The records an export gives, checked as the archive's lines are. */
const exported = (text: string, file = 'export') => [...requestResponseExportRecords(text, file)];

function recordsOf(text: string, file = 'export') {
  return exported(text, file)
    .filter((raw) => raw !== null)
    .map((raw) => {
      const parsed = parseRequestResponse(raw);
      if (!parsed.ok) throw new Error(parsed.reason);
      return parsed.record;
    });
}

describe('RequestResponse records exported from Log Analytics', () => {
  it.each(['query-api.json', 'az-cli.json', 'portal.csv'])('reads %s into the records the archive holds', (name) => {
    const archive = parseArchiveBlob('archive', ARCHIVE);
    expect(archive.rejected).toEqual([]);
    expect(recordsOf(fixture(`requestresponse-exports/${name}`))).toEqual(archive.records);
  });

  it('reads JSON lines of the whole table, leaving out rows of other categories and resource providers', () => {
    const rows = ARCHIVE.trim()
      .split('\n')
      .map((line) => ({ Category: 'RequestResponse', ResourceProvider: 'MICROSOFT.COGNITIVESERVICES', ...azureDiagnosticsCells(JSON.parse(line) as Record<string, unknown>) }));
    const audit = { ...rows[0]!, Category: 'Audit' };
    const other = { ...rows[1]!, ResourceProvider: 'MICROSOFT.APIMANAGEMENT' };
    const text = [rows[0], audit, rows[1], other, rows[2]].map((row) => JSON.stringify(row)).join('\n');
    expect(exported(text).filter((record) => record === null)).toHaveLength(2);
    expect(recordsOf(text)).toEqual(parseArchiveBlob('archive', ARCHIVE).records);
  });

  it("takes one blob of the archive given as the file: the archive's own records, other categories left out", () => {
    const audit = JSON.stringify({ ...(JSON.parse(ARCHIVE.split('\n')[0]!) as object), category: 'Audit' });
    const text = `${audit}\n${ARCHIVE}`;
    expect(exported(text).filter((record) => record === null)).toHaveLength(1);
    expect(recordsOf(text)).toEqual(parseArchiveBlob('archive', ARCHIVE).records);
  });

  it('takes the envelopes a diagnostic setting streams to Event Hubs, saved as they came: their records are the archive\'s', () => {
    const records = ARCHIVE.trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const text = [JSON.stringify({ records: records.slice(0, 2) }), JSON.stringify({ records: [{ ...records[0], category: 'Audit' }, records[2], 7] })].join('\n');
    const all = exported(text);
    expect(all.filter((record) => record === null)).toHaveLength(1);
    // The 7 is kept as a record the check refuses: counted, not lost.
    expect(all.filter((record) => record !== null && !parseRequestResponse(record).ok)).toEqual([{}]);
    expect(all.filter((record) => record !== null && parseRequestResponse(record).ok).map((record) => (parseRequestResponse(record) as { record: unknown }).record)).toEqual(parseArchiveBlob('archive', ARCHIVE).records);
  });

  it('keeps a row whose values the record check refuses, for that check to count, and stops at a file that is no export', () => {
    const row = { ...azureDiagnosticsCells(JSON.parse(ARCHIVE.split('\n')[0]!) as Record<string, unknown>), TimeGenerated: 'yesterday', CorrelationId: 'None' };
    const records = exported(JSON.stringify([row]));
    expect(records).toHaveLength(1);
    const parsed = parseRequestResponse(records[0]);
    expect(parsed.ok).toBe(false);
    expect(() => exported('Name,Value\r\na,1\r\n', 'rows.csv')).toThrow('rows.csv line 1: not an AzureDiagnostics RequestResponse export (no CorrelationId column');
    expect(() => exported('[1, 2]', 'numbers.json')).toThrow('numbers.json: row 1 of the JSON array: expected a row object, found 1');
  });
});
