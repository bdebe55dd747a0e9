import { describe, expect, it } from 'vitest';
import { bindQuery, kqlDatetime, kqlString, kqlStringList, type KqlLiteral } from '../../src/domain/kql.js';
import { analyseKql } from '../support/kusto-language.js';

const TEMPLATE = 'AzureDiagnostics\n| where CorrelationId == {id} and TimeGenerated > {from}\n| project CorrelationId, DurationMs\n| take 10';
const baseline = analyseKql(bindQuery(TEMPLATE, { id: kqlString('plain'), from: kqlDatetime(new Date('2026-11-20T10:00:00Z')) }));

const HOSTILE = [
  'a "quoted" value',
  "single 'quotes'",
  'back\\slash and trailing \\',
  '\\"',
  'pipes | where 1 == 1 | take 1',
  'line one\nline two\r\nline three',
  'tab\there',
  '"; let x = 1; union *',
  '\\" | union AzureDiagnostics',
  '" | union AzureDiagnostics //',
  '@"verbatim""',
  '```multi-line```',
  '{id} {from}',
  'control \u0000\u0001\u001f\u007f\u0085 characters',
  'separators \u2028 \u2029 and bom \ufeff',
  'unicode: zürich, 東京, emoji 🎉, rtl \u202e',
  '',
  ' ',
];

describe('kqlString', () => {
  it.each(HOSTILE)('keeps %j a single string literal with the exact value', (value) => {
    const query = bindQuery(TEMPLATE, { id: kqlString(value), from: kqlDatetime(new Date('2026-11-20T10:00:00Z')) });
    const result = analyseKql(query);
    expect(result.strings).toEqual([value]);
    expect(result.kinds).toEqual(baseline.kinds);
    expect(result.statements).toBe(baseline.statements);
    expect(result.errors).toEqual([]);
  });

  it('uses only the documented escapes for quotes, backslashes, newlines, returns and tabs', () => {
    expect(kqlString('a"b\\c\nd\re\tf')).toBe('"a\\"b\\\\c\\nd\\re\\tf"');
    expect(kqlString('')).toBe('""');
  });

  it('refuses a lone surrogate, which has no UTF-8 encoding', () => {
    expect(() => kqlString('a\ud800b')).toThrow(RangeError);
    expect(() => kqlString('a\udc00')).toThrow(RangeError);
    expect(kqlString('🎉')).toBe('"🎉"');
  });
});

describe('kqlDatetime', () => {
  it('prints UTC with seven fractional digits', () => {
    expect(kqlDatetime(new Date('2026-11-20T10:00:00Z'))).toBe('datetime(2026-11-20T10:00:00.0000000Z)');
    expect(kqlDatetime(new Date('2026-11-20T10:00:00.123+02:00'))).toBe('datetime(2026-11-20T08:00:00.1230000Z)');
  });

  it('refuses invalid dates, and instants outside Kusto\'s datetime range (0001-01-01 to 9999-12-31)', () => {
    expect(() => kqlDatetime(new Date('yesterday'))).toThrow(RangeError);
    expect(() => kqlDatetime(new Date('0000-06-15T12:00:00Z'))).toThrow(RangeError);
    expect(() => kqlDatetime(new Date('+010000-01-01T00:00:00Z'))).toThrow(RangeError);
    expect(kqlDatetime(new Date('0001-01-01T00:00:00Z'))).toBe('datetime(0001-01-01T00:00:00.0000000Z)');
    expect(() => bindQuery(TEMPLATE, { id: kqlString('x'), from: 'datetime(0000-06-15T12:00:00.0000000Z)' as KqlLiteral })).toThrow(TypeError);
  });

  it('analyses as a datetime literal', () => {
    const result = analyseKql(`AzureDiagnostics | where TimeGenerated between (${kqlDatetime(new Date(0))} .. ${kqlDatetime(new Date('2026-11-20T10:00:00.999Z'))}) | count`);
    expect(result.errors).toEqual([]);
  });
});

describe('kqlStringList', () => {
  it.each([[[]], [['a']], [HOSTILE]])('makes one dynamic array whose strings are exactly the inputs (%#)', (values: string[]) => {
    const query = `ApiManagementGatewayLlmLog | where CorrelationId in (${kqlStringList(values)}) | take 1`;
    const result = analyseKql(query);
    expect(result.errors).toEqual([]);
    expect(result.strings).toEqual(values);
    expect(result.statements).toBe(1);
  });

  it('is a dynamic array literal', () => {
    expect(kqlStringList(['a', 'b"c'])).toBe('dynamic(["a", "b\\"c"])');
    expect(kqlStringList([])).toBe('dynamic([])');
  });
});

describe('bindQuery', () => {
  const from = kqlDatetime(new Date('2026-11-20T10:00:00Z'));

  it('replaces every placeholder in one pass', () => {
    expect(bindQuery('T | where a == {v} or b == {v} | where t > {from}', { v: kqlString('{from}'), from })).toBe(
      'T | where a == "{from}" or b == "{from}" | where t > datetime(2026-11-20T10:00:00.0000000Z)',
    );
  });

  it('throws on a placeholder without a value', () => {
    expect(() => bindQuery('T | where a == {v} and t > {from}', { from })).toThrow(/no value for placeholder \{v\}/);
  });

  it('throws on a value without a placeholder', () => {
    expect(() => bindQuery('T | where t > {from}', { from, to: from })).toThrow(/no placeholder for \{to\}/);
  });

  it('refuses raw text and anything that is not exactly one literal', () => {
    const raw = (text: string) => text as KqlLiteral;
    for (const value of ['abc', '"a" | union *', '"a"; let x = 1', '"unterminated', '"a" or 1 == 1', 'datetime(2026-11-20) | take 1', 'dynamic(["a"]) | union *', '"a\nb"', '"\\q"']) {
      expect(() => bindQuery('T | where a == {v}', { v: raw(value) }), value).toThrow(TypeError);
    }
  });

  it('leaves braces that are not placeholders alone', () => {
    expect(bindQuery('print d = dynamic({"k": 1}), v = {v}', { v: kqlString('x') })).toBe('print d = dynamic({"k": 1}), v = "x"');
  });
});
