import type { Command } from 'commander';

/**
 * The options of `command` that take one value and were given more than once in `args` (long names), up to a `--`.
 * Commander keeps the last value: `--events a --events b` would analyse `b` alone without a word.
 */
export function repeatedOptions(command: Command, args: readonly string[]): string[] {
  const single = command.options.filter((option) => (option.required || option.optional) && !option.variadic);
  const counts = new Map<string, number>();
  for (const arg of args) {
    if (arg === '--') break;
    const flag = arg.startsWith('--') ? arg.slice(0, arg.includes('=') ? arg.indexOf('=') : undefined) : arg;
    const option = single.find((o) => o.long === flag || o.short === flag);
    const name = option?.long ?? flag;
    if (option) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].filter(([, count]) => count > 1).map(([name]) => name);
}
