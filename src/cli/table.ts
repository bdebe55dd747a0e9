import { displayWidth, padToWidth, terminalSafe } from './terminal-text.js';

/** A plain-text table with right-aligned numbers, for terminals and logs; control characters in cells are escaped. */
export function formatTable(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? cell.toLocaleString('en-US') : terminalSafe(cell))));
  const titles = headers.map(terminalSafe);
  const widths = titles.map((header, i) => Math.max(displayWidth(header), ...cells.map((row) => displayWidth(row[i] ?? ''))));
  const numeric = headers.map((_, i) => rows.some((row) => typeof row[i] === 'number') && rows.every((row) => typeof row[i] === 'number' || row[i] === '' || /^-?\d+\.\d+$/.test(String(row[i]))));
  const line = (row: readonly string[]) =>
    row.map((cell, i) => padToWidth(cell, widths[i]!, numeric[i] ? 'start' : 'end')).join('  ').trimEnd();
  return [line(titles), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}
