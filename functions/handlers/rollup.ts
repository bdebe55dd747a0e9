import type { InvocationContext, Timer } from '@azure/functions';
import { rollupChargeback, type RollupOptions, type RollupPorts } from '../../src/services/rollup-chargeback.js';

/** Timer handler: recomputes the usage, latency and traffic tiles of the hours the ingest and the join marked dirty. */
export function createRollupHandler(ports: () => RollupPorts, options: () => RollupOptions) {
  return async function rollupTimer(_timer: Timer, context: InvocationContext): Promise<void> {
    const result = await rollupChargeback(ports(), options());
    context.log(`rollup: ${result.hours} hours and ${result.days} days recomputed from ${result.entries} ledger entries; ${result.remaining} dirty hours left for the next run`);
    if (result.discarded > 0) context.warn(`rollup: ${result.discarded} dirty markers named no UTC hour and were cleared`);
  };
}
