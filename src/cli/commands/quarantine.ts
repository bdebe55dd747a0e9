import { Command, Option } from 'commander';
import { replayAllQuarantined, replayQuarantinedBatch, type ReplayPorts, type ReplayResult } from '../../services/replay-quarantine.js';
import { formatTable } from '../table.js';
import { commandGroup, withConnection, write } from './command-io.js';
import { terminalSafe } from '../terminal-text.js';

export interface QuarantineConnection {
  readonly ports: ReplayPorts;
  close(): Promise<void>;
}

const REPLAY_HELP = `
A batch is quarantined when it kept failing (a permanent error, or a transient one after every retry): its
partition, sequence numbers, offsets and raw bodies are in the Blob container "quarantine". Fix the cause, then
replay: the batch goes through the same ingest service as the trigger and is marked replayed. Ledger and
dead-letter ids are deterministic, so replaying a batch twice changes nothing.`;

/**
 * `quarantine list` and `quarantine replay --batch NAME | --all`. `connect` is called when the stores are needed,
 * and the connection is always closed.
 */
export function quarantineCommand(connect: () => Promise<QuarantineConnection>): Command {
  const command = commandGroup('quarantine', 'Trigger batches set aside after failing, and replaying them into the ledger.');

  command
    .command('list')
    .description('Print every quarantined batch: name, partition, and when it was replayed.')
    .action(async (_options: unknown, cmd: Command) => {
      const listings = await withConnection(connect, ({ ports }) => ports.quarantine.listBatches());
      if (listings.length === 0) return write(cmd, 'out', 'no quarantined batches\n');
      const rows = listings.map((l) => [terminalSafe(l.name), terminalSafe(l.partitionId), l.replayedAt ? l.replayedAt.toISOString() : 'waiting']);
      write(cmd, 'out', formatTable(['batch', 'partition', 'replayed'], rows) + '\n');
    });

  command
    .command('replay')
    .description('Re-ingest quarantined batches through the ingest service and mark them replayed.')
    .addOption(new Option('--batch <name>', 'the batch to replay (a name from `quarantine list`)').conflicts('all'))
    .addOption(new Option('--all', 'every batch not replayed yet').conflicts('batch'))
    .addHelpText('after', REPLAY_HELP)
    .action(async (opts: { batch?: string; all?: boolean }, cmd: Command) => {
      if (!opts.batch && !opts.all) cmd.error('give --batch <name> or --all', { exitCode: 1, code: 'tokenledger.quarantine.nothingChosen' });
      const results = await withConnection(connect, async ({ ports }): Promise<ReplayResult[]> => (opts.batch ? [await replayQuarantinedBatch(opts.batch, ports)] : replayAllQuarantined(ports)));
      if (results.length === 0) return write(cmd, 'out', 'no quarantined batches waiting for replay\n');
      for (const r of results) {
        write(
          cmd,
          'out',
          `replayed ${terminalSafe(r.name)}: partition ${terminalSafe(r.partitionId)}, ${r.events} events, ${r.result.accepted} accepted, ` +
            `${r.result.deadLettered} dead-lettered, ${r.result.entriesWritten} ledger entries written, ${r.result.deadLettersWritten} dead letters written\n`,
        );
      }
    });

  return command;
}
