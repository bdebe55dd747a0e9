/**
 * Text bound for a terminal. Model and deployment names, identities, file names and error reasons come from
 * outside (any API client can put them in a gateway event), and a terminal obeys the control characters in
 * them: ESC starts sequences that recolour, move the cursor, set the window title or write hyperlinks; the C1
 * controls (U+0080–U+009F) do the same on terminals that read them; bidirectional controls reorder what is shown,
 * and invisible characters (zero-width spaces and joiners, the soft hyphen, line and paragraph separators) let
 * two names look alike (Unicode UTR #36; PropList.txt's Bidi_Control). Each such character is written as a visible
 * escape (`\x1b`, `\x9b`, `\u202e`), so the text cannot act on the terminal and two names that differ only in
 * them still look different.
 */

// C0 controls (and, for one value, the backslash, so that a name spelling an escape, `prod\x1b`, does not look like
// the escaped character), DEL, C1 controls, the soft hyphen, every Bidi_Control character, zero-width characters,
// the line and paragraph separators and the zero-width no-break space (BOM).
const CONTROL = /[\\\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;
// The same for multi-line text, but line feeds, CRLF and tabs stay (they lay out the output), and so do backslashes
// (JSON and CSV keep their own).
const CONTROL_EXCEPT_LAYOUT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]|\r(?!\n)/g;

function visible(character: string): string {
  if (character === '\\') return '\\\\';
  const code = character.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

// Characters a terminal gives two columns (East Asian Wide and Fullwidth, UAX #11: Hangul Jamo, CJK, kana, Hangul
// syllables, full-width forms, the common emoji blocks) and none (combining marks).
const WIDE = /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;
const COMBINING = /[\p{Mn}\p{Me}]/u;

/** The columns `text` takes on a terminal, for laying out tables (`String#length` counts UTF-16 units). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const character of text) width += COMBINING.test(character) ? 0 : WIDE.test(character) ? 2 : 1;
  return width;
}

/** `text` padded with spaces to `width` columns, on the right (`'end'`) or the left (`'start'`). */
export function padToWidth(text: string, width: number, side: 'start' | 'end'): string {
  const padding = ' '.repeat(Math.max(0, width - displayWidth(text)));
  return side === 'start' ? padding + text : text + padding;
}

/** One value on one line (a table cell, a name in a message): every control character escaped. */
export function terminalSafe(text: string): string {
  return text.replace(CONTROL, visible);
}

/** Multi-line text (a table, CSV, an error report): line feeds, CRLF line ends and tabs kept, the rest escaped. */
export function terminalSafeLines(text: string): string {
  return text.replace(CONTROL_EXCEPT_LAYOUT, visible);
}

/**
 * Escapes control characters in everything written to `stream` while it is a terminal, whatever the command
 * (CSV, JSON, APIM JSON, Bicep, tables); a pipe or a file gets the bytes as written. Line feeds, CRLF and tabs
 * pass, so the layout stays.
 */
export function escapeWritesToTerminal(stream: Pick<NodeJS.WriteStream, 'isTTY' | 'write'>): void {
  if (!stream.isTTY) return;
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : chunk;
    return write(typeof text === 'string' ? terminalSafeLines(text) : text, ...rest);
  }) as NodeJS.WriteStream['write'];
}
