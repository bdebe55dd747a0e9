import { CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quarantineCommand } from '../../src/cli/commands/quarantine.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { ingestOrQuarantine } from '../../src/services/ingest-or-quarantine.js';
import { simulateDay } from '../../src/simulator/traffic.js';

async function ledgerIds(stack: LocalStack): Promise<string[]> {
  const entries: LedgerEntry[] = [];
  for await (const page of stack.stores.ledger.listEntries({ from: new Date('2020-01-01T00:00:00Z'), to: new Date('2030-01-01T00:00:00Z') })) entries.push(...page);
  return entries.map((e) => e.id).sort();
}

describe('tokenledger quarantine list | replay, on Azurite and the local Cosmos DB server', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  function harness() {
    const io = { out: '', err: '', connects: 0, closes: 0 };
    const command = quarantineCommand(async () => {
      io.connects++;
      return { ports: stack.stores, close: async () => void io.closes++ };
    })
      .exitOverride()
      .configureOutput({ writeOut: (s) => void (io.out += s), writeErr: (s) => void (io.err += s) });
    return { io, command };
  }

  it('lists a quarantined batch, replays it into the ledger, and a second --all replays nothing', async () => {
    const lines = simulateDay({ requests: 20, seed: 12, day: '2026-11-19' }).eventLines;
    const events = lines.map((body, i) => ({ body, position: { partitionId: '1', sequenceNumber: 500 + i, offset: String(i * 1000), enqueuedTimeUtc: null } }));
    const broken = {
      ...stack.stores,
      ledger: {
        ...stack.stores.ledger,
        readEntries: async () => {
          throw Object.assign(new Error('query refused'), { code: 400 });
        },
        writeEntries: async () => {
          throw Object.assign(new Error('write refused'), { code: 400 });
        },
      },
    };
    const outcome = await ingestOrQuarantine(events, broken, { lastDelivery: false });
    expect(outcome.kind).toBe('quarantined');
    const name = outcome.kind === 'quarantined' ? outcome.name : '';
    expect(name).toMatch(/^1\/500-\d+-[0-9a-f]{16}\.json$/);
    expect(await ledgerIds(stack)).toEqual([]);

    const list = harness();
    await list.command.parseAsync(['list'], { from: 'user' });
    expect(list.io.out).toMatch(new RegExp(`${name.replace(/[.]/g, '\\.')}\\s+1\\s+waiting`));

    const replay = harness();
    await replay.command.parseAsync(['replay', '--all'], { from: 'user' });
    expect(replay.io.out).toMatch(new RegExp(`^replayed ${name.replace(/[.]/g, '\\.')}: partition 1, ${events.length} events, `));
    expect([replay.io.connects, replay.io.closes]).toEqual([1, 1]);
    const ids = await ledgerIds(stack);
    expect(ids.length).toBeGreaterThan(10);

    const again = harness();
    await again.command.parseAsync(['replay', '--all'], { from: 'user' });
    expect(again.io.out).toBe('no quarantined batches waiting for replay\n');
    const byName = harness();
    await byName.command.parseAsync(['replay', '--batch', name], { from: 'user' });
    expect(await ledgerIds(stack)).toEqual(ids);
  });

  it('refuses to run without --batch or --all, and with both', async () => {
    const none = harness();
    await expect(none.command.parseAsync(['replay'], { from: 'user' })).rejects.toBeInstanceOf(CommanderError);
    const both = harness();
    await expect(both.command.parseAsync(['replay', '--all', '--batch', 'x'], { from: 'user' })).rejects.toBeInstanceOf(CommanderError);
    expect(none.io.connects + both.io.connects).toBe(0);
  });

  it('names a batch that does not exist', async () => {
    const { command } = harness();
    await expect(command.parseAsync(['replay', '--batch', '9/none.json'], { from: 'user' })).rejects.toThrow(/no quarantined batch named "9\/none.json"/);
  });
});
