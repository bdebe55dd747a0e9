import { describe, it, expect } from 'vitest';
import { checkDirectoryRow, type DirectoryRow } from '../../src/contracts/directory.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import { chargebackCsv, chargebackJson, chargebackLineRows, csvField, toCsv } from '../../src/domain/chargeback-formats.js';
import { ChargebackLines, chargebackReport, GROUP_BY, UNMAPPED, type ChargebackReport } from '../../src/domain/chargeback.js';
import { PriceMatcher } from '../../src/domain/price-matching.js';
import { ledgerEntry, noCaller, userCaller } from '../support/ledger-entries.js';
import { parseCsv } from '../support/csv.js';

// ---------------------------------------------------------------------------------------------------------------
// Building blocks

/** Rows of a CSV as objects keyed by its header. */
function csvObjects(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  return rows.map((row) => {
    expect(row.length).toBe(header!.length);
    return Object.fromEntries(header!.map((name, i) => [name, row[i]!]));
  });
}

/** An exact decimal (`"0.002518"`) in units of 10^-12, so decimals of any length add exactly. */
function picoOfDecimal(text: string): bigint {
  const match = /^(\d+)(?:\.(\d{1,12}))?$/.exec(text);
  expect(match, `not a plain decimal: ${text}`).not.toBeNull();
  return BigInt(match![1]!) * 10n ** 12n + BigInt((match![2] ?? '').padEnd(12, '0'));
}


function entry(overrides: Partial<LedgerEntry>): LedgerEntry {
  return ledgerEntry({ id: 'req', gatewayRequestId: 'gw', apimRequestId: 'req', time: '2026-10-05T12:00:00.000Z', ...overrides });
}

const tokens = (promptTokens: number, cachedTokens: number, completionTokens: number): LedgerEntry['tokens'] => ({
  source: 'gateway',
  promptTokens,
  cachedTokens,
  completionTokens,
  reasoningTokens: 0,
});

const HOSTILE_NAME = '=HYPERLINK("http://x")';
const HOSTILE_TEAM = "+cmd|' /C calc'!A0";
const ATTACKER = 'attacker-app';
const ALICE = '0f8fad5b-d9cb-469f-a165-70867728950e';

const matcher = new PriceMatcher(
  loadPriceTable({
    currency: 'USD',
    source: 'test',
    retrieved: '2026-01-01',
    prices: [
      { model: 'gpt-4o-mini', deployment: null, from: '2024-01-01', to: null, inputPer1M: '0.15', cachedInputPer1M: '0.075', outputPer1M: '0.60' },
      { model: 'gpt-4o', deployment: null, from: '2024-01-01', to: null, inputPer1M: '2.50', cachedInputPer1M: '1.25', outputPer1M: '10.00' },
    ],
  }),
);

const directory = new Map<string, DirectoryRow>(
  [
    checkDirectoryRow({ identity: ATTACKER, displayName: HOSTILE_NAME, team: HOSTILE_TEAM, costCenter: '@SUM(A1:A9)' }),
    checkDirectoryRow({ identity: ALICE, displayName: 'Alice, "Ali" Example', team: 'search', costCenter: '-CC-100' }),
  ].map((row) => [row.identity, row]),
);

/** Costs chosen so rounding to 6 decimals loses something on every line: the displayed sums must still agree. */
const entries: LedgerEntry[] = [
  entry({ caller: { ...noCaller, appid: ATTACKER }, tokens: tokens(12_345, 2_345, 678) }),
  entry({ caller: { ...noCaller, appid: ATTACKER }, model: 'gpt-4o-2024-08-06', tokens: tokens(3, 0, 1) }),
  entry({ caller: userCaller(ALICE), tokens: tokens(1_001, 7, 333) }),
  entry({ caller: userCaller(ALICE), model: 'gpt-4o-2024-08-06', deployment: 'chat-eu', tokens: tokens(17, 3, 5) }),
  entry({ subscriptionId: 'sub-unlisted', model: 'llama-3-70b', deployment: 'oss', tokens: tokens(300, 0, 50) }),
];
const lines = (() => {
  const collected = new ChargebackLines(matcher);
  for (const entry of entries) collected.addEntry(entry);
  return collected.list();
})();
const report = (groupBy: (typeof GROUP_BY)[number] = 'identity'): ChargebackReport => chargebackReport(lines, { groupBy, directory, currency: 'USD' });
const exactTotal = lines.reduce((sum, line) => sum + line.costPico, 0n);

// ---------------------------------------------------------------------------------------------------------------

describe('csvField', () => {
  it('prefixes an apostrophe to text a spreadsheet would run as a formula', () => {
    expect(csvField('=1+1')).toBe("'=1+1");
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('-1')).toBe("'-1");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('\tx')).toBe("'\tx");
    expect(csvField('\rx')).toBe("\"'\rx\"");
  });

  it('also for a line feed, NUL or a full-width = + - @ first (OWASP WSTG-INPV-21, ASVS 5.0 V1.2.10)', () => {
    expect(csvField('\n=HYPERLINK("http://example.invalid/")')).toBe('"\'\n=HYPERLINK(""http://example.invalid/"")"');
    expect(csvField('\u0000=1+1')).toBe("'\u0000=1+1");
    for (const wide of ['\uff1d', '\uff0b', '\uff0d', '\uff20']) expect(csvField(`${wide}1+1`)).toBe(`'${wide}1+1`);
  });

  it('also behind a semicolon, where a spreadsheet splitting on ; (Excel in de-DE, fr-FR) starts a cell', () => {
    expect(csvField('Search;=1+1')).toBe("Search;'=1+1");
    expect(csvField('CC;@SUM(1+1)')).toBe("CC;'@SUM(1+1)");
    expect(csvField('a;"=1+1"')).toBe(`"a;'""=1+1"""`);
    expect(csvField('a;b;1=1')).toBe('a;b;1=1');
    // A line break is kept as it is, quoted, so the value reads back whole.
    expect(csvField('x\n=1+1')).toBe(`"x\n=1+1"`);
  });

  it('leaves text that does not start like a formula as it is', () => {
    expect(csvField('a=1')).toBe('a=1');
    expect(csvField(' =1')).toBe(' =1');
    expect(csvField('')).toBe('');
    expect(csvField("it's")).toBe("it's");
  });

  it('quotes commas, quotes and line breaks, doubling the quotes', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('two\r\nlines')).toBe('"two\r\nlines"');
    expect(csvField('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"');
  });

  it('writes numbers unchanged, negative ones included, and null as an empty field', () => {
    expect(csvField(42)).toBe('42');
    expect(csvField(-3)).toBe('-3');
    expect(csvField(0.5)).toBe('0.5');
    expect(csvField(null)).toBe('');
  });

  it('joins fields with commas and ends every record with CRLF', () => {
    expect(toCsv(['a', 'b'], [[1, null], ['x,y', '=z']])).toBe('a,b\r\n1,\r\n"x,y",\'=z\r\n');
  });
});

describe('chargebackCsv', () => {
  const FORMULA_START = /^[=+\-@\t\r]/;

  it('escapes a formula in a display name or a team so that no field starts with one', () => {
    for (const groupBy of GROUP_BY) {
      const csv = chargebackCsv(report(groupBy));
      const records = parseCsv(csv);
      for (const record of records) {
        for (const field of record) expect(field, `${groupBy}: ${JSON.stringify(field)}`).not.toMatch(FORMULA_START);
      }
      // At the start of the text, after a separator or after a line break, nothing starts a formula.
      expect(csv).not.toMatch(/(^|,|\r\n)[=+\-@\t]/);
      expect(csv).not.toMatch(/(^|,|\r\n)"[=+\-@\t\r]/);
    }
  });

  it('keeps the escaped values readable: the apostrophe in front of the original text', () => {
    const rows = csvObjects(chargebackCsv(report('identity')));
    const attacker = rows.find((row) => row.key === ATTACKER)!;
    expect(attacker.displayName).toBe(`'${HOSTILE_NAME}`);
    expect(attacker.team).toBe(`'${HOSTILE_TEAM}`);
    expect(attacker.costCenter).toBe("'@SUM(A1:A9)");
    const alice = rows.find((row) => row.key === ALICE)!;
    expect(alice.displayName).toBe('Alice, "Ali" Example');
    expect(alice.costCenter).toBe("'-CC-100");
    expect(rows.find((row) => row.key === 'sub-unlisted')!.team).toBe(UNMAPPED);
    const byTeam = csvObjects(chargebackCsv(report('team')));
    expect(byTeam.map((row) => row.key)).toContain(`'${HOSTILE_TEAM}`);
  });

  it('ends with a TOTAL line whose cost is the displayed total and the sum of the rows above it', () => {
    for (const groupBy of GROUP_BY) {
      const r = report(groupBy);
      const rows = csvObjects(chargebackCsv(r));
      const total = rows[rows.length - 1]!;
      expect(total.key).toBe('TOTAL');
      expect(rows.filter((row) => row.key === 'TOTAL')).toHaveLength(1);
      expect(total.cost).toBe(r.totals.cost);
      expect(total.requests).toBe(String(entries.length));
      const rowCosts = rows.slice(0, -1).map((row) => picoOfDecimal(row.cost!));
      expect(rowCosts).toHaveLength(r.rows.length);
      expect(rowCosts.reduce((a, b) => a + b, 0n), groupBy).toBe(picoOfDecimal(total.cost!));
    }
  });

  it('counts in every row and in the TOTAL line the requests no price covered, as the JSON lists them', () => {
    const r = report('identity');
    expect(r.unpriced).toEqual([expect.objectContaining({ model: 'llama-3-70b', requests: 1 })]);
    const rows = csvObjects(chargebackCsv(r));
    expect(rows.map((row) => [row.key, row.unpricedRequests])).toEqual([
      [ALICE, '0'],
      [ATTACKER, '0'],
      ['sub-unlisted', '1'],
      ['TOTAL', '1'],
    ]);
    const byModel = csvObjects(chargebackCsv(report('model')));
    expect(byModel.find((row) => row.key === 'llama-3-70b')?.unpricedRequests).toBe('1');
    expect(byModel.find((row) => row.key === 'gpt-4o-2024-08-06')?.unpricedRequests).toBe('0');
  });
});

describe('chargebackLineRows', () => {
  it('shows line costs that add up exactly to the report total, with directory attributes', () => {
    const rows = chargebackLineRows(lines, directory, 'USD');
    expect(rows.map((row) => picoOfDecimal(row.cost)).reduce((a, b) => a + b, 0n)).toBe(picoOfDecimal(report().totals.cost));
    expect(rows.find((row) => row.identity === ATTACKER)).toMatchObject({ displayName: HOSTILE_NAME, team: HOSTILE_TEAM });
    expect(rows.find((row) => row.identity === 'sub-unlisted')).toMatchObject({ team: UNMAPPED, costCenter: UNMAPPED, unpriced: true });
  });
});

describe('chargebackJson', () => {
  it('holds no BigInt, so JSON.stringify accepts it and a round trip loses nothing', () => {
    for (const groupBy of GROUP_BY) {
      const json = chargebackJson(report(groupBy));
      const text = JSON.stringify(json);
      expect(JSON.parse(text)).toEqual(json);
    }
  });

  it('gives exact picodollar sums as strings, for each row and for the total', () => {
    for (const groupBy of GROUP_BY) {
      const r = report(groupBy);
      const json = JSON.parse(JSON.stringify(chargebackJson(r))) as {
        rows: { key: string; costPicodollars: string; cost: string }[];
        totals: { costPicodollars: string; cost: string };
      };
      expect(json.rows.map((row) => [row.key, row.costPicodollars])).toEqual(r.rows.map((row) => [row.key, row.costPico.toString()]));
      expect(json.totals.costPicodollars).toBe(exactTotal.toString());
      expect(json.rows.map((row) => BigInt(row.costPicodollars)).reduce((a, b) => a + b, 0n)).toBe(exactTotal);
      expect(json.totals.cost).toBe(r.totals.cost);
      expect(json.rows.some((row) => 'costPico' in row) || 'costPico' in json.totals).toBe(false);
    }
  });
});
