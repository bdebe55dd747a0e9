/**
 * Safe KQL literals. Untrusted values (ids, names, times) enter a query only through these functions, and
 * templates are filled only with their output: `bindQuery` refuses anything that is not exactly one literal.
 */

declare const kqlLiteralBrand: unique symbol;
/** Text that is exactly one KQL literal (string, datetime or dynamic string array), safe to splice into a query. */
export type KqlLiteral = string & { readonly [kqlLiteralBrand]: true };

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
/** Backslash, quote, and every character that could end a line or hide in a query: C0/C1 controls, line and paragraph separators, BOM. */
const NEEDS_ESCAPE = /[\\"\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A double-quoted KQL string literal whose value is exactly `value`. */
export function kqlString(value: string): KqlLiteral {
  if (typeof value !== 'string') throw new TypeError(`kqlString expects a string, got ${typeof value}`);
  // A lone surrogate has no UTF-8 encoding: the service would not see the value we meant.
  if (LONE_SURROGATE.test(value)) throw new RangeError('kqlString: value contains a lone UTF-16 surrogate');
  const escaped = value.replace(NEEDS_ESCAPE, (c) => SIMPLE_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `"${escaped}"` as KqlLiteral;
}

/** `datetime(2026-11-20T10:00:00.0000000Z)`: UTC, 100-ns precision as Kusto prints it. */
export function kqlDatetime(date: Date): KqlLiteral {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new RangeError('kqlDatetime expects a valid Date');
  const iso = date.toISOString();
  // Kusto's datetime runs from 0001-01-01 to 9999-12-31 (learn.microsoft.com/kusto/query/scalar-data-types/datetime).
  if (!/^(?!0000)\d{4}-/.test(iso)) throw new RangeError(`kqlDatetime: ${iso} is outside years 0001-9999`);
  return `datetime(${iso.replace(/\.(\d{3})Z$/, (_match, ms: string) => `.${ms}0000Z`)})` as KqlLiteral;
}

/** `dynamic(["a", "b"])`: a string array, usable as `x in ({ids})` (empty arrays are fine, unlike `in ()`). */
export function kqlStringList(values: Iterable<string>): KqlLiteral {
  return `dynamic([${[...values].map(kqlString).join(', ')}])` as KqlLiteral;
}

const STRING_LITERAL = String.raw`"(?:[^"\\\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]|\\[\\"nrt]|\\u[0-9a-f]{4})*"`;
const LITERAL = new RegExp(
  String.raw`^(?:${STRING_LITERAL}|datetime\((?!0000)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z\)|dynamic\(\[(?:${STRING_LITERAL}(?:, ${STRING_LITERAL})*)?\]\))$`,
  'u',
);
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces every `{name}` in `template` with `params[name]`, in one pass (a value is never scanned again).
 * Throws when the template names a parameter that is not given, a parameter is not used, or a value is not
 * exactly one literal made by this module.
 */
export function bindQuery(template: string, params: Readonly<Record<string, KqlLiteral>>): string {
  for (const [name, value] of Object.entries(params)) {
    if (typeof value !== 'string' || !LITERAL.test(value)) throw new TypeError(`bindQuery: parameter ${name} is not a KQL literal made by kqlString, kqlDatetime or kqlStringList`);
  }
  const used = new Set<string>();
  const query = template.replace(PLACEHOLDER, (_match, name: string) => {
    if (!Object.hasOwn(params, name)) throw new Error(`bindQuery: no value for placeholder {${name}}`);
    used.add(name);
    return params[name]!;
  });
  const unused = Object.keys(params).filter((name) => !used.has(name));
  if (unused.length > 0) throw new Error(`bindQuery: the template has no placeholder for ${unused.map((n) => `{${n}}`).join(', ')}`);
  return query;
}
