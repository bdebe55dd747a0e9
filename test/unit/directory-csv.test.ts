import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DIRECTORY_KINDS, normalizeIdentityKey, type DirectoryRow } from '../../src/contracts/directory.js';
import { directoryCsv, directoryCsvParts, parseCsv, parseDirectoryCsv } from '../../src/domain/directory-csv.js';
import { SIMULATION_FILES, writeSimulation } from '../../src/simulator/files.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { readDirectoryFile } from '../../src/services/analyze-files.js';

const HEADER = 'identity,displayName,team,costCenter';
const GUID = '3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c';
const csv = (...lines: string[]) => lines.join('\n') + '\n';

describe('parseCsv', () => {
  it('reads quoted fields, doubled quotes, commas and line breaks inside quotes', () => {
    const records = parseCsv('a,"b,c","say ""hi""","two\nlines",\n"",x\n');
    expect(records).toEqual([
      { line: 1, fields: ['a', 'b,c', 'say "hi"', 'two\nlines', ''] },
      { line: 3, fields: ['', 'x'] },
    ]);
  });

  it('accepts CRLF, LF and CR line breaks, with or without a final one, and a byte order mark', () => {
    const expected = [
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['c', 'd'] },
    ];
    expect(parseCsv('a,b\r\nc,d\r\n')).toEqual(expected);
    expect(parseCsv('a,b\nc,d')).toEqual(expected);
    expect(parseCsv('a,b\rc,d\r')).toEqual(expected);
    expect(parseCsv('\uFEFFa,b\r\nc,d')).toEqual(expected);
    expect(parseCsv('"x\r\ny",z\r\nc,d')).toEqual([
      { line: 1, fields: ['x\r\ny', 'z'] },
      { line: 3, fields: ['c', 'd'] },
    ]);
  });

  it('skips empty lines but keeps counting them', () => {
    expect(parseCsv('a\n\n\r\nb\n\n')).toEqual([
      { line: 1, fields: ['a'] },
      { line: 4, fields: ['b'] },
    ]);
  });

  it('reports malformed quoting with its line and reads on at the next line', () => {
    expect(parseCsv('ok,1\nab"c,2\n"x"y,3\nok,4\n"open,5\nnever closed')).toEqual([
      { line: 1, fields: ['ok', '1'] },
      { line: 2, error: expect.stringMatching(/quote inside unquoted field 1/) },
      { line: 3, error: expect.stringMatching(/unexpected character after the closing quote of field 1/) },
      { line: 4, fields: ['ok', '4'] },
      { line: 5, error: expect.stringMatching(/unterminated quoted field/) },
    ]);
  });

  it('reads back any fields written with RFC 4180 quoting', () => {
    const quote = (field: string) => (/[",\r\n]/.test(field) || field === '' ? `"${field.replace(/"/g, '""')}"` : field);
    const field = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', ',', '"', '\n', '\r', '=', 'é', '😀'), maxLength: 8 });
    fc.assert(
      fc.property(fc.array(fc.array(field, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 6 }), fc.constantFrom('\n', '\r\n'), (rows, eol) => {
        const text = rows.map((fields) => fields.map(quote).join(',')).join(eol) + eol;
        expect(parseCsv(text).map((r) => ('fields' in r ? r.fields : r.error))).toEqual(rows);
      }),
    );
  });
});

describe('parseDirectoryCsv', () => {
  it('reads rows, trims values and lower-cases GUID identities only', () => {
    const result = parseDirectoryCsv(csv(HEADER, ` ${GUID.toUpperCase()} , Ana (Search) ,Search,CC-1001`, 'Sub-Search-0,"Search key 1","Search, EU",CC-1001'));
    expect(result.errors).toEqual([]);
    expect(result.rows).toEqual([
      { identity: GUID, displayName: 'Ana (Search)', team: 'Search', costCenter: 'CC-1001' },
      { identity: 'Sub-Search-0', displayName: 'Search key 1', team: 'Search, EU', costCenter: 'CC-1001' },
    ]);
    expect(normalizeIdentityKey(` ${GUID.toUpperCase()}`)).toBe(GUID);
  });

  it('reads the optional kind column; an empty kind means none', () => {
    const result = parseDirectoryCsv(csv(`${HEADER},kind`, `${GUID},mi,Platform,CC-4001,managedIdentity`, 'sub-1,key,Platform,CC-4001,'));
    expect(result.errors).toEqual([]);
    expect(result.rows).toEqual([
      { identity: GUID, displayName: 'mi', team: 'Platform', costCenter: 'CC-4001', kind: 'managedIdentity' },
      { identity: 'sub-1', displayName: 'key', team: 'Platform', costCenter: 'CC-4001' },
    ]);
    expect(Object.keys(result.rows[1]!)).not.toContain('kind');
  });

  it('refuses an unknown kind and unattributed', () => {
    const result = parseDirectoryCsv(csv(`${HEADER},kind`, 'a,A,T,C,robot', 'b,B,T,C,unattributed', 'c,C,T,C,User'));
    expect(result.rows).toEqual([]);
    expect(result.errors.map((e) => e.line)).toEqual([2, 3, 4]);
    for (const error of result.errors) expect(error.reason).toMatch(/^kind: expected one of user, servicePrincipal, managedIdentity, workloadIdentity, apimSubscription$/);
  });

  it('handles a byte order mark and CRLF line breaks (as Excel saves "CSV UTF-8")', () => {
    const result = parseDirectoryCsv(`\uFEFF${HEADER}\r\n${GUID},Ana,Search,CC-1001\r\nsub-2,"Key ""2""",Search,CC-1001\r\n`);
    expect(result.errors).toEqual([]);
    expect(result.rows.map((r) => r.displayName)).toEqual(['Ana', 'Key "2"']);
  });

  it.each([
    ['a different column order', 'identity,team,displayName,costCenter'],
    ['a missing column', 'identity,displayName,team'],
    ['an unknown extra column', `${HEADER},owner`],
    ['different case', 'Identity,DisplayName,Team,CostCenter'],
    ['spaces around names', 'identity, displayName, team, costCenter'],
    ['semicolons (a European Excel export)', 'identity;displayName;team;costCenter'],
  ])('refuses a header with %s, as one error and no rows', (_, header) => {
    const result = parseDirectoryCsv(csv(header, `${GUID},Ana,Search,CC-1001`));
    expect(result.rows).toEqual([]);
    expect(result.errors).toEqual([{ line: 1, reason: expect.stringMatching(/^header must be exactly identity,displayName,team,costCenter \(optionally followed by ,kind\), got /) }]);
  });

  it('refuses empty input and an unreadable header', () => {
    expect(parseDirectoryCsv('')).toEqual({ rows: [], errors: [{ line: 1, reason: expect.stringMatching(/^missing header/) }] });
    expect(parseDirectoryCsv('\uFEFF\r\n')).toEqual({ rows: [], errors: [{ line: 1, reason: expect.stringMatching(/^missing header/) }] });
    expect(parseDirectoryCsv('"identity,displayName\n')).toEqual({ rows: [], errors: [{ line: 1, reason: expect.stringMatching(/^unreadable header: unterminated/) }] });
  });

  it('skips the rows of separators only a spreadsheet writes for rows that once held something (",,,"), as it skips empty lines', () => {
    const result = parseDirectoryCsv(csv(HEADER, 'a,A,T,C', ',,,', ' , ,,', 'b,B,T,C', ',,,'));
    expect(result).toEqual({ rows: [expect.objectContaining({ identity: 'a' }), expect.objectContaining({ identity: 'b' })], errors: [] });
    expect(parseDirectoryCsv(csv(`${HEADER},kind`, 'a,A,T,C,user', ',,,,')).errors).toEqual([]);
  });

  it('refuses the header repeated below (two files joined) rather than import an identity named "identity"', () => {
    expect(parseDirectoryCsv(csv(HEADER, 'a,A,T,C', HEADER, 'b,B,T,C')).errors).toEqual([{ line: 3, reason: 'the header again: files joined together? Keep the first header only' }]);
  });

  it('refuses the header of a second file joined byte for byte, its byte-order mark before it (two Excel "CSV UTF-8" files)', () => {
    // `cat a.csv b.csv` keeps the second file's mark; only the one at the very start is dropped when reading.
    const joined = `${csv(HEADER, 'a,A,T,C')}\uFEFF${csv(HEADER, 'b,B,T,C')}`;
    const result = parseDirectoryCsv(joined);
    expect(result.errors).toEqual([{ line: 3, reason: 'the header again: files joined together? Keep the first header only' }]);
    expect(result.rows.map((r) => r.identity)).toEqual(['a', 'b']);
  });

  it('accepts a file with a header and no rows', () => {
    expect(parseDirectoryCsv(HEADER)).toEqual({ rows: [], errors: [] });
  });

  it('reports a missing or an extra field with the line number, and keeps the other rows', () => {
    const result = parseDirectoryCsv(csv(HEADER, 'a,A,T,C', 'b,B,T', 'c,C,T,C,x', 'd,D,T,C'));
    expect(result.rows.map((r) => r.identity)).toEqual(['a', 'd']);
    expect(result.errors).toEqual([
      { line: 3, reason: 'expected 4 fields (identity,displayName,team,costCenter), got 3' },
      { line: 4, reason: 'expected 4 fields (identity,displayName,team,costCenter), got 5' },
    ]);
  });

  it('refuses empty values, naming the column', () => {
    const result = parseDirectoryCsv(csv(HEADER, ',A,T,C', 'b,   ,T,C', 'c,C,,C', 'd,D,T,""'));
    expect(result.rows).toEqual([]);
    expect(result.errors).toEqual([
      { line: 2, reason: 'identity: must not be empty' },
      { line: 3, reason: 'displayName: must not be empty' },
      { line: 4, reason: 'team: must not be empty' },
      { line: 5, reason: 'costCenter: must not be empty' },
    ]);
  });

  it('reports every repeated identity (compared after normalisation) naming both lines, and imports none of its lines', () => {
    const result = parseDirectoryCsv(csv(HEADER, `${GUID},Ana,Search,CC-1001`, 'b,B,T,C', `${GUID.toUpperCase()},Ana again,Search,CC-1001`, ` ${GUID},Ana 3,Search,CC-1001`));
    expect(result.rows.map((r) => r.identity)).toEqual(['b']);
    expect(result.errors).toEqual([
      { line: 4, reason: `duplicate identity "${GUID}": lines 2 and 4` },
      { line: 5, reason: `duplicate identity "${GUID}": lines 2 and 5` },
    ]);
  });

  it.each([
    ['a tab', 'Search\tEU'],
    ['a trailing tab (not hidden by trimming)', 'Search\t'],
    ['a line break inside quotes', 'Search\nEU'],
    ['a carriage return inside quotes', 'Search\rEU'],
    ['NUL', 'Search\u0000'],
    ['DEL', 'Search\u007f'],
    ['a C1 control (NEL)', 'Search\u0085'],
    ['a line separator', 'Search\u2028EU'],
    ['a right-to-left override, which makes a name read backwards', 'Search\u202eUE'],
    ['a bidirectional isolate', 'Search\u2066EU\u2069'],
  ])('refuses %s in a value', (_, team) => {
    const result = parseDirectoryCsv(`${HEADER}\nx,X,"${team}",C\n`);
    expect(result.rows).toEqual([]);
    expect(result.errors).toEqual([{ line: 2, reason: 'team: contains a control character' }]);
  });

  it('refuses control characters in every column, and unpaired surrogates', () => {
    const result = parseDirectoryCsv(csv(HEADER, 'a\u0001,A,T,C', 'b,B\u001b[31m,T,C', 'c,C,T,C\u0007', 'd,D\uD800,T,C'));
    expect(result.errors).toEqual([
      { line: 2, reason: 'identity: contains a control character' },
      { line: 3, reason: 'displayName: contains a control character' },
      { line: 4, reason: 'costCenter: contains a control character' },
      { line: 5, reason: 'displayName: is not well-formed Unicode' },
    ]);
  });

  it('refuses the identities . and .., which no entry address can name', () => {
    expect(parseDirectoryCsv(csv(HEADER, '.,A,T,C', ' .. ,B,T,C', '...,C,T,C')).errors).toEqual([
      { line: 2, reason: 'identity: cannot be "." or "..", which no URL path can name' },
      { line: 3, reason: 'identity: cannot be "." or "..", which no URL path can name' },
    ]);
  });

  it.each([
    ['identity', 256, (v: string) => `${v},D,T,C`],
    ['displayName', 256, (v: string) => `x,${v},T,C`],
    ['team', 128, (v: string) => `x,D,${v},C`],
    ['costCenter', 64, (v: string) => `x,D,T,${v}`],
  ])('limits %s to %i characters', (column, max, line) => {
    expect(parseDirectoryCsv(csv(HEADER, line('é'.repeat(max)))).errors).toEqual([]);
    expect(parseDirectoryCsv(csv(HEADER, line(` ${'y'.repeat(max)} `))).errors).toEqual([]);
    expect(parseDirectoryCsv(csv(HEADER, line('y'.repeat(max + 1))))).toEqual({ rows: [], errors: [{ line: 2, reason: `${column}: longer than ${max} characters` }] });
  });

  it('keeps values that look like spreadsheet formulas as data, exactly', () => {
    const values = ['=SUM(A1:A9)', '+1-555-0100', '-2+3', '@SUM(1)', '=HYPERLINK("http://x","y")'];
    const lines = values.map((v, i) => `id-${i},"${v.replace(/"/g, '""')}",${v.startsWith('=H') ? 'T' : `"${v.replace(/"/g, '""')}"`},C`);
    const result = parseDirectoryCsv(csv(HEADER, ...lines));
    expect(result.errors).toEqual([]);
    expect(result.rows.map((r) => r.displayName)).toEqual(values);
    expect(result.rows.slice(0, 4).map((r) => r.team)).toEqual(values.slice(0, 4));
  });

  it('numbers errors by physical line, counting line breaks inside quotes and empty lines', () => {
    const text = [HEADER, 'a,"Two', 'lines",T,C', '', 'b,B,T', 'c,"x""y,T,C', 'd,D,T,C', 'e,E,T', ''].join('\r\n');
    const result = parseDirectoryCsv(text);
    expect(result.errors).toEqual([
      { line: 2, reason: 'displayName: contains a control character' },
      { line: 5, reason: 'expected 4 fields (identity,displayName,team,costCenter), got 3' },
      { line: 6, reason: expect.stringMatching(/^unterminated quoted field/) },
    ]);
    // The unterminated quote swallows the rest of the file: nothing after it is read as rows.
    expect(result.rows).toEqual([]);
  });

  it('reports one error per bad line and never drops a line silently', () => {
    const lines = [HEADER, 'ok-1,A,T,C', 'bad-1,A,T', 'ok-2,B,T,C', 'bad-2,"A"x,T,C', 'bad-3,A,T,C\u0000', 'ok-1,C,T,C', 'ok-3,D,T,C'];
    const result = parseDirectoryCsv(csv(...lines));
    const reported = new Set(result.errors.map((e) => e.line));
    expect(result.errors.map((e) => e.line)).toEqual([3, 5, 6, 7]);
    // Every data line is either a row or an error (or names the first line of its duplicate).
    expect(result.rows.map((r) => r.identity)).toEqual(['ok-2', 'ok-3']);
    expect(reported.size + result.rows.length + 1).toBe(lines.length - 1);
  });

  it('reads the directory the simulator writes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tokenledger-directory-'));
    try {
      const day = simulateDay({ requests: 20, seed: 7, day: '2026-11-20' });
      await writeSimulation(dir, day);
      const result = parseDirectoryCsv(await readFile(join(dir, SIMULATION_FILES.directory), 'utf8'));
      expect(result.errors).toEqual([]);
      expect(result.rows).toEqual(day.identities.map((i) => ({ identity: i.identity, displayName: i.displayName, team: i.team, costCenter: i.costCenter, kind: i.kind })));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('directoryCsv', () => {
  it('writes rows that parseDirectoryCsv reads back unchanged, commas, quotes and formula-like values included', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', ',', '"', '=', '+', '@', 'é', '😀'), minLength: 1, maxLength: 12 }).filter((s) => s.trim() !== '').map((s) => s.trim());
    const row = fc.record({ displayName: text, team: text, costCenter: text, kind: fc.option(fc.constantFrom(...DIRECTORY_KINDS), { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 8 }), (drafts) => {
        const rows: DirectoryRow[] = drafts.map(({ kind, ...rest }, i) => ({ identity: `sub-${i},"${i}"`, ...rest, ...(kind === undefined ? {} : { kind }) }));
        expect(parseDirectoryCsv(directoryCsv(rows))).toEqual({ rows, errors: [] });
      }),
    );
  });

  it('splits rows into files of at most a given size, each with its header, that read back to the rows in order', () => {
    const rows: DirectoryRow[] = Array.from({ length: 50 }, (_, i) => ({ identity: `sub-${i}`, displayName: `Zoë ${i}`, team: 'Search', costCenter: 'CC-1' }));
    const parts = directoryCsvParts(rows, 300);
    expect(parts.length).toBeGreaterThan(5);
    for (const part of parts) expect(Buffer.byteLength(part)).toBeLessThanOrEqual(300);
    expect(parts.flatMap((part) => parseDirectoryCsv(part).rows)).toEqual(rows);
    expect(directoryCsvParts(rows, Infinity)).toEqual([directoryCsv(rows)]);
    expect(directoryCsvParts([], 300)).toEqual([directoryCsv([])]);
  });
});

describe('readDirectoryFile (analyze and allocate --directory)', () => {
  it('refuses a file that is not UTF-8, as directory import does, rather than garble its names', async () => {
    // Excel's "CSV (Comma delimited)" writes the locale's code page: in Windows-1252 "ü" is the one byte 0xFC.
    const dir = await mkdtemp(join(tmpdir(), 'tokenledger-directory-'));
    try {
      const file = join(dir, 'directory.csv');
      await writeFile(file, Buffer.from('identity,displayName,team,costCenter\r\nsub-search,J\xfcrgen M\xfcller,Suche,CC-1\r\n', 'latin1'));
      await expect(readDirectoryFile(file)).rejects.toThrow(`${file} is not UTF-8 text (save it as "CSV UTF-8")`);
      await writeFile(file, 'identity,displayName,team,costCenter\r\nsub-search,Jürgen Müller,Suche,CC-1\r\n');
      expect((await readDirectoryFile(file)).get('sub-search')?.displayName).toBe('Jürgen Müller');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
