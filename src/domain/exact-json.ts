/**
 * JSON text read without binary floats: every number comes back as the text it was written as (`2.5E-06`,
 * `0.00125`, `0.0`), so an amount can be parsed exactly. Syntax errors name the line and column.
 *
 * The Azure Retail Prices API writes prices as JSON numbers, some in exponent form (`8.8E-05`); `JSON.parse` would
 * turn `0.000165` into the nearest binary fraction, and its error messages give only a character position.
 */

/** A JSON syntax error, with the 1-based line and column where reading stopped. */
export class JsonTextError extends SyntaxError {
  constructor(
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`line ${line}, column ${column}: ${detail}`);
    this.name = 'JsonTextError';
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Line and column (1-based) of a character offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * Where `text` stops being JSON: the offset of the first character that cannot continue it (the length, when the
 * text ends too soon), or -1 when it is valid. `JSON.parse` gives no position for some errors ("Unexpected token").
 */
function errorOffset(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const space = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const string = () => {
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 34) return void i++;
      if (c < 0x20) fail();
      if (c !== 92) i++;
      else if (text[i + 1] === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
      else if (text[i + 1] !== undefined && '"\\/bfnrt'.includes(text[i + 1]!)) i += 2;
      else {
        i++;
        fail();
      }
    }
    fail();
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      space();
      if (text[i] === close) return void i++;
      for (;;) {
        if (c === '{') {
          space();
          if (text[i] !== '"') fail();
          string();
          space();
          if (text[i] !== ':') fail();
          i++;
        }
        value();
        space();
        if (text[i] === close) return void i++;
        if (text[i] !== ',') fail();
        i++;
      }
    }
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) if (text.startsWith(word, i)) return void (i += word.length);
    NUMBER.lastIndex = i;
    const number = NUMBER.exec(text);
    if (!number) fail();
    i += number![0].length;
  };
  try {
    value();
    space();
    return i < text.length ? i : -1;
  } catch (offset) {
    if (typeof offset === 'number') return offset;
    throw offset;
  }
}

/** `JSON.parse`'s message, without the position or text snippet it may carry, at the line and column of the error. */
function explain(error: Error, text: string): JsonTextError {
  const at = /\bat position (\d+)/.exec(error.message);
  const found = errorOffset(text);
  const offset = found >= 0 ? found : at ? Number(at[1]) : text.length;
  const detail = error.message
    .replace(/\s*(?:in JSON )?at position \d+.*$/s, '')
    .replace(/^(Unexpected token .*?), ".*" is not valid JSON$/s, '$1')
    .replace(/^Unexpected end of JSON input$/, 'the text ends before the JSON value does');
  const { line, column } = lineAndColumn(text, offset);
  return new JsonTextError(line, column, detail);
}

/** The text with every number outside a string wrapped in quotes; `text` must be valid JSON. */
function quoteNumbers(text: string): string {
  const parts: string[] = [];
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      i++;
      while (i < text.length && text.charCodeAt(i) !== 34) i += text.charCodeAt(i) === 92 /* \ */ ? 2 : 1;
      i++;
    } else if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(text)!;
      parts.push(text.slice(copied, i), '"', match[0], '"');
      i += match[0].length;
      copied = i;
    } else {
      i++;
    }
  }
  parts.push(text.slice(copied));
  return parts.join('');
}

/**
 * Parses JSON text, giving every number as its source text (a string) instead of a float. A leading byte order
 * mark is ignored (PowerShell writes one). Throws a `JsonTextError` naming the line and column of a syntax error.
 */
export function parseJsonKeepingNumberText(text: string): unknown {
  const source = withoutByteOrderMark(text);
  parseJsonText(source);
  return JSON.parse(quoteNumbers(source)) as unknown;
}

/** `JSON.parse` of a file's text, numbers as floats: a leading byte order mark is ignored, and a syntax error is a `JsonTextError`. */
export function parseJsonText(text: string): unknown {
  const source = withoutByteOrderMark(text);
  try {
    return JSON.parse(source) as unknown;
  } catch (error) {
    throw explain(error as Error, source);
  }
}

function withoutByteOrderMark(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
