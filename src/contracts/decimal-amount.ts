/** Decimal amounts of USD as price files write them, read exactly into integer micros (see domain/money.ts). */

/** An amount of USD in units of 10^-6 USD. */
export type Micros = bigint;

export const MICROS_PER_DOLLAR = 1_000_000n;
/** Decimals a parsed amount may carry: one micro is the smallest price step. */
export const MAX_INPUT_DECIMALS = 6;

const DECIMAL_PATTERN = /^(\d+)(?:\.(\d+))?$/;

/**
 * Parses a non-negative decimal amount of USD written as text (`"2.50"`, `"0.075"`, `"10"`) into micros.
 * For a price per 1M tokens the result is micros per 1M tokens. At most 6 decimals; no sign, exponent,
 * whitespace, thousands separator, NaN or Infinity. Throws a `SyntaxError` for malformed text and a
 * `RangeError` for a negative amount or too many decimals, quoting the text.
 */
export function parseDecimal(text: string): Micros {
  if (typeof text !== 'string') {
    throw new TypeError(`expected a decimal string like "2.50", got ${typeof text}`);
  }
  const quoted = JSON.stringify(text);
  if (text === '') throw new SyntaxError('empty decimal: expected digits like "2.50"');
  if (/^\s*-/.test(text)) throw new RangeError(`negative amount ${quoted}: amounts must be zero or more`);
  if (/^\s*[+]?(nan|inf(inity)?)\s*$/i.test(text)) throw new SyntaxError(`${quoted} is not a finite decimal number`);
  if (/^[+]?[\d.]+e[+-]?\d+$/i.test(text.trim())) {
    throw new SyntaxError(`exponent notation ${quoted} is not allowed: write the digits out, like "0.000125"`);
  }
  if (/\s/.test(text)) throw new SyntaxError(`decimal ${quoted} contains whitespace`);
  const parts = DECIMAL_PATTERN.exec(text);
  if (!parts) {
    throw new SyntaxError(`invalid decimal ${quoted}: expected digits with an optional decimal point, like "2.50"`);
  }
  const whole = parts[1] ?? '0';
  const fraction = parts[2] ?? '';
  if (fraction.length > MAX_INPUT_DECIMALS) {
    throw new RangeError(
      `decimal ${quoted} has ${fraction.length} decimal places; at most ${MAX_INPUT_DECIMALS} are allowed (one micro-unit)`,
    );
  }
  return BigInt(whole) * MICROS_PER_DOLLAR + BigInt(fraction.padEnd(MAX_INPUT_DECIMALS, '0'));
}
