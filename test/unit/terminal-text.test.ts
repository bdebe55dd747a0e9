import { describe, expect, it } from 'vitest';
import { formatTable } from '../../src/cli/table.js';
import { escapeWritesToTerminal, terminalSafe, terminalSafeLines } from '../../src/cli/terminal-text.js';

// A deployment name an API client could plant: set the window title, turn the screen red, hide the rest.
const PLANTED = 'gpt-4o\u001b]0;owned\u0007\u001b[31m\u001b[8m';
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('text bound for a terminal', () => {
  it('writes ESC, BEL and the other C0 controls as visible escapes', () => {
    expect(terminalSafe(PLANTED)).toBe('gpt-4o\\x1b]0;owned\\x07\\x1b[31m\\x1b[8m');
    expect(terminalSafe('a\u0000b\u0008c\tline\nnext\rx')).toBe('a\\x00b\\x08c\\x09line\\x0anext\\x0dx');
  });

  it('escapes DEL, the C1 controls (8-bit CSI) and bidirectional overrides', () => {
    expect(terminalSafe('x\u007fy\u009b31mz\u0085')).toBe('x\\x7fy\\x9b31mz\\x85');
    expect(terminalSafe('invoice\u202efdp.exe\u2066')).toBe('invoice\\u202efdp.exe\\u2066');
  });

  it('escapes invisible characters and bidi marks, so two names that differ only in them look different (UTR #36)', () => {
    const hidden = ['\u00ad', '\u061c', '\u180e', '\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u2028', '\u2029', '\u2060', '\u2064', '\ufeff'];
    for (const character of hidden) {
      const code = `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`.replace('\\u00ad', '\\xad');
      expect(terminalSafe(`team-${character}a`)).toBe(`team-${code}a`);
      expect(terminalSafeLines(`team-${character}a\n`)).toBe(`team-${code}a\n`);
    }
  });

  it('writes a backslash of a value as two, so a name that spells an escape does not look like the escaped character', () => {
    expect(terminalSafe('prod\\x1b')).toBe('prod\\\\x1b');
    expect(terminalSafe('prod\u001b')).toBe('prod\\x1b');
    expect(terminalSafeLines('{"path":"C:\\\\x"}')).toBe('{"path":"C:\\\\x"}');
  });

  it('leaves printable text alone, including accents and other scripts', () => {
    const text = 'Équipe Zürich – 東京 (gpt-4o-mini) 42 % ~!';
    expect(terminalSafe(text)).toBe(text);
    expect(terminalSafeLines(text)).toBe(text);
  });

  it('keeps line feeds, CRLF line ends and tabs in multi-line text, and escapes a lone carriage return', () => {
    expect(terminalSafeLines('a,b\r\n1,"x\u001b[2J"\n\tz\rOVERWRITE')).toBe('a,b\r\n1,"x\\x1b[2J"\n\tz\\x0dOVERWRITE');
  });
});

describe('standard output', () => {
  const CSV = 'key,cost\r\ngpt\u001b]0;x\u0007,1.00\n';
  const captured = (isTTY: boolean) => {
    const chunks: string[] = [];
    const stream = { isTTY, write: ((chunk: string | Uint8Array) => chunks.push(String(chunk)) > 0) as NodeJS.WriteStream['write'] };
    escapeWritesToTerminal(stream);
    return { stream, chunks };
  };

  it('escapes whatever a command writes to a terminal, strings and bytes alike', () => {
    const { stream, chunks } = captured(true);
    stream.write(CSV);
    stream.write(Buffer.from('\u009b2J'));
    expect(chunks).toEqual(['key,cost\r\ngpt\\x1b]0;x\\x07,1.00\n', '\\x9b2J']);
  });

  it('passes the bytes unchanged to a pipe or a file', () => {
    const { stream, chunks } = captured(false);
    stream.write(CSV);
    expect(chunks).toEqual([CSV]);
  });
});

describe('formatTable', () => {
  it('escapes control characters in every cell and header, and aligns on the escaped text', () => {
    const table = formatTable(['deployment', 'requests'], [[PLANTED, 3], ['gpt-4o', 12]]);
    expect(table).not.toMatch(CONTROL_CHARACTERS);
    const lines = table.split('\n');
    expect(lines[2]).toBe('gpt-4o\\x1b]0;owned\\x07\\x1b[31m\\x1b[8m         3');
    expect(lines[3]!.length).toBe(lines[2]!.length);
  });
});

describe('formatTable column widths', () => {
  it('aligns by the columns a terminal shows: two for CJK and full-width characters, none for combining marks (UAX #11)', () => {
    const table = formatTable(['team', 'requests', 'cost (USD)'], [['東京チーム', 1200, '12.500000'], ['Jose\u0301 Nu\u0303ez', 7, '3.250000'], ['search', 31, '0.125000']]);
    expect(table.split('\n')).toEqual([
      'team        requests  cost (USD)',
      '----------  --------  ----------',
      '東京チーム     1,200  12.500000',
      'Jose\u0301 Nu\u0303ez          7  3.250000',
      'search            31  0.125000',
    ]);
  });
});
