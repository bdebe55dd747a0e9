import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { flagTakenAsValue } from '../../src/cli/flag-as-value.js';

const simulate = () =>
  new Command('simulate').option('--requests <n>').option('--out <dir>').option('--faults').option('--no-serve').option('--reason <text>').option('--retail <files...>').option('-o, --output <file>');

describe('a flag taken as the value of an option', () => {
  it("names the option and the flag when an option is followed by one of its command's flags", () => {
    expect(flagTakenAsValue(simulate(), ['simulate', '--out', '--faults'])).toBe('option --out needs a value; got the flag --faults');
    expect(flagTakenAsValue(simulate(), ['--requests', '--no-serve'])).toBe('option --requests needs a value; got the flag --no-serve');
    expect(flagTakenAsValue(simulate(), ['--reason', '--requests=5'])).toBe('option --reason needs a value; got the flag --requests');
    expect(flagTakenAsValue(simulate(), ['--retail', '--help'])).toBe('option --retail needs a value; got the flag --help');
    expect(flagTakenAsValue(simulate(), ['-o', '-h'])).toBe('option --output needs a value; got the flag -h');
  });

  it('refuses any word beginning with -- as a file or folder, and takes it written with = or as ./', () => {
    expect(flagTakenAsValue(simulate(), ['--out', '--simulated'])).toMatch(/^option --out needs a value; got --simulated, which reads as a flag \(for a file or folder of that name, write --out=--simulated or --out \.\/--simulated\)$/);
    expect(flagTakenAsValue(simulate(), ['--out=--simulated', '--faults'])).toBeNull();
    expect(flagTakenAsValue(simulate(), ['--out', './--simulated'])).toBeNull();
  });

  it('takes other values as given: text that begins with --, a value that names a flag, everything after --', () => {
    expect(flagTakenAsValue(simulate(), ['--reason', '--not-a-flag-of-simulate'])).toBeNull();
    expect(flagTakenAsValue(simulate(), ['--reason', 'x', '--out', 'day', '--faults'])).toBeNull();
    expect(flagTakenAsValue(simulate(), ['--requests', '5', '--', '--out', '--faults'])).toBeNull();
    expect(flagTakenAsValue(simulate(), ['--out'])).toBeNull();
  });
});
