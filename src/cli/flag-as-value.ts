import type { Command } from 'commander';

/** Options whose value names a file or folder (`<file>`, `<dir>`, `<path>`, `<files...>`). */
const PATH_VALUE = /<(file|dir|path)s?(\.\.\.)?>/;

/**
 * Why an option of `command` that takes a value was given a flag instead, in `args` (up to a `--`), or null.
 * Commander takes the next word as the value whatever it is: `--out --faults` would write into a folder named
 * `--faults` and drop the flag. Refused: one of the command's own flags, and for a file or folder any word beginning
 * with `--`. `--out=--faults` and `--out ./--faults` say such a name is meant.
 */
export function flagTakenAsValue(command: Command, args: readonly string[]): string | null {
  const flags = new Set(['--help', '-h', ...command.options.flatMap((option) => [option.long, option.short]).filter((flag) => flag !== undefined)]);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--') break;
    const option = command.options.find((o) => o.required && (o.long === args[i] || o.short === args[i]));
    const value = args[i + 1];
    if (!option || value === undefined) continue;
    const flag = value.split('=')[0]!;
    const name = option.long ?? option.short;
    if (flags.has(flag)) return `option ${name} needs a value; got the flag ${flag}`;
    if (value.startsWith('--') && PATH_VALUE.test(option.flags)) {
      return `option ${name} needs a value; got ${value}, which reads as a flag (for a file or folder of that name, write ${name}=${value} or ${name} ./${value})`;
    }
    i++;
  }
  return null;
}
