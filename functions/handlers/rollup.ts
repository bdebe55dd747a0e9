import type { InvocationContext, Timer } from '@azure/functions';
import { rollupChargeback, type RollupOptions, type RollupPorts } from '../../src/services/rollup-chargeback.js';

/** Timer handler: recomputes the chargeback tiles of the windows the ingest and the join marked dirty. */
export function createRollupHandler(ports: () => RollupPorts, options: () => RollupOptions) {
  return async function rollupTimer(_timer: Timer, context: InvocationContext): Promise<void> {
    const result = await rollupChargeback(ports(), options());
    context.log(`rollup: ${result.hours} hours, ${result.days} days, ${result.months} months recomputed from ${result.entries} ledger entries`);
  };
}
