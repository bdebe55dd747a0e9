import { describe, expect, it } from 'vitest';
import { rollupCommand } from '../../src/cli/commands/rollup.js';
import { MemoryAggregateStore } from '../support/memory-stores.js';

function harness(now = new Date('2026-12-07T10:20:00Z')) {
  const aggregates = new MemoryAggregateStore();
  const io = { out: '', closes: 0 };
  const command = rollupCommand(async () => ({ aggregates, close: async () => void io.closes++ }), () => now)
    .exitOverride()
    .configureOutput({ writeOut: (s) => void (io.out += s), writeErr: () => {} });
  return { aggregates, io, run: (...args: string[]) => command.parseAsync(['rebuild', ...args], { from: 'user' }) };
}

const dirtyHours = async (aggregates: MemoryAggregateStore) => (await aggregates.listDirty()).map((d) => d.value.hour).sort();

describe('rollup rebuild', () => {
  it('marks every hour of the period for the next rollup runs, and says so', async () => {
    const { aggregates, io, run } = harness();
    await run('--from', '2026-10-14T22:00Z', '--to', '2026-10-15T02:00Z');
    expect(await dirtyHours(aggregates)).toEqual(['2026-10-14T22', '2026-10-14T23', '2026-10-15T00', '2026-10-15T01']);
    expect(io.out).toBe('marked 4 hours from 2026-10-14T22:00:00.000Z to 2026-10-15T02:00:00.000Z: the next rollup runs rebuild their tiles\n');
    expect(io.closes).toBe(1);
  });

  it('marks no hour after the last that events can be in, a day ahead of the clock', async () => {
    const { aggregates, io, run } = harness(new Date('2026-12-07T10:20:00Z'));
    await run('--month', '2026-12');
    expect((await dirtyHours(aggregates)).at(-1)).toBe('2026-12-08T10');
    expect(io.out).toMatch(/^marked 179 hours from 2026-12-01T00:00:00.000Z to 2026-12-08T11:00:00.000Z/);
    const later = harness(new Date('2026-12-07T10:20:00Z'));
    await later.run('--month', '2027-01');
    expect(await dirtyHours(later.aggregates)).toEqual([]);
    expect(later.io.out).toBe('no hour to mark: 2027-01-01T00:00:00.000Z is after the last hour events can be in (to 2026-12-08T11:00:00.000Z)\n');
  });

  it('takes a month, as the reports do', async () => {
    const { aggregates, run } = harness();
    await run('--month', '2026-02');
    const hours = await dirtyHours(aggregates);
    expect([hours.length, hours[0], hours.at(-1)]).toEqual([28 * 24, '2026-02-01T00', '2026-02-28T23']);
  });

  it('refuses a missing or partial period, and one inside an hour, marking nothing', async () => {
    for (const [args, reason] of [
      [[], 'invalid options: name the hours to rebuild: from and to, or a month'],
      [['--from', '2026-10-14'], 'invalid --to: name the hours to rebuild: from and to, or a month'],
      [['--from', '2026-10-14T22:30Z', '--to', '2026-10-15'], /^invalid --from: .* is inside an hour/],
    ] as const) {
      const { aggregates, io, run } = harness();
      await expect(run(...args), args.join(' ')).rejects.toThrow(reason);
      expect(await dirtyHours(aggregates)).toEqual([]);
      expect(io.closes).toBe(0);
    }
  });
});
