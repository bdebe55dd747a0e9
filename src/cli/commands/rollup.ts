import { Command } from 'commander';
import { MAX_FUTURE_MS } from '../../contracts/gateway-event.js';
import { rebuildPeriodSchemaAt } from '../../contracts/report-query.js';
import { HOUR_MS } from '../../domain/tile-windows.js';
import type { AggregateStore } from '../../ports/aggregate-store.js';
import { markRangeDirty } from '../../services/rollup-chargeback.js';
import { parseReportOptions } from '../report-options.js';
import { commandGroup, withConnection, write } from './command-io.js';

export interface RollupConnection {
  readonly aggregates: Pick<AggregateStore, 'markDirty'>;
  close(): Promise<void>;
}

const REBUILD_HELP = `
The rollup timer rebuilds an hour's usage and latency tiles, and then its day's, when the hour is marked. Ingest
and the join mark the hours they change; mark a period yourself when its tiles were written by a release that
derived them differently (an upgrade that changes tiles says so), or to rebuild them from the ledger as it is.
The next rollup runs (ROLLUP_SCHEDULE) rebuild the hours marked.`;

/** `rollup rebuild --from --to | --month`: marks every hour of the period for the rollup timer. */
export function rollupCommand(connect: () => Promise<RollupConnection>, now: () => Date = () => new Date()): Command {
  const command = commandGroup('rollup', "The rollup timer's tiles: marking hours for it to rebuild.");

  command
    .command('rebuild')
    .description('Mark every hour of a period, so the next rollup runs rebuild its tiles from the ledger.')
    .option('--from <date>', 'start on a whole UTC hour, ISO date or instant (inclusive)')
    .option('--to <date>', 'end on a whole UTC hour, exclusive')
    .option('--month <YYYY-MM>', 'a calendar month instead of --from/--to')
    .addHelpText('after', REBUILD_HELP)
    .action(async (opts: { from?: string; to?: string; month?: string }, cmd: Command) => {
      const at = now();
      const given = parseReportOptions(rebuildPeriodSchemaAt(at), opts);
      // No event is accepted more than a day ahead of the clock: the hours after that hold nothing to rebuild.
      const latest = new Date(Math.floor((at.getTime() + MAX_FUTURE_MS) / HOUR_MS) * HOUR_MS + HOUR_MS);
      const period = { from: given.from, to: given.to > latest ? latest : given.to };
      if (period.to <= period.from) return write(cmd, 'out', `no hour to mark: ${period.from.toISOString()} is after the last hour events can be in (to ${latest.toISOString()})\n`);
      const hours = await withConnection(connect, ({ aggregates }) => markRangeDirty(aggregates, period));
      write(cmd, 'out', `marked ${hours} hours from ${period.from.toISOString()} to ${period.to.toISOString()}: the next rollup runs rebuild their tiles\n`);
    });

  return command;
}
